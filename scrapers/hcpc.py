"""The HCPC online register ("Check the register"): read one registrant's entry.

Written against what the HCPC documents about its register
(hcpc-uk.org, "How to check the Register and what the results mean"): a
search by registration number jumps straight to the registrant's detail view,
which shows their name, registration status, registration number, the
approximate area they work in and the current registration period; the status
"Registered" means on the register with no restrictions, cautions or
conditions. The detail view lays these out as label / value pairs
(``Name``, ``Registration number``, ``Status``, ``Period``, ``Location``) and a
search that matches nobody says "No results returned for <number>".

``parse_register_page`` is pure: HTML in, a :class:`RegisterCheck` out. It never
guesses: a page it does not recognise gives status ``unchecked`` with the
reason, and the caller keeps the practitioner's stored status.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from finder.errors import RobotsDisallowed, SourceError

if TYPE_CHECKING:
    from scrapers.http import PoliteSession

log = logging.getLogger(__name__)

#: Profession code of physiotherapists on the HCPC register.
PROFESSION = "PH"

#: Register status text -> our status. Checked in order; the first match wins,
#: so the more specific phrases come before plain "registered".
_STATUS_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bstruck\s*off\b|\bremoved\b|\bstriking[- ]off\b|\bderegistered\b|\bvoluntar(y|ily)\s+remov", re.I), "removed"),
    (re.compile(r"\bsuspen(ded|sion)\b", re.I), "suspended"),
    (re.compile(r"\bconditions?\s+of\s+practi[cs]e\b|\bconditions\b", re.I), "conditions_of_practice"),
    (re.compile(r"\blapsed\b|\bnot\s+renewed\b|\bexpired\b", re.I), "lapsed"),
    (re.compile(r"^\s*registered\b", re.I), "registered"),
)
_CAUTION = re.compile(r"\bcaution\b", re.I)
_NOT_FOUND = re.compile(r"no\s+results?\s+(were\s+)?returned\s+for", re.I)
_DATA_VALID_ON = re.compile(r"data\s+valid\s+on\s*:?\s*([0-9][0-9/:. \-]*[0-9]|\d{1,2}\s+\w+\s+\d{4}[^<\n]*)", re.I)
_PERIOD = re.compile(r"(?P<start>.+?)\s+(?:to|until|-|–)\s+(?P<end>.+)$", re.I)

#: Pages that stand in front of the register instead of it. Each is "could not check":
#: the stored status stays, and several in a row stop the run (finder.registration).
_CHALLENGE = re.compile(
    r"just a moment|checking (if the site connection is secure|your browser)|verify(ing)? (that )?you are (a )?human"
    r"|attention required|enable javascript and cookies to continue|ddos protection|are you a robot|captcha"
    r"|cf-chl|challenge-platform|cf-browser-verification|request unsuccessful\. incapsula",
    re.I,
)
_LOGIN = re.compile(r"\b(sign|log)\s?in\b|\bpassword\b|\bsession (has )?expired\b", re.I)
_ERROR_PAGE = re.compile(
    r"\b(page not found|not found|server error|service (temporarily )?unavailable|bad gateway|gateway time-?out"
    r"|something went wrong|an error (has )?occurred|unexpected error|access denied|forbidden|under maintenance"
    r"|down for maintenance|too many requests)\b|\b(error|http)\s*(4|5)\d\d\b",
    re.I,
)

#: Kinds of stand-in page, as the run's stop message names them.
BOT_CHALLENGE = "a bot-challenge ('checking your browser') page"
LOGIN_WALL = "a login page"
ERROR_PAGE = "an error page"
EMPTY_PAGE = "an empty page"
ACCESS_REFUSED = "an access-refused (HTTP 403) page"


def stand_in_page(page: str, *, title: str = "", text: str = "", has_register_fields: bool = False) -> str | None:
    """Which kind of page stands in front of the register, or None when it looks like the register itself."""
    if not page.strip():
        return EMPTY_PAGE
    if has_register_fields:
        return None
    if _CHALLENGE.search(page[:20_000]):
        return BOT_CHALLENGE
    if re.search(r"<input[^>]+type\s*=\s*[\"']?password", page, re.I) or (_LOGIN.search(title) and "<form" in page.lower()):
        return LOGIN_WALL
    if _ERROR_PAGE.search(title) or _ERROR_PAGE.search(text[:400]):
        return ERROR_PAGE
    return None


@dataclass(frozen=True)
class RegisterCheck:
    """What the register said about one number (or why we could not tell)."""

    number: str
    status: str  # a REGISTRATION_STATUSES code; "unchecked" when the page was not understood
    register_name: str | None = None
    register_status: str | None = None  # the status text as shown
    period_from: date | None = None
    period_to: date | None = None
    location: str | None = None
    data_valid_on: str | None = None
    #: Why the status is "unchecked", or a note a person should review.
    reason: str | None = None
    source_url: str | None = None
    #: Set when the register did not answer at all: a bot challenge, a login wall, an error page, an empty page.
    blocked: str | None = None

    @property
    def recognised(self) -> bool:
        return self.status != "unchecked"


def register_url(template: str, number: str) -> str:
    """The register page for one number (also the link users get to check it themselves)."""
    if "{number}" not in template:
        raise ValueError("HCPC_REGISTER_URL must contain {number}, e.g. ...?query={number}&profession=PH")
    return template.replace("{number}", number)


def normalise_number(number: str) -> str:
    return re.sub(r"\s+", "", number or "").upper()


class _Page(HTMLParser):
    """Collects label/value pairs (table rows, dt/dd) and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.title: list[str] = []
        self.pairs: list[tuple[str, str]] = []
        self._skip = 0
        self._in_title = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._dt: list[str] | None = None
        self._dd: list[str] | None = None
        self._last_dt: str | None = None
        self.tags_seen = 0
        self.closed_html = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags_seen += 1
        if tag in ("script", "style", "noscript", "template"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "dt":
            self._dt = []
        elif tag == "dd":
            self._dd = []
        elif tag in ("br", "p", "div", "li") and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "template") and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(_squash("".join(self._cell)))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            cells = [c for c in self._row if c]
            if len(cells) >= 2:
                self.pairs.append((cells[0], cells[1]))
            self._row = None
        elif tag == "dt" and self._dt is not None:
            self._last_dt = _squash("".join(self._dt))
            self._dt = None
        elif tag == "dd" and self._dd is not None:
            if self._last_dt:
                self.pairs.append((self._last_dt, _squash("".join(self._dd))))
            self._dd = None
            self._last_dt = None
        elif tag == "html":
            self.closed_html = True

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title.append(data)
            return
        self.text.append(data)
        for buffer in (self._cell, self._dt, self._dd):
            if buffer is not None:
                buffer.append(data)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _label(text: str) -> str:
    return re.sub(r"[\s:]+$", "", text.strip().lower())


def _parse_date(text: str) -> date | None:
    text = text.strip().rstrip(".")
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_period(text: str | None) -> tuple[date | None, date | None] | None:
    """'01/05/2026 to 30/04/2028' -> (from, to); None when the text is not a period."""
    if not text:
        return None
    match = _PERIOD.match(text.strip())
    if not match:
        return None
    start, end = _parse_date(match["start"]), _parse_date(match["end"])
    if start is None or end is None:
        return None
    return start, end


def status_from_register(text: str) -> tuple[str | None, str | None]:
    """Our status code for the register's status text, and a note for review (or None, None)."""
    cleaned = _squash(text)
    for pattern, code in _STATUS_RULES:
        if pattern.search(cleaned):
            note = None
            if code == "registered" and _CAUTION.search(cleaned):
                # A caution does not stop someone practising, but patients may want to know.
                note = f"the register shows a caution: '{cleaned[:120]}'"
            elif code == "registered" and cleaned.lower() != "registered" and not _CAUTION.search(cleaned):
                return None, None  # "Registered (something we do not know)": do not guess
            return code, note
    return None, None


def parse_register_page(page: str | bytes, *, number: str, url: str | None = None, today: date | None = None) -> RegisterCheck:
    """Read the register's detail page for ``number``; never raises for odd pages."""
    number = normalise_number(number)
    if isinstance(page, bytes):
        page = page.decode("utf-8", errors="replace")

    def unchecked(reason: str, **shown: str | None) -> RegisterCheck:
        log.warning("HCPC %s: %s", number, reason)
        return RegisterCheck(number=number, status="unchecked", reason=reason, source_url=url, **shown)  # type: ignore[arg-type]

    if not page.strip():
        return unchecked("the register returned an empty page", blocked=EMPTY_PAGE)
    parser = _Page()
    try:
        parser.feed(page)
        parser.close()
    except Exception as exc:  # noqa: BLE001 - html.parser is lenient; anything else is a page we do not know
        return unchecked(f"the register page could not be read as HTML ({type(exc).__name__})")
    if parser.tags_seen < 3:
        return unchecked("the register did not return an HTML page")
    text = _squash(" ".join(parser.text))
    pairs = {_label(k): v for k, v in parser.pairs}
    title = _squash(" ".join(parser.title))
    blocked = stand_in_page(page, title=title, text=text, has_register_fields="registration number" in pairs)
    if blocked is not None and not _NOT_FOUND.search(text):
        return unchecked(
            f"the register answered with {blocked} (page title '{title[:60]}') instead of the register; nothing was read",
            blocked=blocked,
        )
    shown_number = normalise_number(pairs.get("registration number", ""))
    if "registration number" not in pairs and _NOT_FOUND.search(text):
        return RegisterCheck(number=number, status="not_found", source_url=url, reason=f"{number} is not on the HCPC register")
    missing = [label for label in ("registration number", "status") if label not in pairs]
    if missing and not parser.closed_html:
        return unchecked("the register page was cut off before the registrant's details (truncated HTML)")
    if missing:
        title = _squash(" ".join(parser.title))[:80]
        return unchecked(
            f"the register page has no {' or '.join(repr(m) for m in missing)} field "
            f"(page title '{title}'): its layout may have changed; nothing was assumed"
        )
    if shown_number != number:
        return unchecked(f"the register page shows number '{shown_number[:20]}', not {number}")
    raw_status = pairs["status"]
    status, note = status_from_register(raw_status)
    if status is None:
        return unchecked(
            f"the register shows a status we do not know: '{raw_status[:80]}'; nothing was assumed",
            register_status=raw_status[:300],
            register_name=(pairs.get("name") or None),
        )
    name = pairs.get("name") or None
    if not name:
        return unchecked("the register page shows no name, so we cannot tell whose registration it is")
    period_text = pairs.get("period") or pairs.get("registration period") or pairs.get("current registration period")
    period = parse_period(period_text)
    if period_text and period is None:
        note = "; ".join(filter(None, [note, f"could not read the registration period '{period_text[:60]}'"]))
    period_from, period_to = period if period else (None, None)
    if status == "registered" and period_to is not None and today is not None and period_to < today:
        note = "; ".join(filter(None, [note, f"the register says registered but the period ended on {period_to:%d/%m/%Y}"]))
    valid_on = _DATA_VALID_ON.search(text)
    return RegisterCheck(
        number=number,
        status=status,
        register_name=name[:300],
        register_status=raw_status[:300],
        period_from=period_from,
        period_to=period_to,
        location=(pairs.get("location") or None),
        data_valid_on=valid_on.group(1).strip()[:64] if valid_on else None,
        reason=note,
        source_url=url,
    )


class HcpcRegister:
    """Look numbers up on the live register through the polite session."""

    def __init__(self, session: PoliteSession, url_template: str) -> None:
        register_url(url_template, PROFESSION)  # fail early on a template without {number}
        self.session = session
        self.url_template = url_template

    def check(self, number: str, *, today: date | None = None) -> RegisterCheck:
        """Fetch and read one number; network failures raise SourceError subclasses."""
        number = normalise_number(number)
        url = register_url(self.url_template, number)
        today = today or date.today()
        # Never from the cache: a registration check must be what the register says now.
        try:
            response = self.session.get(url, expect="html", use_cache=False)
        except RobotsDisallowed:
            raise
        except SourceError as exc:
            blocked = blocked_by(exc.detail)
            if blocked is None:
                raise
            return RegisterCheck(number=number, status="unchecked", reason=f"could not fetch the register page: {exc.detail}", source_url=url, blocked=blocked)
        return parse_register_page(response.content, number=number, url=url, today=today)


def blocked_by(detail: str) -> str | None:
    """The stand-in kind behind an HTTP failure (a challenge, a login, a server error page), if any."""
    if "bot-challenge" in detail or _CHALLENGE.search(detail):
        return BOT_CHALLENGE
    if re.search(r"HTTP 401\b", detail):
        return LOGIN_WALL
    if re.search(r"HTTP 403\b", detail):
        return ACCESS_REFUSED
    if re.search(r"HTTP 5\d\d\b", detail):
        return ERROR_PAGE
    if "returned an empty body" in detail:
        return EMPTY_PAGE
    return None
