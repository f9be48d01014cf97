"""The UK postcode format: normalising, checking and splitting.

One place for the rule, used by the record validation, the gazetteer and the
geocoder chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from finder.errors import InvalidPostcode

# Outward code: A9, A99, AA9, AA99, A9A, AA9A. Inward code: 9AA.
# The inward letters never include C I K M O V (Royal Mail rule).
_OUTWARD = r"(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
_FULL = re.compile(rf"^(?P<out>{_OUTWARD})(?P<in>{_INWARD})$")
_SECTOR = re.compile(rf"^(?P<out>{_OUTWARD}) ?(?P<sector>[0-9])$")
_OUTCODE = re.compile(rf"^(?P<out>{_OUTWARD})$")
_AREA = re.compile(r"^[A-Z]{1,2}$")
# Loose shape: something that a person meant as a postcode (letters+digit, then digit+2 letters).
_LOOKS_LIKE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")

_SPECIAL = {"GIR0AA": "GIR 0AA"}


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def normalise_postcode(text: str) -> str:
    """Return a full postcode in the standard form ``LS6 2AB``.

    >>> normalise_postcode(" ls62ab ")
    'LS6 2AB'

    Raises InvalidPostcode with a message saying what the format is.
    """
    squashed = _squash(text)
    if squashed in _SPECIAL:
        return _SPECIAL[squashed]
    match = _FULL.match(squashed)
    if not match:
        shown = text.strip()[:40]
        raise InvalidPostcode(
            f"'{shown}' is not a UK postcode: expected an outward code such as LS6, "
            "SW1A or EH10, then a digit and two letters, e.g. 'LS6 2AB'"
        )
    return f"{match['out']} {match['in']}"


def is_full_postcode(text: str) -> bool:
    try:
        normalise_postcode(text)
    except InvalidPostcode:
        return False
    return True


@dataclass(frozen=True)
class PostcodeQuery:
    """A postcode-shaped search input and how precise it is."""

    kind: str  # "postcode" | "sector" | "outcode" | "area"
    value: str  # normalised: "LS6 2AB", "LS6 2", "LS6", "LS"


def parse_postcode_query(text: str) -> PostcodeQuery | None:
    """Classify text as a full postcode, sector, outcode or area; None if it is none.

    Raises InvalidPostcode for text that is plainly meant as a full postcode but
    is malformed ('LS6 2AC' fails on the inward letters, 'ZZ1 1ZZ' on the area
    letters: no postcode area starts ZZ).
    """
    stripped = text.strip().upper()
    squashed = _squash(stripped)
    if not squashed or len(squashed) > 8:
        return None
    if squashed in _SPECIAL:
        return PostcodeQuery("postcode", _SPECIAL[squashed])
    if match := _FULL.match(squashed):
        return PostcodeQuery("postcode", f"{match['out']} {match['in']}")
    if _LOOKS_LIKE.match(squashed):
        normalise_postcode(stripped)  # raises InvalidPostcode with the explanation
    spaced = re.sub(r"\s+", " ", stripped)
    if " " in spaced and (match := _SECTOR.match(spaced)):
        return PostcodeQuery("sector", f"{match['out']} {match['sector']}")
    if match := _OUTCODE.match(squashed):
        return PostcodeQuery("outcode", match["out"])
    if _AREA.match(squashed):
        return PostcodeQuery("area", squashed)
    return None


def outcode_of(postcode: str) -> str:
    return postcode.split(" ")[0]


def sector_of(postcode: str) -> str:
    out, inward = postcode.split(" ")
    return f"{out} {inward[0]}"


def area_of(postcode: str) -> str:
    return re.match(r"[A-Z]+", postcode).group(0)  # type: ignore[union-attr]
