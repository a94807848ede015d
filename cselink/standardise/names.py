"""Name cleaning, alias parsing and the nickname / spelling-variant relation.

Pure Python functions, applied by :mod:`cselink.standardise` once per DISTINCT raw value
and joined back in DuckDB. Everything here is total (never raises on any string) and
idempotent (cleaning a cleaned value changes nothing), which the property tests check.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

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
    """The surname as one key (parts joined without spaces), or None."""
    parts = surname_parts(text)
    return "".join(parts) if parts else None


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


#: Spelling variants across communities: every name in a group may stand for every other.
_SPELLING_GROUPS: Final[tuple[tuple[str, ...], ...]] = (
    ("mohammed", "muhammad", "mohammad", "mohamed", "muhammed", "mohamad", "mohammod",
     "muhamed", "mohd", "md", "mahamed", "mahammed"),
    ("ahmed", "ahmad", "ahmet", "ahmid"),
    ("hussain", "hussein", "husain", "hussian", "husein", "hossain"),
    ("kayleigh", "kaylee", "kayley", "kayla", "kaleigh", "caleigh", "kaylie", "kailey", "kaley"),
    ("leigh", "lee", "lea"),
    ("zoe", "zoey", "zoie"),
    ("aisha", "ayesha", "aysha", "aishah", "ayisha"),
    ("fatima", "fatimah", "fatema", "fathima"),
    ("nowak", "novak"),
    ("abdul", "abdel", "abdal"),
    ("yusuf", "yousef", "yusef", "yousuf", "joseph"),
    ("ibrahim", "ebrahim", "ibraheem"),
    ("mariam", "maryam", "miriam", "mariyam"),
    ("sean", "shaun", "shawn", "shane"),
    ("jayden", "jaden", "jaydon", "jaiden", "jadon"),
    ("aidan", "aiden", "aden", "ayden"),
    ("brandon", "brendan", "brendon"),
    ("connor", "conor", "conner"),
    ("niamh", "neve", "neave", "nieve"),
    ("siobhan", "shivaun", "chevonne"),
    ("caitlin", "katelyn", "kaitlyn", "caitlyn", "kaitlin"),
    ("chloe", "cloe", "khloe"),
    ("sophie", "sophia", "sofia", "sofie"),
    ("leah", "lia", "lena"),
    ("mia", "miya"),
    ("amelia", "emilia"),
    ("isabelle", "isabel", "isabella", "isobel", "izabela", "izabella"),
    ("katarzyna", "kasia", "katherine", "catherine", "kathryn"),
    ("aleksander", "alexander", "aleksandr", "oleksandr", "olek"),
    ("jakub", "jacob", "jakob", "kuba"),
    ("piotr", "peter", "pietro"),
    ("wojciech", "wojtek"),
    ("mateusz", "matthew", "mathew", "matteo", "mateo"),
    ("oluwaseun", "seun"),
    ("oluwatobi", "tobi"),
    ("chukwuemeka", "emeka"),
    ("chiamaka", "amaka"),
    ("olamide", "lami"),
    ("tyrone", "tyron"),
    ("deshawn", "deshaun", "dashawn"),
    ("kyle", "kyal"),
    ("lewis", "louis", "luis"),
    ("stephen", "steven", "stefan"),
    ("jamal", "jamaal", "jamel"),
    ("nathaniel", "nathanael"),
    ("rhys", "reece", "reese", "rees"),
    ("mikayla", "michaela", "makayla", "mckayla"),
    ("macie", "maisie", "maisy", "macy"),
    ("jessica", "jesica"),
    ("ellie", "elly", "elle"),
)


@lru_cache(maxsize=1)
def variant_pairs() -> frozenset[tuple[str, str]]:
    """Every (name, other) pair where one name may stand for the other.

    Built from the ``nicknames`` package (direct nickname relations only) and the
    spelling-variant groups above. The relation is symmetric and deliberately NOT
    transitive: Rob~Robert and Rob~Robin do not make Robert~Robin.
    """
    from nicknames import name_triplets

    pairs: set[tuple[str, str]] = set()
    for t in name_triplets():
        a, b = fold(t.name1).replace(" ", ""), fold(t.name2).replace(" ", "")
        if a and b and a != b:
            pairs.add((a, b))
            pairs.add((b, a))
    for group in _SPELLING_GROUPS:
        for a in group:
            for b in group:
                if a != b:
                    pairs.add((a, b))
    return frozenset(pairs)
