"""Query understanding: what someone typed -> (filters, concepts, remaining words).

Sits between the request and :class:`finder.search.SearchQuery` (see DESIGN.md):
the engine never sees phrasing. The rules are data, in ``data/query_words.txt``
(its header explains the format), so a clinician can review them:

* words naming a filter ("NHS", "female", "Polish speaking", "home visits",
  "I can refer myself") become that filter, shown as applied and removable;
* filler ("physio for my ...", "near me", "someone who can help with") is dropped,
  so it never makes a search fail;
* lay phrases ("bad back", "dizzy", "after a stroke") become condition /
  treatment concepts: listings that name them rank first, listings with only
  the broad specialism follow;
* whatever is left goes to the text search as before (names, practices, bios).

Pure functions over text: no Flask, no index.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from finder.errors import FinderError
from finder.spelling import edit_distance

#: Yes/no filters a phrase may switch on (names as in SearchQuery / the request).
FLAG_TARGETS = ("visits_home", "wheelchair", "accepting")
#: Facets a phrase may filter on, or name as a concept.
FILTER_FACETS = (
    "funding", "gender", "language", "setting", "referral_route",
    "specialism", "condition", "treatment", "membership",
)  # fmt: skip
CONCEPT_FACETS = ("condition", "treatment", "specialism")
#: Longest phrase, in words, the matcher tries.
MAX_PHRASE_WORDS = 6
#: A single word this long may be misspelt by one letter; this long, by two.
FUZZY_ONE = 5
FUZZY_TWO = 9
#: Inside a phrase of two or more words, words of this length may be off by one ("bak pain").
FUZZY_IN_PHRASE = 3

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_FOLD = str.maketrans("àáâäãåçèéêëìíîïñòóôöõùúûüýÿ", "aaaaaaceeeeiiiinooooouuuuyy")


def fold_word(word: str) -> str:
    return word.lower().replace("'", "").replace("’", "").translate(_FOLD)


def words_of(text: str) -> list[tuple[str, int, int]]:
    """(folded word, start, end) for each word of ``text``."""
    return [(fold_word(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(text)]


@dataclass(frozen=True)
class Rule:
    """What one phrase means."""

    filters: tuple[tuple[str, str], ...] = ()  # (facet, code)
    flags: tuple[str, ...] = ()
    strong: tuple[tuple[str, str], ...] = ()  # concept: (facet, code) a listing names
    broad: tuple[tuple[str, str], ...] = ()  # concept: its broad specialism (or related codes)
    filler: bool = False


@dataclass(frozen=True)
class Rules:
    phrases: dict[tuple[str, ...], Rule]
    known_words: frozenset[str]
    longest: int

    @classmethod
    def parse(cls, text: str, source: str = "query words") -> Rules:
        from finder.vocab import VOCABULARIES

        phrases: dict[tuple[str, ...], Rule] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if "=>" not in line:
                raise FinderError(f"{source} line {number}: expected 'phrase, phrase => target ...'")
            left, right = line.split("=>", 1)
            filters: list[tuple[str, str]] = []
            flags: list[str] = []
            strong: list[tuple[str, str]] = []
            broad: list[tuple[str, str]] = []
            filler = False
            for target in right.split():
                if target == "filler":
                    filler = True
                elif target in FLAG_TARGETS:
                    flags.append(target)
                elif "=" in target:
                    facet, code = target.split("=", 1)
                    if facet not in FILTER_FACETS or code not in VOCABULARIES[facet]:
                        raise FinderError(f"{source} line {number}: '{target}' is not a filter value")
                    filters.append((facet, code))
                elif ":" in target:
                    facet, code = target.lstrip("~").split(":", 1)
                    if facet not in CONCEPT_FACETS or code not in VOCABULARIES[facet]:
                        raise FinderError(f"{source} line {number}: '{target}' is not a condition, treatment or specialism")
                    (broad if target.startswith("~") else strong).append((facet, code))
                else:
                    raise FinderError(f"{source} line {number}: '{target}' is not a target this file knows")
            if broad and not strong:
                raise FinderError(f"{source} line {number}: a broad (~) code needs a concept it widens")
            rule = Rule(tuple(filters), tuple(flags), tuple(strong), tuple(broad), filler)
            for phrase in left.split(","):
                key = tuple(w for w, _, _ in words_of(phrase))
                if key:
                    phrases[key] = rule
        known = frozenset(w for key in phrases for w in key)
        return cls(phrases=phrases, known_words=known, longest=max((len(k) for k in phrases), default=1))


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> Rules:
    return Rules.parse(path.read_text(encoding="utf-8"), source=path.name)


def load_rules(path: Path | None = None) -> Rules:
    if path is None:
        from finder import resource_dir

        path = resource_dir("data") / "query_words.txt"
    return _load(path, path.stat().st_mtime)


# ---------------------------------------------------------------------------
# the reading of one search text


@dataclass(frozen=True)
class AppliedFilter:
    """A filter read from the words: shown as applied, removable by dropping ``words``."""

    words: str  # as typed ("Polish speaking")
    facet: str  # a facet name, or a flag name (visits_home, wheelchair, accepting)
    codes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {"words": self.words, "filter": self.facet, "values": list(self.codes)}


@dataclass(frozen=True)
class Concept:
    """A condition / treatment the words name: listings naming ``strong`` codes rank first."""

    words: str
    strong: tuple[tuple[str, str], ...]
    broad: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, object]:
        def codes(pairs: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for facet, code in pairs:
                out.setdefault(facet, []).append(code)
            return out

        return {"words": self.words, "codes": codes(self.strong), "broad": codes(self.broad)}


@dataclass(frozen=True)
class Understanding:
    typed: str
    text: str  # the words left for the text search
    filters: tuple[AppliedFilter, ...] = ()
    concepts: tuple[Concept, ...] = ()
    ignored: tuple[str, ...] = ()  # filler words dropped
    corrected: tuple[tuple[str, str], ...] = ()  # (as typed, read as)
    spans: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def understood(self) -> bool:
        return bool(self.filters or self.concepts)

    def filter_codes(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for applied in self.filters:
            if applied.codes:
                bucket = out.setdefault(applied.facet, [])
                bucket.extend(c for c in applied.codes if c not in bucket)
        return {facet: tuple(codes) for facet, codes in out.items()}

    def flags(self) -> set[str]:
        return {f.facet for f in self.filters if not f.codes}

    def without(self, words: str) -> str:
        """The typed text with the phrase ``words`` taken out (the 'remove' link of a filter)."""
        spans = self.spans.get(words, ())
        text = self.typed
        for start, end in sorted(spans, reverse=True):
            text = text[:start] + " " + text[end:]
        return re.sub(r"\s+", " ", text).strip()

    def as_json(self) -> dict[str, object]:
        return {
            "filters": [f.as_json() for f in self.filters],
            "concepts": [c.as_json() for c in self.concepts],
            "text": self.text,
            "ignored": list(self.ignored),
            "corrected": [{"typed": a, "read_as": b} for a, b in self.corrected],
        }


def _corrections(word: str, known: frozenset[str], shortest: int) -> list[str]:
    if word in known or len(word) < shortest or not word.isalpha():
        return []
    limit = 2 if len(word) >= FUZZY_TWO else 1
    found = [(d, k) for k in known if k[:1] == word[:1] and (d := edit_distance(word, k, limit)) <= limit]
    return [k for _, k in sorted(found)[:3]]


def understand(text: str, rules: Rules | None = None) -> Understanding:
    """Read a search text: filters, concepts, filler, and the words left for the text search."""
    rules = rules or load_rules()
    tokens = words_of(text)
    words = [w for w, _, _ in tokens]
    filters: list[AppliedFilter] = []
    concepts: list[Concept] = []
    ignored: list[str] = []
    corrected: list[tuple[str, str]] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    left: list[str] = []
    i = 0
    while i < len(words):
        match = _match_at(rules, words, i)
        if match is None:
            left.append(text[tokens[i][1] : tokens[i][2]])
            i += 1
            continue
        length, rule, read_as = match
        start, end = tokens[i][1], tokens[i + length - 1][2]
        surface = text[start:end]
        if read_as != tuple(words[i : i + length]):
            corrected.append((surface, " ".join(read_as)))
        if rule.filler and not (rule.filters or rule.flags or rule.strong):
            ignored.append(surface)
        else:
            spans.setdefault(surface, []).append((start, end))
            for facet in dict.fromkeys(f for f, _ in rule.filters):
                codes = tuple(c for f, c in rule.filters if f == facet)
                applied = AppliedFilter(surface, facet, codes)
                if applied not in filters:
                    filters.append(applied)
            for flag in rule.flags:
                applied = AppliedFilter(surface, flag)
                if all(f.facet != flag for f in filters):
                    filters.append(applied)
            if rule.strong:
                concept = Concept(surface, rule.strong, rule.broad)
                if all(c.strong != concept.strong for c in concepts):
                    concepts.append(concept)
        i += length
    return Understanding(
        typed=text,
        text=" ".join(left),
        filters=tuple(filters),
        concepts=tuple(concepts),
        ignored=tuple(ignored),
        corrected=tuple(corrected),
        spans={k: tuple(v) for k, v in spans.items()},
    )


def _match_at(rules: Rules, words: list[str], i: int) -> tuple[int, Rule, tuple[str, ...]] | None:
    """The longest phrase starting at word i: exact first, then with misspelt words."""
    longest = min(rules.longest, len(words) - i)
    for length in range(longest, 0, -1):
        key = tuple(words[i : i + length])
        rule = rules.phrases.get(key)
        if rule is not None:
            return length, rule, key
    known = rules.known_words
    for length in range(longest, 0, -1):
        shortest = FUZZY_IN_PHRASE if length > 1 else FUZZY_ONE
        options = []
        for word in words[i : i + length]:
            options.append([word, *_corrections(word, known, shortest)])
        if all(len(o) == 1 for o in options):
            continue
        for combo in itertools.islice(itertools.product(*options), 64):
            rule = rules.phrases.get(combo)
            if rule is not None:
                return length, rule, combo
    return None
