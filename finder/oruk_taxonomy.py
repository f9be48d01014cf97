"""Our vocabularies as Open Referral UK taxonomies, with ids that never change.

The ORUK publisher (finder.web.oruk_map) and the ORUK importer (scrapers.oruk)
share this table, not each other's code. Every id is a UUID derived (uuid5)
from a fixed namespace and a name, so the same vocabulary code, listing or
place gets the same id in every build and every database.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from finder.vocab import VOCABULARIES, Vocabulary

#: Fixed for ever: changing it would change every id we have published.
NAMESPACE = uuid.UUID("3d0f6a52-1c55-5b43-9f0e-6a1f2e7b9c40")

#: Taxonomies we publish (vocabulary names from finder.vocab), in /oruk/taxonomies order.
PUBLISHED: tuple[str, ...] = (
    "specialism",
    "condition",
    "treatment",
    "setting",
    "funding",
    "referral_route",
    "membership",
    "registration_status",
)
#: Facts about a listing that are not one of our vocabularies but that directories filter on.
LISTING_FACTS = Vocabulary(
    "listing_fact",
    "Listing fact",
    {
        "accepting_new_patients": "Accepting new patients",
        "not_accepting_new_patients": "Not accepting new patients at the moment",
        "home_visits": "Home visits",
        "fictional_sample": "Fictional sample listing (demonstration data: this practice does not exist)",
    },
)
TAXONOMY_VERSION = "1"

#: ISO 639 codes of our languages (ORUK ``languages[].code``).
LANGUAGE_CODES: dict[str, str] = {
    "english": "en",
    "welsh": "cy",
    "scottish_gaelic": "gd",
    "irish": "ga",
    "bsl": "bfi",
    "arabic": "ar",
    "bengali": "bn",
    "cantonese": "yue",
    "mandarin": "cmn",
    "french": "fr",
    "german": "de",
    "greek": "el",
    "gujarati": "gu",
    "hindi": "hi",
    "italian": "it",
    "kurdish": "ku",
    "lithuanian": "lt",
    "malayalam": "ml",
    "persian": "fa",
    "polish": "pl",
    "portuguese": "pt",
    "punjabi": "pa",
    "romanian": "ro",
    "russian": "ru",
    "somali": "so",
    "spanish": "es",
    "tamil": "ta",
    "turkish": "tr",
    "ukrainian": "uk",
    "urdu": "ur",
}
LANGUAGE_OF_CODE = {code: name for name, code in LANGUAGE_CODES.items()}


_NAMESPACE_BYTES = NAMESPACE.bytes


def stable_id(kind: str, *parts: str) -> str:
    """A UUID that depends only on what it names (e.g. ``stable_id("service", "csv", "p-1")``).

    Exactly ``uuid.uuid5(NAMESPACE, ...)``, computed without building UUID objects:
    a page of 50 services needs thousands of them.
    """
    name = "\x1f".join((kind, *parts)).encode("utf-8")
    # SHA-1 because RFC 4122 version 5 is defined with it: an identifier, not a security measure.
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def vocabulary(name: str) -> Vocabulary:
    return LISTING_FACTS if name == LISTING_FACTS.name else VOCABULARIES[name]


def taxonomy_names() -> tuple[str, ...]:
    return (*PUBLISHED, LISTING_FACTS.name)


def taxonomy_key(name: str) -> str:
    """The ``taxonomy`` text of a term: ``physio-finder-specialism``."""
    return "physio-finder-" + name.replace("_", "-")


def taxonomy_uri(name: str) -> str:
    return f"urn:physio-finder:taxonomy:{name}"


def taxonomy_id(name: str) -> str:
    return stable_id("taxonomy", name)


@lru_cache(maxsize=4096)
def term_id(name: str, code: str) -> str:
    return stable_id("taxonomy_term", name, code)


@dataclass(frozen=True)
class Term:
    taxonomy: str  # vocabulary name
    code: str

    @property
    def id(self) -> str:
        return term_id(self.taxonomy, self.code)


def _all_terms() -> dict[str, Term]:
    found = {}
    for name in taxonomy_names():
        for code in vocabulary(name):
            term = Term(name, code)
            found[term.id] = term
    return found


TERMS_BY_ID: dict[str, Term] = _all_terms()
_TERMS_BY_URI = {f"{taxonomy_uri(t.taxonomy)}:{t.code}": t for t in TERMS_BY_ID.values()}
_TERMS_BY_KEY = {(taxonomy_key(t.taxonomy), t.code): t for t in TERMS_BY_ID.values()}


def term_uri(name: str, code: str) -> str:
    return f"{taxonomy_uri(name)}:{code}"


def taxonomy_json(name: str) -> dict[str, Any]:
    """An ORUK ``taxonomy`` (without its terms)."""
    vocab = vocabulary(name)
    return {
        "id": taxonomy_id(name),
        "name": f"Physio Finder {vocab.label.lower()}",
        "description": f"Physio Finder's closed list of {vocab.label.lower()} codes (see /api/v1/vocabularies).",
        "uri": taxonomy_uri(name),
        "version": TAXONOMY_VERSION,
    }


def term_json(name: str, code: str) -> dict[str, Any]:
    """An ORUK ``taxonomy_term``."""
    return dict(_term_json(name, code))


@lru_cache(maxsize=4096)
def _term_json(name: str, code: str) -> dict[str, Any]:
    vocab = vocabulary(name)
    return {
        "id": term_id(name, code),
        "name": vocab.label_of(code),
        "description": vocab.help.get(code) or f"{vocab.label}: {vocab.label_of(code)}",
        "taxonomy": taxonomy_key(name),
        "taxonomy_id": taxonomy_id(name),
        "term_uri": term_uri(name, code),
        "term": code,
    }


def term_of(term: Any) -> Term | None:
    """Which of our terms an ORUK ``taxonomy_term`` (or just its id) is, if any."""
    if isinstance(term, str):
        return TERMS_BY_ID.get(term.strip().lower())
    if not isinstance(term, dict):
        return None
    for key in ("id", "taxonomy_term_id"):
        value = term.get(key)
        if isinstance(value, str) and value.strip().lower() in TERMS_BY_ID:
            return TERMS_BY_ID[value.strip().lower()]
    uri = term.get("term_uri")
    if isinstance(uri, str) and uri in _TERMS_BY_URI:
        return _TERMS_BY_URI[uri]
    taxonomy, code = term.get("taxonomy"), term.get("term")
    if isinstance(taxonomy, str) and isinstance(code, str):
        return _TERMS_BY_KEY.get((taxonomy, code))
    return None
