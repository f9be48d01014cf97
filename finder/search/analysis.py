"""Text analysis shared by the index builder and the query: one place, so both agree.

* ``english``: words, apostrophes dropped (Parkinson's -> parkinsons), lower
  case, accents folded (Zoë -> zoe), English stop words removed, Porter stems.
* ``names``: the same without stop words or stems, so partial names can be
  matched as prefixes ("whitt" finds Whittaker).
* synonyms (``data/synonyms.txt``) are applied when a listing is indexed: each
  occurrence of any member of a group also emits the group's token (``~ms``) at
  the same position, so a query for any member is one term lookup, never a
  phrase check at query time. User text can never produce a group token
  because the tokenizer only yields word characters.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from whoosh.analysis import (
    STOP_WORDS,
    CharsetFilter,
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.analysis.analyzers import Analyzer
from whoosh.lang.porter import stem
from whoosh.support.charset import accent_map

#: A word: letters/digits, with inner apostrophes kept together (O'Brien, Parkinson's).
TOKEN_PATTERN = r"\w+(?:['’]\w+)*"  # noqa: S105 - a regular expression, not a secret
#: Position gap between separate pieces of text in one field, so that a phrase
#: (or a synonym) never spans two labels or two addresses.
PIECE_GAP = 100
#: Strings shorter than this are cached when analysed (labels, towns, names
#: repeat across thousands of listings; bios rarely do).
CACHE_MAX_LEN = 120
CACHE_MAX_ITEMS = 200_000

GROUP_PREFIX = "~"


class JoinApostrophes(Filter):
    """O'Brien -> OBrien, Parkinson's -> Parkinsons (before lower-casing)."""

    def __call__(self, tokens):  # type: ignore[no-untyped-def]
        for t in tokens:
            if "'" in t.text or "’" in t.text:
                t.text = t.text.replace("'", "").replace("’", "")
            yield t

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JoinApostrophes)

    __hash__ = Filter.__hash__


#: Acronyms that must not be stemmed ("tens" would become "ten").
NO_STEM = frozenset({"tens", "fes", "ms", "mnd", "abi", "sci", "cp", "fnd", "copd", "cva", "msk", "nhs"})


def english_analyzer() -> Analyzer:
    return (
        RegexTokenizer(TOKEN_PATTERN)
        | JoinApostrophes()
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StopFilter()
        | StemFilter(stemfn=stem, ignore=NO_STEM, cachesize=100_000)
    )


def name_analyzer() -> Analyzer:
    return RegexTokenizer(TOKEN_PATTERN) | JoinApostrophes() | LowercaseFilter() | CharsetFilter(accent_map)


ENGLISH = english_analyzer()
NAMES = name_analyzer()

# The analyzers above, written out as plain loops: the same tokens (a test checks
# that they agree on a corpus), several times faster, because index builds
# analyse millions of short strings. Whoosh keeps the analyzers in its schema.
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_STOPS = frozenset(STOP_WORDS)
_STEMS: dict[str, str] = {}


def fold(word: str) -> str:
    """A word as the name analyzer indexes it (lower case, accents folded, no apostrophes)."""
    return word.replace("'", "").replace("’", "").lower().translate(accent_map)


#: surface word -> (folded word, english term or None for a stop word)
_WORDS: dict[str, tuple[str, str | None]] = {}


def _word(surface: str) -> tuple[str, str | None]:
    found = _WORDS.get(surface)
    if found is None:
        word = fold(surface)
        if len(word) < 2 or word in _STOPS:
            term = None
        else:
            term = _STEMS.get(word)
            if term is None:
                term = _STEMS[word] = word if word in NO_STEM else stem(word)
        if len(_WORDS) > CACHE_MAX_ITEMS:
            _WORDS.clear()
            _STEMS.clear()
        found = _WORDS[surface] = (word, term)
    return found


def english_tokens(text: str) -> list[tuple[str, int, str]]:
    """(term, position, surface word) as ``english_analyzer()`` yields them."""
    out: list[tuple[str, int, str]] = []
    pos = -1
    started = False
    for i, surface in enumerate(_TOKEN_RE.findall(text)):
        term = _word(surface)[1]
        if term is None:
            continue
        # StopFilter(renumber=True): the first kept word keeps its place, the rest follow on.
        pos = pos + 1 if started else i
        started = True
        out.append((term, pos, surface))
    return out


def name_tokens(text: str) -> list[str]:
    """Terms as ``name_analyzer()`` yields them (position = list index)."""
    return [_word(surface)[0] for surface in _TOKEN_RE.findall(text)]


# ---------------------------------------------------------------------------
# synonyms


@dataclass(frozen=True)
class Synonyms:
    """Groups of interchangeable terms, as analysed token sequences."""

    #: analysed member (tuple of english tokens) -> group tokens it emits
    members: dict[tuple[str, ...], tuple[str, ...]]
    #: members that only count in listings when written in capitals
    acronyms: frozenset[tuple[str, ...]]
    #: group token -> the words of its members, for explanations and spelling
    groups: dict[str, tuple[str, ...]]
    digest: str
    longest: int = field(default=1)
    #: first word of every member, to skip most words quickly
    starts: frozenset[str] = field(default=frozenset())

    @classmethod
    def parse(cls, text: str) -> Synonyms:
        members: dict[tuple[str, ...], list[str]] = {}
        acronyms: set[tuple[str, ...]] = set()
        groups: dict[str, tuple[str, ...]] = {}
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = [w.strip() for w in line.split(",") if w.strip()]
            analysed = [(w, tuple(t for t, _, _ in english_tokens(w))) for w in words]
            analysed = [(w, a) for w, a in analysed if a]
            if len(analysed) < 2:
                continue
            token = GROUP_PREFIX + "_".join(analysed[0][1])
            groups[token] = tuple(w for w, _ in analysed)
            for surface, tokens in analysed:
                emitted = members.setdefault(tokens, [])
                if token not in emitted:
                    emitted.append(token)
                if len(tokens) == 1 and surface.isupper() and len(surface) > 1:
                    acronyms.add(tokens)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        longest = max((len(m) for m in members), default=1)
        return cls(
            members={k: tuple(v) for k, v in members.items()},
            acronyms=frozenset(acronyms),
            groups=groups,
            digest=digest,
            longest=longest,
            starts=frozenset(m[0] for m in members),
        )

    @classmethod
    def load(cls, path: Path | None = None) -> Synonyms:
        if path is None:
            from finder import resource_dir

            path = resource_dir("data") / "synonyms.txt"
        return cls.parse(path.read_text(encoding="utf-8"))

    def matches(self, tokens: Sequence[str], start: int) -> tuple[int, tuple[str, ...]] | None:
        """The longest member starting at ``start``: (length, group tokens)."""
        if tokens[start] not in self.starts:
            return None
        for length in range(min(self.longest, len(tokens) - start), 0, -1):
            found = self.members.get(tuple(tokens[start : start + length]))
            if found:
                return length, found
        return None


# ---------------------------------------------------------------------------
# index-time analysis


#: A field's analysed content: term -> positions.
Postings = dict[str, list[int]]


@dataclass(frozen=True)
class Piece:
    """One analysed piece of text (a label, a bio, an address)."""

    english: tuple[tuple[str, int], ...]  # terms (and synonym-group tokens) with positions
    english_length: int  # words, not counting group tokens
    english_span: int  # last position + 1
    names: tuple[str, ...]  # name-analyzer terms, position = index
    spelling: tuple[str, ...]  # words worth suggesting: folded, alphabetic, 3+ letters


class DocAnalyser:
    """Turns pieces of text into pre-analysed field content, caching short pieces."""

    def __init__(self, synonyms: Synonyms) -> None:
        self.synonyms = synonyms
        self._pieces: dict[str, Piece] = {}

    def piece(self, text: str) -> Piece:
        cached = self._pieces.get(text)
        if cached is not None:
            return cached
        surfaces = _TOKEN_RE.findall(text)
        infos = [_word(surface) for surface in surfaces]
        english: list[tuple[str, int]] = []
        kept: list[tuple[str, int, str]] = []
        pos = -1
        for i, (_, term) in enumerate(infos):
            if term is None:
                continue
            pos = pos + 1 if kept else i
            kept.append((term, pos, surfaces[i]))
            english.append((term, pos))
        syn = self.synonyms
        if kept and not syn.starts.isdisjoint(t for t, _, _ in kept):
            words = [t for t, _, _ in kept]
            for i in range(len(kept)):
                found = syn.matches(words, i)
                if found is None:
                    continue
                length, groups = found
                if tuple(words[i : i + length]) in syn.acronyms:
                    surface = kept[i][2].replace("'", "").replace("’", "")
                    if not surface.isupper():
                        continue
                english.extend((g, kept[i][1]) for g in groups)
        names = tuple(word for word, _ in infos)
        result = Piece(
            english=tuple(english),
            english_length=len(kept),
            english_span=pos + 1,
            names=names,
            spelling=tuple(w for w in names if len(w) >= 3 and w.isalpha()),
        )
        if len(text) <= CACHE_MAX_LEN:
            if len(self._pieces) > CACHE_MAX_ITEMS:
                self._pieces.clear()
            self._pieces[text] = result
        return result

    def spelling_words(self, text: str) -> tuple[str, ...]:
        """Words worth suggesting: folded, alphabetic, at least 3 letters."""
        return self.piece(text).spelling

    def field(
        self, pieces: Iterable[str | None], *, names: bool = False, spelling: list[str] | None = None
    ) -> tuple[Postings, int]:
        """Analyse pieces of one field: (term -> positions, length in words).

        ``spelling``, when given, collects the words worth suggesting.
        """
        out: Postings = {}
        base = 0
        length = 0
        for text in pieces:
            if not text:
                continue
            piece = self.piece(text)
            if spelling is not None:
                spelling.extend(piece.spelling)
            if names:
                for pos, term in enumerate(piece.names):
                    positions = out.get(term)
                    if positions is None:
                        out[term] = [base + pos]
                    else:
                        positions.append(base + pos)
                length += len(piece.names)
                base += len(piece.names) + PIECE_GAP
            else:
                for term, pos in piece.english:
                    positions = out.get(term)
                    if positions is None:
                        out[term] = [base + pos]
                    else:
                        positions.append(base + pos)
                length += piece.english_length
                base += piece.english_span + PIECE_GAP
        for positions in out.values():
            if len(positions) > 1:
                positions.sort()
        return out, length


# ---------------------------------------------------------------------------
# query-time analysis


@dataclass(frozen=True)
class Concept:
    """One required part of a text query (all concepts must match: AND).

    kind ``group``: a synonym group token; ``word``: a stemmed english term,
    plus the folded word as an exact or prefix match on names; ``phrase``: a
    quoted phrase (english tokens, and name tokens for names).
    """

    kind: str
    surface: str
    english: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[object, ...]:
        return (self.kind, self.english, self.name, self.groups)


#: Shortest word matched as the start of a name ("whi" finds Whittaker).
MIN_PREFIX = 3
_QUOTED = re.compile(r"[\"“”]([^\"“”]*)[\"“”]?")


def _words(text: str) -> list[str]:
    return re.findall(TOKEN_PATTERN, text)


def _unquoted_concepts(text: str, synonyms: Synonyms) -> list[Concept]:
    # Align each surface word with its english token (None for stop words).
    entries: list[tuple[str, str | None]] = []
    for word in _words(text):
        tokens = english_tokens(word)
        entries.append((word, tokens[0][0] if tokens else None))
    kept = [(w, t) for w, t in entries if t is not None]
    terms = [t for _, t in kept]
    concepts: list[Concept] = []
    i = 0
    while i < len(kept):
        found = synonyms.matches(terms, i)
        if found is not None:
            length, groups = found
            surface = " ".join(w for w, _ in kept[i : i + length])
            concepts.append(Concept("group", surface, english=tuple(terms[i : i + length]), groups=groups))
            i += length
            continue
        word, term = kept[i]
        concepts.append(Concept("word", word, english=(term,), name=(fold(word),)))
        i += 1
    return concepts


def _phrase_concept(text: str, synonyms: Synonyms) -> Concept | None:
    english = tuple(t for t, _, _ in english_tokens(text))
    name = tuple(name_tokens(text))
    if not english and not name:
        return None
    groups = synonyms.members.get(english, ())
    if groups:
        return Concept("group", text.strip(), english=english, groups=groups)
    if len(english) <= 1 and len(name) <= 1:
        return Concept("word" if english else "name", text.strip(), english=english, name=name)
    return Concept("phrase", text.strip(), english=english, name=name)


def parse_text(text: str, synonyms: Synonyms) -> list[Concept]:
    """User text -> concepts. Never interprets text as query syntax: only words
    are kept, and double quotes mark a phrase."""
    concepts: list[Concept] = []
    rest: list[str] = []
    position = 0
    for match in _QUOTED.finditer(text):
        rest.append(text[position : match.start()])
        position = match.end()
        concept = _phrase_concept(match.group(1), synonyms)
        if concept is not None:
            concepts.append(concept)
    rest.append(text[position:])
    unquoted = " ".join(rest)
    concepts = _unquoted_concepts(unquoted, synonyms) + concepts
    # The same concept twice adds nothing but cost.
    seen: set[tuple[object, ...]] = set()
    unique = []
    for concept in concepts:
        if concept.key not in seen:
            seen.add(concept.key)
            unique.append(concept)
    return unique


def suggestion_words(text: str) -> list[str]:
    """The surface words of a text, folded, for spelling suggestions."""
    return [fold(w) for w in _words(text)]
