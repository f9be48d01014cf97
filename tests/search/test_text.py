"""Text matching: synonyms, stemming, accent folding, names, phrases, spelling, hostile input."""

from __future__ import annotations

import pytest

from finder.errors import InvalidValue

NEURO = {"zoe", "fes", "edge_in", "edge_out", "visitor", "online", "far"}
#: The neuro listings that name MS themselves (condition or bio); the specialism
#: label is indexed by its name only, so "Neurological (MS, stroke, ...)" does not count.
NAMES_MS = NEURO - {"fes", "edge_in", "edge_out"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # MS <-> multiple sclerosis, both ways: the condition label "Multiple sclerosis (MS)"
        # and bios (not the specialism label's examples)
        ("MS", NAMES_MS),
        ("ms", NAMES_MS),
        ("multiple sclerosis", NAMES_MS),
        # TENS <-> transcutaneous electrical nerve stimulation (label of the 'tens' treatment)
        ("transcutaneous electrical nerve stimulation", {"smith"}),
        ("tens", {"smith"}),
        # FES <-> functional electrical stimulation
        ("FES", {"fes"}),
        # hydro <-> hydrotherapy <-> aquatic therapy
        ("hydro", {"zoe", "far"}),
        ("aquatic therapy", {"zoe", "far"}),
        ("hydrotherapy", {"zoe", "far"}),
        # neuro <-> neurological
        ("neuro", NEURO),
    ],
)
def test_synonyms_find_each_other(seeded_index, text, expected):
    results = seeded_index.search(text=text, per_page=100)
    assert set(seeded_index.keys(results)) == expected


def test_physio_matches_physiotherapy_and_physiotherapist(seeded_index):
    from tests.plugins.search import listing, load

    load(
        seeded_index.store,
        [
            listing("pt1", name="Pat One", bio="An experienced physiotherapist."),
            listing("pt2", name="Pat Two", practice_name="Two Physiotherapy"),
        ],
    )
    seeded_index.rebuild()
    results = seeded_index.search(text="physio", per_page=100)
    names = {p.record.name for p in seeded_index.store.get_many([h.id for h in results.hits])}
    # Zoë's practice is "Aire Neuro Physio"
    assert names == {"Pat One", "Pat Two", "Zoë Whittaker"}
    by_long_word = seeded_index.search(text="physiotherapist", per_page=100)
    assert {h.id for h in by_long_word.hits} == {h.id for h in results.hits}


def test_acronyms_in_listings_only_count_in_capitals(seeded_index):
    # "Ms Patel" is a title, and "ten years" is not TENS.
    assert "patel" not in seeded_index.keys(seeded_index.search(text="MS", per_page=100))
    assert "patel" not in seeded_index.keys(seeded_index.search(text="TENS", per_page=100))
    # ... while the ordinary words still match.
    assert seeded_index.keys(seeded_index.search(text="ten years")) == ["patel"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("injury", {"patel"}),  # label "Sports injuries"
        ("runner", {"patel"}),  # bio "runners"
        ("treating", {"patel"}),  # bio "treats"
        ("walk", {"zoe"}),  # bio "walking"
    ],
)
def test_english_stemming(seeded_index, text, expected):
    assert set(seeded_index.keys(seeded_index.search(text=text, per_page=100))) == expected


@pytest.mark.parametrize("text", ["zoe", "Zoë", "ZOE", "zoë whittaker"])
def test_accents_are_folded(seeded_index, text):
    assert seeded_index.keys(seeded_index.search(text=text)) == ["zoe"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("whitt", "zoe"), ("Whittak", "zoe"), ("whittaker", "zoe"), ("smi", "smith"), ("harri", "visitor")],
)
def test_partial_names_match(seeded_index, text, expected):
    results = seeded_index.search(text=text)
    assert results.total == 1
    assert seeded_index.keys(results) == [expected]


def test_names_rank_above_mentions(seeded_index):
    from tests.plugins.search import listing, load

    load(seeded_index.store, [listing("mention", name="Bea Other", bio="Trained alongside Ann Smith in 2001.")])
    seeded_index.rebuild()
    results = seeded_index.search(text="smith")
    assert seeded_index.keys(results)[0] == "smith"
    assert results.total == 2


def test_quoted_phrase_needs_the_words_together(seeded_index):
    # Unquoted: both words anywhere. Quoted: next to each other.
    assert set(seeded_index.keys(seeded_index.search(text="pain clinic"))) == {"smith"}
    assert seeded_index.search(text='"clinic pain"').total == 0
    assert seeded_index.keys(seeded_index.search(text='"neck pain clinic"')) == ["smith"]
    assert seeded_index.keys(seeded_index.search(text='"hydrotherapy pool"')) == ["zoe"]


def test_all_words_must_match(seeded_index):
    # "aquatic therapy" (Fiona's bio) is hydrotherapy too; only Zoë also mentions walking
    assert set(seeded_index.keys(seeded_index.search(text="multiple sclerosis hydrotherapy"))) == {"zoe", "far"}
    assert seeded_index.keys(seeded_index.search(text="hydrotherapy walking")) == ["zoe"]
    assert seeded_index.search(text="hydrotherapy runners").total == 0


def test_spelling_suggestion_when_nothing_found(seeded_index):
    results = seeded_index.search(text="sclerosus")
    assert results.total == 0 and results.hits == []
    assert results.suggestion == "sclerosis"
    fixed = seeded_index.search(text=results.suggestion)
    assert fixed.total > 0


def test_no_suggestion_when_something_was_found(seeded_index):
    assert seeded_index.search(text="sclerosis").suggestion is None


def test_no_suggestion_for_gibberish(seeded_index):
    results = seeded_index.search(text="qqxxzzk")
    assert results.total == 0 and results.suggestion is None


@pytest.mark.parametrize(
    ("text", "needs_input", "expected"),
    [
        # the word "name" is searched for, not every name
        ("name:*", False, set()),
        # punctuation and stop words alone are no words at all: the form asks for input
        ("(", True, set()),
        ("OR OR", True, set()),
        ("*", True, set()),
        ("AND NOT", True, set()),
        ("\\", True, set()),
        ("+-&&||!{}[]^~?:/", True, set()),
        # "name" AND "zo" (too short for a prefix): nobody, rather than everyone named Zo...
        ("name:Zo*", False, set()),
        ("name:Zoë", False, set()),
        # "bio" AND "walking": nobody, rather than Zoë (whose bio says walking)
        ('bio:"walking"', False, set()),
        ("bio:walking", False, set()),
        # "or" is a stop word, the rest are the words multiple + sclerosis (the MS group)
        ("multiple) OR (sclerosis", False, NAMES_MS),
        # NOT is a stop word, not an operator: both words must match
        ("multiple NOT sclerosis", False, NAMES_MS),
        ("sclerosis NOT hydrotherapy", False, {"zoe", "far"}),
    ],
)
def test_query_syntax_is_never_interpreted(seeded_index, text, needs_input, expected):
    # Whatever the text, it is words or nothing: no field, wildcard or boolean syntax.
    results = seeded_index.search(text=text, per_page=100)
    assert results.needs_input is needs_input
    assert set(seeded_index.keys(results)) == expected
    assert results.total == len(expected)


def test_punctuation_only_text_is_no_text(seeded_index):
    from tests.plugins.search import origin

    assert seeded_index.search(text="(").needs_input
    near = seeded_index.search(text="*", location=origin(), radius_km=10)
    assert not near.needs_input and near.total > 0


def test_ten_kilobytes_of_text_is_a_clear_error(seeded_index):
    with pytest.raises(InvalidValue) as error:
        seeded_index.search(text="x" * 10_240)
    assert "text" in error.value.detail and "200" in error.value.detail


def test_longest_allowed_text_is_searched(seeded_index):
    text = ("multiple sclerosis " * 20)[:200]
    results = seeded_index.search(text=text)
    assert results.total >= 1


def test_referral_notes_naming_a_condition_do_not_make_a_match(sqlite_store, tmp_path):
    """An MSK-only NHS service that says "for MS, ask your GP" is not an MS service."""
    from tests.plugins.search import listing, make_seeded

    listings = [
        ("msk", listing("msk", specialisms=["musculoskeletal"], conditions=["back_pain"],
                        referral_notes="Self-referral for back and joint problems. For MS or other neurological conditions, ask your GP or MS nurse to refer you.",
                        referral_routes=[{"route": "self_referral", "only_for": ["musculoskeletal"]}, {"route": "ms_nurse"}])),
        ("neuro", listing("neuro", specialisms=["neurological"], conditions=["multiple_sclerosis"])),
    ]
    seeded = make_seeded(sqlite_store, tmp_path / "index", listings)
    try:
        for text in ("multiple sclerosis", "MS"):
            assert seeded.keys(seeded.search(text=text)) == ["neuro"], text
    finally:
        seeded.index.close()
