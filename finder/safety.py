"""Clinical safety rules: the one place that decides who is shown as registered,
who is listed by default, and which referral routes apply to which condition.

Pages, the JSON API, the search engine and the ORUK feed call these functions;
none of them re-implements a rule. Each rule names its hazard in
``docs/clinical-safety.md`` (H1, H2, ...), where the test that proves it is listed.

Nothing here imports Flask at module level: the rules are plain functions of a
record (or registration) and today's date, so the index builder, the CLI and
tests can call them too. Settings are read from the current app when there is
one (``REGISTRATION_MAX_AGE_DAYS``), else from the defaults below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from finder.vocab import (
    CONDITIONS,
    PRACTISING_STATUSES,
    REFERRAL_ROUTES,
    REGISTRATION_STATUSES,
    SPECIALISMS,
)

if TYPE_CHECKING:
    from finder.records import Record, ReferralRoute, Registration

# ---------------------------------------------------------------------------
# H1: a physio whose registration does not allow practice shown as practising

#: Statuses the HCPC register gave that do not allow practice. Such listings are
#: left out of search results unless asked for, carry a warning first on their
#: page, and offer no booking or referral.
NOT_PRACTISING_STATUSES = frozenset({"suspended", "lapsed", "removed", "not_found"})

#: The search parameter (page and API) that brings them back, with a warning.
INCLUDE_NOT_PRACTISING_PARAM = "include_not_practising"


def is_not_practising(status: str | None) -> bool:
    """The register said this person may not practise (H1)."""
    return status in NOT_PRACTISING_STATUSES


def listed_by_default(status: str | None) -> bool:
    """Shown in search results without asking (H1). Unchecked listings are shown, never as registered."""
    return not is_not_practising(status)


def may_offer_referral(record: Record) -> bool:
    """Offer the referral summary, booking and "how to be seen" (H1): not when the register says no."""
    return not is_not_practising(record.registration.status)


def not_practising_warning(record: Record, *, check_url: str | None = None) -> str:
    """The warning about a listing that may not practise: first on its page, and the
    ORUK feed's ``alert`` (with ``check_url``, for readers who do not get the page's link)."""
    status = record.registration.status
    label = REGISTRATION_STATUSES.label_of(status)
    label = label[:1].lower() + label[1:]  # "not found on the HCPC register"
    checked = record.registration.checked_on
    when = f" when we last checked on {_uk_date(checked)}" if checked else ""
    warning = (
        f"The HCPC register showed “{label}”{when}, so they may not practise as a physiotherapist. "
        "Do not book or refer until the HCPC register shows them as registered."
    )
    if check_url:
        warning += f" Check the HCPC register: {check_url}."
    return warning


# ---------------------------------------------------------------------------
# H2: a stale (or never made) registration check shown as "Registered"

DEFAULT_MAX_AGE_DAYS = 90
DEFAULT_CHECK_URL = "https://www.hcpc-uk.org/check-the-register/"


def max_check_age_days() -> int:
    """REGISTRATION_MAX_AGE_DAYS of the current app (env FINDER_REGISTRATION_MAX_AGE_DAYS), else 90."""
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - Flask is a dependency
        return DEFAULT_MAX_AGE_DAYS
    if has_app_context():
        return int(current_app.config.get("REGISTRATION_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS))
    return DEFAULT_MAX_AGE_DAYS


def check_url_for(number: str | None, config: Mapping[str, Any] | None = None) -> str:
    """Where a person checks this registration themselves: the entry for the number, else the search page."""
    if config is None:
        try:
            from flask import current_app, has_app_context

            config = current_app.config if has_app_context() else {}
        except ImportError:  # pragma: no cover
            config = {}
    template = config.get("HCPC_REGISTER_URL")
    if number and template:
        return str(template).replace("{number}", number)
    return str(config.get("HCPC_CHECK_URL") or DEFAULT_CHECK_URL)


def is_stale(checked_on: date | None, today: date | None = None, max_age_days: int | None = None) -> bool:
    """True when the check is older than the allowed age, or was never made."""
    if checked_on is None:
        return True
    today = today or date.today()
    limit = max_check_age_days() if max_age_days is None else max_age_days
    return today - checked_on > timedelta(days=limit)


@dataclass(frozen=True)
class RegistrationDisplay:
    """How one registration is shown everywhere (badge on cards, profile, referral, API)."""

    status: str
    label: str  # the badge text
    tone: str  # "ok", "caution", "warning", "unknown": the badge style
    link: str  # where to check it yourself
    is_practising: bool  # the register allowed practice when last checked
    shown_as_registered: bool  # "Registered" may be said: practising and checked recently
    is_stale: bool  # checked too long ago (or never)
    listed_by_default: bool
    checked_on: date | None
    number: str | None
    status_label: str  # the vocabulary label of the status
    help: str = ""


def is_shown_as_registered(status: str | None, period_to: date | None, today: date | None = None) -> bool:
    """Whether a listing may be shown as registered: a practising status whose period has not ended.

    The register's own "Registered" is not enough once the registration period it
    showed us (``Period ... to <end>``) is over: a lapse may not have reached the
    register yet, and we never show a registration we know has run out.
    """
    if status not in PRACTISING_STATUSES:
        return False
    today = today or date.today()
    return period_to is None or period_to >= today


def registration_display(
    registration: Registration,
    today: date | None = None,
    *,
    max_age_days: int | None = None,
    check_url: str | None = None,
) -> RegistrationDisplay:
    """The one wording of a registration: "Registered" only when practising and checked
    within ``max_age_days`` (H1, H2); otherwise when it was last checked, with the link."""
    status = registration.status or "unchecked"
    checked = registration.checked_on
    link = check_url or check_url_for(registration.number)
    practising = status in PRACTISING_STATUSES
    stale = is_stale(checked, today, max_age_days)
    # A registration period the register showed us as over is never shown as registered
    # (is_shown_as_registered below), however recent the check.
    ended = practising and not is_shown_as_registered(status, registration.period_to, today)
    stale = stale or ended
    when = f" (checked {_uk_date(checked)})" if checked else ""
    if is_not_practising(status):
        label, tone = f"{REGISTRATION_STATUSES.label_of(status)}{when}: not registered to practise", "warning"
    elif status == "unchecked" or checked is None:
        label, tone = "HCPC registration not yet checked — check the HCPC register", "unknown"
    elif ended and registration.period_to is not None:
        label, tone = f"Registration period ended on {_uk_date(registration.period_to)} — check the HCPC register", "unknown"
    elif stale:
        label, tone = f"Last checked on {_uk_date(checked)} — check the HCPC register", "unknown"
    elif status == "conditions_of_practice":
        label, tone = f"Registered with the HCPC, with conditions of practice{when}", "caution"
    else:
        label, tone = f"Registered with the HCPC{when}", "ok"
    return RegistrationDisplay(
        status=status,
        label=label,
        tone=tone,
        link=link,
        is_practising=practising,
        shown_as_registered=practising and not stale,
        is_stale=stale,
        listed_by_default=listed_by_default(status),
        checked_on=checked,
        number=registration.number,
        status_label=REGISTRATION_STATUSES.label_of(status),
        help=REGISTRATION_STATUSES.help.get(status, ""),
    )


# ---------------------------------------------------------------------------
# H3: a wrong referral route (self-referral offered for a condition it excludes)

#: Which condition group (specialism) each condition belongs to, for routes
#: limited to groups ("self_referral:musculoskeletal"). Conditions in several
#: groups list each; a condition not listed here matches no group limit, so a
#: limited route is never claimed for it.
CONDITION_GROUPS: dict[str, tuple[str, ...]] = {
    "multiple_sclerosis": ("neurological",),
    "stroke": ("neurological",),
    "parkinsons": ("neurological",),
    "motor_neurone_disease": ("neurological",),
    "brain_injury": ("neurological",),
    "spinal_cord_injury": ("neurological",),
    "cerebral_palsy": ("neurological", "paediatrics"),
    "functional_neurological_disorder": ("neurological",),
    "spasticity": ("neurological",),
    "fatigue": ("neurological",),
    "balance_problems": ("neurological", "older_people", "vestibular"),
    "falls": ("older_people", "neurological"),
    "dizziness": ("vestibular",),
    "back_pain": ("musculoskeletal",),
    "neck_pain": ("musculoskeletal",),
    "whiplash": ("musculoskeletal",),
    "headache": ("musculoskeletal",),
    "shoulder_pain": ("musculoskeletal",),
    "knee_pain": ("musculoskeletal",),
    "arthritis": ("musculoskeletal",),
    "osteoporosis": ("musculoskeletal", "older_people"),
    "sports_injury": ("sports", "musculoskeletal"),
    "post_operative_rehab": ("musculoskeletal",),
    "chronic_pain": ("pain_management",),
    "fibromyalgia": ("pain_management",),
    "copd": ("respiratory",),
    "long_covid": ("respiratory",),
    "continence": ("pelvic_health",),
    "pregnancy_related": ("pelvic_health",),
    "amputation": ("amputee",),
    "heart_conditions": ("cardiac",),
    "work_related_injury": ("occupational_health", "musculoskeletal"),
    "developmental_delay": ("paediatrics",),
}

#: Short words people type for a condition, beyond its code and label.
_CONDITION_WORDS: dict[str, str] = {"ms": "multiple_sclerosis", "mnd": "motor_neurone_disease", "parkinson": "parkinsons"}


@dataclass(frozen=True)
class ReferralContext:
    """What the person told us they need help with: the condition groups and conditions searched for."""

    specialisms: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.specialisms or self.conditions)

    @property
    def groups(self) -> tuple[str, ...]:
        """The chosen groups, or the groups of the chosen conditions."""
        if self.specialisms:
            return self.specialisms
        found: dict[str, None] = {}
        for condition in self.conditions:
            for group in CONDITION_GROUPS.get(condition, ()):
                found.setdefault(group, None)
        return tuple(found)


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def _condition_phrases() -> list[tuple[str, str]]:
    phrases = [(code.replace("_", " "), code) for code in CONDITIONS]
    for code, label in CONDITIONS.terms.items():
        phrases.append((_words(label.split(" (")[0]).strip(), code))
    phrases.extend(_CONDITION_WORDS.items())
    return [(f" {phrase} ", code) for phrase, code in phrases if phrase]


_PHRASES = _condition_phrases()


def conditions_in_text(text: str) -> tuple[str, ...]:
    """Conditions named in free search text ("physio for MS near LS6" -> multiple_sclerosis)."""
    if not text:
        return ()
    words = _words(text)
    found: dict[str, None] = {}
    for phrase, code in _PHRASES:
        if phrase in words:
            found.setdefault(code, None)
    return tuple(found)


def referral_context(text: str = "", filters: Mapping[str, Iterable[str]] | None = None) -> ReferralContext:
    """The context a search gives: specialism and condition filters, plus conditions named in the text."""
    filters = filters or {}
    specialisms = tuple(s for s in filters.get("specialism", ()) if s in SPECIALISMS)
    conditions = dict.fromkeys(c for c in filters.get("condition", ()) if c in CONDITIONS)
    for code in conditions_in_text(text):
        conditions.setdefault(code, None)
    return ReferralContext(specialisms=specialisms, conditions=tuple(conditions))


def route_applies(route: ReferralRoute, context: ReferralContext | None = None) -> bool:
    """Does this route apply to what the person needs?

    * ``only_for`` groups: with no context the route is not claimed (a self-referral
      "for musculoskeletal problems only" is not "you can refer yourself"); with
      context, it applies when a searched group (or a searched condition's group) is listed.
    * ``not_for`` conditions: the route does not apply when every searched condition
      is excluded; with no condition searched it applies, and its text names the exclusions.
    """
    context = context or ReferralContext()
    if route.only_for and not set(context.groups) & set(route.only_for):
        return False
    return not (route.not_for and context.conditions and all(c in route.not_for for c in context.conditions))


def routes_for(record: Record, context: ReferralContext | None = None) -> list[str]:
    """Route codes that apply in this context, in the record's order."""
    found: dict[str, None] = {}
    for route in record.referral_routes:
        if route_applies(route, context):
            found.setdefault(route.route, None)
    return list(found)


def route_text(route: ReferralRoute) -> str:
    """"You can refer yourself: only for musculoskeletal problems; not for multiple sclerosis (MS)"."""
    label = REFERRAL_ROUTES.label_of(route.route)
    parts = []
    if route.only_for:
        parts.append("only for " + _join([SPECIALISMS.label_of(s) for s in route.only_for]))
    if route.not_for:
        parts.append("not for " + _join([CONDITIONS.label_of(c) for c in route.not_for], "or"))
    if not parts:
        return f"{label}: for all conditions"
    return f"{label}: " + "; ".join(parts)


def excluded_conditions(record: Record, route_code: str, context: ReferralContext | None) -> list[str]:
    """Searched conditions this route is explicitly not for (to say so on the page)."""
    if context is None:
        return []
    out: dict[str, None] = {}
    for route in record.referral_routes:
        if route.route == route_code:
            for condition in context.conditions:
                if condition in route.not_for:
                    out.setdefault(condition, None)
    # Only when no other entry of the same route covers the condition.
    return [c for c in out if route_code not in routes_for(record, ReferralContext(context.specialisms, (c,)))]


def route_masks(record: Record, specialism_bit: Mapping[str, int], condition_bit: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """For the index: per route code, (groups it applies to as bits, conditions it excludes as bits).

    A route without a group limit applies to every group (all bits set); several
    entries of one route are combined (groups OR, exclusions AND), which can only
    widen where the route applies when entries disagree.
    """
    every_group = sum(1 << bit for bit in specialism_bit.values())
    masks: dict[str, tuple[int, int]] = {}
    for route in record.referral_routes:
        groups = every_group if not route.only_for else sum(1 << specialism_bit[s] for s in route.only_for if s in specialism_bit)
        excluded = sum(1 << condition_bit[c] for c in route.not_for if c in condition_bit)
        if route.route in masks:
            old_groups, old_excluded = masks[route.route]
            masks[route.route] = (old_groups | groups, old_excluded & excluded)
        else:
            masks[route.route] = (groups, excluded)
    return masks


# ---------------------------------------------------------------------------
# H4: stale details (a waiting time, hours) read as current; "last updated" read as "checked"

#: Details verified longer ago than this are flagged as possibly out of date.
DETAILS_MAX_AGE_DAYS = 180


@dataclass(frozen=True)
class Freshness:
    """How fresh a listing's details are: when a source last verified them, and when we imported them.

    The import date is when our copy changed, not a check that the details are
    right, so it is never called "last updated" on its own (it would read fresher
    than the verification date).
    """

    verified_on: date | None
    imported_on: date
    is_stale: bool  # never verified, or verified more than DETAILS_MAX_AGE_DAYS ago

    @property
    def text(self) -> str:
        imported = f"Imported into Physio Finder on {_uk_date(self.imported_on)}."
        if self.verified_on is None:
            return f"The source has not told us when these details were last checked. {imported}"
        return f"Details last checked by the source on {_uk_date(self.verified_on)}. {imported}"

    @property
    def waiting_note(self) -> str:
        """Said next to an NHS waiting time: waits change quickly."""
        if self.verified_on is None:
            return "date not known: ask the service for today's wait"
        note = f"as of {_uk_date(self.verified_on)}"
        return note + (": this may be out of date, ask the service for today's wait" if self.is_stale else "")


def freshness(last_verified: Iterable[date | None], imported_at: date, today: date | None = None) -> Freshness:
    """The newest verification date among a listing's sources, and its import date."""
    dates = [d for d in last_verified if d is not None]
    verified = max(dates) if dates else None
    today = today or date.today()
    stale = verified is None or (today - verified).days > DETAILS_MAX_AGE_DAYS
    return Freshness(verified_on=verified, imported_on=imported_at, is_stale=stale)


# ---------------------------------------------------------------------------
# helpers (kept here so this module needs nothing from the web layer)


def _uk_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _join(words: list[str], conjunction: str = "and") -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} " + words[-1]
