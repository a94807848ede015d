"""Comparison vectors: candidate pairs -> one gamma per comparison.

Reads a pair table (``uid_l, uid_r`` and optionally ``match_key``), ``records``,
``name_variants``, ``name_tokens`` and ``name_alts``; writes the gamma table:

    uid_l, uid_r, match_key, gamma_<comparison>..., and the name evidence
    (kind_l, kind_r, fn_l, fn_r, sn_l, sn_r, detail_l, detail_r, swapped)

Names are compared over every pair of name variants of the two records (and the
forename/surname swap); the pair keeps the best combination and remembers which variants
it used. String similarities are computed once per DISTINCT pair of names and joined back.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._sql import quote_ident
from .levels import Comparison

#: Rank of a variant kind when two combinations score the same (lower is preferred).
_KIND_RANK = (
    "CASE {k} WHEN 'primary' THEN 0 WHEN 'alias' THEN 1 WHEN 'former_surname' THEN 2 "
    "WHEN 'surname_part' THEN 3 ELSE 4 END"
)

#: Which names a pair's best combination used (for the reasons), kept beside its gammas.
_EVIDENCE = ("kind_l", "kind_r", "fn_l", "fn_r", "sn_l", "sn_r", "detail_l", "detail_r",
             "swapped")

#: Polish/Czech/Russian surname endings that change with sex: Kowalski/Kowalska.
_STEM = "regexp_replace({}, '(sk|ck|dzk|ov|ev|in)(i|a|y)$', '\\1')"


def combos_sql(pairs_table: str) -> str:
    """Every (left variant, right variant) combination of each pair, plus the swaps."""
    p = quote_ident(pairs_table)
    return f"""
    CREATE OR REPLACE TEMP TABLE _combos AS
    SELECT p.uid_l, p.uid_r, vl.fn AS fn_l, vr.fn AS fn_r, vl.sn AS sn_l, vr.sn AS sn_r,
           coalesce(vl.fn_other OR vr.fn_other, FALSE) AS fn_other,
           coalesce(vl.sn_other OR vr.sn_other, FALSE) AS sn_other,
           vl.kind AS kind_l, vr.kind AS kind_r, vl.detail AS detail_l, vr.detail AS detail_r,
           FALSE AS swapped
    FROM {p} p
    LEFT JOIN name_variants vl ON vl.uid = p.uid_l
    LEFT JOIN name_variants vr ON vr.uid = p.uid_r
    UNION ALL
    SELECT p.uid_l, p.uid_r, s.a_fn, s.b_fn, s.a_sn, s.b_sn, TRUE, TRUE,
           'primary', 'primary', NULL, NULL, TRUE
    FROM {p} p
    JOIN records l ON l.uid = p.uid_l
    JOIN records r ON r.uid = p.uid_r,
    LATERAL (SELECT unnest([l.fn, l.sn]) AS a_fn, unnest([r.sn, r.fn]) AS b_fn,
                    unnest([l.sn, l.fn]) AS a_sn, unnest([r.fn, r.sn]) AS b_sn) s
    WHERE l.fn IS NOT NULL AND l.sn IS NOT NULL AND r.fn IS NOT NULL AND r.sn IS NOT NULL
      AND l.fn <> l.sn AND r.fn <> r.sn AND (l.fn = r.sn OR l.sn = r.fn)
    """


def name_features_sql(prefix: str) -> str:
    """Similarity features of each DISTINCT name pair of one name part (fn or sn)."""
    stem = f"{_STEM.format('d.a')} = {_STEM.format('d.b')} AND d.a <> d.b"
    return f"""
    CREATE OR REPLACE TEMP TABLE _{prefix}_feat AS
    SELECT d.a, d.b,
           jaro_winkler_similarity(d.a, d.b) AS {prefix}_jw,
           na.name IS NOT NULL AS {prefix}_alt,
           coalesce(ta.metaphone = tb.metaphone OR ta.nysiis = tb.nysiis, FALSE) AS {prefix}_phon,
           coalesce({stem}, FALSE) AS {prefix}_stem
    FROM (SELECT DISTINCT {prefix}_l AS a, {prefix}_r AS b FROM _combos
          WHERE {prefix}_l IS NOT NULL AND {prefix}_r IS NOT NULL) d
    LEFT JOIN name_alts na ON na.name = d.a AND na.alt = d.b
    LEFT JOIN name_tokens ta ON ta.name = d.a
    LEFT JOIN name_tokens tb ON tb.name = d.b
    """


def best_names_sql(
    forename: Comparison | None, surname: Comparison | None, *, evidence: bool = True
) -> str:
    """Per pair, the name combination with the strongest forename + surname levels.

    ``evidence=False`` keeps only the two gammas (enough for training, and cheaper).
    """
    # A swapped name agrees no more strongly than a near-miss spelling: common names
    # (James Thomas / Thomas James) swap into other people's names too easily.
    g_fn = (f"CASE WHEN swapped THEN least({forename.gamma_sql()}, "
            f"{forename.gamma_of('jaro_winkler_at_least_0.92')}) ELSE {forename.gamma_sql()} END"
            if forename else "NULL::INTEGER")
    g_sn = (f"CASE WHEN swapped THEN least({surname.gamma_sql()}, "
            f"{surname.gamma_of('jaro_winkler_at_least_0.92')}) ELSE {surname.gamma_sql()} END"
            if surname else "NULL::INTEGER")
    n_fn = max(forename.n_levels - 1, 1) if forename else 1
    n_sn = max(surname.n_levels - 1, 1) if surname else 1
    rank = f"({_KIND_RANK.format(k='kind_l')} + {_KIND_RANK.format(k='kind_r')} + swapped::INT * 5)"
    fields = "g_fn, g_sn" + (", " + ", ".join(_EVIDENCE) if evidence else "")
    return f"""
    CREATE OR REPLACE TEMP TABLE _best_names AS
    WITH scored AS (
        SELECT c.*, {g_fn} AS g_fn, {g_sn} AS g_sn
        FROM (
            SELECT c.*, f.fn_jw, f.fn_alt, f.fn_phon, s.sn_jw, s.sn_phon, s.sn_stem
            FROM _combos c
            LEFT JOIN _fn_feat f ON f.a = c.fn_l AND f.b = c.fn_r
            LEFT JOIN _sn_feat s ON s.a = c.sn_l AND s.b = c.sn_r
        ) c
    )
    SELECT uid_l, uid_r,
           arg_max(struct_pack({fields}),
                   struct_pack(score := greatest(g_fn, 0) / {n_fn} + greatest(g_sn, 0) / {n_sn},
                               gs := g_sn, gf := g_fn, r := -{rank},
                               h := hash(fn_l, fn_r, sn_l, sn_r, kind_l, kind_r, detail_l,
                                         detail_r))) AS best
    FROM scored
    GROUP BY uid_l, uid_r
    """


def gammas_sql(
    comparisons: Sequence[Comparison], *, pairs_table: str, out_table: str,
    temporary: bool = False, evidence: bool = True,
) -> str:
    """The gamma table: record comparisons on ``l``/``r`` plus the best name combination."""
    p, out = quote_ident(pairs_table), quote_ident(out_table)
    cols = []
    for c in comparisons:
        if c.name == "forename":
            cols.append("b.best.g_fn AS gamma_forename")
        elif c.name == "surname":
            cols.append("b.best.g_sn AS gamma_surname")
        else:
            cols.append(f"({c.gamma_sql()})::TINYINT AS {quote_ident(c.gamma_column)}")
    evidence_cols = "".join(f", b.best.{k} AS {k}" for k in (_EVIDENCE if evidence else ()))
    features = {name: sql for c in comparisons for name, sql in c.features}
    feature_cols = "".join(f", {sql} AS {quote_ident(name)}" for name, sql in features.items())
    # The inner query carries each record as a struct (l, r), so the level conditions read
    # l.<column> / r.<column> unchanged, and computes every feature once per pair.
    return f"""
    CREATE OR REPLACE {"TEMP TABLE" if temporary else "TABLE"} {out} AS
    SELECT p.uid_l, p.uid_r, p.match_key, {", ".join(cols)}{evidence_cols}
    FROM (
        SELECT p.uid_l, p.uid_r, p.match_key, l, r{feature_cols}
        FROM {p} p
        JOIN records l ON l.uid = p.uid_l
        JOIN records r ON r.uid = p.uid_r
    ) p
    LEFT JOIN _best_names b ON b.uid_l = p.uid_l AND b.uid_r = p.uid_r
    ORDER BY p.uid_l, p.uid_r
    """


def comparison_sqls(
    comparisons: Sequence[Comparison], *, pairs_table: str = "pairs", out_table: str = "gammas",
    temporary: bool = False, evidence: bool = True,
) -> list[str]:
    """Every statement, in order, that turns ``pairs_table`` into ``out_table``.

    ``pairs_table`` needs ``uid_l, uid_r, match_key`` (match_key may be NULL).
    """
    by_name = {c.name: c for c in comparisons}
    stmts = [combos_sql(pairs_table), name_features_sql("fn"), name_features_sql("sn"),
             best_names_sql(by_name.get("forename"), by_name.get("surname"),
                            evidence=evidence),
             gammas_sql(comparisons, pairs_table=pairs_table, out_table=out_table,
                        temporary=temporary, evidence=evidence),
             "DROP TABLE _combos", "DROP TABLE _fn_feat", "DROP TABLE _sn_feat",
             "DROP TABLE _best_names"]
    return stmts
