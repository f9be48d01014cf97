"""Query understanding: words -> filters, concepts, filler and the words left for text search."""

from __future__ import annotations

import pytest

from finder.errors import FinderError
from finder.understand import Rules, load_rules, understand


@pytest.mark.parametrize(
    ("typed", "filters", "concepts", "left"),
    [
        ("physio for my back", {}, [("condition", "back_pain")], ""),
        ("MS nurse", {"referral_route": ("ms_nurse",)}, [("condition", "multiple_sclerosis")], ""),
        ("female physio", {"gender": ("female",)}, [], ""),
        ("bad back NHS", {"funding": ("nhs",)}, [("condition", "back_pain")], ""),
        ("Polish speaking physio", {"language": ("polish",)}, [], ""),
        ("I can refer myself", {"referral_route": ("self_referral",)}, [], ""),
        ("free physio", {"funding": ("nhs", "charity")}, [], ""),
        ("after a stroke", {}, [("condition", "stroke")], ""),
        ("dizzy", {}, [("condition", "dizziness")], ""),
        ("Seren Fenwhurst", {}, [], "Seren Fenwhurst"),
    ],
)
def test_words_become_filters_concepts_or_text(typed, filters, concepts, left):
    reading = understand(typed)
    assert reading.filter_codes() == filters
    assert [c.strong[0] for c in reading.concepts] == concepts
    assert reading.text == left


def test_yes_no_filters_from_words():
    assert understand("wheelchair access home visits").flags() == {"wheelchair", "visits_home"}


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("multiple sclerosus", "multiple_sclerosis"), ("siatica", "back_pain"), ("fibromialgia", "fibromyalgia")],
)
def test_misspelt_condition_words_are_read(typed, meant):
    reading = understand(typed)
    assert reading.concepts[0].strong[0][1] == meant
    assert reading.corrected


def test_removing_an_applied_filter_drops_its_words_only():
    reading = understand("female physio for my back")
    assert reading.without("female physio") == "for my back"


def test_short_unknown_words_are_not_guessed():
    # "Ms" is the MS abbreviation by the rules, but a surname is never "corrected" into a condition.
    assert understand("Falward").text == "Falward"


def test_the_shipped_rules_load_and_a_bad_code_is_named():
    assert load_rules().phrases
    with pytest.raises(FinderError, match="line 1: 'condition:gout'"):
        Rules.parse("gout => condition:gout")
