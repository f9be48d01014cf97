"""Opening hours: weekly intervals (day, opens, closes) plus an optional note.

The one place that reads hours as people write them (``Mon-Fri 9:00-17:00;
Sat 9-12``, ``Monday to Friday 9am to 5pm``, ``Tue, Thu 08:30-12:00 &
13:00-18:00``, ``24 hours``), writes them back as text, says whether a place is
open at a moment in UK local time, and reads and writes Open Referral UK
``schedules`` (RFC 5545 ``byday`` with ``opens_at`` / ``closes_at``).

Whatever cannot be read as times is kept, word for word, as the note: never lost.
Times are wall-clock times in Europe/London; ``24:00`` closes at the end of the day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

UK_TIME = ZoneInfo("Europe/London")

#: Monday first, as the UK week (and Python's ``weekday()``) counts.
DAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: RFC 5545 weekday codes, in the same order.
RRULE_DAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_LABELS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SHORT: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

END_OF_DAY = 24 * 60
MAX_NOTE = 300
_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def minutes_text(minutes: int) -> str:
    """``540`` -> ``09:00`` (``1440`` -> ``24:00``)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(value: str) -> int:
    hours, mins = value.split(":")
    return int(hours) * 60 + int(mins)


def day_ranges(days: Sequence[int]) -> str:
    """``[0, 1, 2, 4]`` -> ``Mon-Wed, Fri``."""
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(_SHORT[r[0]] if len(r) == 1 else f"{_SHORT[r[0]]}-{_SHORT[r[-1]]}" for r in runs)


def clock(value: str) -> str:
    """``09:00`` -> ``9:00`` as a person reads it (``24:00`` -> ``midnight``)."""
    if value == "24:00":
        return "midnight"
    return value[1:] if value.startswith("0") else value


class Interval(BaseModel):
    """One opening on one weekday: ``opens`` < ``closes``, both ``HH:MM`` local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: str
    opens: str
    closes: str

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 7:
            return DAYS[value]
        if isinstance(value, str) and value.strip().lower() in DAYS:
            return value.strip().lower()
        raise ValueError(f"day must be one of: {', '.join(DAYS)}")

    @field_validator("opens", "closes")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f"'{value[:20]}' is not a time: use HH:MM on the 24-hour clock, e.g. 09:00 or 17:30")
        return value

    @model_validator(mode="after")
    def _in_order(self) -> Interval:
        if self.opens == "24:00" or _minutes(self.closes) <= _minutes(self.opens):
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens}) on the same day")
        return self

    @property
    def weekday(self) -> int:
        return DAYS.index(self.day)

    @property
    def opens_minutes(self) -> int:
        return _minutes(self.opens)

    @property
    def closes_minutes(self) -> int:
        return _minutes(self.closes)


class OpeningHours(BaseModel):
    """A location's weekly opening hours, and what could not be said as times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intervals: tuple[Interval, ...] = ()
    note: str | None = Field(default=None, max_length=MAX_NOTE)

    @field_validator("intervals")
    @classmethod
    def _sorted(cls, value: tuple[Interval, ...]) -> tuple[Interval, ...]:
        unique = {(i.weekday, i.opens_minutes, i.closes_minutes): i for i in value}
        ordered = [unique[key] for key in sorted(unique)]
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.day == after.day and after.opens_minutes < before.closes_minutes:
                raise ValueError(
                    f"{DAY_LABELS[before.weekday]}: {before.opens}-{before.closes} overlaps {after.opens}-{after.closes}"
                )
        return tuple(ordered)

    @field_validator("note", mode="before")
    @classmethod
    def _note(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @property
    def has_times(self) -> bool:
        return bool(self.intervals)

    def on(self, weekday: int) -> list[Interval]:
        return [i for i in self.intervals if i.weekday == weekday]

    def week(self) -> list[tuple[str, list[Interval]]]:
        """Every day Monday to Sunday with its openings (an empty list: closed)."""
        return [(DAY_LABELS[d], self.on(d)) for d in range(7)]

    def times_text(self) -> str:
        """The intervals as text the parser reads back: ``Mon-Fri 09:00-17:00; Sat 09:00-12:00``."""
        if self.is_always_open():
            return "24 hours"
        by_times: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for day in range(7):
            times = tuple((i.opens, i.closes) for i in self.on(day))
            if times:
                by_times.setdefault(times, []).append(day)
        parts = []
        for times, days in sorted(by_times.items(), key=lambda item: item[1][0]):
            parts.append(f"{day_ranges(days)} " + " & ".join(f"{o}-{c}" for o, c in times))
        return "; ".join(parts)

    def __str__(self) -> str:
        return "; ".join(p for p in (self.times_text(), self.note or "") if p)

    def is_always_open(self) -> bool:
        return len(self.intervals) == 7 and all(i.opens == "00:00" and i.closes == "24:00" for i in self.intervals)

    def status_at(self, moment: datetime) -> str:
        """``Open now, closes 17:00`` / ``Opens Monday 9:00`` at a moment, in UK local time ("" if unknown)."""
        return status_at(self, moment)


# ---------------------------------------------------------------------------
# Reading hours as people write them

_DAY_WORDS: dict[str, int] = {}
for _index, _name in enumerate(DAYS):
    for _length in range(3, len(_name) + 1):
        _DAY_WORDS[_name[:_length]] = _index
_DAY_WORDS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})
_GROUP_WORDS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekday": tuple(range(5)),
    "weekends": (5, 6),
    "weekend": (5, 6),
}
_FILLER = {"open", "opening", "from", "hours", "am", "pm", "on", "s", "are", "is", "the", "only"}

_TOKEN = re.compile(
    r"""
    (?P<always>24\s*(?:hours|hrs|h)\b|24\s*/\s*7|open\s+all\s+day)
  | (?P<every>every\s*day|7\s*days(?:\s*a\s*week)?|all\s+week|mon(?:day)?\s*-\s*sun(?:day)?)
  | (?P<time>(?:[01]\d|2[0-3])[0-5]\d(?!\d)|(?:2[0-4]|[01]?\d)(?:[:.][0-5]\d)?(?:\s*(?:am|pm|a\.m\.|p\.m\.))?|noon|midday|midnight)
  | (?P<dash>-|\bto\b|\buntil\b|\btill?\b)
  | (?P<join>&|\+|,|/|\band\b)
  | (?P<word>[a-z]+)
  | (?P<space>\s+|:)
    """,
    re.VERBOSE,
)


class _Unreadable(ValueError):
    pass


def _clock_minutes(text: str) -> tuple[int, bool]:
    """Minutes after midnight, and whether the text said am/pm (or noon/midnight)."""
    text = text.replace(" ", "").replace(".m.", "m").replace("a.m", "am").replace("p.m", "pm")
    if text in ("noon", "midday"):
        return 12 * 60, True
    if text == "midnight":
        return END_OF_DAY, True
    meridiem = None
    if text.endswith(("am", "pm")):
        meridiem, text = text[-2:], text[:-2]
    hours_text, _, mins_text = text.replace(".", ":").partition(":")
    hours, mins = int(hours_text), int(mins_text or 0)
    if meridiem:
        if not 1 <= hours <= 12:
            raise _Unreadable(text)
        hours = hours % 12 + (12 if meridiem == "pm" else 0)
    if hours > 24 or (hours == 24 and mins):
        raise _Unreadable(text)
    return hours * 60 + mins, meridiem is not None


def _span(opens: tuple[int, bool], closes: tuple[int, bool]) -> tuple[int, int]:
    start, start_marked = opens
    end, end_marked = closes
    if end == 0:
        end = END_OF_DAY  # "18:00-00:00": until midnight
    if end <= start and not end_marked and end <= 12 * 60:
        end += 12 * 60  # "9-5": nobody opens nine to five in the morning
    if not start_marked and not end_marked and start < 7 * 60 and end <= 12 * 60 and start + 12 * 60 < end + 12 * 60 <= END_OF_DAY:
        # "6-9" with no am/pm is an evening session (6pm to 9pm), "1-5" an afternoon.
        start, end = start + 12 * 60, end + 12 * 60
    if not 0 <= start < end <= END_OF_DAY:
        raise _Unreadable("times out of order")
    return start, end


def _clause(text: str) -> tuple[list[int], list[tuple[int, int]], bool]:
    """One clause -> (days, time spans, said 'closed'); raises _Unreadable."""
    days: list[int] = []
    spans: list[tuple[int, int]] = []
    closed = False
    pending_day: int | None = None  # the day before a dash ("mon-fri")
    times: list[tuple[int, bool]] = []
    dash = False
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() != position:
            raise _Unreadable(text[position : match.start()])
        position = match.end()
        kind = match.lastgroup
        value = match.group(0).strip()
        if kind == "space":
            continue
        if kind == "always":
            spans.append((0, END_OF_DAY))
        elif kind == "every":
            days.extend(range(7))
        elif kind == "time":
            if value.isdigit() and len(value) == 4:  # "0900"
                value = f"{value[:2]}:{value[2:]}"
            times.append(_clock_minutes(value))
            if dash and len(times) == 2:
                spans.append(_span(times[0], times[1]))
                times, dash = [], False
            elif len(times) > 1:
                raise _Unreadable(value)
        elif kind == "word":
            word = value.rstrip("s") if value not in _DAY_WORDS and value.rstrip("s") in _DAY_WORDS else value
            if word in _DAY_WORDS:
                day = _DAY_WORDS[word]
                if dash and pending_day is not None:
                    start = pending_day
                    days.extend((start + k) % 7 for k in range(1, (day - start) % 7 + 1))
                    pending_day, dash = None, False
                else:
                    days.append(day)
                    pending_day = day
            elif value in _GROUP_WORDS:
                days.extend(_GROUP_WORDS[value])
            elif value == "closed":
                closed = True
            elif value not in _FILLER:
                raise _Unreadable(value)
        elif kind == "dash":
            if not times and pending_day is None:
                raise _Unreadable(value)
            dash = True
        elif kind == "join":
            if times:
                raise _Unreadable(value)
            pending_day = None if not dash else pending_day
    if position != len(text) or times or dash:
        raise _Unreadable(text[position:])
    return days, spans, closed


def _clauses(text: str) -> list[str]:
    """Split on ';' and new lines, on ',' before a day name, and around (brackets)."""
    text = re.sub(r"\(([^()]*)\)", r";\1;", text)
    parts: list[str] = []
    for piece in re.split(r"[;\n]+", text):
        if piece.strip():
            parts.extend(p for p in re.split(r",(?=\s*[A-Za-z])", piece))
    return [p.strip() for p in parts if p.strip()]


def _normalise(text: str) -> str:
    text = text.lower().replace("–", "-").replace("—", "-").replace("‑", "-")
    return re.sub(r"\s+", " ", text).strip()


def parse_hours(text: str | None) -> OpeningHours | None:
    """Hours as written -> OpeningHours; what is not times is kept as the note. Blank -> None."""
    if text is None or not text.strip():
        return None
    original = re.sub(r"\s+", " ", text).strip()
    intervals: list[Interval] = []
    unread: list[str] = []
    days: list[int] = []  # days named without times yet ("Tue," before "Thu 9-12")
    last_days: list[int] = []
    readable = 0
    for clause in _clauses(original):
        try:
            found_days, spans, closed = _clause(_normalise(clause))
        except (_Unreadable, ValueError):
            unread.append(clause)
            continue
        if found_days and not spans and not closed:
            days.extend(found_days)  # "Tue," then "Thu 9-12": both days take the times
            continue
        if spans and not found_days:
            found_days = days or last_days or ([] if spans != [(0, END_OF_DAY)] else list(range(7)))
            if not found_days:
                unread.append(clause)
                continue
        elif found_days:
            found_days = days + found_days
        days = []
        readable += 1
        last_days = found_days
        for day in dict.fromkeys(found_days):
            for start, end in spans:
                intervals.append(Interval(day=DAYS[day], opens=minutes_text(start), closes=minutes_text(end)))
    if days:
        unread.append(" ".join(_SHORT[d] for d in days))
    try:
        hours = OpeningHours(intervals=tuple(intervals), note=None)
    except ValueError:
        return OpeningHours(note=original[:MAX_NOTE])
    if not hours.intervals:
        return OpeningHours(note=original[:MAX_NOTE])
    note = "; ".join(unread)[:MAX_NOTE] or None
    return hours.model_copy(update={"note": note})


def coerce_hours(value: Any) -> OpeningHours | None:
    """What a Record accepts for a location's hours: text (parsed), a mapping, or OpeningHours."""
    if value is None or isinstance(value, OpeningHours):
        return value
    if isinstance(value, str):
        if len(value.strip()) > MAX_NOTE:
            # Longer text is an input error to fix, never something to cut short silently.
            raise ValueError(f"is {len(value.strip()):,} characters long; the most we keep is {MAX_NOTE}")
        return parse_hours(value)
    if isinstance(value, dict):
        if not value.get("intervals") and not (value.get("note") or "").strip():
            return None
        return OpeningHours.model_validate(value)
    raise ValueError("expected opening hours as text (e.g. 'Mon-Fri 9:00-17:00') or {intervals, note}")


def kept_as_note(hours: OpeningHours | None) -> bool:
    """Hours were given, but none of it could be read as times (the import report counts these)."""
    return hours is not None and not hours.intervals and bool(hours.note)


# ---------------------------------------------------------------------------
# Open now?


def _weekly_minutes(weekday: int, minutes: int) -> int:
    return weekday * END_OF_DAY + minutes


def status_at(hours: OpeningHours | None, moment: datetime) -> str:
    """``Open now, closes 17:00``, ``Opens today 13:00``, ``Opens Monday 9:00``; "" without times."""
    if hours is None or not hours.intervals:
        return ""
    if hours.is_always_open():
        return "Open 24 hours"
    local = moment.astimezone(UK_TIME) if moment.tzinfo else moment.replace(tzinfo=UK_TIME)
    now = _weekly_minutes(local.weekday(), local.hour * 60 + local.minute)
    week = 7 * END_OF_DAY
    spans = sorted(
        (_weekly_minutes(i.weekday, i.opens_minutes), _weekly_minutes(i.weekday, i.closes_minutes)) for i in hours.intervals
    )
    for start, end in spans:
        if start <= now < end:
            # Follow openings that carry on without a break (24:00, then 00:00 the next day).
            for _ in range(7):
                carry_on = next((s for s in spans if s[0] == end % week), None)
                if carry_on is None:
                    break
                end += carry_on[1] - carry_on[0]
            day, minute = divmod(end % week, END_OF_DAY)
            if minute == 0:
                day, closes = (day - 1) % 7, "midnight"
            else:
                closes = clock(minutes_text(minute))
            when = "" if day == local.weekday() and end - now < END_OF_DAY else f" {DAY_LABELS[day]}"
            return f"Open now, closes{when} {closes}"
    upcoming = [(start - now) % week for start, _ in spans]
    wait = min(upcoming)
    start = (now + wait) % week
    day, minute = divmod(start, END_OF_DAY)
    if wait < END_OF_DAY and day == local.weekday():
        label = "today"
    elif day == (local.weekday() + 1) % 7 and wait < 2 * END_OF_DAY:
        label = "tomorrow"
    else:
        label = DAY_LABELS[day]
    return f"Opens {label} {clock(minutes_text(minute))}"


# ---------------------------------------------------------------------------
# Open Referral UK schedules (HSDS 3.0 ``schedule``)


def _oruk_time(value: str) -> str:
    return "23:59:59" if value == "24:00" else f"{value}:00"


def to_schedules(hours: OpeningHours | None) -> list[dict[str, Any]]:
    """Weekly schedules, one per set of days sharing the same times (ids are the caller's)."""
    if hours is None:
        return []
    by_times: dict[tuple[str, str], list[int]] = {}
    for interval in hours.intervals:
        by_times.setdefault((interval.opens, interval.closes), []).append(interval.weekday)
    schedules: list[dict[str, Any]] = []
    for (opens, closes), days in sorted(by_times.items(), key=lambda item: (min(item[1]), item[0])):
        schedule: dict[str, Any] = {
            "freq": "WEEKLY",
            "interval": 1,
            "byday": ",".join(RRULE_DAYS[d] for d in sorted(days)),
            "opens_at": _oruk_time(opens),
            "closes_at": _oruk_time(closes),
            "description": f"{', '.join(DAY_LABELS[d] for d in sorted(days))}: {clock(opens)} to {clock(closes)}",
        }
        if hours.note:
            schedule["notes"] = hours.note
        schedules.append(schedule)
    if not schedules and hours.note:
        schedules.append({"description": hours.note})
    return schedules


_ORUK_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?\s*$")


def _read_oruk_time(value: Any) -> str | None:
    match = _ORUK_TIME.match(value) if isinstance(value, str) else None
    if not match:
        return None
    hours, mins, secs = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if (hours, mins) == (23, 59) and secs == 59 or (hours, mins) == (24, 0):
        return "24:00"
    if hours > 23 or mins > 59:
        return None
    return f"{hours:02d}:{mins:02d}"


def _read_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def from_schedules(schedules: Iterable[Any], *, today: date | None = None) -> OpeningHours | None:
    """ORUK schedules -> OpeningHours: weekly ``byday`` + ``opens_at``/``closes_at`` within
    ``valid_from``/``valid_to``; descriptions of schedules without times become the note."""
    intervals: list[Interval] = []
    notes: list[str] = []
    for schedule in schedules:
        if not isinstance(schedule, dict):
            continue
        valid_from, valid_to = _read_date(schedule.get("valid_from")), _read_date(schedule.get("valid_to"))
        if today is not None and ((valid_from and valid_from > today) or (valid_to and valid_to < today)):
            continue
        opens, closes = _read_oruk_time(schedule.get("opens_at")), _read_oruk_time(schedule.get("closes_at"))
        freq = str(schedule.get("freq") or "WEEKLY").upper()
        byday = str(schedule.get("byday") or "")
        # "MO,TU" or RRULE style with ordinals ("1MO") which a weekly table cannot hold.
        codes = [code.strip().upper() for code in byday.split(",") if code.strip()]
        days = [RRULE_DAYS.index(code) for code in codes if code in RRULE_DAYS]
        weekly = freq == "WEEKLY" and days and len(days) == len(codes)
        for key in ("notes",):
            text = schedule.get(key)
            if isinstance(text, str) and text.strip():
                notes.append(text.strip())
        if weekly and opens and closes and closes != opens and (closes == "24:00" or closes > opens):
            for day in days:
                intervals.append(Interval(day=DAYS[day], opens=opens, closes=closes))
            continue
        description = schedule.get("description")
        if isinstance(description, str) and description.strip():
            notes.append(description.strip())
    note = "; ".join(dict.fromkeys(notes))[:MAX_NOTE] or None
    if not intervals and not note:
        return None
    try:
        return OpeningHours(intervals=tuple(intervals), note=note)
    except ValueError:
        # Overlapping schedules: keep what was said as the note rather than guess.
        return OpeningHours(note=note or "; ".join(_describe(intervals))[:MAX_NOTE])


def _describe(intervals: Sequence[Interval]) -> list[str]:
    return [f"{_SHORT[i.weekday]} {i.opens}-{i.closes}" for i in intervals]


def next_days(start: date, count: int = 7) -> list[date]:
    return [start + timedelta(days=n) for n in range(count)]
