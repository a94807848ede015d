"""The peers cselink is measured against, each in its best honest configuration.

Three peers, all unsupervised and all given the same canonical fields (forename,
surname, dob, address, postcode, and on the multi-agency data aliases and former
surnames; never an identifier FEBRL has and the agencies lack):

- **Splink 5** (DuckDB backend): the configuration a skilled Splink user writes
  after reading the Splink tutorials: fuzzy name levels with term-frequency
  adjustments, a custom date-of-birth comparison, postcode and address levels, a
  union of blocking rules, lambda from strict deterministic rules, u from seeded
  random sampling, m from EM sessions on different blocking rules.
- **recordlinkage 0.16**: the toolkit's standard unsupervised path: a union of
  ``Block``/``SortedNeighbourhood`` indexes, ``Compare`` with thresholded string
  similarities and exact keys (binary features), then ``ECMClassifier``.
- **exact**: what a "not known to service" look-up does today: exact forename,
  surname and date of birth after trimming and upper-casing.

Every peer returns one row per candidate pair it scored, with columns
``source_l, record_id_l, source_r, record_id_r, match_probability``, so a caller
can apply any threshold (every row is a candidate pair, so the frame itself gives
pairs completeness); ``frame.attrs["candidate_pairs"]`` holds the number of
candidate pairs blocking produced and ``frame.attrs["peer"]`` names the peer.

Input frames are canonical (:data:`cselink.schema.CANONICAL_COLUMNS`), all text;
missing values may be empty strings or nulls. Dedupe peers accept several sources
in one frame: pairs are keyed by ``(source, record_id)``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from benchmarks.tasks import PEER_OUTPUT_COLUMNS, read_canonical

logger = logging.getLogger(__name__)

#: Seed of every random step (Splink's u sampling).
SEED = 42

_UK_POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
_NAME_JUNK_RE = re.compile(r"[^a-z\s\-']")

# --------------------------------------------------------------------------------------
# Shared preparation: the cleaning any skilled user does before linking
# --------------------------------------------------------------------------------------


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as stripped strings with missing values as empty strings."""
    if column not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype="object")
    return frame[column].astype("string").fillna("").str.strip().astype("object")


@lru_cache(maxsize=1 << 16)
def _clean_name_value(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    folded = _NAME_JUNK_RE.sub("", folded.lower())
    return " ".join(folded.replace("'", "").split())


def _per_distinct(series: pd.Series, func: Callable[[str], Any]) -> pd.Series:
    """Apply ``func`` once per distinct value and map the results back."""
    uniques = pd.unique(series.to_numpy())
    lookup = {value: func(value) for value in uniques}
    return series.map(lookup)


def _clean_names(series: pd.Series) -> pd.Series:
    """Lower-case, accent-folded names with punctuation dropped; empty becomes None."""
    cleaned = _per_distinct(series, _clean_name_value)
    return cleaned.where(cleaned != "", None)


def _clean_dob(series: pd.Series) -> pd.Series:
    """ISO ``yyyy-mm-dd`` strings; unparseable dates and the 1900-01-01 placeholder -> None."""
    parsed = pd.to_datetime(series, format="%Y-%m-%d", errors="coerce")
    iso = parsed.dt.strftime("%Y-%m-%d")
    return iso.where(parsed.notna() & (iso != "1900-01-01"), None).astype("object")


def _normalise_postcode(value: str) -> str:
    compact = re.sub(r"\s+", "", value.upper())
    if _UK_POSTCODE_RE.match(compact):
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def _clean_postcodes(series: pd.Series) -> pd.Series:
    """Upper-case postcodes; UK ones written ``OUTWARD INWARD`` with one space."""
    cleaned = _per_distinct(series, _normalise_postcode)
    return cleaned.where(cleaned != "", None)


def _clean_address(series: pd.Series) -> pd.Series:
    cleaned = _per_distinct(series, lambda v: " ".join(re.sub(r"[^\w\s]", " ", v.lower()).split()))
    return cleaned.where(cleaned != "", None)


def _looks_like_uk_postcodes(postcodes: pd.Series) -> bool:
    """True when most present postcodes are full UK postcodes (so sector/district exist)."""
    present = postcodes.dropna()
    if present.empty:
        return False
    compact = present.str.replace(" ", "", regex=False)
    return float(compact.str.match(_UK_POSTCODE_RE.pattern).mean()) >= 0.8


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _has_alias_columns(frame: pd.DataFrame) -> bool:
    """True when the data carries aliases or former surnames (the multi-agency set)."""
    for column in ("aliases", "former_surnames"):
        if column in frame.columns and (_text(frame, column) != "").any():
            return True
    return False


def _soundex(value: str | None) -> str | None:
    import jellyfish

    if not value:
        return None
    letters = value.replace(" ", "").replace("-", "")
    return jellyfish.soundex(letters) if letters else None


def prepare_records(frame: pd.DataFrame, *, uid_offset: int = 0) -> pd.DataFrame:
    """Clean a canonical frame into the working columns every peer uses.

    Args:
        frame: a canonical frame.
        uid_offset: the first integer id to give (so two files get disjoint ids).

    Returns:
        A frame with ``uid`` (int), ``source``, ``record_id``, cleaned ``forename``,
        ``surname``, ``dob`` (ISO or None), ``address``, ``postcode``, and the derived
        keys ``forename_initial``, ``dob_year``, ``dob_month_day`` (``mm-dd``),
        ``forename_soundex``, ``surname_soundex``, ``postcode_district`` (the outward
        code of a UK postcode, the whole code of any other), ``address_tokens``,
        ``forename_variants`` / ``surname_variants`` arrays (the primary name, alias
        names, former surnames, each half of a double-barrelled surname),
        ``given_names`` (forename and middle names, in order) and
        ``full_name`` (forename and surname, for a term frequency of the whole name).
    """
    out = pd.DataFrame(index=range(len(frame)))
    out["uid"] = np.arange(uid_offset, uid_offset + len(frame), dtype=np.int64)
    src = _text(frame, "source").reset_index(drop=True)
    out["source"] = src.where(src != "", "unknown")
    out["record_id"] = _text(frame, "record_id").reset_index(drop=True)
    out["forename"] = _clean_names(_text(frame, "forename").reset_index(drop=True))
    out["surname"] = _clean_names(_text(frame, "surname").reset_index(drop=True))
    out["dob"] = _clean_dob(_text(frame, "dob").reset_index(drop=True))
    out["address"] = _clean_address(_text(frame, "address").reset_index(drop=True))
    out["postcode"] = _clean_postcodes(_text(frame, "postcode").reset_index(drop=True))
    out["forename_initial"] = out["forename"].str[:1]
    out["dob_year"] = out["dob"].str[:4]
    out["dob_month_day"] = out["dob"].str[5:]
    out["postcode_district"] = out["postcode"].str.split(" ").str[0]
    out["forename_soundex"] = _per_distinct(out["forename"], _soundex)
    out["surname_soundex"] = _per_distinct(out["surname"], _soundex)
    out["address_tokens"] = _per_distinct(
        out["address"], lambda v: sorted(set(v.split())) if v else None
    )

    aliases = _text(frame, "aliases").reset_index(drop=True)
    former = _text(frame, "former_surnames").reset_index(drop=True)
    forename_variants: list[list[str] | None] = []
    surname_variants: list[list[str] | None] = []
    for fore, sur, alias_text, former_text in zip(
        out["forename"], out["surname"], aliases, former, strict=True
    ):
        fores = [fore] if fore else []
        surs = [sur] if sur else []
        if sur and "-" in sur:
            surs.extend(half for half in sur.split("-") if half)
        for alias in _split_list(alias_text):
            tokens = _clean_name_value(alias).replace("-", " ").split()
            if tokens:
                fores.append(tokens[0])
            if len(tokens) > 1:
                surs.append(tokens[-1])
        surs.extend(
            cleaned for cleaned in map(_clean_name_value, _split_list(former_text)) if cleaned
        )
        forename_variants.append(sorted(set(fores)) or None)
        surname_variants.append(sorted(set(surs)) or None)
    out["forename_variants"] = forename_variants
    out["surname_variants"] = surname_variants
    middle = _text(frame, "middle_names").reset_index(drop=True)
    given = [([fore] if fore else []) + _clean_name_value(text).replace("-", " ").split()
             for fore, text in zip(out["forename"], middle, strict=True)]
    out["given_names"] = [names or None for names in given]
    out["full_name"] = (out["forename"] + " " + out["surname"]).where(
        out["forename"].notna() & out["surname"].notna(), None)
    return out


# --------------------------------------------------------------------------------------
# Shared blocking plan: Splink and recordlinkage block on the same keys
# --------------------------------------------------------------------------------------

#: Pseudo-column of the swapped-name rule: a record's forename equals the other's surname
#: and its surname the other's forename. Other columns in the same key must be equal.
SWAPPED_NAMES = "swapped_names"

#: List columns: a key on them joins two records that share an element of each (Splink
#: explodes them; recordlinkage cannot, so it does without those keys).
ARRAY_COLUMNS: frozenset[str] = frozenset({"forename_variants", "surname_variants"})

#: Blocking keys always used: each is selective and catches true pairs the others miss:
#: same DOB (name typos), surname + forename initial (DOB typos), postcode + forename
#: initial (name and DOB both damaged), birth year + forename or surname soundex
#: (spelling variants with a DOB slip). Each is tightened where it would give more than
#: :data:`KEY_PAIR_BUDGET` pairs (see :func:`blocking_plan`).
TIGHT_BLOCKING_KEYS: tuple[tuple[str, ...], ...] = (
    ("dob",),
    ("surname", "forename_initial"),
    ("postcode", "forename_initial"),
    ("dob_year", "forename_soundex"),
    ("dob_year", "surname_soundex"),
)

#: Single-field keys the Splink FEBRL tutorials block on. On small data they are cheap
#: and lift pairs completeness; on large data they explode, so a skilled user counts
#: their comparisons first and keeps only the affordable ones.
BROAD_BLOCKING_KEYS: tuple[tuple[str, ...], ...] = (("forename",), ("surname",), ("postcode",))

#: Most comparisons one broad key may add (a few seconds of DuckDB or pandas work).
BROAD_KEY_BUDGET = 2_000_000

#: Most pairs one tight key (or the swapped-name or alias rule) may give; a key over it
#: is replaced by tighter keys. A budget per key, not per record: Splink's memory grows
#: with its candidate pairs (about 0.5 KiB a pair at 10k-100k records), so what the
#: machine affords is a fixed total, not a number per record. 4M is 40 pairs a record at
#: 100k, above every key there (the largest gives 2.8M), so the plan up to 100k records
#: is the one the quality results were measured with; at 1M records it is 4 a record and
#: leaves Splink about 17 candidate pairs a record. A budget per record cannot do both:
#: one that keeps the 100k plan (28 a record or more) gives 58 pairs a record at 1M,
#: beyond 12 GiB, and one that gives 10-20 a record at 1M tightens four of the five keys
#: at 100k.
KEY_PAIR_BUDGET = 4_000_000

#: The parts of a person a key can pin down, each as (the columns that pin it, the
#: columns a key over budget adds when it leaves the part free: one tighter key each).
#: A key is tightened along every part it leaves free, so a true pair it finds is lost
#: only when it disagrees on all of them. Date of birth comes in two halves, so a typo in
#: either still leaves one tighter key that joins; names by soundex, so a typo that
#: keeps the sound still joins.
_IDENTITY_PARTS: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (
        frozenset({"forename", "forename_initial", "forename_soundex", "forename_variants",
                   SWAPPED_NAMES}),
        ("forename_soundex",),
    ),
    (
        frozenset({"surname", "surname_soundex", "surname_variants", SWAPPED_NAMES}),
        ("surname_soundex",),
    ),
    (frozenset({"dob", "dob_year", "dob_month_day"}), ("dob_year", "dob_month_day")),
    (frozenset({"postcode", "postcode_district"}), ("postcode_district",)),
)


def _key_counts(frame: pd.DataFrame, key: tuple[str, ...]) -> pd.Series:
    """Records per distinct value of ``key`` (list columns exploded, nulls dropped).

    For the swapped-name key the first two levels are forename and surname."""
    columns = [column for column in key if column != SWAPPED_NAMES]
    if SWAPPED_NAMES in key:
        columns = ["forename", "surname", *(c for c in columns if c not in ("forename", "surname"))]
    rows = frame[columns]
    for column in columns:
        if column in ARRAY_COLUMNS:
            rows = rows.explode(column)
    return rows.dropna().groupby(columns).size()


def _swapped_comparisons(counts: list[pd.Series]) -> int:
    """Pairs of the swapped-name key: left (forename, surname) = right (surname, forename)."""
    left, right = counts[0], counts[-1]
    if left.empty or right.empty:
        return 0
    right = right.copy()
    right.index = right.index.swaplevel(0, 1)
    right.index.names = left.index.names
    joined = pd.concat([left, right], axis=1, join="inner")
    n_l, n_r = (joined[i].to_numpy(dtype=np.int64) for i in (0, 1))
    if len(counts) > 1:
        return int((n_l * n_r).sum())
    # One frame: a (b, a) record pairs with an (a, b) one once; (a, a) records pair
    # among themselves.
    fore = joined.index.get_level_values(0).to_numpy(dtype=object)
    sur = joined.index.get_level_values(1).to_numpy(dtype=object)
    return int((n_l * n_r)[fore < sur].sum() + (n_l * (n_l - 1) // 2)[fore == sur].sum())


def _comparisons_for_key(frames: list[pd.DataFrame], key: tuple[str, ...]) -> int:
    """Pairs a join on ``key`` makes (nulls never join), counted by group-by.

    Exact for plain keys and the swapped-name key. With list columns a pair is counted
    once per shared combination of elements, so the count is an upper bound on the
    distinct pairs (Splink keeps each pair once).
    """
    counts = [_key_counts(frame, key) for frame in frames]
    if SWAPPED_NAMES in key:
        return _swapped_comparisons(counts)
    if len(counts) == 1:
        sizes = counts[0].to_numpy(dtype=np.int64)
        return int((sizes * (sizes - 1) // 2).sum())
    joined = pd.concat(counts, axis=1, join="inner").to_numpy(dtype=np.int64)
    return int((joined[:, 0] * joined[:, 1]).sum())


def _tighter_keys(key: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The keys that replace ``key`` over budget: one per column each free part adds."""
    present = set(key)
    return [(*key, column) for pins, adds in _IDENTITY_PARTS if not pins & present
            for column in adds]


def _affordable_keys(
    frames: list[pd.DataFrame], keys: list[tuple[str, ...]], counts: dict[tuple[str, ...], int]
) -> list[tuple[str, ...]]:
    """``keys`` with each key over :data:`KEY_PAIR_BUDGET` replaced, in place, by its
    tighter keys, and those in turn while they are over it. ``counts`` gets the pair
    count of every key looked at."""
    kept: list[tuple[str, ...]] = []
    seen: set[frozenset[str]] = set()
    todo = list(keys)
    while todo:
        key = todo.pop(0)
        if frozenset(key) in seen:
            continue
        seen.add(frozenset(key))
        counts[key] = _comparisons_for_key(frames, key)
        tighter = _tighter_keys(key)
        if counts[key] > KEY_PAIR_BUDGET and tighter:
            logger.info("blocking key %s tightened: %d comparisons", key, counts[key])
            todo[:0] = tighter
            continue
        if counts[key] > KEY_PAIR_BUDGET:
            logger.warning("blocking key %s has %d comparisons and nothing to tighten it with",
                           key, counts[key])
        kept.append(key)
    # A key whose columns include another kept key's adds no pairs.
    return [key for key in kept if not any(set(other) < set(key) for other in kept)]


def blocking_plan(
    frames: list[pd.DataFrame], *, variants: bool = False
) -> dict[tuple[str, ...], int]:
    """The blocking plan for these prepared records, each key with its pair count.

    What a skilled user does before a large run: count every rule's comparisons, tighten
    each rule over a budget by adding a key, keep the broad rules only where cheap.

    - The tight keys, the swapped-name key ``(SWAPPED_NAMES,)`` and, with ``variants``,
      the alias key ``("forename_variants", "surname_variants")``: each one over
      :data:`KEY_PAIR_BUDGET` is replaced by tighter keys, one for each column
      :data:`_IDENTITY_PARTS` adds along the parts of a person it leaves free (so
      ``("dob",)`` becomes ``dob`` with forename soundex, with surname soundex and with
      postcode district), again while they are over the budget.
    - The broad keys whose count is within :data:`BROAD_KEY_BUDGET`.

    Args:
        frames: one prepared frame (dedupe) or two (link), from :func:`prepare_records`.
        variants: include the alias key (the data has aliases or former surnames).

    Returns:
        Key -> pair count by group-by (an upper bound for keys on list columns), in the
        order Splink gets them: plain keys (tight, then broad), swapped-name, alias.
    """
    counts: dict[tuple[str, ...], int] = {}
    base = [*TIGHT_BLOCKING_KEYS, (SWAPPED_NAMES,)]
    if variants:
        base.append(("forename_variants", "surname_variants"))
    tight = _affordable_keys(frames, base, counts)
    broad = []
    for key in BROAD_BLOCKING_KEYS:
        counts[key] = _comparisons_for_key(frames, key)
        if counts[key] <= BROAD_KEY_BUDGET:
            broad.append(key)
        else:
            logger.info("broad blocking key %s skipped: %d comparisons", key, counts[key])
    plain = [key for key in tight if SWAPPED_NAMES not in key and not ARRAY_COLUMNS & set(key)]
    swapped = [key for key in tight if SWAPPED_NAMES in key]
    arrays = [key for key in tight if ARRAY_COLUMNS & set(key)]
    return {key: counts[key] for key in [*plain, *broad, *swapped, *arrays]}


def blocking_keys(frames: list[pd.DataFrame], *, variants: bool = False) -> list[tuple[str, ...]]:
    """The keys of :func:`blocking_plan`, without their counts."""
    return list(blocking_plan(frames, variants=variants))


def _attach(frame: pd.DataFrame, peer: str, candidate_pairs: int) -> pd.DataFrame:
    frame.attrs["peer"] = peer
    frame.attrs["candidate_pairs"] = int(candidate_pairs)
    return frame


def _pairs_from_uids(
    uid_l: np.ndarray, uid_r: np.ndarray, prob: np.ndarray, records: pd.DataFrame
) -> pd.DataFrame:
    """Turn uid pairs and probabilities into the peer output frame."""
    lookup = records.set_index("uid")[["source", "record_id"]]
    left = lookup.loc[uid_l]
    right = lookup.loc[uid_r]
    out = pd.DataFrame(
        {
            "source_l": left["source"].to_numpy(),
            "record_id_l": left["record_id"].to_numpy(),
            "source_r": right["source"].to_numpy(),
            "record_id_r": right["record_id"].to_numpy(),
            "match_probability": np.clip(np.asarray(prob, dtype=float), 0.0, 1.0),
        }
    )
    return out.loc[:, list(PEER_OUTPUT_COLUMNS)]


# --------------------------------------------------------------------------------------
# Splink 5
# --------------------------------------------------------------------------------------


@contextmanager
def _quiet_splink() -> Iterator[None]:
    """Silence Splink's logger (it configures its own handler) for the duration."""
    splink_logger = logging.getLogger("splink")
    old_level, old_propagate = splink_logger.level, splink_logger.propagate
    splink_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        splink_logger.setLevel(old_level)
        splink_logger.propagate = old_propagate


def _name_comparison(column: str, other: str, *, variants: bool) -> Any:
    """Fuzzy name levels as Splink's NameComparison, plus aliases and a swap level.

    Levels, strongest first: exact (with term-frequency adjustment, so a match on a
    rare name counts for more than one on a common name), Jaro-Winkler >= 0.92 and
    >= 0.88 (Splink's defaults), the name found among the other record's alias /
    former names (multi-agency data only), the name equal to the other record's
    *other* name (forename and surname swapped, a common FEBRL and agency error),
    Jaro-Winkler >= 0.7, anything else.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels: list[Any] = [
        cll.NullLevel(column),
        cll.ExactMatchLevel(column, term_frequency_adjustments=True),
        cll.JaroWinklerLevel(column, 0.92),
        cll.JaroWinklerLevel(column, 0.88),
    ]
    if variants:
        levels.append(
            cll.ArrayIntersectLevel(f"{column}_variants", min_intersection=1).configure(
                label_for_charts=f"{column} among the other record's alias/former names"
            )
        )
    levels.extend(
        [
            cll.CustomLevel(
                f'"{column}_l" = "{other}_r" OR "{other}_l" = "{column}_r"',
                label_for_charts=f"{column} swapped with {other}",
            ),
            cll.JaroWinklerLevel(column, 0.7),
            cll.ElseLevel(),
        ]
    )
    return cl.CustomComparison(
        comparison_levels=levels,
        output_column_name=column,
        comparison_description=f"{column} with fuzzy, alias and swapped-name levels",
    )


def _damerau_levenshtein_at_most_one(column: str) -> Any:
    """Damerau-Levenshtein <= 1, with a Levenshtein <= 2 guard in front.

    Same pairs as ``cll.DamerauLevenshteinLevel(column, 1)`` (DL <= 1 implies
    Levenshtein <= 2), but DuckDB then runs its slow ``damerau_levenshtein`` only on
    the few pairs that pass the fast guard: u sampling gets about four times faster.
    """
    import splink.comparison_level_library as cll

    return cll.CustomLevel(
        f'levenshtein("{column}_l", "{column}_r") <= 2 '
        f'AND damerau_levenshtein("{column}_l", "{column}_r") <= 1',
        label_for_charts="Damerau-Levenshtein <= 1",
    )


def _dob_comparison() -> Any:
    """Date of birth: exact (TF, so placeholder-like popular dates count less), day and
    month transposed, one digit typed wrong (Damerau-Levenshtein <= 1 on the ISO
    string, which also catches two transposed digits), same year and month, same year
    with one date on 1 January (systems that hold only a birth year store it so; the
    MoJ's model drops such dates from its DOB arrays), else."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="dob",
        comparison_description="date of birth (ISO string)",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob", term_frequency_adjustments=True),
            cll.CustomLevel(
                'substr("dob_l", 1, 4) = substr("dob_r", 1, 4) '
                'AND substr("dob_l", 6, 2) = substr("dob_r", 9, 2) '
                'AND substr("dob_l", 9, 2) = substr("dob_r", 6, 2)',
                label_for_charts="day and month transposed",
            ),
            _damerau_levenshtein_at_most_one("dob"),
            cll.CustomLevel(
                'substr("dob_l", 1, 7) = substr("dob_r", 1, 7)',
                label_for_charts="same year and month",
            ),
            cll.CustomLevel(
                'substr("dob_l", 1, 4) = substr("dob_r", 1, 4) '
                'AND (substr("dob_l", 6, 5) = \'01-01\' OR substr("dob_r", 6, 5) = \'01-01\')',
                label_for_charts="same year, one of them 1 January (a year-only date)",
            ),
            cll.ElseLevel(),
        ],
    )


def _postcode_comparison(uk: bool) -> Any:
    """UK postcodes: Splink's PostcodeComparison (full / sector / district / area).
    Other formats (FEBRL's 4-digit Australian codes have no sector): exact with
    term-frequency adjustment, then one edit away."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if uk:
        return cl.PostcodeComparison("postcode")
    return cl.CustomComparison(
        output_column_name="postcode",
        comparison_description="postcode (non-UK format)",
        comparison_levels=[
            cll.NullLevel("postcode"),
            cll.ExactMatchLevel("postcode", term_frequency_adjustments=True),
            _damerau_levenshtein_at_most_one("postcode"),
            cll.ElseLevel(),
        ],
    )


def _token_jaccard_sql(threshold: float) -> str:
    """SQL for "word-token Jaccard of the two addresses >= threshold".

    DuckDB's ``jaccard()`` works on character sets, which says little about addresses,
    so a skilled user compares word tokens. With distinct tokens, J = I / (L + R - I),
    so J >= t is I * (1 + t) >= t * (L + R); counting I with ``list_filter`` is an
    order of magnitude faster in DuckDB than ``list_intersect``.
    """
    overlap = 'len(list_filter("address_tokens_l", lambda x: list_contains("address_tokens_r", x)))'
    return (
        f"{overlap} * {1 + threshold} >= "
        f'{threshold} * (len("address_tokens_l") + len("address_tokens_r"))'
    )


def _address_comparison() -> Any:
    """Address: exact, word-token Jaccard >= 0.7, Jaro-Winkler >= 0.9, token Jaccard
    >= 0.4, else. Tokens survive re-ordering and dropped parts; Jaro-Winkler survives
    typos inside words."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="free-text address",
        comparison_levels=[
            {
                "sql_condition": '"address_l" IS NULL OR "address_r" IS NULL',
                "label_for_charts": "address missing",
                "is_null_level": True,
            },
            cll.ExactMatchLevel("address"),
            cll.CustomLevel(_token_jaccard_sql(0.7), label_for_charts="token Jaccard >= 0.7"),
            cll.JaroWinklerLevel("address", 0.9),
            cll.CustomLevel(_token_jaccard_sql(0.4), label_for_charts="token Jaccard >= 0.4"),
            cll.ElseLevel(),
        ],
    )


#: One record's forename is among the other's forename and middle names.
_FORENAME_AMONG_GIVEN_SQL = (
    'list_contains("given_names_r", "forename_l") OR list_contains("given_names_l", "forename_r")')


def _family_name_comparison() -> Any:
    """Forename and surname as one comparison, for data with families and aliases.

    What the Ministry of Justice's person-matching model (Splink, prison and probation
    records) does: one comparison over the whole name, so that "same surname, another
    forename" (a sibling) is a level of its own with its own m and u, instead of a strong
    surname agreement added to a forename disagreement as if they were independent.
    Levels, strongest first: whole name exact (term frequency of the whole name),
    forename and surname swapped, both names found among the other record's names
    (aliases, former surnames, halves of a double-barrelled surname: array intersections),
    whole name Jaro-Winkler >= 0.92, forename Jaro-Winkler >= 0.88 with a shared surname,
    a forename found among the other's forename and middle names with a shared surname
    (a child known by a middle name; a middle name both share says nothing: siblings
    often do),
    both names Jaro-Winkler >= 0.7, surname equal and forename not (term frequency of
    the surname), surname among the other's surnames, forename equal and surname not
    (term frequency of the forename), else.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    shared_surname = cll.ArrayIntersectLevel("surname_variants", 1)
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="forename and surname together, with aliases",
        comparison_levels=[
            cll.And(cll.NullLevel("forename"), cll.NullLevel("surname")).configure(
                is_null_level=True),
            cll.ExactMatchLevel("full_name", term_frequency_adjustments=True),
            cll.ColumnsReversedLevel("forename", "surname", symmetrical=True),
            cll.And(cll.ArrayIntersectLevel("forename_variants", 1), shared_surname
                    ).configure(label_for_charts="both names among the other's names"),
            cll.JaroWinklerLevel("full_name", 0.92),
            cll.And(cll.JaroWinklerLevel("forename", 0.88), shared_surname).configure(
                label_for_charts="forename similar, surname shared"),
            cll.And(cll.CustomLevel(_FORENAME_AMONG_GIVEN_SQL), shared_surname).configure(
                label_for_charts="forename among the other's middle names, surname shared"),
            cll.And(cll.JaroWinklerLevel("forename", 0.7), cll.JaroWinklerLevel("surname", 0.7)),
            cll.ExactMatchLevel("surname", term_frequency_adjustments=True),
            cll.ArrayIntersectLevel("surname_variants", 1).configure(
                label_for_charts="surname among the other's surnames, forename not"),
            cll.ExactMatchLevel("forename", term_frequency_adjustments=True),
            cll.ElseLevel(),
        ],
    )


def _location_comparison(uk: bool) -> Any:
    """Address and postcode as one comparison, for data with families.

    Both are views of one home: a household's members share both, and a pair that agrees
    on one nearly always agrees on the other, so two comparisons would count one fact
    twice (the Ministry of Justice's model compares postcodes only). Levels: address and
    postcode both equal, postcode equal (term frequency), address word tokens Jaccard
    >= 0.7, postcode sector (UK) or one edit away (other formats), district, else.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    near = (cll.CustomLevel(
        'substr("postcode_l", 1, length("postcode_l") - 2) = '
        'substr("postcode_r", 1, length("postcode_r") - 2)', label_for_charts="same sector")
        if uk else _damerau_levenshtein_at_most_one("postcode"))
    return cl.CustomComparison(
        output_column_name="location",
        comparison_description="home: address and postcode together",
        comparison_levels=[
            cll.And(cll.NullLevel("postcode"), cll.NullLevel("address")).configure(
                is_null_level=True),
            cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("address")),
            cll.ExactMatchLevel("postcode", term_frequency_adjustments=True),
            cll.CustomLevel(_token_jaccard_sql(0.7), label_for_charts="address tokens >= 0.7"),
            near,
            cll.ExactMatchLevel("postcode_district"),
            cll.ElseLevel(),
        ],
    )


def _splink_blocking_rules(keys: list[tuple[str, ...]]) -> list[Any]:
    """The keys of :func:`blocking_plan` as Splink rules: the swapped-name key as a
    join of forename to surname and surname to forename, keys on the alias lists
    (which find people recorded under another name) exploded."""
    from splink import block_on

    rules: list[Any] = []
    for key in keys:
        if SWAPPED_NAMES in key:
            rules.append(" AND ".join(
                ["l.forename = r.surname AND l.surname = r.forename",
                 *(f"l.{column} = r.{column}" for column in key if column != SWAPPED_NAMES)]))
        else:
            arrays = [column for column in key if column in ARRAY_COLUMNS]
            rules.append(block_on(*key, arrays_to_explode=arrays or None))
    return rules


def _splink_settings(
    link_type: Literal["link_only", "dedupe_only"],
    keys: list[tuple[str, ...]],
    *,
    variants: bool,
    uk_postcodes: bool,
) -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="uid",
        comparisons=[
            _family_name_comparison(),
            _dob_comparison(),
            _location_comparison(uk_postcodes),
        ] if variants else [
            _name_comparison("forename", "surname", variants=variants),
            _name_comparison("surname", "forename", variants=variants),
            _dob_comparison(),
            _postcode_comparison(uk_postcodes),
            _address_comparison(),
        ],
        blocking_rules_to_generate_predictions=_splink_blocking_rules(keys),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )


#: Deterministic rules for lambda: pairs that agree on all of name and DOB (or on
#: surname, DOB and postcode) are almost never different people.
_DETERMINISTIC_RULES: tuple[str, ...] = (
    "l.forename = r.forename AND l.surname = r.surname AND l.dob = r.dob",
    "l.forename = r.surname AND l.surname = r.forename AND l.dob = r.dob",
    "l.surname = r.surname AND l.dob = r.dob AND l.postcode = r.postcode",
)
#: The share of true matches those rules are believed to catch. Without labels a user
#: judges this from the data profile: FEBRL and agency data carry a typo in a name or
#: the DOB on a large share of duplicates, so strict rules catch roughly 60% of them.
_DETERMINISTIC_RECALL = 0.6


#: Most pairs one EM session scores: the budget of one blocking key.
EM_MAX_PAIRS = KEY_PAIR_BUDGET

#: Random pairs for Splink's u estimates: 1e6, as in Splink's FEBRL3/FEBRL4 tutorials.
#: Splink suggests 1e7 or more for final models on big data; on FEBRL, 5e6 and 1e7 gave
#: the same F1 to three decimals and cost 2-4 times the wall time (u sampling is the
#: bulk of Splink's run time here).
U_MAX_PAIRS = 1e6


def _train_splink(linker: Any, *, families: bool = False) -> None:
    """Lambda from strict rules, u from seeded random sampling, m by EM sessions.

    The EM sessions block on three different rules so every comparison gets m values
    from at least two sessions (Splink averages them), as the Splink tutorials do.

    On data with families (the multi-agency data, ``families=True``) the sessions block
    on DOB and on full name instead: blocked on postcode or surname, the candidate pairs
    are mostly members of one household, and EM converges to "same household" rather
    than "same person" (on 5,000 synthetic people it learnt m = 0.25 for an exact DOB and
    0.74 for a different one, and linked 91% of sibling pairs and 12,000 unrelated pairs;
    F1 0.34). Blocked on DOB or on full name, a session holds few household pairs.

    Each session is capped at :data:`EM_MAX_PAIRS` pairs with Splink's ``max_pairs``
    (a hash sample of records where the rule gives more: DOB alone gives 142M pairs at
    1M records); up to 100k records no session reaches the cap.
    """
    from splink import block_on

    training = linker.training
    training.estimate_probability_two_random_records_match(
        list(_DETERMINISTIC_RULES), recall=_DETERMINISTIC_RECALL
    )
    training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    sessions = (
        (block_on("dob"), block_on("forename", "surname"))
        if families
        else (block_on("dob"), block_on("postcode"), block_on("surname"))
    )
    for rule in sessions:
        training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
        )


#: The twins-and-siblings rule of the family data (the Ministry of Justice's
#: person-matching service flags possible twins the same way): two records at the same
#: home whose family names agree (equal, similar, shared among surnames and former
#: surnames, or one record's forename and surname swapped) while their given names
#: clearly differ (after undoing a swap: Jaro-Winkler < 0.8 and more than one typing slip
#: apart; no forename, middle name or alias name in common, as the MoJ requires every
#: pair of the two records' forenames to differ) are two children of one
#: household, twins if born the same day, and get at most :data:`TWINS_PROBABILITY`.
#: Fellegi-Sunter adds up everything they share (home, family name, often a birthday) as
#: if it were independent evidence, and merges them. Two records that are each other's
#: swap are one child.
_TWINS_CONDITION = """
    (postcode_l = postcode_r OR address_l = address_r)
    AND NOT (forename_l = surname_r AND surname_l = forename_r)
    AND (jaro_winkler_similarity(surname_l, surname_r) >= 0.85
         OR coalesce(len(list_intersect(surname_variants_l, surname_variants_r)), 0) > 0
         OR forename_l = surname_r OR surname_l = forename_r)
    AND jaro_winkler_similarity(
            CASE WHEN forename_l = surname_r THEN surname_l ELSE forename_l END,
            CASE WHEN surname_l = forename_r THEN surname_r ELSE forename_r END) < 0.8
    AND damerau_levenshtein(
            CASE WHEN forename_l = surname_r THEN surname_l ELSE forename_l END,
            CASE WHEN surname_l = forename_r THEN surname_r ELSE forename_r END) > 1
    AND coalesce(len(list_intersect(forename_variants_l, forename_variants_r)), 0) = 0
    AND coalesce(len(list_intersect(given_names_l, given_names_r)), 0) = 0
"""

#: The probability a possible-twins pair gets at most (the MoJ flags them for review).
TWINS_PROBABILITY = 0.05

_TWINS_SQL = f"""
SELECT uid_l, uid_r,
    CASE WHEN coalesce({_TWINS_CONDITION}, false)
         THEN least(match_probability, {TWINS_PROBABILITY})
         ELSE match_probability END AS match_probability
FROM {{table}}
"""


def _splink_score(records: list[pd.DataFrame], *, variants: bool) -> pd.DataFrame:
    """Train a Splink model on the prepared records and score every candidate pair.

    Args:
        records: one prepared frame (dedupe) or two (link).
        variants: whether the data has aliases / former surnames.

    Returns:
        ``uid_l, uid_r, match_probability`` for every candidate pair.
    """
    import duckdb
    from splink import DuckDBAPI, Linker

    link_type: Literal["link_only", "dedupe_only"] = (
        "link_only" if len(records) > 1 else "dedupe_only"
    )
    uk = _looks_like_uk_postcodes(pd.concat([frame["postcode"] for frame in records]))
    settings = _splink_settings(
        link_type, blocking_keys(records, variants=variants), variants=variants, uk_postcodes=uk
    )
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        with _quiet_splink():
            db_api = DuckDBAPI(connection=con)
            tables = [
                db_api.register(frame, dataset_display_name=f"input_{i}")
                for i, frame in enumerate(records)
            ]
            linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=None)
            _train_splink(linker, families=variants)
            table = linker.inference.predict(warning_mode="never").physical_name
            if variants:
                # Possible twins (same surname, DOB and address, different forenames, no
                # shared alias) get a fixed low probability, as the MoJ person-matching
                # service does: Fellegi-Sunter adds up their agreements and merges them.
                return con.sql(_TWINS_SQL.format(table=table)).df()
            return con.sql(f"SELECT uid_l, uid_r, match_probability FROM {table}").df()
    finally:
        con.close()


def splink_link(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Link two canonical frames with Splink 5 (DuckDB), unsupervised.

    Args:
        left: the left canonical frame.
        right: the right canonical frame.

    Returns:
        Every candidate pair Splink scored: ``source_l, record_id_l`` from ``left``,
        ``source_r, record_id_r`` from ``right``, ``match_probability``.
    """
    prep_l = prepare_records(left, uid_offset=0)
    prep_r = prepare_records(right, uid_offset=len(prep_l))
    variants = _has_alias_columns(left) or _has_alias_columns(right)
    scored = _splink_score([prep_l, prep_r], variants=variants)
    # Splink orders each pair by input table; make sure left is left regardless.
    uid_l, uid_r = scored["uid_l"].to_numpy(), scored["uid_r"].to_numpy()
    swap = uid_l >= len(prep_l)
    uid_l, uid_r = np.where(swap, uid_r, uid_l), np.where(swap, uid_l, uid_r)
    both = pd.concat([prep_l, prep_r], ignore_index=True)
    out = _pairs_from_uids(uid_l, uid_r, scored["match_probability"].to_numpy(), both)
    return _attach(out, "splink", len(out))


def splink_dedupe(df: pd.DataFrame) -> pd.DataFrame:
    """Deduplicate one canonical frame (one or many sources) with Splink 5, unsupervised.

    Returns:
        Every candidate pair Splink scored, each pair once.
    """
    prepared = prepare_records(df, uid_offset=0)
    scored = _splink_score([prepared], variants=_has_alias_columns(df))
    out = _pairs_from_uids(
        scored["uid_l"].to_numpy(),
        scored["uid_r"].to_numpy(),
        scored["match_probability"].to_numpy(),
        prepared,
    )
    return _attach(out, "splink", len(out))


# --------------------------------------------------------------------------------------
# recordlinkage (ECM)
# --------------------------------------------------------------------------------------


def _rl_frame(prepared: pd.DataFrame) -> pd.DataFrame:
    """The prepared records indexed by uid, as recordlinkage wants them."""
    frame = prepared.set_index("uid")
    return frame.drop(columns=["address_tokens", "forename_variants", "surname_variants"])


def _rl_indexer(keys: list[tuple[str, ...]]) -> Any:
    """The same blocking keys and swapped-name join as the Splink peer (keys on the
    alias lists left out: recordlinkage cannot explode them), plus a
    sorted-neighbourhood pass on surname within forename initial (recordlinkage's tool
    for typos in the sorting key)."""
    import recordlinkage
    from recordlinkage.index import Block, SortedNeighbourhood

    indexer = recordlinkage.Index()
    for key in keys:
        if ARRAY_COLUMNS & set(key):
            continue
        if SWAPPED_NAMES in key:
            rest = [column for column in key if column != SWAPPED_NAMES]
            indexer.add(Block(left_on=["forename", "surname", *rest],
                              right_on=["surname", "forename", *rest]))
        else:
            indexer.add(Block(list(key)))
    indexer.add(SortedNeighbourhood("surname", window=5, block_on="forename_initial"))
    return indexer


def _rl_features(
    candidates: Any, left: pd.DataFrame, right: pd.DataFrame, *, families: bool = False
) -> pd.DataFrame:
    """Binary features, as ECM needs: Jaro-Winkler >= 0.85 (the threshold the toolkit's
    documentation uses) on forename, surname and address, exact DOB and postcode.

    On data with families (``families``: the data has aliases, the switch the Splink
    peer uses) postcode and address become one feature, "same home" (either agrees): a
    household's members share both, and as two conditionally independent features ECM
    learns "same household" as its match class (on the standard synthetic set every
    pair agreeing on postcode and address alone got probability 1.0: 14,091 pairs, F1
    0.28; with one home feature F1 0.85 and no related false links). FEBRL's generator
    corrupts the two independently, so there they stay two features.
    """
    import recordlinkage

    compare = recordlinkage.Compare()
    compare.string("forename", "forename", method="jarowinkler", threshold=0.85, label="fn")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="sn")
    compare.exact("dob", "dob", label="dob")
    compare.exact("postcode", "postcode", label="pc")
    compare.string("address", "address", method="jarowinkler", threshold=0.85, label="addr")
    features = compare.compute(candidates, left, right).astype(np.int8)
    if families:
        features["home"] = np.maximum(features.pop("pc"), features.pop("addr"))
    return features


def _rl_classify(features: pd.DataFrame) -> np.ndarray:
    from recordlinkage import ECMClassifier

    ecm = ECMClassifier(binarize=None)
    ecm.fit_predict(features)
    return np.asarray(ecm.prob(features), dtype=float)


def recordlinkage_link(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Link two canonical frames with recordlinkage's Index -> Compare -> ECM path.

    Returns:
        Every candidate pair with the ECM's match probability.
    """
    prep_l = prepare_records(left, uid_offset=0)
    prep_r = prepare_records(right, uid_offset=len(prep_l))
    frame_l, frame_r = _rl_frame(prep_l), _rl_frame(prep_r)
    candidates = _rl_indexer(blocking_keys([prep_l, prep_r])).index(frame_l, frame_r)
    features = _rl_features(candidates, frame_l, frame_r,
                            families=_has_alias_columns(left) or _has_alias_columns(right))
    prob = _rl_classify(features)
    both = pd.concat([prep_l, prep_r], ignore_index=True)
    out = _pairs_from_uids(
        features.index.get_level_values(0).to_numpy(),
        features.index.get_level_values(1).to_numpy(),
        prob,
        both,
    )
    return _attach(out, "recordlinkage", len(candidates))


def recordlinkage_dedupe(df: pd.DataFrame) -> pd.DataFrame:
    """Deduplicate one canonical frame with recordlinkage's Index -> Compare -> ECM path."""
    prepared = prepare_records(df, uid_offset=0)
    frame = _rl_frame(prepared)
    candidates = _rl_indexer(blocking_keys([prepared])).index(frame)
    features = _rl_features(candidates, frame, frame, families=_has_alias_columns(df))
    prob = _rl_classify(features)
    out = _pairs_from_uids(
        features.index.get_level_values(0).to_numpy(),
        features.index.get_level_values(1).to_numpy(),
        prob,
        prepared,
    )
    return _attach(out, "recordlinkage", len(candidates))


# --------------------------------------------------------------------------------------
# Exact look-up (today's practice)
# --------------------------------------------------------------------------------------


def _exact_keys(frame: pd.DataFrame) -> pd.DataFrame:
    keys = pd.DataFrame(
        {
            "source": _text(frame, "source").to_numpy(),
            "record_id": _text(frame, "record_id").to_numpy(),
            "fn": _text(frame, "forename").str.upper().to_numpy(),
            "sn": _text(frame, "surname").str.upper().to_numpy(),
            "dob": _text(frame, "dob").to_numpy(),
        }
    )
    keys["row"] = np.arange(len(keys))
    return keys[(keys["fn"] != "") & (keys["sn"] != "") & (keys["dob"] != "")]


def _exact_output(joined: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "source_l": joined["source_l"].to_numpy(),
            "record_id_l": joined["record_id_l"].to_numpy(),
            "source_r": joined["source_r"].to_numpy(),
            "record_id_r": joined["record_id_r"].to_numpy(),
            "match_probability": np.ones(len(joined)),
        }
    )
    return _attach(out, "exact", len(out))


def exact_link(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Exact forename + surname + DOB after trimming and upper-casing (probability 1.0)."""
    joined = _exact_keys(left).merge(
        _exact_keys(right), on=["fn", "sn", "dob"], suffixes=("_l", "_r")
    )
    return _exact_output(joined)


def exact_dedupe(df: pd.DataFrame) -> pd.DataFrame:
    """Exact forename + surname + DOB within one frame, each pair once."""
    keys = _exact_keys(df)
    joined = keys.merge(keys, on=["fn", "sn", "dob"], suffixes=("_l", "_r"))
    joined = joined[joined["row_l"] < joined["row_r"]]
    return _exact_output(joined)


def exact_check(referrals: pd.DataFrame, agencies: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Today's "not known to service" look-up as results.csv rows: an agency record with the
    referral's exact forename, surname and DOB (trimmed, upper-cased) is ``known``; a
    referral with no such record at an agency gets one ``not_found`` row there.
    """
    ref = _exact_keys(referrals.assign(source="referral"))
    rows = []
    for name, frame in agencies.items():
        hits = ref.merge(_exact_keys(frame.assign(source=name)), on=["fn", "sn", "dob"],
                         suffixes=("", "_agency"))
        found = pd.DataFrame({"referral_id": hits["record_id"].to_numpy(), "source": name,
                              "record_id": hits["record_id_agency"].to_numpy(),
                              "status": "known"})
        missing = sorted(set(_text(referrals, "record_id")) - set(found["referral_id"]))
        rows += [found, pd.DataFrame({"referral_id": missing, "source": name,
                                      "record_id": "", "status": "not_found"})]
    return pd.concat(rows, ignore_index=True)


def splink_lookup_latency(paths: dict[str, str], referrals: pd.DataFrame) -> dict[str, Any]:
    """Splink 5's incremental look-up of one referral at a time, for the latency benchmark.

    The peer's best configuration (:func:`_splink_settings`, trained as in
    :func:`_splink_score`), the agency records registered once with their term-frequency
    tables computed and cached, then per referral: prepare it, register it and
    ``linker.inference.predict_between(records, referral)`` (Splink's API for new records
    against existing ones; ``find_matches_to_new_records`` before Splink 5), with the
    twins rule applied as in the dedupe. Runs in the measured child.

    Returns:
        ``seconds`` per referral (prepare, register, predict, fetch), ``build_seconds``
        (prepare, train, term frequencies) and ``candidates`` per referral.
    """
    import time

    import duckdb
    from splink import DuckDBAPI, Linker

    started = time.perf_counter()
    frame = pd.concat([read_canonical(p) for p in paths.values()], ignore_index=True)
    prepared = prepare_records(frame, uid_offset=0)
    variants = _has_alias_columns(frame)
    settings = _splink_settings(
        "dedupe_only", blocking_keys([prepared], variants=variants), variants=variants,
        uk_postcodes=_looks_like_uk_postcodes(prepared["postcode"]))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    seconds: list[float] = []
    candidates: list[int] = []
    try:
        with _quiet_splink():
            db_api = DuckDBAPI(connection=con)
            # A table, not a view of the DataFrame: each look-up reads the records again.
            con.register("_prepared", prepared)
            con.execute("CREATE TABLE agency_records AS SELECT * FROM _prepared")
            con.unregister("_prepared")
            records = db_api.register("agency_records", dataset_display_name="records")
            linker = Linker(records, settings)
            _train_splink(linker, families=variants)
            # The term-frequency tables of every adjusted column, computed once, not per
            # look-up (the family name comparison adjusts on the whole name too).
            for column in ("forename", "surname", "dob", "postcode",
                           *(("full_name",) if variants else ())):
                linker.table_management.compute_tf_table(column)
            built = time.perf_counter() - started
            refs = referrals.assign(source="referral")
            for i in range(len(refs)):
                t0 = time.perf_counter()
                new = prepare_records(refs.iloc[[i]], uid_offset=len(prepared) + i)
                table = db_api.register(new, dataset_display_name=f"referral_{i}")
                found = linker.inference.predict_between(records, table, warning_mode="never")
                sql = (_TWINS_SQL.format(table=found.physical_name) if variants else
                       f"SELECT uid_l, uid_r, match_probability FROM {found.physical_name}")
                candidates.append(len(con.sql(sql).df()))
                seconds.append(time.perf_counter() - t0)
                found.drop_table_from_database_and_remove_from_cache()
                table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    finally:
        con.close()
    return {"seconds": seconds, "build_seconds": round(built, 3), "candidates": candidates}
