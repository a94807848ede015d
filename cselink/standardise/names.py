"""Name cleaning, alias parsing and the nickname / spelling-variant relation.

Pure Python functions, applied by :mod:`cselink.standardise` once per DISTINCT raw value
and joined back in DuckDB. The cleaning functions are total (never raise on any string)
and idempotent (cleaning a cleaned value changes nothing), which the property tests check.
The relation "one name may stand for the other" comes from the curated table shipped in
``cselink/data/name_equivalents.csv`` (see ``cselink/data/NAMES.md``) and the ``nicknames``
package.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from ..errors import InputDataError

#: Titles: never part of a name.
_TITLES: Final[frozenset[str]] = frozenset(
    {"mr", "mrs", "miss", "ms", "mx", "master", "dr", "rev"}
)
#: Alias markers ("known as", "aka"): dropped when other words remain, since "Alias" and
#: "Known" are also real surnames.
_MARKERS: Final[frozenset[str]] = frozenset(
    {"aka", "alias", "nee", "ne", "fka", "formerly", "known", "as", "also"}
)
#: Whole values that stand for "no name": the name is treated as missing.
_PLACEHOLDER_NAMES: Final[frozenset[str]] = frozenset(
    {
        "unknown", "not known", "notknown", "nk", "n k", "na", "n a", "none", "nfa",
        "no fixed abode", "baby", "baby boy", "baby girl", "babyboy", "babygirl", "infant",
        "twin", "twin one", "twin two", "twin 1", "twin 2", "twin a", "twin b", "tbc",
        "tba", "x", "xx", "xxx", "test", "null", "refused", "withheld", "anon", "anonymous",
        "unnamed", "no name", "noname", "child", "female", "male",
    }
)
#: Surname particles joined to the following word, so O Brien, O'Brien and OBrien agree.
_PARTICLES: Final[frozenset[str]] = frozenset(
    {"o", "mc", "mac", "de", "da", "di", "du", "van", "von", "der", "den", "le", "la",
     "st", "al", "el", "ben", "bin", "ter", "ten", "dos", "das", "del"}
)
#: Names that stand where a family name would in some South Asian families.
RELIGIOUS_SURNAMES: Final[frozenset[str]] = frozenset(
    {"begum", "bibi", "kaur", "singh", "khatun", "khatoon", "devi", "bi"}
)

_APOSTROPHES = re.compile(r"['\u2018\u2019\u201b\u02bc\u0060\u00b4]")
_NON_LETTER = re.compile(r"[^a-z]+")


def fold(text: str | None) -> str:
    """Lower-case, strip accents and apostrophes; other non-letters become spaces."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text))
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_only = ascii_only.replace("\u00df", "ss").replace("\u0142", "l").replace("\u0141", "l")
    lowered = _APOSTROPHES.sub("", ascii_only.lower())
    return " ".join(_NON_LETTER.sub(" ", lowered).split())


def name_tokens(text: str | None) -> list[str]:
    """The name words of a raw name, noise words and placeholders removed."""
    folded = fold(text)
    if not folded or folded in _PLACEHOLDER_NAMES:
        return []
    words = [t for t in folded.split() if t not in _TITLES]
    tokens = [t for t in words if t not in _MARKERS] or words
    if " ".join(tokens) in _PLACEHOLDER_NAMES:
        return []
    return [t for t in tokens if t not in _PLACEHOLDER_NAMES]


def clean_forename(text: str | None) -> str | None:
    """The first given name, cleaned; None when there is no usable name."""
    tokens = name_tokens(text)
    return tokens[0] if tokens else None


def surname_parts(text: str | None) -> list[str]:
    """The parts of a surname, particles joined: 'O Brien-Smith' -> ['obrien', 'smith']."""
    tokens = name_tokens(text)
    parts: list[str] = []
    pending = ""
    for tok in tokens:
        if tok in _PARTICLES and tok != tokens[-1]:
            pending += tok
            continue
        parts.append(pending + tok)
        pending = ""
    if pending:
        parts.append(pending)
    return parts


def clean_surname(text: str | None) -> str | None:
    """The surname as one key (parts joined without spaces), or None.

    A key that is itself no name once joined ('M 0 R' -> 'mr', a title) is None, so that
    cleaning a cleaned value changes nothing.
    """
    parts = surname_parts(text)
    if not parts:
        return None
    key = "".join(parts)
    return key if len(parts) == 1 or surname_parts(key) == [key] else None


def split_full_name(text: str | None) -> tuple[str | None, str | None]:
    """Split a full name into (forename, surname) keys.

    "SURNAME, Forename" (a comma) puts the surname first; otherwise the first word is the
    forename and the last word(s) the surname. A single word is a forename (a street name
    or known-as name used in place of the forename).
    """
    if not text:
        return None, None
    raw = str(text)
    if "," in raw:
        sur, _, fore = raw.partition(",")
        return clean_forename(fore), clean_surname(sur)
    tokens = name_tokens(raw)
    if not tokens:
        return None, None
    if len(tokens) == 1:
        return tokens[0], None
    # The surname is the last word, with any particles before it ("sean o brien").
    idx = len(tokens) - 1
    while idx > 1 and tokens[idx - 1] in _PARTICLES:
        idx -= 1
    return tokens[0], "".join(tokens[idx:])


def middle_tokens(forename: str | None, middle_names: str | None) -> list[str]:
    """Given names after the first: the rest of the forename field plus the middle names."""
    rest = name_tokens(forename)[1:]
    return rest + name_tokens(middle_names)


#: The curated name-equivalence table shipped in the package (provenance: ``data/NAMES.md``).
NAME_TABLE: Final[str] = "name_equivalents.csv"
#: The kinds a curated row may have; pairs known only from ``nicknames`` are ``nickname``.
NAME_KINDS: Final[tuple[str, ...]] = ("diminutive", "spelling", "transliteration")
NICKNAME_KIND: Final[str] = "nickname"
_TABLE_COLUMNS: Final[tuple[str, ...]] = ("name", "others", "kind", "note")


def parse_name_table(text: str, source: str = NAME_TABLE) -> Mapping[tuple[str, str], str]:
    """Each (name, other) pair of a curated table and its kind, both ways round.

    A ``diminutive`` row pairs its short form (``name``) with each of ``others`` (space
    separated) and nothing more: Charlie~Charles and Charlie~Charlotte do not make
    Charles~Charlotte. A ``spelling`` or ``transliteration`` row lists the written forms of
    ONE name, so every two of them pair. Names are folded as records are (Ciarán ->
    ciaran). A malformed row, or a pair stated twice, is an error naming the row and column
    (rows count from 1 after the header); the message quotes no name.

    Raises:
        InputDataError: the header is not ``name,others,kind,note``, a kind is unknown, a
            name folds to nothing or to more than one word, a row repeats a name, or a pair
            is stated by two rows.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != _TABLE_COLUMNS:
        raise InputDataError(f"expected the header {','.join(_TABLE_COLUMNS)}", file=source)
    kinds: dict[tuple[str, str], str] = {}
    stated_by: dict[tuple[str, str], int] = {}
    for row_no, row in enumerate(reader, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(_TABLE_COLUMNS):
            raise InputDataError(f"expected {len(_TABLE_COLUMNS)} fields, found {len(row)}",
                                 file=source, row=row_no)
        name_raw, others_raw, kind, _note = (cell.strip() for cell in row)
        if kind not in NAME_KINDS:
            raise InputDataError(f"kind must be one of {', '.join(NAME_KINDS)}",
                                 file=source, row=row_no, column="kind")
        names = [fold(name_raw)]
        others = [fold(o) for o in others_raw.split()]
        for column, folded in (("name", names), ("others", others)):
            if not folded or any(not n or " " in n for n in folded):
                raise InputDataError("each name must fold to one non-empty word",
                                     file=source, row=row_no, column=column)
        group = names + others
        if len(set(group)) != len(group):
            raise InputDataError("a name is repeated within the row",
                                 file=source, row=row_no, column="others")
        if kind == "diminutive":
            row_pairs = [(names[0], o) for o in others]
        else:
            row_pairs = [(a, b) for i, a in enumerate(group) for b in group[i + 1:]]
        for a, b in row_pairs:
            key = (min(a, b), max(a, b))
            if key in stated_by:
                raise InputDataError(f"a pair of this row is already stated by row "
                                     f"{stated_by[key]}", file=source, row=row_no,
                                     column="others")
            stated_by[key] = row_no
            kinds[(a, b)] = kinds[(b, a)] = kind
    return MappingProxyType(kinds)


@lru_cache(maxsize=1)
def curated_name_kinds() -> Mapping[tuple[str, str], str]:
    """The shipped curated table (:data:`NAME_TABLE`), parsed by :func:`parse_name_table`."""
    from importlib import resources

    text = resources.files("cselink").joinpath("data", NAME_TABLE).read_text(encoding="utf-8")
    return parse_name_table(text, NAME_TABLE)


@lru_cache(maxsize=1)
def variant_kinds() -> Mapping[tuple[str, str], str]:
    """Every (name, other) pair where one name may stand for the other, with its kind.

    The curated table (UK diminutives and short forms, spelling variants and
    transliterations; kinds ``diminutive``, ``spelling``, ``transliteration``) and the
    ``nicknames`` package's direct nickname relations (kind ``nickname`` where the curated
    table does not state the pair). Symmetric and deliberately NOT transitive: Rob~Robert
    and Rob~Robin do not make Robert~Robin.
    """
    from nicknames import name_triplets

    kinds: dict[tuple[str, str], str] = {}
    for t in name_triplets():
        a, b = fold(t.name1).replace(" ", ""), fold(t.name2).replace(" ", "")
        if a and b and a != b:
            kinds[(a, b)] = kinds[(b, a)] = NICKNAME_KIND
    kinds.update(curated_name_kinds())
    return MappingProxyType(kinds)


@lru_cache(maxsize=1)
def variant_pairs() -> frozenset[tuple[str, str]]:
    """Every (name, other) pair where one name may stand for the other.

    The pairs of :func:`variant_kinds`: the curated table shipped in the package and the
    ``nicknames`` package (direct nickname relations only). The relation is symmetric and
    deliberately NOT transitive: Rob~Robert and Rob~Robin do not make Robert~Robin.
    """
    return frozenset(variant_kinds())
