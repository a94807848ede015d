"""Canonical column names and the table contracts between pipeline stages.

Stages talk through named DuckDB tables. Each stage reads the table the stage
before it wrote and writes its own:

``input_records`` (written by :mod:`cselink.ingest`, one row per usable input row)
    uid BIGINT, source VARCHAR, record_id VARCHAR, row_number BIGINT,
    forename, middle_names, surname VARCHAR, aliases VARCHAR[], former_surnames VARCHAR[],
    dob DATE, sex VARCHAR ('M' | 'F' | 'U' | NULL), address, postcode, nhs_number VARCHAR
``rejects`` (written by :mod:`cselink.ingest`)
    source, row_number, record_id, column, reason (no personal values)
``records`` (written by :mod:`cselink.standardise`): cleaned fields, parsed keys, one row per uid
``name_variants``: uid, variant, forename, surname (every name a record may be known by)
``pairs`` (written by :mod:`cselink.blocking`): uid_l < uid_r, match_key (first rule that found it)
``gammas`` (written by :mod:`cselink.comparisons`): uid_l, uid_r, gamma_<comparison>, ...
``scores`` (written by :mod:`cselink.scoring`): ..., mw_<comparison>, match_weight,
match_probability
``clusters`` (written by :mod:`cselink.clustering`): uid, cluster_id
"""

from __future__ import annotations

from typing import Final

#: Columns of a canonical source file, in their documented order.
CANONICAL_COLUMNS: Final[tuple[str, ...]] = (
    "record_id",
    "source",
    "forename",
    "middle_names",
    "surname",
    "aliases",
    "former_surnames",
    "dob",
    "sex",
    "address",
    "postcode",
    "nhs_number",
)

#: Canonical columns that hold ``;``-separated lists in files.
LIST_COLUMNS: Final[tuple[str, ...]] = ("aliases", "former_surnames")

#: Separator of list values in canonical files.
LIST_SEPARATOR: Final[str] = ";"

#: The only column a canonical file must have.
REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("record_id",)

#: Values of ``sex`` after ingest.
SEX_CODES: Final[tuple[str, ...]] = ("M", "F", "U")

INPUT_TABLE: Final[str] = "input_records"
REJECTS_TABLE: Final[str] = "rejects"
RECORDS_TABLE: Final[str] = "records"
VARIANTS_TABLE: Final[str] = "name_variants"
PAIRS_TABLE: Final[str] = "pairs"
GAMMAS_TABLE: Final[str] = "gammas"
SCORES_TABLE: Final[str] = "scores"
CLUSTERS_TABLE: Final[str] = "clusters"

#: Columns of the rejects table / rejects.csv.
REJECT_COLUMNS: Final[tuple[str, ...]] = ("source", "row_number", "record_id", "column", "reason")

#: Columns every link output has, in this order, before the per-comparison detail.
LINK_OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "source_l",
    "record_id_l",
    "source_r",
    "record_id_r",
    "match_probability",
    "match_weight",
    "reasons",
)

#: Columns of a dedupe output.
CLUSTER_OUTPUT_COLUMNS: Final[tuple[str, ...]] = ("source", "record_id", "cluster_id")
