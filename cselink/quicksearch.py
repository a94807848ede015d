"""A search of a few referrals in Python: :meth:`Linker.search`'s path for interactive use.

A referral meets a few dozen to a few hundred candidate records. DuckDB spends about 75 µs
planning each expression of a statement, whatever its rows, and the batch SQL a search
otherwise runs (standardise, block, compare, score: some 65 statements and thousands of
expressions) cost about 300 ms per referral while its work was a few milliseconds. This
module runs the same steps in Python after the ingest:

* :func:`standardise_rows` standardises the ingested queries with the per-value functions
  of :mod:`cselink.standardise` (what its SQL assembles, assembled here);
* :func:`query_hashes` gives their look-up keys' hashes (:func:`~cselink.blocking.key_hash`,
  the MD5 the look-up index stores), and three indexed statements fetch the candidates;
* :func:`pair_gammas` and :func:`PairScorer.score` compare and score each pair as
  :mod:`cselink.comparisons.vectors` and :mod:`cselink.scoring.fellegi_sunter` do in SQL;
* :func:`name_evidence` names the recorded name that matched, as
  :func:`cselink.explain.evidence_sql` does.

The SQL stays the definition: ``tests/test_quicksearch.py`` holds this module to the same
records, gammas, scores and search results on every record and candidate pair of a hard
synthetic population, so a change made to one and not the other fails the tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from fractions import Fraction
from functools import lru_cache
from typing import Any, Final

import duckdb
import numpy as np
import pandas as pd
from rapidfuzz.distance import DamerauLevenshtein, Hamming, Jaro, Levenshtein

from .blocking import key_hash, query_key_sides
from .comparisons import COMPARISONS
from .comparisons.vectors import (
    _NEIGHBOURS,
    CROSS_JW,
    SHORT_FORM_ENDINGS,
    SHORT_FORM_MIN_STEM,
    SHORT_FORM_MIN_TAIL,
)
from .config import BlockingRule
from .explain import reasons_text
from .lookup import _in_list
from .scoring.model import Model
from .standardise import (
    PLACEHOLDER_DATES,
    VARIANT_KINDS,
    YEAR_ONLY_MARKERS,
    _address_postcode_row,
    _address_row,
    _forename_row,
    _middle_row,
    _postcode_row,
    _surname_row,
)
from .standardise.names import RELIGIOUS_SURNAMES, clean_surname, split_full_name, variant_pairs
from .standardise.phonetic import phonetic_codes

Record = dict[str, Any]
#: A name variant: (uid, kind, fn, sn, detail), as a row of ``name_variants``.
Variant = tuple[int, str, "str | None", "str | None", "str | None"]

_PLACEHOLDERS: Final = frozenset(date.fromisoformat(d) for d in PLACEHOLDER_DATES)
_EARLIEST: Final = date(1850, 1, 1)
_ADDR_HEAD: Final = re.compile(r"([0-9]+[a-z]?) ([a-z]{2,})")
_NHS_DIGITS: Final = re.compile(r"[^0-9]")
_STEM: Final = re.compile(r"(sk|ck|dzk|ov|ev|in)(i|a|y)$")
_NEIGHBOUR_PAIRS: Final = frozenset(p for p in _NEIGHBOURS.split("|") if p)


# --- standardise -----------------------------------------------------------------------

def _dob_fields(dob: date | None, today: date,
                markers: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """dob, dob_year, dob_ymd, dob_quality and dob_swapped, as :func:`standardise` makes them."""
    if dob is None:
        quality = "missing"
    elif dob in _PLACEHOLDERS or dob < _EARLIEST or dob > today:
        quality = "placeholder"
    elif any(dob.month == m and dob.day == d for m, d in markers):
        quality = "year_only"
    else:
        quality = "full"
    full = dob if quality == "full" else None
    swapped = None
    if full is not None and full.day <= 12 and full.day != full.month:
        swapped = date(full.year, full.day, full.month)
    return {
        "dob": full,
        "dob_year": dob.year if dob is not None and quality in ("full", "year_only") else None,
        "dob_ymd": full.strftime("%Y%m%d") if full is not None else None,
        "dob_quality": quality,
        "dob_swapped": swapped,
    }


def _variants(rec: Record, aliases: Iterable[str | None], formers: Iterable[str | None],
              sn_parts: Sequence[str]) -> list[Variant]:
    """The record's name variants, one per (fn, sn), as ``name_variants`` holds them."""
    uid, fn, sn, mid = rec["uid"], rec["fn"], rec["sn"], rec["mid"]
    rows: list[tuple[int, str | None, str | None, str | None]] = [(0, fn, sn, None)]
    for raw in aliases:
        if raw is not None:
            afn, asn = split_full_name(raw)
            rows.append((1, afn, sn if asn is None else asn, raw))
    for raw in formers:
        if raw is not None:
            rows.append((2, fn, clean_surname(raw), raw))
    if len(sn_parts) > 1:
        rows.extend((3, fn, part, None) for part in sn_parts)
    if sn is not None:
        for m in mid:
            if (m in RELIGIOUS_SURNAMES) != (sn in RELIGIOUS_SURNAMES):
                rows.append((3, fn, m, None))
    rows.extend((4, m, sn, None) for m in mid)
    best: dict[tuple[str | None, str | None], list[Any]] = {}
    for k, vfn, vsn, detail in rows:
        if vfn is None and vsn is None:
            continue
        have = best.get((vfn, vsn))
        if have is None:
            best[(vfn, vsn)] = [k, detail, k]
            continue
        have[0] = min(have[0], k)
        # arg_min(detail, k): the detail of the lowest kind that has one.
        if detail is not None and (have[1] is None or k < have[2]):
            have[1], have[2] = detail, k
    out = [(uid, VARIANT_KINDS[k], vfn, vsn, detail)
           for (vfn, vsn), (k, detail, _) in best.items()]
    out.sort(key=lambda v: (VARIANT_KINDS.index(v[1]), _null_last(v[2]), _null_last(v[3])))
    return out


def _null_last(value: str | None) -> tuple[bool, str]:
    return (value is None, value or "")


def standardise_rows(rows: Sequence[Mapping[str, Any]], *, today: date | None = None,
                     year_only_markers: Sequence[tuple[int, int]] = YEAR_ONLY_MARKERS,
                     ) -> tuple[list[Record], list[Variant]]:
    """:func:`cselink.standardise.standardise` for a few ingested rows, in Python.

    ``rows`` are ``input_records`` rows (:mod:`cselink.schema`). Returns the records (the
    ``records`` columns, plus the main names' phonetic codes as ``fn_metaphone``,
    ``fn_nysiis``, ``sn_metaphone``, ``sn_nysiis``) and their name variants.
    """
    today = today or date.today()
    none3: tuple[Any, ...] = (None, None, None)
    records: list[Record] = []
    variants: list[Variant] = []
    for row in rows:
        forename, surname, middle_names, address, postcode = (
            row.get(c) for c in ("forename", "surname", "middle_names", "address", "postcode"))
        fn, fn_rest = _forename_row(forename) if forename is not None else (None, [])
        sn, sn_parts = _surname_row(surname) if surname is not None else (None, [])
        (middle,) = _middle_row(middle_names) if middle_names is not None else ([],)
        (tokens,) = _address_row(address) if address is not None else (None,)
        # The postcode field, else (field by field) one written in the address.
        given = _postcode_row(postcode) if postcode is not None else none3
        found = (_address_postcode_row(address) if postcode is None and address is not None
                 else none3)
        pc, outward, sector = (a if a is not None else b
                               for a, b in zip(given, found, strict=True))
        text = " ".join(tokens) if tokens is not None else None
        head = _ADDR_HEAD.search(text) if text else None
        nhs = row.get("nhs_number")
        rec: Record = {
            "uid": int(row["uid"]), "source": row.get("source"),
            "record_id": row.get("record_id"), "fn": fn, "sn": sn,
            "mid": fn_rest + middle,
            **_dob_fields(row.get("dob"), today, year_only_markers),
            "sex": row.get("sex") if row.get("sex") in ("M", "F") else None,
            "pc": pc, "pc_outward": outward, "pc_sector": sector,
            "addr": text if tokens else None,
            "addr_tokens": list(dict.fromkeys(tokens)) if tokens else None,
            "addr_head": head.group(0) if head else None,
            "nhs": _NHS_DIGITS.sub("", nhs) if row.get("nhs_number_valid") and nhs else None,
        }
        mine = _variants(rec, row.get("aliases") or (), row.get("former_surnames") or (),
                         sn_parts)
        rec["known_twin"] = False  # a query is never marked (cselink.profile)
        rec["fn_set"] = sorted({v[2] for v in mine if v[2] is not None})
        rec["sn_set"] = sorted({v[3] for v in mine if v[3] is not None})
        for part in ("fn", "sn"):
            codes = _codes(rec[part]) if rec[part] else (None, None, None)
            rec[f"{part}_metaphone"], rec[f"{part}_nysiis"] = codes[0], codes[1]
        records.append(rec)
        variants.extend(mine)
    return records, variants


# --- blocking --------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _alternatives() -> dict[str, frozenset[str]]:
    """Each name's nicknames and spelling variants (``name_alts`` without the identities)."""
    alts: dict[str, set[str]] = {}
    for a, b in variant_pairs():
        alts.setdefault(a, set()).add(b)
    return {name: frozenset(others) for name, others in alts.items()}


#: Name pairs learned from the data (``learned_names``: name -> {the names it may stand
#: for: the households that show it}).
Learned = Mapping[str, Mapping[str, int]]


def is_alternative(a: str, b: str, learned: Learned | None = None) -> bool:
    """True when ``a`` may stand for ``b``: a nickname or spelling variant of the curated
    tables, or a pair learned from the data (``name_alts`` holds both)."""
    return b in _alternatives().get(a, ()) or (learned is not None and b in learned.get(a, ()))


@lru_cache(maxsize=65536)
def _codes(name: str) -> tuple[str | None, str | None, str | None]:
    return phonetic_codes(name)


def _key_rows(rec: Record, variants: Sequence[Variant]) -> list[dict[str, Any]]:
    """The record's ``block_keys`` rows (:func:`~cselink.blocking.block_keys_sql`)."""
    names = {(v[2], v[3], v[1] != "middle_name") for v in variants}
    if rec["fn"] is not None and rec["sn"] is not None:
        names.add((rec["sn"], rec["fn"], True))
    if not variants:
        names.add((None, None, True))
    ymd = rec["dob_ymd"]
    common = {
        "dob": rec["dob"], "dob_swapped": rec["dob_swapped"], "dob_year": rec["dob_year"],
        "dob_md": ymd[4:] if ymd else None, "dob_ym": ymd[:6] if ymd else None,
        "dob_yd": ymd[:4] + ymd[6:] if ymd else None,
        "sex": rec["sex"], "pc": rec["pc"], "pc_outward": rec["pc_outward"],
        "pc_sector": rec["pc_sector"], "nhs": rec["nhs"], "addr_head": rec["addr_head"],
        "any": 0,
        "no_dob": 0 if rec["dob"] is None and rec["dob_year"] is None else None,
        "year_only": rec["dob_year"] if rec["dob"] is None else None,
    }
    rows = []
    for fn, sn, main in names:
        fcodes = _codes(fn) if fn else (None, None, None)
        scodes = _codes(sn) if sn else (None, None, None)
        rows.append({**common, "fn": fn, "sn": sn,
                     "fn_metaphone": fcodes[0], "fn_nysiis": fcodes[1],
                     "sn_metaphone": scodes[0], "sn_nysiis": scodes[1],
                     "fn_initial": fn[0] if fn else None, "sn_initial": sn[0] if sn else None,
                     "main_name": 0 if main else None, "fn_main": fn if main else None})
    return rows


def query_hashes(rules: Sequence[BlockingRule], rec: Record, variants: Sequence[Variant], *,
                 skip: Iterable[int] = (), learned: Learned | None = None,
                 ) -> set[tuple[int, int]]:
    """The (rule, key_hash) pairs a query looks up in ``lookup_blocks``.

    What :func:`~cselink.blocking.query_hashes_sql` gives for the record, in Python.
    """
    out: set[tuple[int, int]] = set()
    rows = _key_rows(rec, variants)
    for i, role, keys in query_key_sides(rules, skip=set(skip)):
        for row in rows:
            alts: Iterable[str | None] = [None]
            if "fn_alt" in keys:
                if row["fn"] is None:
                    continue
                alts = [row["fn"], *_alternatives().get(row["fn"], ()),
                        *(learned or {}).get(row["fn"], ())]
            for alt in alts:
                values = [alt if k == "fn_alt" else row[k] for k in keys]
                if all(v is not None for v in values):
                    out.add((i, key_hash(i, role, values)))
    return out


# --- comparisons -----------------------------------------------------------------------

def _winkler(jaro: float, prefix: int, fused: bool) -> float:
    """The Winkler step, ``jaro + prefix * 0.1 * (1 - jaro)`` above 0.7, rounded as DuckDB
    rounds it: once, when its build fuses the multiply and add (``fused``), else twice."""
    if jaro <= 0.7:
        return jaro
    if fused:
        return float(Fraction(jaro) + Fraction(prefix * 0.1) * Fraction(1.0 - jaro))
    return jaro + prefix * 0.1 * (1.0 - jaro)


def _prefix(a: str, b: str) -> int:
    """Length of the common prefix, up to four characters."""
    n = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        n += 1
    return n


#: Two strings whose Jaro-Winkler similarity differs in the last bit between a fused and
#: an unfused Winkler step.
_FMA_PROBE: Final = ("cc", "cdadccbddde")


@lru_cache(maxsize=1)
def _duckdb_fuses_winkler() -> bool:
    """Whether the DuckDB build in use computes the Winkler step with a fused multiply-add.

    DuckDB's Jaro-Winkler (rapidfuzz-derived C++) finds the same Jaro similarity as
    rapidfuzz bit for bit, but a compiler may fuse its Winkler step; asked once, so that
    a level decided at a threshold is decided the same way here.
    """
    a, b = _FMA_PROBE
    with duckdb.connect() as con:
        row = con.execute("SELECT jaro_winkler_similarity(?, ?)", [a, b]).fetchone()
    assert row is not None
    return bool(row[0] == _winkler(Jaro.similarity(a, b), _prefix(a, b), True))


def jaro_winkler(a: str | None, b: str | None) -> float | None:
    """DuckDB's ``jaro_winkler_similarity``, bit for bit (None for NULL)."""
    if a is None or b is None:
        return None
    return _winkler(Jaro.similarity(a, b), _prefix(a, b), _duckdb_fuses_winkler())


def _ge(value: float | None, threshold: float) -> bool:
    return value is not None and value >= threshold


def _typo(a: str, b: str) -> bool:
    """:func:`cselink.comparisons.vectors.typo_sql` in Python."""
    if len(a) == len(b):
        differ = [i for i in range(len(a)) if a[i] != b[i]]
        if len(differ) == 1:
            return a[differ[0]] + b[differ[0]] in _NEIGHBOUR_PAIRS
        if len(differ) == 2:
            return DamerauLevenshtein.distance(a, b) == 1
        return False
    if len(a) == len(b) + 1:
        return _doubled(a, b)
    if len(b) == len(a) + 1:
        return _doubled(b, a)
    return False


def _doubled(longer: str, shorter: str) -> bool:
    return any(longer[i] == longer[i + 1] and longer[:i + 1] + longer[i + 2:] == shorter
               for i in range(len(longer) - 1))


def _stem(name: str) -> str:
    return _STEM.sub(r"\1", name, count=1)


_SHORT_ENDING = re.compile(f"({'|'.join(SHORT_FORM_ENDINGS)})$")


def is_short_form(a: str, b: str) -> bool:
    """:func:`cselink.comparisons.vectors.short_form_sql` in Python."""
    if len(a) == len(b):
        return False
    short, full = (a, b) if len(a) < len(b) else (b, a)
    stem = _SHORT_ENDING.sub("", short, count=1)
    if len(stem) >= 2 and stem[-1] == stem[-2]:
        stem = stem[:-1]
    return ((len(stem) >= SHORT_FORM_MIN_STEM and full.startswith(stem))
            or (len(short) >= SHORT_FORM_MIN_TAIL and full.endswith(short)))


def _name_features(part: str, a: str | None, b: str | None,
                   learned: Learned | None = None) -> dict[str, Any]:
    """The ``_feat`` tables' features of two main names, as ``gammas_sql`` reads them:
    ``jw``, ``phon``, and for forenames ``alt`` and ``typo``, for surnames ``stem``."""
    if a is None or b is None:
        return {"jw": None, "alt": False, "phon": False, "stem": False, "typo": False}
    if a == b:
        return {"jw": 1.0, "alt": True, "phon": True, "stem": False, "typo": False}
    jw = jaro_winkler(a, b)
    ca, cb = _codes(a), _codes(b)
    phon = (ca[0] is not None and ca[0] == cb[0]) or (ca[1] is not None and ca[1] == cb[1])
    forename = part == "fn"
    return {"jw": jw, "alt": forename and (is_alternative(a, b, learned) or is_short_form(a, b)),
            "phon": phon,
            "stem": not forename and _stem(a) == _stem(b),
            "typo": forename and _ge(jw, 0.80) and _typo(a, b)}


def _more(rec: Record, part: str) -> list[str] | None:
    """``<part>_more``: the record's set of ``part`` names when it holds more than its main
    name, else None (:func:`cselink.comparisons.vectors._other_names`)."""
    names = rec[f"{part}_set"] or []
    if len(names) > 1 or rec[part] != (names[0] if names else None):
        return list(names)
    return None


def _other_names(rec: Record, part: str) -> list[str | None]:
    """The names of ``part`` the any-name test reads: the set, or the main name alone."""
    more = _more(rec, part)
    return [rec[part]] if more is None else more


def _any(l_rec: Record, r_rec: Record, part: str) -> bool:
    left = {n for n in _other_names(l_rec, part) if n is not None}
    return any(n in left for n in _other_names(r_rec, part) if n is not None)


def _given_apart(l_rec: Record, r_rec: Record) -> bool:
    fl, fr = l_rec["fn"], r_rec["fn"]
    ml, mr = l_rec["mid"] or [], r_rec["mid"] or []
    if fl is None or fr is None or not (ml or mr):
        return False
    gl, gr = {fl, *ml}, {fr, *mr}
    return bool(gl & gr) and not gl <= gr and not gr <= gl


def _level(comparison: str, tests: Sequence[tuple[str, bool]]) -> int:
    """The gamma of the first level (strongest first) whose test holds; 0 if none."""
    c = COMPARISONS[comparison]
    for label, holds in tests:
        if holds:
            return c.gamma_of(label)
    return 0


def _forename_gamma(fn_l: str | None, fn_r: str | None, f: Mapping[str, Any],
                    fn_any: bool) -> int:
    return _level("forename", [
        ("missing", (fn_l is None or fn_r is None) and not fn_any),
        ("exact", fn_l is not None and fn_l == fn_r),
        ("exact_other_name", fn_any),
        ("nickname_or_spelling", f["alt"]),
        ("jaro_winkler_at_least_0.92", _ge(f["jw"], 0.92)),
        ("similar_or_sounds_alike", _ge(f["jw"], 0.80) or f["phon"]),
        ("initial", fn_l is not None and fn_r is not None
         and (len(fn_l) == 1 or len(fn_r) == 1) and fn_l[0] == fn_r[0]),
    ])


def _surname_gamma(sn_l: str | None, sn_r: str | None, s: Mapping[str, Any],
                   sn_any: bool) -> int:
    return _level("surname", [
        ("missing", (sn_l is None or sn_r is None) and not sn_any),
        ("exact", sn_l is not None and sn_l == sn_r),
        ("exact_other_name", sn_any),
        ("jaro_winkler_at_least_0.92", _ge(s["jw"], 0.92) or s["stem"]),
        ("similar_or_sounds_alike", _ge(s["jw"], 0.80) or s["phon"]),
    ])


def _cross(a: str | None, b: str | None) -> bool:
    """``coalesce(x >= CROSS_JW, FALSE)`` of a crossed pair of names (first letters agree)."""
    if a is None or b is None or a[0] != b[0]:
        return False
    return _ge(jaro_winkler(a, b), CROSS_JW)


def _in_more(name: str | None, rec: Record, part: str) -> bool:
    """``coalesce(list_contains(<part>_more, name), FALSE)``."""
    more = _more(rec, part)
    return name is not None and more is not None and name in more


def _eq(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a == b


def _record_gammas(comparison: str, lrec: Record, rrec: Record) -> int:
    """The gamma of a record comparison (date of birth, home, sex, NHS number)."""
    if comparison == "dob":
        if lrec["dob_year"] is None or rrec["dob_year"] is None:
            return -1
        ld, rd, ly, ry = lrec["dob"], rrec["dob"], lrec["dob_ymd"], rrec["dob_ymd"]
        ham = Hamming.distance(ly, ry) if ly is not None and ry is not None else None
        both = ld is not None and rd is not None
        return _level("dob", [
            ("exact", _eq(ld, rd)),
            ("day_month_swapped", _eq(ld, rrec["dob_swapped"])),
            ("one_edit", ham is not None and (ham <= 1 or (ham == 2 and sorted(ly) == sorted(ry)))),
            ("same_year_and_month", both and ld.year == rd.year and ld.month == rd.month),
            ("year_off_by_one", both and abs(ld.year - rd.year) == 1 and ld.month == rd.month
             and ld.day == rd.day),
            ("same_year", _eq(lrec["dob_year"], rrec["dob_year"])),
        ])
    if comparison == "postcode":
        lp, rp = lrec["pc"], rrec["pc"]
        if lp is None or rp is None:
            return -1
        lev = Levenshtein.distance(lp, rp)
        return _level("postcode", [
            ("exact", lp == rp),
            ("sector", _eq(lrec["pc_sector"], rrec["pc_sector"])),
            ("district", _eq(lrec["pc_outward"], rrec["pc_outward"])),
            ("transposed", lev == 2 and DamerauLevenshtein.distance(lp, rp) == 1),
            ("one_edit", lev <= 1),
        ])
    if comparison in ("address", "location"):
        dice, jw = _address_features(lrec, rrec)
        most = _ge(dice, 0.75) or _ge(jw, 0.93)
        addr_missing = lrec["addr"] is None or rrec["addr"] is None
        if comparison == "address":
            if addr_missing:
                return -1
            return _level("address", [
                ("exact", lrec["addr"] == rrec["addr"]), ("most_words", most),
                ("some_words", _ge(dice, 0.45) or _ge(jw, 0.85)),
            ])
        pc_missing = lrec["pc"] is None or rrec["pc"] is None
        if pc_missing and addr_missing:
            return -1
        same_pc = not pc_missing and lrec["pc"] == rrec["pc"]
        return _level("location", [
            ("same_address", not addr_missing and (lrec["addr"] == rrec["addr"] or most)
             and (pc_missing or same_pc)),
            ("same_postcode", same_pc),
            ("similar_address", not addr_missing and most),
            ("same_sector", (not pc_missing and _eq(lrec["pc_sector"], rrec["pc_sector"]))
             or (not addr_missing and _ge(dice, 0.45))),
            ("same_district", not pc_missing and (
                _eq(lrec["pc_outward"], rrec["pc_outward"])
                or DamerauLevenshtein.distance(lrec["pc"], rrec["pc"]) <= 1)),
        ])
    column = {"sex": "sex", "nhs_number": "nhs"}[comparison]
    if lrec[column] is None or rrec[column] is None:
        return -1
    return _level(comparison, [("agree", lrec[column] == rrec[column])])


def _address_features(lrec: Record, rrec: Record) -> tuple[float | None, float | None]:
    """(Dice of the address words, Jaro-Winkler of the whole addresses)."""
    lt, rt = lrec["addr_tokens"], rrec["addr_tokens"]
    dice = None
    if lt is not None and rt is not None and len(lt) + len(rt):
        theirs = set(rt)
        dice = 2 * sum(t in theirs for t in lt) / (len(lt) + len(rt))
    return dice, jaro_winkler(lrec["addr"], rrec["addr"])


def _left_over(x: str | None, y: str | None,
               learned: Learned | None = None) -> tuple[int, bool]:
    """The forename gamma of the two names left over when one name is recorded crossed, and
    whether they are one typing slip apart."""
    if x is None or y is None:
        return -1, False
    jw = jaro_winkler(x, y)
    gamma = _level("forename", [
        ("nickname_or_spelling", x == y or is_alternative(x, y, learned)),
        ("jaro_winkler_at_least_0.92", _ge(jw, 0.92)),
        ("similar_or_sounds_alike", _ge(jw, 0.80)),
    ])
    return gamma, _ge(jw, 0.80) and _typo(x, y)


def pair_gammas(comparisons: Sequence[str], lrec: Record, rrec: Record,
                learned: Learned | None = None) -> dict[str, Any]:
    """One pair's row of the ``gammas`` table (:func:`~cselink.comparisons.vectors.gammas_sql`).

    ``lrec`` and ``rrec`` are ``records`` rows (``lrec`` the lower uid, or the indexed
    record of a search). Returns ``gamma_<comparison>`` per comparison, ``twin_given_names``,
    ``fn_variant``, ``twin_evident``, ``dob_year_only``, ``fn_l``, ``sn_l`` and ``swapped``.
    """
    fn_l, fn_r, sn_l, sn_r = lrec["fn"], rrec["fn"], lrec["sn"], rrec["sn"]
    f = _name_features("fn", fn_l, fn_r, learned)
    s = _name_features("sn", sn_l, sn_r)
    fn_any, sn_any = _any(lrec, rrec, "fn"), _any(lrec, rrec, "sn")
    g_fn0 = _forename_gamma(fn_l, fn_r, f, fn_any)
    g_sn0 = _surname_gamma(sn_l, sn_r, s, sn_any)
    fc, sc = COMPARISONS["forename"], COMPARISONS["surname"]
    has_names = "forename" in comparisons and "surname" in comparisons
    swapped = crossed = left_typo = False
    g_fn, g_sn = g_fn0, g_sn0
    if has_names:
        fj, sj = fc.gamma_of("jaro_winkler_at_least_0.92"), sc.gamma_of(
            "jaro_winkler_at_least_0.92")
        a = _cross(fn_l, sn_r) or _in_more(fn_l, rrec, "sn")
        b = _cross(sn_l, fn_r) or _in_more(fn_r, lrec, "sn")
        crossed = a or b
        swapped = int(a) + int(b) > int(g_fn0 >= fj) + int(g_sn0 >= sj)
        if swapped:
            g_sn = max(g_sn0, sj)
            if a and b:
                g_fn = max(g_fn0, fj)
            else:
                g_fn, left_typo = _left_over(*((sn_l, fn_r) if a else (fn_l, sn_r)), learned)
    out: dict[str, Any] = {}
    for name in comparisons:
        if name == "forename":
            out["gamma_forename"] = g_fn
        elif name == "surname":
            out["gamma_surname"] = g_sn
        else:
            out[COMPARISONS[name].gamma_column] = _record_gammas(name, lrec, rrec)
    twin = False
    if "forename" in comparisons:
        similar_names = ((fn_l is not None and fn_l == fn_r) or f["alt"] or _ge(f["jw"], 0.92)
                         or _ge(f["jw"], 0.80) or f["phon"])
        twin = _given_apart(lrec, rrec) and not similar_names and not crossed
    out.update(twin_given_names=twin, fn_variant=f["typo"] or f["phon"] or left_typo,
               twin_evident=bool(lrec["known_twin"]) or bool(rrec["known_twin"]),
               dob_year_only=lrec["dob"] is None or rrec["dob"] is None,
               fn_l=fn_l, sn_l=sn_l, swapped=swapped)
    return out


# --- scoring ---------------------------------------------------------------------------

def possible_relatives(comparisons: Sequence[str], g: Mapping[str, Any]) -> bool:
    """:func:`cselink.scoring.fellegi_sunter.relatives_sql` for one pair's gammas."""
    comps = set(comparisons)
    if not {"forename", "surname"} <= comps:
        return False
    fc, sc = COMPARISONS["forename"], COMPARISONS["surname"]
    places = []
    if "postcode" in comps:
        places.append(g["gamma_postcode"] == COMPARISONS["postcode"].gamma_of("exact"))
    if "address" in comps:
        places.append(g["gamma_address"] >= COMPARISONS["address"].gamma_of("most_words"))
    if "location" in comps:
        places.append(g["gamma_location"]
                      >= COMPARISONS["location"].gamma_of("similar_address"))
    if not places:
        return False
    fn = g["gamma_forename"]
    different = 0 <= fn <= fc.gamma_of("initial")
    if "dob" in comps:
        dc = COMPARISONS["dob"]
        dob = g["gamma_dob"]
        near = (dc.gamma_of("same_year"), dc.gamma_of("same_year_and_month"))
        apart = dob == dc.gamma_of("different") or (dob in near and not g["dob_year_only"])
        different = (different or (apart and 0 <= fn <= fc.gamma_of("exact_other_name"))
                     or (dob == dc.gamma_of("exact") and (
                         (0 <= fn <= fc.gamma_of("similar_or_sounds_alike")
                          and not g["fn_variant"]) or bool(g["twin_given_names"]))))
    nhs = ("nhs_number" not in comps
           or g["gamma_nhs_number"] != COMPARISONS["nhs_number"].gamma_of("agree"))
    return (g["gamma_surname"] >= sc.gamma_of("jaro_winkler_at_least_0.92")
            and any(places) and different and nhs)


class PairScorer:
    """:func:`cselink.scoring.fellegi_sunter.scores_sql` for single pairs.

    ``tf`` maps ``"forename"`` / ``"surname"`` to (term frequency per name, sum of
    squared frequencies, smallest frequency): the ``tf_fn`` / ``tf_sn`` tables' values for
    the pairs' names, and the two constants over the whole table.
    """

    def __init__(self, model: Model, *, tf: Mapping[str, tuple[Mapping[str, float], float,
                                                                float]],
                 tf_adjust: bool = True, tf_cap: float = 6.0,
                 twins_probability: float | None = 0.001,
                 siblings_probability: float | None = None) -> None:
        self.model = model
        self.tf = tf
        self.tf_adjust = tf_adjust
        self.tf_cap = tf_cap
        self.twins = twins_probability
        siblings_probability = siblings_probability or twins_probability
        self.cap_twins, self.cap_siblings = (
            (math.log2(p / (1 - p)) if p else 0.0)
            for p in (twins_probability, siblings_probability))
        self.same_day = COMPARISONS["dob"].gamma_of("exact")
        self.weights = {name: [model.weight(name, g) for g in range(COMPARISONS[name].n_levels)]
                        for name in model.comparisons}
        # Per name comparison: the exact (term-frequency) levels and the near-miss level.
        self.tf_levels = {
            name: ({c.gamma_of(lv.label) for lv in c.non_null_levels if lv.tf},
                   c.gamma_of("jaro_winkler_at_least_0.92"))
            for name, c in ((n, COMPARISONS[n]) for n in ("forename", "surname"))}

    def _tf_adjustment(self, name: str, g: Mapping[str, Any]) -> float | None:
        gamma = g[COMPARISONS[name].gamma_column]
        exact, near = self.tf_levels[name]
        crossed = bool(g.get("swapped")) and gamma == near
        if gamma not in exact and not crossed:
            return None
        freqs, u_exact, tf_min = self.tf[name]
        value = g["fn_l" if name == "forename" else "sn_l"]
        tf = freqs.get(value, tf_min) if value is not None else tf_min
        adj = max(min(math.log2(u_exact / tf), self.tf_cap), -self.tf_cap)
        return adj if gamma in exact else min(adj, 0.0)

    def score(self, g: Mapping[str, Any]) -> dict[str, Any]:
        """``mw_<comparison>``, ``possible_twins``, ``match_weight`` and
        ``match_probability`` of one pair's gammas."""
        out: dict[str, Any] = {}
        total = self.model.prior_weight
        for name in self.model.comparisons:
            gamma = g[COMPARISONS[name].gamma_column]
            mw = self.weights[name][gamma] if gamma >= 0 else 0.0
            if self.tf_adjust and name in ("forename", "surname"):
                adj = self._tf_adjustment(name, g)
                mw = mw + (adj if adj is not None else 0.0)
            out[f"mw_{name}"] = mw
            total += mw
        twins = self.twins is not None and possible_relatives(self.model.comparisons, g)
        if twins:
            cap = (self.cap_twins if "dob" in self.model.comparisons
                   and g["gamma_dob"] == self.same_day and not g["twin_evident"]
                   else self.cap_siblings)
            weight = min(total, cap + min(out.get("mw_sex", 0.0), 0.0))
        else:
            weight = total
        out.update(possible_twins=twins, match_weight=weight,
                   match_probability=1.0 / (1.0 + math.pow(2.0, -weight)))
        return out


# --- explain ---------------------------------------------------------------------------

def name_evidence(column: str, left: Sequence[Variant], right: Sequence[Variant],
                  ) -> dict[str, Any] | None:
    """Which recorded name two records share in ``column`` ("fn"/"sn") when not both main.

    :func:`cselink.explain.evidence_sql` for one pair: the (side, kind, value) of the
    shared name, preferring one main name, then by kind and name.
    """
    index = 2 if column == "fn" else 3
    best: tuple[Any, ...] | None = None
    pick: dict[str, Any] | None = None
    for vl in left:
        if vl[index] is None:
            continue
        for vr in right:
            if vr[index] != vl[index] or (vl[1] == "primary" and vr[1] == "primary"):
                continue
            order = ((vl[1] != "primary") + (vr[1] != "primary"), vl[1], vr[1], vl[index])
            if best is None or order < best:
                chosen = vl if vl[1] != "primary" else vr
                best = order
                pick = {"side": "l" if vl[1] != "primary" else "r", "kind": chosen[1],
                        "value": chosen[4] if chosen[4] is not None else chosen[index]}
    return pick


def _by_uid(variants: Iterable[Variant]) -> dict[int, list[Variant]]:
    """Name variants grouped by their record's uid, in order."""
    out: dict[int, list[Variant]] = {}
    for v in variants:
        out.setdefault(v[0], []).append(v)
    return out


# --- the search ------------------------------------------------------------------------

def _fetch_records(con: duckdb.DuckDBPyConnection, sql: str) -> list[Record]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _term_frequencies(candidates: Sequence[Record],
                      constants: Mapping[str, tuple[float, float]],
                      ) -> dict[str, tuple[dict[str, float], float, float]]:
    """The term frequencies of the candidates' main names (``lookup_records.tf_fn`` /
    ``tf_sn``, from the ``tf_fn`` / ``tf_sn`` tables), with the constants."""
    found: dict[str, dict[str, float]] = {"forename": {}, "surname": {}}
    for c in candidates:
        for part, name, tf in (("forename", "fn", "tf_fn"), ("surname", "sn", "tf_sn")):
            if c[name] is not None and c[tf] is not None:
                found[part][c[name]] = c[tf]
    return {part: (found[part], *constants[part]) for part in ("forename", "surname")}


def term_frequency_constants(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[float, float]]:
    """Per name part: the sum of squared term frequencies and the smallest one."""
    row = con.execute("SELECT (SELECT sum(tf * tf) FROM tf_fn), (SELECT min(tf) FROM tf_fn), "
                      "(SELECT sum(tf * tf) FROM tf_sn), (SELECT min(tf) FROM tf_sn)"
                      ).fetchall()[0]
    return {"forename": (row[0], row[1]), "surname": (row[2], row[3])}


def search_index(
    con: duckdb.DuckDBPyConnection, queries: Sequence[Record], query_variants: Sequence[Variant],
    *, rules: Sequence[BlockingRule], skip: Iterable[int], model: Model,
    tf_constants: Mapping[str, tuple[float, float]], tf_adjust: bool, tf_cap: float,
    twins_probability: float | None, threshold: float, query_label: str,
    learned: Learned | None = None, siblings_probability: float | None = None,
) -> pd.DataFrame:
    """Candidates of standardised queries from the look-up index, scored and explained.

    The frame :meth:`cselink.Linker.search` returns (see there), from the look-up tables
    of :mod:`cselink.lookup`: the indexed records sharing a blocking key with a query,
    compared and scored in Python.
    """
    comparisons = list(model.comparisons)
    names = [rule.name for rule in rules]
    wanted: dict[tuple[int, int], list[int]] = {}
    by_uid = {q["uid"]: q for q in queries}
    q_variants = _by_uid(query_variants)
    for q in queries:
        for item in query_hashes(rules, q, q_variants.get(q["uid"], []), skip=skip,
                                 learned=learned):
            wanted.setdefault(item, []).append(q["uid"])
    first_rule: dict[tuple[int, int], int] = {}
    if wanted:
        hashes = sorted({h for _, h in wanted})
        for h, rule, uids in con.execute(
                "SELECT key_hash, rule, uids FROM lookup_blocks "
                f"WHERE key_hash IN ({_in_list(hashes)})").fetchall():
            for q_uid in wanted.get((int(rule), int(h)), ()):
                for uid in uids:
                    if uid < q_uid:
                        key = (int(uid), q_uid)
                        first_rule[key] = min(first_rule.get(key, rule), rule)
    uids = sorted({u for u, _ in first_rule})
    candidates = {c["uid"]: c for c in _fetch_records(
        con, f"SELECT * FROM lookup_records WHERE uid IN ({_in_list(uids)})")} if uids else {}
    scorer = PairScorer(model, tf=_term_frequencies(list(candidates.values()),
                                                      tf_constants) if tf_adjust else {},
                        tf_adjust=tf_adjust, tf_cap=tf_cap, twins_probability=twins_probability,
                        siblings_probability=siblings_probability)
    rows = []
    for (uid, q_uid), rule in first_rule.items():
        g = pair_gammas(comparisons, candidates[uid], by_uid[q_uid], learned)
        s = scorer.score(g)
        if s["match_probability"] < threshold:
            continue
        rows.append({"uid_l": uid, "uid_r": q_uid, **g, **s, "match_key": names[rule]})
    _add_evidence(con, rows, q_variants)
    out = []
    for row in rows:
        cand, query = candidates[row["uid_l"]], by_uid[row["uid_r"]]
        out.append({
            "query_id": query["record_id"], "source": cand["source"],
            "record_id": cand["record_id"], "match_probability": row["match_probability"],
            "match_weight": row["match_weight"],
            "reasons": reasons_text(
                {**row, "fn_name_l": cand["fn"], "fn_name_r": query["fn"],
                 "sn_name_l": cand["sn"], "sn_name_r": query["sn"],
                 "fn_learned": (learned or {}).get(cand["fn"], {}).get(query["fn"])},
                comparisons, source_l=cand["source"], source_r=query_label),
            **{COMPARISONS[c].gamma_column: row[COMPARISONS[c].gamma_column]
               for c in comparisons},
            **{f"mw_{c}": row[f"mw_{c}"] for c in comparisons},
            "match_key": row["match_key"], "possible_twins": row["possible_twins"],
        })
    out.sort(key=lambda r: (r["query_id"], -r["match_weight"], r["source"], r["record_id"]))
    # Typed columns built directly: DataFrame.astype per column cost more than the search.
    return pd.DataFrame({name: np.array([r[name] for r in out], dtype=dtype)
                         for name, dtype in _columns(comparisons)})


def _columns(comparisons: Sequence[str]) -> list[tuple[str, Any]]:
    """The search frame's columns and their dtypes, as DuckDB hands the SQL search's over."""
    return [("query_id", object), ("source", object), ("record_id", object),
            ("match_probability", np.float64), ("match_weight", np.float64),
            ("reasons", object),
            *((COMPARISONS[c].gamma_column, np.int8) for c in comparisons),
            *((f"mw_{c}", np.float64) for c in comparisons),
            ("match_key", object), ("possible_twins", np.bool_)]


def _add_evidence(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]],
                  query_variants: Mapping[int, list[Variant]]) -> None:
    """Set ``fn_ev`` / ``sn_ev`` of the pairs whose names agree through another name."""
    parts = [(p, COMPARISONS[c].gamma_column, COMPARISONS[c].gamma_of("exact_other_name"))
             for p, c in (("fn", "forename"), ("sn", "surname"))]
    named = sorted({r["uid_l"] for r in rows for _, col, level in parts
                    if r.get(col) == level})
    found: dict[int, list[Variant]] = {}
    if named:
        found = _by_uid(tuple(v) for v in con.execute(
            "SELECT uid, kind, fn, sn, detail FROM lookup_variants "
            f"WHERE uid IN ({_in_list(named)}) ORDER BY uid, kind, fn, sn").fetchall())
    for r in rows:
        for part, col, level in parts:
            r[f"{part}_ev"] = (name_evidence(part, found.get(r["uid_l"], []),
                                             query_variants.get(r["uid_r"], []))
                               if r.get(col) == level else None)
