"""The Whoosh schema: text fields only.

Whoosh does the text matching (postings, positions for phrases, the term list
for prefixes). Everything else a query filters or sorts on (facets, flags,
coordinates, names for sorting) lives in numpy arrays next to the index
(see :mod:`finder.search.indexer`), which measured 10-60x faster than putting
it in Whoosh queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh import fields, formats

from finder.search.analysis import english_analyzer, name_analyzer

#: Text fields and their weight in the relevance score.
FIELD_WEIGHTS: dict[str, float] = {
    "name": 3.0,  # practitioner and practice name (names analyzer; prefixes match)
    "clinical": 2.0,  # specialism, condition, treatment and membership labels
    "body": 1.0,  # bio, practice name, settings, funding, languages
    "place": 1.0,  # location names, addresses, towns, postcodes
}
ENGLISH_FIELDS = ("clinical", "body", "place")
NAME_FIELDS = ("name",)
TEXT_FIELDS = NAME_FIELDS + ENGLISH_FIELDS


class PreAnalysedText(fields.TEXT):
    """A TEXT field that also accepts content analysed beforehand.

    The builder analyses listings in worker processes (and caches repeated
    labels and towns); it passes ``{term: [positions]}`` here. Query-time code
    uses the field's analyzer as usual, which is the same analyzer.
    """

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if isinstance(value, dict):
            encode = self.format.encode
            single = _SINGLE_POSITION
            for term, positions in value.items():
                if len(positions) == 1:
                    # Most terms occur once in a field: encode each position once, not per posting.
                    pos = positions[0]
                    encoded = single.get(pos)
                    if encoded is None:
                        encoded = single[pos] = encode(positions)
                    yield term.encode("utf-8"), 1, 1.0, encoded
                else:
                    yield term.encode("utf-8"), len(positions), float(len(positions)), encode(positions)
            return
        yield from super().index(value, **kwargs)


#: Encoded single positions (Positions.encode([pos]) is pure: same input, same bytes).
_SINGLE_POSITION: dict[int, bytes] = {}


def build_schema() -> fields.Schema:
    def text(analyzer: Any) -> PreAnalysedText:
        # Field lengths for scoring are kept in our own arrays; no stored text.
        field = PreAnalysedText(analyzer=analyzer, phrase=True, stored=False)
        field.format = formats.Positions(field_boost=1.0)
        return field

    return fields.Schema(
        pid=fields.ID(stored=True, unique=True),
        name=text(name_analyzer()),
        clinical=text(english_analyzer()),
        body=text(english_analyzer()),
        place=text(english_analyzer()),
    )
