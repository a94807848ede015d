"""What the data says about itself, before blocking: households, twins and the home fields.

Reads ``records``, ``name_alts``, ``name_tokens`` and ``tf_fn``; writes ``learned_names``
(and adds its pairs to ``name_alts``) and sets ``records.known_twin``. The answers shape the
model instead of a data-set profile chosen by a user:

* **Households.** Pairs of records *within one source* that share a family name and a
  home but were born at clearly different times under clearly different forenames are
  brothers and sisters: an agency does not record one child twice with another name and
  another date of birth. Any population of children has them in numbers (far more than
  one record in a hundred has a sibling at the same address in the same agency), while a
  register with no families (FEBRL, an adult register) has next to none. Where households
  occur, address and postcode are one piece of evidence (``location``: counted twice they
  make siblings look like one person) and the twins-and-siblings guard is on. Where they
  do not, address and postcode are compared separately (each a view of the home with its
  own recording errors) and the guard has nothing to guard against.
* **Names written two ways.** A pair of forenames that recurs, in many unrelated
  households, as the only difference between records that agree on surname, date of birth
  and home is one name written two ways (Olly / Oliver), even where no name table knows
  it. Twins' name pairs do not recur across households beyond what chance gives common
  names. Pairs that recur far more often than the names' own frequencies predict are
  learned (:func:`learn_names`) and join the curated ones in ``name_alts``.
* **Twin-like pairs.** A family of which some agency holds two children born the same day
  under different forenames has twins (``records.known_twin``): its twin-like pairs are the
  twins. Pairs with the same family name, date of birth and home but clearly different
  forenames are counted within sources (twins: an agency holds both) and across sources in
  the other families (twins, or one child recorded under another forename), by whether
  their recorded sexes agree. The opposite-sex pairs (twins only) tell how many of the same-sex
  pairs across sources are twins; the rest are one person: the guard's probability,
  learned instead of fixed (:func:`estimate_twins_probability`).

The classification of a pair reuses the comparison ladders and the guard's own SQL
(:mod:`cselink.comparisons`, :func:`cselink.scoring.fellegi_sunter.relatives_sql`), so the
profile and the scoring cannot disagree on what "clearly different forenames" means.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import duckdb

from .comparisons import COMPARISONS
from .comparisons.vectors import comparison_sqls
from .schema import RECORDS_TABLE

log = logging.getLogger(__name__)

#: The comparisons the profile classifies pairs with (the home as one piece of evidence).
_PROFILE_COMPARISONS: Final[tuple[str, ...]] = (
    "forename", "surname", "dob", "location", "nhs_number",
)

#: Households are present when at least this share of records has a brother or sister
#: (same family name and home, born apart, another forename) in its own source. Among
#: children, most have a sibling and many share an agency with one; a register without
#: families gets such pairs only from a record corrupted in forename and date at once.
MIN_SIBLING_SHARE: Final[float] = 0.01

#: A forename pair is learned as one name written two ways only when it is the difference
#: in at least this many households (a single household, or two, proves nothing: twins
#: are sometimes given related names) ...
MIN_HOUSEHOLDS: Final[int] = 3
#: ... and when chance (the two names' shares among all forenames) would give that many
#: less often than this (a Poisson tail, small enough for thousands of name pairs).
MAX_CHANCE: Final[float] = 1e-6

#: The share of twin pairs of opposite sex: half of non-identical twins, who are about two
#: thirds of twins in England and Wales. The data's own share replaces it as twin pairs
#: within sources accumulate (it counts as this many pairs of evidence).
OPPOSITE_SEX_TWINS: Final[float] = 1.0 / 3.0
TWIN_SEX_PRIOR_PAIRS: Final[float] = 30.0

#: The most the guard's learned probability may be. Only pairs of a family no agency shows
#: to have twins get it (``records.known_twin``): those the data cannot tell apart. A pair
#: of records that agree on family, birth day and home but not on forename is never
#: certain, whatever the data says of such pairs on the whole.
MAX_TWINS_PROBABILITY: Final[float] = 0.95

#: At most this many family pairs are compared to count relatives (a seeded sample above).
MAX_PROFILE_PAIRS: Final[int] = 100_000

#: Below this many records the profile cannot tell a register without families from a
#: small sample of one (1% of 500 records is five sibling pairs): households are assumed.
MIN_PROFILE_RECORDS: Final[int] = 500

#: Comparisons when households are present, and when they are not.
WITH_HOUSEHOLDS: Final[tuple[str, ...]] = (
    "forename", "surname", "dob", "location", "sex", "nhs_number",
)
WITHOUT_HOUSEHOLDS: Final[tuple[str, ...]] = (
    "forename", "surname", "dob", "postcode", "address", "sex", "nhs_number",
)


@dataclass(frozen=True, slots=True)
class DataProfile:
    """The facts the profile counted and what it decided from them.

    Attributes:
        records: records profiled.
        sibling_pairs: within-source pairs that look like brothers and sisters.
        twin_pairs_within: within-source pairs with the same family name, date of birth
            and home and clearly different forenames.
        twin_pairs_across: the same across sources.
        households: whether households are present (decides the next two).
        comparisons: the comparisons chosen for the model.
        twins_guard: whether the twins-and-siblings guard is needed.
        twin_sexes_within: within-source twin-like pairs of (the same, opposite) sex.
        twin_sexes_across: the same across sources, in families no agency shows to have
            twins.
        learned_names: forename pairs learned as one name written two ways, each with the
            households that show it and the number chance predicts.
    """

    records: int
    sibling_pairs: int
    twin_pairs_within: int
    twin_pairs_across: int
    households: bool
    comparisons: tuple[str, ...]
    twins_guard: bool
    twin_sexes_within: tuple[int, int] = (0, 0)
    twin_sexes_across: tuple[int, int] = (0, 0)
    learned_names: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in the model file and the audit)."""
        out = asdict(self)
        out["comparisons"] = list(self.comparisons)
        out["twin_sexes_within"] = list(self.twin_sexes_within)
        out["twin_sexes_across"] = list(self.twin_sexes_across)
        out["learned_names"] = [dict(x) for x in self.learned_names]
        out["min_sibling_share"] = MIN_SIBLING_SHARE
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataProfile:
        """The profile :meth:`to_dict` wrote."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["comparisons"] = tuple(known.get("comparisons", WITH_HOUSEHOLDS))
        known["learned_names"] = tuple(dict(x) for x in known.get("learned_names", ()))
        for key in ("twin_sexes_within", "twin_sexes_across"):
            known[key] = tuple(known.get(key, (0, 0)))
        return cls(**known)

    def explain(self) -> str:
        """One line saying what was decided and why (counts only, no personal data)."""
        share = self.sibling_pairs / max(self.records, 1)
        if self.households:
            text = (f"households present ({self.sibling_pairs} sibling-like pairs within "
                    f"sources, {share:.1%} of records): address and postcode compared as one "
                    "location; twins-and-siblings guard on")
        else:
            text = (f"no households ({self.sibling_pairs} sibling-like pairs within sources, "
                    f"{share:.2%} of records): address and postcode compared separately; "
                    "twins-and-siblings guard off")
        return f"{text}; {len(self.learned_names)} forename pair(s) learned as one name"


def family_pairs_sql(
    *, records_table: str = RECORDS_TABLE, out_table: str = "_family_pairs"
) -> str:
    """Pairs of records sharing a main family name and the head of their address (house
    number and street), within and across sources: the pairs a household or twin makes.

    One equi-join, so the pairs grow with household sizes, not with the square of a common
    surname. Not the postcode: a postcode holds many homes (a UK unit about fifteen, other
    countries' codes thousands), and two strangers of one common surname share one easily.
    Pairs with the same main forename (one young person in two agencies, mostly) are left
    out: they are neither relatives nor evidence of a name written two ways.
    """
    homes = (f"(SELECT uid, source, sn, fn, addr_head AS home FROM {records_table} "
             "WHERE sn IS NOT NULL AND addr_head IS NOT NULL)")
    return f"""
    CREATE OR REPLACE TEMP TABLE {out_table} AS
    SELECT DISTINCT least(a.uid, b.uid) AS uid_l, greatest(a.uid, b.uid) AS uid_r,
           NULL::VARCHAR AS match_key, a.source = b.source AS same_source
    FROM {homes} a JOIN {homes} b ON a.sn = b.sn AND a.home = b.home AND a.uid < b.uid
     AND a.fn IS DISTINCT FROM b.fn
    """


def name_pair_counts_sql(*, records_table: str = RECORDS_TABLE,
                         pairs_table: str = "_family_pairs",
                         alts_table: str = "name_alts", tf_table: str = "tf_fn") -> str:
    """Per unordered pair of main forenames not already known to ``alts_table``: the
    households (family name, date of birth, home) where it is the only difference, the
    two names' shares among all forenames (``tf_table``) and the number of (household,
    forename pair) units at all (the chance model's trials).

    Reads the family pairs (:func:`family_pairs_sql`) with an exact, full date of birth.
    """
    return f"""
    WITH units AS (
        SELECT DISTINCT least(l.fn, r.fn) AS a, greatest(l.fn, r.fn) AS b,
               l.sn || '|' || l.dob::VARCHAR || '|' || l.addr_head AS household
        FROM {pairs_table} p
        JOIN {records_table} l ON l.uid = p.uid_l
        JOIN {records_table} r ON r.uid = p.uid_r
        WHERE l.dob IS NOT NULL AND l.dob = r.dob AND l.fn IS NOT NULL AND r.fn IS NOT NULL
          AND l.fn <> r.fn
    ), pairs AS (
        SELECT a, b, count(*) AS households FROM units GROUP BY a, b
    )
    SELECT p.a, p.b, p.households, ta.tf AS tf_a, tb.tf AS tf_b,
           (SELECT count(*) FROM units) AS units
    FROM pairs p JOIN {tf_table} ta ON ta.value = p.a JOIN {tf_table} tb ON tb.value = p.b
    WHERE p.households >= {MIN_HOUSEHOLDS}
      AND NOT EXISTS (SELECT 1 FROM {alts_table} x WHERE x.name = p.a AND x.alt = p.b)
    ORDER BY p.a, p.b
    """


def learn_names(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The forename pairs learned as one name written two ways, with their evidence.

    Under chance (two unrelated names, as twins are given) each (household, forename pair)
    unit is a given pair with probability ``2 * tf_a * tf_b``, the names'
    shares among all forenames; a pair is learned where seeing its count or more in that
    many households has a Poisson probability below :data:`MAX_CHANCE`. Reads
    ``_family_pairs`` and ``tf_fn``.
    """
    from scipy.stats import poisson

    out = []
    for a, b, households, tf_a, tf_b, units in con.execute(
            name_pair_counts_sql()).fetchall():
        expected = units * 2.0 * tf_a * tf_b
        chance = float(poisson.sf(households - 1, expected))
        if chance < MAX_CHANCE:
            out.append({"name": a, "alt": b, "households": int(households),
                        "expected": round(expected, 6), "chance": chance})
    return out


def learned_names_table_sql(table: str = "learned_names") -> str:
    """An empty ``learned_names(name, alt, households, expected)`` table."""
    return (f"CREATE OR REPLACE TABLE {table} (name VARCHAR, alt VARCHAR, "
            "households INTEGER, expected DOUBLE)")


def add_learned_names(con: duckdb.DuckDBPyConnection, learned: Sequence[dict[str, Any]]) -> None:
    """Store learned pairs in ``learned_names`` (both directions) and add them to
    ``name_alts``, so comparisons, blocking and the guard read them as any variant."""
    con.execute(learned_names_table_sql())
    rows = [(x["name"], x["alt"], x["households"], x["expected"]) for x in learned]
    rows += [(b, a, h, e) for a, b, h, e in rows]
    if rows:
        con.executemany("INSERT INTO learned_names VALUES (?, ?, ?, ?)", rows)
        con.execute("INSERT INTO name_alts SELECT name, alt FROM learned_names")


def mark_known_twins_sql(records_table: str = "records", alts_table: str = "name_alts") -> str:
    """Set ``known_twin`` on every record of a family (surname, date of birth, address head)
    of which some agency holds two children born that day under different forenames, ones
    that are not the same name written another way (``alts_table``). An agency rarely holds
    one child twice under two forenames, so such a family has twins: a twin-like pair of
    its records across agencies is the twins, not one child under another name. A query
    (a referral) is never marked: its own source holds nobody else."""
    rec, alts = records_table, alts_table
    return f"""
    UPDATE {rec} SET known_twin = TRUE WHERE (sn, dob, addr_head) IN (
        SELECT (a.sn, a.dob, a.addr_head) FROM {rec} a JOIN {rec} b
          ON a.source = b.source AND a.sn = b.sn AND a.dob = b.dob
         AND a.addr_head = b.addr_head AND a.uid <> b.uid AND a.fn <> b.fn
        WHERE NOT EXISTS (SELECT 1 FROM {alts} x WHERE x.name = a.fn AND x.alt = b.fn))
    """


def profile_data(con: duckdb.DuckDBPyConnection, *, twins_guard: bool = True,
                 learn: bool = True, seed: int = 42) -> DataProfile:
    """Count households and twin-like pairs in ``records`` and decide the model's shape.

    Args:
        con: a connection holding the standardised tables.
        twins_guard: False when the user turned the guard off: it stays off.
        learn: learn forenames written two ways and add them to ``name_alts`` (first, so
            the counts below see them as variants, as the scoring will).
        seed: seeds the sample of pairs classified on large data.
    """
    from .scoring.fellegi_sunter import relatives_sql

    n = int(con.execute(f"SELECT count(*) FROM {RECORDS_TABLE}").fetchall()[0][0])
    con.execute(family_pairs_sql())
    learned: list[dict[str, Any]] = []
    if learn:
        learned = learn_names(con)
        add_learned_names(con, learned)
    con.execute(mark_known_twins_sql())
    # The decisions read shares and ratios of these counts: on large data a seeded sample of
    # the pairs gives them (counts scaled back up) at a fraction of the comparisons' cost.
    total = int(con.execute("SELECT count(*) FROM _family_pairs").fetchall()[0][0])
    fraction = min(1.0, MAX_PROFILE_PAIRS / max(total, 1))
    if fraction < 1.0:
        con.execute("DELETE FROM _family_pairs WHERE hash(uid_l, uid_r, $1::BIGINT) % 1000000 "
                    ">= $2", [seed, int(fraction * 1_000_000)])
    comps = [COMPARISONS[c] for c in _PROFILE_COMPARISONS]
    for stmt in comparison_sqls(comps, pairs_table="_family_pairs", out_table="_family_gammas",
                                temporary=True, evidence=False):
        con.execute(stmt)
    relatives = relatives_sql(_PROFILE_COMPARISONS) or "FALSE"
    dob, fn = COMPARISONS["dob"], COMPARISONS["forename"]
    different = f"gamma_forename BETWEEN 0 AND {fn.gamma_of('initial')}"
    twin = f"{relatives} AND gamma_dob = {dob.gamma_of('exact')}"
    # Sexes both recorded: the same, or different (twins of opposite sex).
    same_sex = "l.sex IS NOT NULL AND l.sex = r.sex"
    other_sex = "l.sex IS NOT NULL AND r.sex IS NOT NULL AND l.sex <> r.sex"
    # Across sources, only pairs of families no agency shows to have twins: the others are
    # the twins themselves, and the guard treats them so (twin_evident).
    unseen = "NOT (l.known_twin OR r.known_twin)"
    row = con.execute(
        f"""SELECT
            count(*) FILTER (WHERE p.same_source AND {relatives}
                             AND gamma_dob = {dob.gamma_of('different')} AND {different}),
            count(*) FILTER (WHERE p.same_source AND {twin}),
            count(*) FILTER (WHERE NOT p.same_source AND {twin}),
            count(*) FILTER (WHERE p.same_source AND {twin} AND {same_sex}),
            count(*) FILTER (WHERE p.same_source AND {twin} AND {other_sex}),
            count(*) FILTER (WHERE NOT p.same_source AND {twin} AND {same_sex} AND {unseen}),
            count(*) FILTER (WHERE NOT p.same_source AND {twin} AND {other_sex} AND {unseen})
        FROM _family_gammas g JOIN _family_pairs p USING (uid_l, uid_r)
        JOIN records l ON l.uid = p.uid_l JOIN records r ON r.uid = p.uid_r"""
    ).fetchall()[0]
    con.execute("DROP TABLE _family_gammas")
    con.execute("DROP TABLE _family_pairs")
    (siblings, twins_within, twins_across, within_same, within_other, across_same,
     across_other) = (round((x or 0) / fraction) for x in row)
    # Too few records to see siblings in: the population cselink is for (children, with
    # brothers and sisters) is assumed, as the shipped default model is.
    households = n < MIN_PROFILE_RECORDS or siblings >= MIN_SIBLING_SHARE * n
    profile = DataProfile(
        records=n, sibling_pairs=siblings, twin_pairs_within=twins_within,
        twin_pairs_across=twins_across,
        twin_sexes_within=(within_same, within_other),
        twin_sexes_across=(across_same, across_other),
        households=households,
        comparisons=WITH_HOUSEHOLDS if households else WITHOUT_HOUSEHOLDS,
        twins_guard=households and twins_guard,
        learned_names=tuple(learned),
    )
    log.info("data profile: %s", profile.explain())
    return profile


def estimate_twins_probability(profile: DataProfile, floor: float) -> float:
    """P(one person | a twin-like pair of one recorded sex), learned from the profile.

    Sex is the instrument. Twins are of opposite sex in about a third of pairs (half of
    non-identical twins); one young person recorded twice almost never is. Within a source
    the twin-like pairs are twins (an agency rarely holds one child twice under two
    forenames), which gives the share ``s`` of opposite-sex twin pairs in these records
    (shrunk towards a third where they are few). Across sources, the opposite-sex
    twin-like pairs then tell how many same-sex twin pairs to expect,
    ``across_other * (1 - s) / s``; the same-sex pairs beyond that are one person. Only
    pairs of families no agency shows to have twins are counted across sources (the others
    are the twins themselves: :func:`mark_known_twins_sql`). Neither
    the sources' sizes nor how many young people they share enter the estimate. Clipped to
    [``floor``, :data:`MAX_TWINS_PROBABILITY`].
    """
    within_same, within_other = profile.twin_sexes_within
    across_same, across_other = profile.twin_sexes_across
    if across_same <= 0:
        return floor
    prior_weight = TWIN_SEX_PRIOR_PAIRS
    share = (within_other + OPPOSITE_SEX_TWINS * prior_weight) / (
        within_same + within_other + prior_weight)
    twins_same = across_other * (1.0 - share) / share
    share_one = (across_same - twins_same) / across_same
    return float(min(MAX_TWINS_PROBABILITY, max(floor, share_one)))


def resolve_comparisons(explicit: Sequence[str] | None, profile: DataProfile) -> tuple[str, ...]:
    """The comparisons to use: the settings' own, or the profile's choice."""
    return tuple(explicit) if explicit else profile.comparisons
