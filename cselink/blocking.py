"""Blocking: the union of equi-join rules over name variants -> candidate pairs.

Reads ``records``, ``name_variants`` and ``name_tokens``; writes ``block_keys`` (one row per
record and name variant, with every key a rule may use) and ``pairs`` (uid_l < uid_r,
match_key = the first rule that found the pair). No rule is ever a cross join: each is an
equi-join on its keys, and its pair count is estimated from key counts before anything is
materialised, so a rule that would explode stops with :class:`PairExplosionError`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from ._sql import quote_ident
from .config import BlockingRule, Settings
from .errors import ConfigError, PairExplosionError, UsageError
from .schema import RECORDS_TABLE, VARIANTS_TABLE
from .standardise.names import variant_pairs

log = logging.getLogger(__name__)

#: How each key is computed from a ``block_keys`` row.
_KEY_SQL: dict[str, str] = {
    "fn": "fn", "sn": "sn",
    "fn_metaphone": "fn_metaphone", "sn_metaphone": "sn_metaphone",
    "fn_nysiis": "fn_nysiis", "sn_nysiis": "sn_nysiis",
    "fn_initial": "fn_initial", "sn_initial": "sn_initial",
    "dob": "dob", "dob_year": "dob_year", "dob_md": "dob_md", "dob_ym": "dob_ym",
    "dob_yd": "dob_yd",
    "sex": "sex", "pc": "pc", "pc_outward": "pc_outward", "pc_sector": "pc_sector",
    "nhs": "nhs", "addr_head": "addr_head",
    # Asymmetric keys: this side's expression joins the other side's plain key.
    "dob_swapped": "dob_swapped", "fn_alt": "alt",
    # A record without a usable date of birth (missing or a placeholder, and no year)
    # pairs with any record on the rule's other keys: DOB-keyed rules can never find it.
    "no_dob": "CASE WHEN dob IS NULL AND dob_year IS NULL THEN 0 END", "any": "0",
    # A record with only a year of birth (a year-only or 01/01 date) pairs with any
    # record born that year on the rule's other keys.
    "year_only": "CASE WHEN dob IS NULL THEN dob_year END",
    # A name the record is known by in its own right, not a middle name standing in for
    # the forename: two middle names that agree say little (every DOB has a few Graces).
    "main_name": "CASE WHEN main THEN 0 END", "fn_main": "CASE WHEN main THEN fn END",
}
#: For asymmetric keys, the key on the other side of the join. A nickname joins a main
#: forename: a middle name used as forename still meets the other record's forename, but
#: two records' middle names do not meet each other.
_PARTNER: dict[str, str] = {"dob_swapped": "dob", "fn_alt": "fn_main", "no_dob": "any",
                            "year_only": "dob_year"}


def block_keys_sql(
    *,
    records: str = RECORDS_TABLE,
    variants: str = VARIANTS_TABLE,
    tokens: str = "name_tokens",
    out: str = "block_keys",
    temporary: bool = False,
) -> str:
    """SQL creating ``block_keys``: one row per record and name variant (and name swap).

    ``main`` is false for a middle name standing in as the forename (the ``main_name``
    and ``fn_main`` keys read it).
    """
    rec, var, tok, dst = (quote_ident(x) for x in (records, variants, tokens, out))
    return f"""
    CREATE OR REPLACE {"TEMP TABLE" if temporary else "TABLE"} {dst} AS
    SELECT v.uid, r.source, v.fn, v.sn, v.main,
           tf.metaphone AS fn_metaphone, ts.metaphone AS sn_metaphone,
           tf.nysiis AS fn_nysiis, ts.nysiis AS sn_nysiis,
           v.fn[1] AS fn_initial, v.sn[1] AS sn_initial,
           r.dob, r.dob_swapped, r.dob_year,
           r.dob_ymd[5:] AS dob_md, r.dob_ymd[:6] AS dob_ym,
           r.dob_ymd[:4] || r.dob_ymd[7:] AS dob_yd,
           r.sex, r.pc, r.pc_outward, r.pc_sector, r.nhs, r.addr_head
    FROM (
        SELECT uid, fn, sn, kind IS DISTINCT FROM 'middle_name' AS main FROM {var}
        UNION  -- forename and surname recorded the other way round
        SELECT uid, sn, fn, TRUE FROM {rec} WHERE fn IS NOT NULL AND sn IS NOT NULL
        UNION  -- a record with no name at all still blocks on its DOB and address
        SELECT uid, NULL, NULL, TRUE FROM {rec} WHERE uid NOT IN (SELECT uid FROM {var})
    ) v
    JOIN {rec} r USING (uid)
    LEFT JOIN {tok} tf ON tf.name = v.fn
    LEFT JOIN {tok} ts ON ts.name = v.sn
    """


def _side_sql(rule: BlockingRule, *, partner: bool, keys_table: str = "block_keys",
              alts_table: str = "name_alts", hashed: bool = False) -> str:
    """The distinct (uid, source, k0, k1, ...) rows of one side of a rule's join.

    ``hashed``: the distinct (uid, source, h) rows instead, where h hashes the rule's keys
    into one integer, so the join compares one BIGINT, not several strings. A collision of
    two different keys (about 1 in 10^13 for a million keys) adds a pair that scoring
    then rejects; it never loses one.
    """
    cols, where = [], []
    needs_alt = False
    for i, key in enumerate(rule.keys):
        name = _PARTNER[key] if (partner and key in _PARTNER) else key
        expr = _KEY_SQL[name]
        needs_alt |= name == "fn_alt"
        cols.append(f"{expr} AS k{i}")
        where.append(f"{expr} IS NOT NULL")
    src = f"{keys_table} AS bk"
    if needs_alt:
        src += f" JOIN {quote_ident(alts_table)} na ON na.name = bk.fn"
    if hashed:
        keys = ", ".join(f"k{i}" for i in range(len(cols)))
        return (f"SELECT DISTINCT uid, source, hash({keys}) AS h FROM (SELECT uid, source, "
                f"{', '.join(cols)} FROM {src} WHERE {' AND '.join(where)})")
    return (
        f"SELECT DISTINCT uid, source, {', '.join(cols)} FROM {src} WHERE {' AND '.join(where)}"
    )


def _is_symmetric(rule: BlockingRule) -> bool:
    return not any(k in _PARTNER for k in rule.keys)


def rule_pairs_sql(
    rule: BlockingRule, *, link_only: bool, keys_table: str = "block_keys"
) -> str:
    """SELECT uid_l, uid_r (uid_l < uid_r) of the pairs one rule generates."""
    on = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(rule.keys)))
    cross = " AND a.source <> b.source" if link_only else ""
    if _is_symmetric(rule):
        side = _side_sql(rule, partner=False, keys_table=keys_table)
        return (
            f"SELECT DISTINCT a.uid AS uid_l, b.uid AS uid_r FROM ({side}) a "
            f"JOIN ({side}) b ON {on} AND a.uid < b.uid{cross}"
        )
    return (
        "SELECT DISTINCT least(a.uid, b.uid) AS uid_l, greatest(a.uid, b.uid) AS uid_r "
        f"FROM ({_side_sql(rule, partner=False, keys_table=keys_table)}) a "
        f"JOIN ({_side_sql(rule, partner=True, keys_table=keys_table)}) b "
        f"ON {on} AND a.uid <> b.uid{cross}"
    )


#: Separates the parts of a look-up key's text (no cleaned value holds it).
_KEY_SEPARATOR = "\x1f"


def key_hash_sql(rule_no: int, role: str, exprs: Sequence[str]) -> str:
    """SQL of a look-up key's hash: the low 64 bits of the MD5 of its text.

    The text is the rule number, the role and each key value as DuckDB writes it as
    VARCHAR (a DATE as 2010-03-04), joined by :data:`_KEY_SEPARATOR`. MD5, unlike DuckDB's
    ``hash``, is defined outside DuckDB, so :func:`key_hash` computes the same number in
    Python and a search of a few referrals needs no statement to hash its keys.
    """
    parts = ", ".join([f"'{int(rule_no)}'", f"'{role}'", *(f"({e})::VARCHAR" for e in exprs)])
    return f"md5_number_lower(concat_ws(chr(31), {parts}))"


def key_text(value: object) -> str:
    """A key value as DuckDB casts it to VARCHAR (dates ISO, integers plain)."""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def key_hash(rule_no: int, role: str, values: Sequence[object]) -> int:
    """:func:`key_hash_sql` in Python: the same UBIGINT for the same key."""
    text = _KEY_SEPARATOR.join([str(int(rule_no)), role, *(key_text(v) for v in values)])
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[8:], "little")


def _hash_sql(rule_no: int, role: str, rule: BlockingRule, *, partner: bool,
              keys_table: str, alts_table: str = "name_alts") -> str:
    """SELECT DISTINCT uid, rule, key_hash for one side of one rule (see block_index_sql)."""
    keys = [f"k{i}" for i in range(len(rule.keys))]
    side = _side_sql(rule, partner=partner, keys_table=keys_table, alts_table=alts_table)
    return (f"SELECT DISTINCT uid, {rule_no}::SMALLINT AS rule, "
            f"{key_hash_sql(rule_no, role, keys)} AS key_hash FROM ({side})")


def block_index_sql(rules: Sequence[BlockingRule], *, keys_table: str = "block_keys",
                    out: str = "block_index", skip: Collection[int] = ()) -> str:
    """SQL creating ``out(key_hash, rule, uids)``, one row per rule and key, for look-ups.

    Each record has one entry per rule: the hash of its keys (role 'p'); an asymmetric rule
    (swapped DOB, nicknames) also stores the hash of the record's partner keys (role 'q').
    The records sharing a hash are gathered in ``uids`` (sorted), so each key is one row:
    a query finds its candidates with an indexed ``key_hash IN (...)`` look-up (one row
    fetched per key) instead of joining every rule against every record. Rules numbered in
    ``skip`` (too broad for this data, see :func:`estimate_rules`) are left out.
    """
    parts = []
    for i, rule in enumerate(rules):
        if i in skip:
            continue
        parts.append(_hash_sql(i, "p", rule, partner=False, keys_table=keys_table))
        if not _is_symmetric(rule):
            parts.append(_hash_sql(i, "q", rule, partner=True, keys_table=keys_table))
    return (
        f"CREATE OR REPLACE TABLE {quote_ident(out)} AS "
        "SELECT key_hash, rule, list(uid ORDER BY uid) AS uids FROM ("
        + " UNION ALL ".join(parts) + ") GROUP BY key_hash, rule ORDER BY key_hash, rule"
    )


def query_key_sides(rules: Sequence[BlockingRule], *, skip: Collection[int] = (),
                    ) -> Iterator[tuple[int, str, list[str]]]:
    """(rule number, role, keys) of every key a query record looks up, rules in ``skip``
    left out: a symmetric rule's own keys, and both sides of an asymmetric one with the
    roles the indexed records' sides hold swapped (see :func:`block_index_sql`)."""
    for i, rule in enumerate(rules):
        if i in skip:
            continue
        sides = [("p", False)] if _is_symmetric(rule) else [("p", True), ("q", False)]
        for role, partner in sides:
            yield i, role, [_PARTNER[k] if (partner and k in _PARTNER) else k for k in rule.keys]


def query_hashes_sql(rules: Sequence[BlockingRule], *, keys_table: str,
                     alts_table: str = "name_alts", skip: Collection[int] = ()) -> str:
    """SELECT DISTINCT uid, rule, key_hash: what each query record looks up in ``block_index``.

    The same hashes as :func:`block_index_sql` computes for an indexed record, with the
    roles of an asymmetric rule's sides swapped, but as one pass over ``keys_table`` (a
    list of every rule's hash per row) instead of one query per rule and side: DuckDB
    plans a union of twenty-odd queries in tens of milliseconds, which a look-up of one
    referral cannot afford. ``alts_table`` must hold ``(fn, fn)`` for each query
    forename as well as its nicknames, as ``name_alts`` does for every indexed forename.
    Rules numbered in ``skip`` are left out, as :func:`block_index_sql` leaves them out.
    """
    plain: list[tuple[int, str]] = []
    with_alts: list[tuple[int, str]] = []
    for i, role, keys in query_key_sides(rules, skip=skip):
        exprs = [_KEY_SQL[k] for k in keys]
        present = " AND ".join(f"({e}) IS NOT NULL" for e in exprs)
        item = (i, f"CASE WHEN {present} THEN {key_hash_sql(i, role, exprs)} END")
        (with_alts if "fn_alt" in keys else plain).append(item)
    selects = []
    for items, src in ((plain, f"{quote_ident(keys_table)} bk"),
                       (with_alts, f"{quote_ident(keys_table)} bk "
                                   f"JOIN {quote_ident(alts_table)} na ON na.name = bk.fn")):
        if items:
            # Two lists unnested side by side (cheaper to plan than a list of structs).
            numbers = ", ".join(str(i) for i, _ in items)
            selects.append(
                f"SELECT uid, unnest([{numbers}]::SMALLINT[]) AS rule, "
                f"unnest([{', '.join(e for _, e in items)}]) AS key_hash FROM {src}")
    if not selects:
        return ("SELECT NULL::BIGINT AS uid, NULL::SMALLINT AS rule, "
                "NULL::UBIGINT AS key_hash LIMIT 0")
    return (f"SELECT DISTINCT uid, rule, key_hash FROM ({' UNION ALL '.join(selects)}) "
            "WHERE key_hash IS NOT NULL")


def rule_count_sql(
    rule: BlockingRule, *, link_only: bool, keys_table: str = "block_keys"
) -> str:
    """An upper bound of the pairs a rule generates, from key counts (no join of records)."""
    def side(partner: bool) -> str:
        return _side_sql(rule, partner=partner, keys_table=keys_table, hashed=True)

    if _is_symmetric(rule):
        if link_only:
            return (
                "SELECT coalesce(sum((t * t - s2) / 2), 0)::HUGEINT FROM ("
                "SELECT h, sum(n) AS t, sum(n * n) AS s2 FROM ("
                f"SELECT h, source, count(*)::HUGEINT AS n FROM ({side(False)}) "
                "GROUP BY ALL) GROUP BY h)"
            )
        return (
            "SELECT coalesce(sum(n * (n - 1) / 2), 0)::HUGEINT FROM ("
            f"SELECT count(*)::HUGEINT AS n FROM ({side(False)}) GROUP BY h)"
        )
    # A record meets itself on an asymmetric rule (a name is one of its own alternatives):
    # those matches are not pairs and are taken off.
    return (
        f"WITH a AS ({side(False)}), b AS ({side(True)}) "
        "SELECT (SELECT coalesce(sum(x.n * y.n), 0)::HUGEINT FROM "
        "(SELECT h, count(*)::HUGEINT AS n FROM a GROUP BY h) x JOIN "
        "(SELECT h, count(*)::HUGEINT AS n FROM b GROUP BY h) y USING (h)) - "
        "(SELECT count(*) FROM a JOIN b USING (uid, h))"
    )


def _pair_keys_sql(rule: BlockingRule, rule_no: int, *, link_only: bool) -> str:
    """SELECT k, rule: one row per pair found by a rule (repeats allowed), where
    k = uid_l << 32 | uid_r packs the pair into one integer for a cheap GROUP BY."""
    cross = " AND a.source <> b.source" if link_only else ""
    a = _side_sql(rule, partner=False, hashed=True)
    if _is_symmetric(rule):
        return (f"SELECT (a.uid::UBIGINT << 32) | b.uid::UBIGINT AS k, {rule_no}::TINYINT AS rule "
                f"FROM ({a}) a JOIN ({a}) b ON a.h = b.h AND a.uid < b.uid{cross}")
    b = _side_sql(rule, partner=True, hashed=True)
    return (f"SELECT (least(a.uid, b.uid)::UBIGINT << 32) | greatest(a.uid, b.uid)::UBIGINT "
            f"AS k, {rule_no}::TINYINT AS rule FROM ({a}) a JOIN ({b}) b "
            f"ON a.h = b.h AND a.uid <> b.uid{cross}")


#: Above this many records, rule pair counts are estimated from a sample of about this many.
ESTIMATE_SAMPLE_RECORDS = 200_000

#: Rules whose joins run in one statement hold at most about this many rows between them
#: (each rule: its estimated pairs plus one key row per record).
INSERT_GROUP_ROWS = 2_000_000

#: DuckDB memory a rule's join in a shared statement may count on, whatever its size (each
#: join operator reserves buffers of its own): fewer rules share a statement under a
#: small memory limit.
INSERT_GROUP_BYTES_PER_RULE = 50 * 2**20

_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50,
          "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}


def _memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> float:
    """DuckDB's memory limit in bytes (it reports it formatted: '190.7 MiB')."""
    text = str(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    number, _, unit = text.strip().partition(" ")
    try:
        return float(number) * _UNITS.get(unit.strip(), 1)
    except ValueError:
        return float("inf")


def _insert_groups(live: Sequence[int], estimates: Sequence[int], n_records: int,
                   max_rules: int) -> list[list[int]]:
    """The live rules in order, cut into runs of at most ``max_rules`` whose joins
    together stay small."""
    groups: list[list[int]] = []
    load = 0
    for i in live:
        cost = estimates[i] + n_records
        if groups and load + cost <= INSERT_GROUP_ROWS and len(groups[-1]) < max_rules:
            groups[-1].append(i)
            load += cost
        else:
            groups.append([i])
            load = cost
    return groups


@dataclass(frozen=True, slots=True)
class RuleStats:
    """What one blocking rule contributed."""

    rule: str
    estimated_pairs: int
    pairs: int
    new_pairs: int
    skipped: bool = False


def register_name_alts(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``name_alts(name, alt)``: each name and every name it may stand for."""
    alts = pd.DataFrame(sorted(variant_pairs()), columns=["name", "alt"])
    con.register("_alts_df", alts)
    con.execute(
        "CREATE OR REPLACE TABLE name_alts AS "
        "SELECT name, alt FROM _alts_df UNION "
        "SELECT DISTINCT fn, fn FROM name_variants WHERE fn IS NOT NULL"
    )
    con.unregister("_alts_df")


def estimate_rules(
    con: duckdb.DuckDBPyConnection, settings: Settings,
    rules: Sequence[BlockingRule] | None = None,
) -> tuple[list[int], set[int]]:
    """Each rule's estimated pairs over ``block_keys``, and the rules too broad to run.

    A rule with ``max_pairs_per_record`` is skipped when its estimate is above that many
    pairs per record. :func:`generate_pairs` and the look-up index
    (:mod:`cselink.lookup`) both run the rules this leaves, so a look-up finds the
    candidates a dedupe of the same records would.

    Returns:
        (estimates, numbers of the skipped rules).
    """
    rules = tuple(settings.blocking if rules is None else rules)
    link_only = settings.link_type == "link"
    n_records = int(con.execute("SELECT count(*) FROM records").fetchall()[0][0])
    # On large data the estimates come from a seeded sample of records (pairs scale with
    # the square of the sampling fraction): within a fraction of a percent, five times cheaper.
    frac = min(1.0, ESTIMATE_SAMPLE_RECORDS / max(n_records, 1))
    keys = ("block_keys" if frac == 1.0 else
            f"(SELECT * FROM block_keys WHERE hash(uid) % 1000000 < {int(frac * 1_000_000)})")
    # One statement for every rule: a statement's fixed cost (planning, starting the
    # threads) was most of each estimate on small data, and the counts are small.
    counts = con.execute("SELECT " + ", ".join(
        f"({rule_count_sql(rule, link_only=link_only, keys_table=keys)})" for rule in rules
    )).fetchall()[0] if rules else ()
    estimates: list[int] = []
    skipped: set[int] = set()
    for i, rule in enumerate(rules):
        est = int(int(counts[i]) / frac**2)
        if rule.max_pairs_per_record is not None and est > rule.max_pairs_per_record * n_records:
            log.info("blocking rule %s skipped: about %d pairs for %d records", rule.name, est,
                     n_records)
            skipped.add(i)
        estimates.append(est)
    return estimates, skipped


def generate_pairs(
    con: duckdb.DuckDBPyConnection, settings: Settings, *,
    rules: Sequence[BlockingRule] | None = None,
) -> list[RuleStats]:
    """Build ``pairs``: the union of every rule's pairs over ``block_keys``.

    Raises:
        PairExplosionError: a rule's estimated pair count exceeds ``settings.max_pairs``.
    """
    rules = tuple(settings.blocking if rules is None else rules)
    if len(rules) > 64:
        raise ConfigError(f"at most 64 blocking rules, not {len(rules)}")
    link_only = settings.link_type == "link"
    top_uid = con.execute("SELECT max(uid) FROM records").fetchall()[0][0]
    if top_uid is not None and top_uid >= 2**32:
        raise UsageError("more than 4,294,967,295 records are not supported")
    estimates, skipped = estimate_rules(con, settings, rules)
    for i, rule in enumerate(rules):
        if i not in skipped and estimates[i] > settings.max_pairs:
            raise PairExplosionError(
                f"blocking rule {rule.name!r} would generate about {estimates[i]:,} pairs, "
                f"more than max_pairs={settings.max_pairs:,}; add a key to the rule or raise "
                "max_pairs"
            )
    names = "[" + ", ".join("'" + r.name.replace("'", "''") + "'" for r in rules) + "]"
    # The rules' pairs are written out a few rules at a time, then aggregated once: the
    # first rule that found each pair, and a bit per rule (for the statistics below).
    # One query over the union of every rule would hold every rule's join at once, and
    # DuckDB's per-operator buffers alone then outgrow a small memory limit; one statement
    # per rule costs more in fixed overheads than in joins on small data.
    con.execute("CREATE OR REPLACE TEMP TABLE _rule_pairs (k UBIGINT, rule TINYINT)")
    n_records = int(con.execute("SELECT count(*) FROM records").fetchall()[0][0])
    live = [i for i in range(len(rules)) if i not in skipped]
    max_rules = max(1, int(_memory_limit_bytes(con) // INSERT_GROUP_BYTES_PER_RULE))
    for group in _insert_groups(live, estimates, n_records, max_rules):
        con.execute("INSERT INTO _rule_pairs " + " UNION ALL ".join(
            _pair_keys_sql(rules[i], i, link_only=link_only) for i in group))
    con.execute(
        f"""
        CREATE OR REPLACE TABLE pairs AS
        SELECT (k >> 32)::BIGINT AS uid_l, (k & 4294967295)::BIGINT AS uid_r,
               {names}[min(rule) + 1] AS match_key, bit_or(1::UBIGINT << rule) AS rules
        FROM _rule_pairs GROUP BY k
        """
    )
    con.execute("DROP TABLE _rule_pairs")
    sums = ", ".join(f"sum(((rules >> {i}) & 1)::BIGINT)" for i in live) or "0"
    found = con.execute(f"SELECT {sums} FROM pairs").fetchall()[0]
    counts = {i: int(found[j] or 0) for j, i in enumerate(live)}
    index = {r.name: i for i, r in enumerate(rules)}
    firsts = {index[k]: int(n) for k, n in con.execute(
        "SELECT match_key, count(*) FROM pairs GROUP BY match_key").fetchall()}
    stats = [
        RuleStats(rule.name, estimates[i], int(counts.get(i, 0)), int(firsts.get(i, 0)),
                  i in skipped)
        for i, rule in enumerate(rules)
    ]
    for s in stats:
        log.info("blocking rule %s: %d pairs (%d new)", s.rule, s.pairs, s.new_pairs)
    return stats
