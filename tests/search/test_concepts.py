"""Conditions meant (CodeConcept): who matches, who ranks first, and the blended default order."""

from __future__ import annotations

import pytest

from finder.errors import InvalidParameters
from finder.search import CodeConcept
from tests.plugins.search import origin

STROKE = CodeConcept(strong=(("condition", "stroke"),), broad=(("specialism", "neurological"),))


def test_a_listing_naming_the_condition_beats_a_nearer_one_with_only_the_specialism(seeded_index):
    results = seeded_index.search(location=origin(), concepts=(STROKE,), per_page=100)
    keys = seeded_index.keys(results)
    # Gareth Evans (12 km) names stroke; Zoë (1 km) is neurological but never mentions it.
    assert keys[0] == "fes"
    assert "zoe" in keys and keys.index("zoe") > 0
    assert "smith" not in keys  # musculoskeletal only: neither names stroke nor has the specialism


def test_sort_distance_still_gives_nearest_first(seeded_index):
    results = seeded_index.search(location=origin(), concepts=(STROKE,), sort="distance", per_page=100)
    distances = [hit.distance_km for hit in results.hits if hit.distance_km is not None]
    assert distances == sorted(distances)
    assert seeded_index.keys(results)[0] == "zoe"


def test_concepts_without_place_or_words_search_everywhere(seeded_index):
    results = seeded_index.search(concepts=(CodeConcept(strong=(("condition", "stroke"),)),))
    assert not results.needs_input
    assert seeded_index.keys(results) == ["fes"]


def test_an_unknown_code_is_a_clear_error(seeded_index):
    with pytest.raises(InvalidParameters, match="not a vocabulary code"):
        seeded_index.search(concepts=(CodeConcept(strong=(("condition", "gout"),)),))
