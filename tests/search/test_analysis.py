"""Analysis: the fast tokenizers agree with the Whoosh analyzers in the schema; synonyms; query parsing."""

from __future__ import annotations

import pytest

from finder.search.analysis import (
    ENGLISH,
    NAMES,
    Synonyms,
    english_tokens,
    name_tokens,
    parse_text,
)

CORPUS = [
    "Zoë O'Brien-Smythe treats Parkinson's and MS; TENS, FES & hydrotherapy (aquatic therapy).",
    "The patient is in the pool: it is a 30-minute session, and we are able to help.",
    "Æsir Ångström naïve café coöperate Đorđe Łukasz Søren ß straße",
    "  a  I  x y z  12 3rd 2AB LS6 2AB  ",
    "Physiotherapists' physiotherapy: physio, PHYSIO, Physiotherapist’s",
    "e.g. i.e. U.K. N.H.S. self-referral GP-led 24/7",
    "",
    "the and of to",
    "Multiple sclerosis (MS) — fatigue, spasticity & balance",
]


@pytest.mark.parametrize("text", CORPUS)
def test_fast_tokenizers_match_the_schema_analyzers(text):
    assert [(t, p) for t, p, _ in english_tokens(text)] == [(t.text, t.pos) for t in ENGLISH(text, positions=True)]
    assert name_tokens(text) == [t.text for t in NAMES(text)]


def test_synonym_file_parses_into_groups():
    synonyms = Synonyms.load()
    assert synonyms.members[("ms",)] == synonyms.members[("multipl", "sclerosi")]
    assert ("ms",) in synonyms.acronyms and ("tens",) in synonyms.acronyms
    assert ("physio",) not in synonyms.acronyms
    assert synonyms.members[("hydro",)] == synonyms.members[("aquat", "therapi")]


def test_synonym_lines_need_two_members():
    synonyms = Synonyms.parse("# comment\nalone\n\nfoo, bar  # trailing comment\n")
    assert set(synonyms.members) == {("foo",), ("bar",)}


def test_parse_text_makes_concepts_without_syntax():
    synonyms = Synonyms.load()
    concepts = parse_text('name:* multiple sclerosis OR "back pain" (', synonyms)
    kinds = [(c.kind, c.surface) for c in concepts]
    assert kinds == [("word", "name"), ("group", "multiple sclerosis"), ("phrase", "back pain")]
    assert parse_text("* ( ) : OR AND", synonyms) == []  # punctuation is dropped; "or" and "and" are stop words
