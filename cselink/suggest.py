"""Suggest a source mapping (TOML) for an agency export from its headers and values.

``cselink mapping suggest FILE`` calls :func:`suggest_mapping`. The file is read by the
same readers ingest uses (:mod:`cselink.io`: encodings, delimiters, ``.xlsx``,
Parquet), so what is suggested is what ingest will see. The suggestion is built from

* the headers: synonyms used by English agencies (UPN, PNC_ID, PersonID, NHS_NO,
  DOB, DateOfBirth, Gender, KnownAs, AKA, PreviousNames, FULL_NAME, ...), matched
  exactly, then by words ("Child First Name" is a forename);
* the values, counted per distinct value in DuckDB: date formats (day or month first
  decided by values whose first or second part is over 12), sex codes, list
  separators in the alias columns, the order of names in a full-name column, a
  postcode inside the address, unique record ids, NHS check digits.

Every uncertain choice gets a ``# check:`` comment. The text never holds a value from
the file: comments describe formats and give counts, never names, dates or codes
that were not recognised. It always loads with :meth:`cselink.mapping.Mapping.from_toml`.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb
import numpy as np
import pandas as pd

from cselink import io as cio
from cselink._sql import quote_ident
from cselink.errors import InputDataError, UsageError
from cselink.identifiers import POSTCODE, nhs_number_is_valid
from cselink.mapping import ENCODINGS, Mapping, headers_look_like_data, swap_day_month

logger = logging.getLogger(__name__)

__all__ = ["DATE_FORMATS", "suggest_mapping"]

#: Date formats tried on a date-of-birth column, most specific families first. A format
#: with both day and month is tried with its day/month-swapped partner.
DATE_FORMATS: Final[tuple[str, ...]] = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y%m%d",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d.%m.%Y",
    "%m.%d.%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%m-%y",
    "%m-%d-%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d/%b/%Y",
    "%d-%b-%y",
    "%d %B %Y",
    "%d-%B-%Y",
    "%B %d %Y",
    "%b %d %Y",
)

# Years a date of birth can plausibly have; a format that reads "06/11/15" as year 15
# does not count as reading it.
_YEAR_MIN, _YEAR_MAX = 1880, 2100

#: Distinct values looked at per column (the most frequent); totals are exact.
_SAMPLE_DISTINCT = 20_000

# A share of values over which a finding is taken as the column's convention.
_MOST = 0.8

# Header synonyms, as the header's words joined in lower case ("PNC_ID" -> "pncid").
_SYNONYMS: Final[dict[str, frozenset[str]]] = {
    "record_id": frozenset(
        "recordid upn pncid pnc personid localpatientid patientid localpersonid yjref yjid "
        "clientid childid localid personref personreference caseid caseref uniqueid urn "
        "crono cronumber pupilid studentid nominalid subjectid id ref reference uniqueref "
        "mosaicid lcsid eclipseid youngpersonid cypid".split()
    ),
    "nhs_number": frozenset("nhsnumber nhsno nhs nhsnum nhsid newnhsno".split()),
    "forename": frozenset(
        "forename forenames firstname firstnames givenname givennames fname first "
        "christianname legalforename".split()
    ),
    "middle_names": frozenset(
        "middlename middlenames othergivennames othergivenname secondname secondnames "
        "middle middleinitial middleinitials otherforenames otherforename".split()
    ),
    "surname": frozenset(
        "surname lastname familyname lname last legalsurname currentsurname".split()
    ),
    "full_name": frozenset(
        "fullname name personname clientname childname nameofchild patientname "
        "youngpersonname nominalname cypname ypname".split()
    ),
    "aliases": frozenset(
        "aliases alias aka aliasnames aliasname knownas alsoknownas akanames akaname "
        "preferredname preferrednames nickname nicknames othernamesused alternativenames "
        "alternativename othernames".split()
    ),
    "former_surnames": frozenset(
        "formersurname formersurnames previoussurname previoussurnames previousnames "
        "previousname previousfamilynames previousfamilyname formerfamilyname "
        "formerfamilynames formernames formername maidenname birthsurname surnameatbirth "
        "priorsurname priorsurnames previouslastname previouslastnames oldsurname "
        "oldsurnames".split()
    ),
    "dob": frozenset(
        "dob dateofbirth birthdate birthdt dobirth dateofbirthddmmyyyy persondob "
        "personbirthdate".split()
    ),
    "sex": frozenset("sex gender sexcode gendercode personstatedgendercode".split()),
    "address": frozenset(
        "address fulladdress homeaddress currentaddress addr residentialaddress "
        "lastknownaddress usualaddress".split()
    ),
    "postcode": frozenset("postcode postcd pcode postalcode postcodeofusualaddress".split()),
    # A contacts file (people named on referrals, cselink.contacts) has these instead of
    # a record id.
    "referral_id": frozenset("referralid referralref referralno referralnumber referral "
                             "referralreference".split()),
    "contact_id": frozenset("contactid contactref contactno contactnumber contact "
                            "contactreference".split()),
    "age": frozenset("age approxage approximateage agerange estimatedage ageapprox".split()),
    "relationship": frozenset("relationship relationshiptoyp relationshiptoyoungperson "
                              "relation connection".split()),
}

# Words that say a column is about someone else (a parent, a worker) or a place: such a
# column is never mapped by its words alone.
_OTHER_PERSON: Final[frozenset[str]] = frozenset(
    "mother mothers father fathers parent parents carer carers guardian sibling siblings "
    "worker officer gp doctor referrer staff user school contact nok kin practice team "
    "establishment provider organisation org hospital ward unit street road town city "
    "file created updated modified".split()
)
_FORMER_WORDS: Final[frozenset[str]] = frozenset(
    "previous former prior maiden birth old nee past".split()
)
_ALIAS_WORDS: Final[frozenset[str]] = frozenset(
    "alias aliases aka known nick nickname nicknames preferred alternative alt other".split()
)
# Words of a place column (a town, a locality) that belongs in the address.
_PLACE_WORDS: Final[frozenset[str]] = frozenset(
    "town city locality village county suburb".split()
)
# Canonical columns that take more than one export column, joined ([join] in a mapping).
_JOINABLE: Final[tuple[str, ...]] = ("middle_names", "aliases", "former_surnames", "address")
_ID_WORDS: Final[frozenset[str]] = frozenset(
    "id ref no num number reference urn key identifier".split()
)
_DATE_WORDS: Final[frozenset[str]] = frozenset(
    "date dt time timestamp created updated start end from to".split()
)

# Sex codes recognised (upper case) and what they mean.
_SEX_WORDS: Final[dict[str, str]] = {
    **dict.fromkeys(("M", "MALE", "BOY", "MAN"), "M"),
    **dict.fromkeys(("F", "FEMALE", "GIRL", "WOMAN"), "F"),
    **dict.fromkeys(
        (
            "U",
            "UNKNOWN",
            "NOT KNOWN",
            "NOTKNOWN",
            "NK",
            "N/K",
            "UNK",
            "X",
            "I",
            "INDETERMINATE",
            "NOT SPECIFIED",
            "UNSPECIFIED",
            "NOT STATED",
            "NOT RECORDED",
        ),
        "U",
    ),
}
# The NHS Data Dictionary's person stated gender codes.
_SEX_NUMBERS: Final[dict[str, str]] = {"1": "M", "2": "F", "0": "U", "9": "U"}

_LIST_SEPARATORS: Final[tuple[str, ...]] = (";", "/", "|")
_POSTCODE_FULL = re.compile(POSTCODE)
_POSTCODE_IN = rf"\b{POSTCODE}\b"
_DATE_LIKE = re.compile(r"^\d{1,4}[-/. ]\d|^\d{8}$|^\d{1,2}[-/ ]?[A-Za-z]{3}|^[A-Za-z]{3,9} \d")
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SOURCE_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")

# Order in which canonical columns choose among the headers that claim them.
_CANONICAL_ORDER: Final[tuple[str, ...]] = (
    "nhs_number",
    "record_id",
    "dob",
    "sex",
    "postcode",
    "forename",
    "middle_names",
    "surname",
    "full_name",
    "aliases",
    "former_surnames",
    "address",
    "referral_id",
    "contact_id",
    "age",
    "relationship",
)


@dataclass(slots=True)
class _Column:
    """What is known about one column of the file (counts only, never values)."""

    index: int
    header: str
    raw: str  # the raw table's column (c<i>)
    type: str
    filled: int = 0  # rows with a value
    distinct: int = 0
    sample: pd.DataFrame = field(default_factory=pd.DataFrame)  # v, n: most frequent values
    guess: str | None = None
    score: int = 0
    by_values: bool = False

    @property
    def temporal(self) -> bool:
        return self.type == "DATE" or self.type.startswith("TIMESTAMP")

    def share(self, mask: pd.Series) -> float:
        """The share of the sampled rows (weighted by count) where ``mask`` holds."""
        total = float(self.sample["n"].sum()) if len(self.sample) else 0.0
        return float(self.sample["n"][mask].sum()) / total if total else 0.0


@dataclass(slots=True)
class _Suggestion:
    """The parts of the TOML text, with their comments."""

    header_notes: list[str] = field(default_factory=list)
    source: list[tuple[str, str, list[str]]] = field(default_factory=list)
    columns: list[tuple[str, str, list[str]]] = field(default_factory=list)
    names: list[tuple[str, str, list[str]]] = field(default_factory=list)
    dates: list[tuple[str, str, list[str]]] = field(default_factory=list)
    sex: list[tuple[str, str, list[str]]] = field(default_factory=list)
    address: list[tuple[str, str, list[str]]] = field(default_factory=list)
    join: list[tuple[str, str, list[str]]] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, table: str, text: str) -> None:
        self.notes.setdefault(table, []).append(text)


# --------------------------------------------------------------------------- public


def suggest_mapping(path: str | Path, *, sheet: str | None = None) -> str:
    """Propose a commented TOML mapping for an agency export.

    Args:
        path: the export (CSV, Parquet or ``.xlsx``).
        sheet: the ``.xlsx`` sheet to read (default: the first).

    Returns:
        TOML text in the mapping format (:mod:`cselink.mapping`) that
        :meth:`Mapping.from_toml` accepts. Lines marked ``# check:`` need a person's
        review. No value from the file appears in it.

    Raises:
        InputDataError: the file cannot be read, has no data rows, or its header row
            looks like data.
        UsageError: ``sheet`` given for a file that is not a workbook.

    Examples:
        >>> text = suggest_mapping("police.csv")  # doctest: +SKIP
        >>> Mapping.from_dict(tomllib.loads(text)).columns["record_id"]  # doctest: +SKIP
        'PNC_ID'
    """
    file = Path(path).expanduser()
    cio.check_readable_file(file)
    fmt = cio.detect_format(file)
    if sheet is not None and fmt != "xlsx":
        raise UsageError("a sheet can only be chosen for an .xlsx workbook", file=str(file))
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        if fmt == "parquet":
            raw = cio.read_parquet_raw(con, file)
        elif fmt == "xlsx":
            raw = cio.read_xlsx_raw(con, file, sheet=sheet)
        else:
            raw = cio.read_csv_raw(con, file)
        if headers_look_like_data(raw.headers):
            raise InputDataError(
                "the first row looks like data: is the header row missing?", file=str(file), row=0
            )
        text = _suggest(con, raw, file, fmt, sheet)
    finally:
        con.close()
    # The suggestion must load: a failure here is a bug in this module, not bad input.
    Mapping.from_dict(tomllib.loads(text), origin=str(file))
    return text


# --------------------------------------------------------------------------- analysis


def _suggest(
    con: duckdb.DuckDBPyConnection, raw: cio.RawSource, file: Path, fmt: str, sheet: str | None
) -> str:
    rows = int(cio.fetch_one(con, f"SELECT count(*) FROM {quote_ident(raw.table)}")[0])
    if rows == 0:
        raise InputDataError("no data rows: nothing to suggest a mapping from", file=str(file))
    columns = [
        _Column(index=i, header=h, raw=f"c{i}", type=raw.types[i].upper())
        for i, h in enumerate(raw.headers)
    ]
    counts = {h: raw.headers.count(h) for h in raw.headers}
    for col in columns:
        _profile(con, raw.table, col)

    out = _Suggestion()
    out.header_notes.append(f"{rows:,} data rows, {len(columns)} columns.")
    _source_table(out, raw, file, fmt, sheet)

    repeated = sorted({c.header for c in columns if counts[c.header] > 1})
    usable = [c for c in columns if counts[c.header] == 1]
    if repeated:
        out.note(
            "columns",
            f"check: {len(repeated)} header(s) appear more than once and are not mapped: "
            + ", ".join(_toml_str(h) for h in repeated),
        )
    for col in usable:
        col.guess, col.score = _guess_from_header(col.header)
    _guess_from_values(con, raw.table, usable)
    chosen = _choose(usable, out, rows)
    if "record_id" in chosen and "referral" in _tokens(chosen["record_id"].header):
        out.header_notes.append("The ids are referral ids: give this file to cselink check as "
                                "--referrals FILE:MAPPING.toml.")
    _columns_table(out, chosen, rows)
    _names_table(out, chosen)
    _dates_table(con, raw.table, out, chosen.get("dob"))
    _sex_table(out, chosen.get("sex"))
    _address_table(out, chosen)

    mapped = {c.header for c in chosen.values()} | {
        c.header for c in usable if c.guess in _JOINABLE and c.guess in chosen}
    ignored = [c.header for c in usable if c.header not in mapped]
    if ignored:
        out.note(
            "columns",
            "not mapped (ingest ignores them): " + ", ".join(_toml_str(h) for h in ignored),
        )
    return _render(out, file)


def _profile(con: duckdb.DuckDBPyConnection, table: str, col: _Column) -> None:
    """Counts of a column and its most frequent distinct values (trimmed text)."""
    ref = quote_ident(col.raw)
    if col.type.endswith("[]"):
        text = f"array_to_string(CAST({ref} AS VARCHAR[]), ';')"
    elif col.type == "DATE":
        text = f"strftime({ref}, '%Y-%m-%d')"
    else:
        text = f"CAST({ref} AS VARCHAR)"
    groups = cio.temp_name("values")
    con.execute(
        f"CREATE TEMP TABLE {quote_ident(groups)} AS SELECT v, count(*) AS n FROM "
        f"(SELECT NULLIF(trim({text}), '') AS v FROM {quote_ident(table)}) "
        "WHERE v IS NOT NULL GROUP BY v"
    )
    try:
        filled, distinct = cio.fetch_one(
            con, f"SELECT coalesce(sum(n), 0), count(*) FROM {quote_ident(groups)}"
        )
        col.filled, col.distinct = int(filled), int(distinct)
        col.sample = con.execute(
            f"SELECT v, n FROM {quote_ident(groups)} ORDER BY n DESC, v LIMIT {_SAMPLE_DISTINCT}"
        ).df()
    finally:
        cio.drop_temp(con, groups)
    if col.sample.empty:
        col.sample = pd.DataFrame({"v": pd.Series([], dtype=object),
                                   "n": pd.Series([], dtype="int64")})


def _tokens(header: str) -> list[str]:
    """A header's words in lower case: "NHSNumber" -> nhs, number; "PNC_ID" -> pnc, id."""
    return [t.lower() for t in _TOKEN.findall(header)]


def _guess_from_header(header: str) -> tuple[str | None, int]:
    """The canonical column a header names, and how sure: 3 a synonym, 2 its words."""
    words = _tokens(header)
    compact = "".join(words)
    for canonical, names in _SYNONYMS.items():
        if compact in names:
            return canonical, 3
    t = set(words)
    surname = bool(t & {"surname", "surnames"}) or bool(
        t & {"last", "family"} and t & {"name", "names"}
    )
    forename = bool(t & {"forename", "forenames"}) or bool(
        t & {"first", "given", "christian"} and t & {"name", "names"}
    )
    if t & {"aka", "alias", "aliases"}:  # "Street name / alias" is an alias, not a street
        # A surname alone (AliasSurname) is another surname: forename + it is a name.
        return ("former_surnames", 2) if surname and not forename else ("aliases", 2)
    if (t & _PLACE_WORDS and "birth" not in t
            and not t & (_OTHER_PERSON - _PLACE_WORDS - {"street", "road"})):
        return "address", 1  # a town or locality: joined onto the address
    if (any(w.startswith("addr") for w in t)
            and not t & (_OTHER_PERSON - _PLACE_WORDS - {"street", "road"})):
        return "address", 2  # "Street Address", "Address Line 2"
    if not t or t & _OTHER_PERSON:
        return None, 0
    if "nhs" in t:
        return "nhs_number", 2
    if (
        "dob" in t
        or compact.endswith(("dateofbirth", "birthdate", "dob"))
        or ("birth" in t and t & {"date", "dt", "d"})
    ):
        return "dob", 2
    if t & {"sex", "gender"}:
        return "sex", 2
    if "postcode" in compact or {"post", "code"} <= t or "pcode" in t:
        return "postcode", 2
    nameish = surname or forename or bool(t & {"name", "names"})
    if nameish:
        if t & _FORMER_WORDS:
            return "former_surnames", 2
        if t & {"middle", "second"} or {"other", "given"} <= t or {"other", "forename"} <= t:
            return "middle_names", 2
        if forename and not surname and any(w.isdigit() and int(w) >= 2 for w in words):
            return "middle_names", 2  # FORENAME2, Forename 3: the second forename on
        if surname and not forename and t & _ALIAS_WORDS:
            # A preferred or alternative surname: the young person is also known by
            # forename + that surname, as by a former one (not a whole-name alias).
            return "former_surnames", 2
        if t & _ALIAS_WORDS:
            return "aliases", 2
        if surname:
            return "surname", 2
        if forename:
            return "forename", 2
        return "full_name", 2
    if any(w.startswith("addr") for w in t):
        return "address", 2
    if words[-1] in _ID_WORDS or t & {"upn", "pnc"}:
        return "record_id", 2
    return None, 0


def _nhs_valid(values: pd.Series) -> pd.Series:
    """True for values that are ten digits (spaces/dashes allowed) with a valid check digit."""
    return values.astype(str).map(nhs_number_is_valid).astype(bool)


def _sex_meaning(code: str, numeric: bool) -> str | None:
    """M/F/U for a recognised sex code, else None."""
    key = re.sub(r"\s+", " ", code.strip().upper())
    if numeric:
        return _SEX_NUMBERS.get(key)
    return _SEX_WORDS.get(key)


def _numeric_sex(col: _Column) -> bool:
    """True when the codes are digits (read with the NHS Data Dictionary's meanings)."""
    return bool(len(col.sample)) and bool(col.sample["v"].astype(str).str.fullmatch(r"\d").all())


def _guess_from_values(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[_Column]
) -> None:
    """Guess columns whose header says nothing, from what their values look like."""
    for col in columns:
        if col.guess is not None or col.sample.empty:
            continue
        v = col.sample["v"].astype(str)
        words = set(_tokens(col.header))
        if col.share(v.str.replace(r"[\s\-]", "", regex=True).str.fullmatch(r"[0-9]{10}")) > 0.9:
            if col.share(_nhs_valid(v)) >= 0.5:
                col.guess, col.score, col.by_values = "nhs_number", 1, True
                continue
        if col.share(v.str.fullmatch(_POSTCODE_FULL.pattern, case=False)) >= _MOST:
            col.guess, col.score, col.by_values = "postcode", 1, True
            continue
        if col.temporal:
            if not words & _DATE_WORDS:
                col.guess, col.score, col.by_values = "dob", 1, True
            continue
        if (
            not words & _DATE_WORDS
            and col.share(v.str.contains(_DATE_LIKE)) >= _MOST
            and _date_coverage(con, table, col)[0] >= _MOST
        ):
            col.guess, col.score, col.by_values = "dob", 1, True
            continue
        numeric = _numeric_sex(col)
        if not numeric and col.distinct <= 8 and all(_sex_meaning(c, False) for c in v):
            col.guess, col.score, col.by_values = "sex", 1, True


def _unique(col: _Column, rows: int) -> bool:
    return col.filled == rows and col.distinct == rows


def _choose(columns: Sequence[_Column], out: _Suggestion, rows: int) -> dict[str, _Column]:
    """One header per canonical column: the surest, then unique ids, then the first."""
    chosen: dict[str, _Column] = {}
    for canonical in _CANONICAL_ORDER:
        claims = [c for c in columns if c.guess == canonical]
        if not claims:
            continue
        claims.sort(key=lambda c: (-c.score, not _unique(c, rows), c.index))
        best = claims[0]
        chosen[canonical] = best
        if len(claims) > 1 and canonical in _JOINABLE:
            more = sorted(claims[1:], key=lambda c: c.index)
            sep = "', '" if canonical == "address" else "' '" if canonical == "middle_names" \
                else "its separator"
            out.join.append((canonical, "[" + ", ".join(_toml_str(c.header) for c in more) + "]",
                             [f"check: joined onto {_toml_str(best.header)} with {sep}"]))
        elif len(claims) > 1:
            out.note(
                "columns",
                f"check: {', '.join(_toml_str(c.header) for c in claims[1:])} also "
                f"look{'s' if len(claims) == 2 else ''} like {canonical} (not mapped)",
            )
    if "record_id" not in chosen and "referral_id" in chosen and "contact_id" not in chosen:
        # A referral form: its referral id is the record id (a contacts file has both).
        chosen["record_id"] = chosen.pop("referral_id")
        chosen["record_id"].guess = "record_id"
    if "record_id" not in chosen and not {"referral_id", "contact_id"} <= chosen.keys():
        taken = {id(c) for c in chosen.values()}
        free = [c for c in columns if id(c) not in taken]
        unique = [c for c in free if _unique(c, rows)]
        pick = unique[0] if unique else (free[0] if free else columns[0])
        pick.by_values = True
        pick.guess = "record_id"
        chosen["record_id"] = pick
        for key, other in list(chosen.items()):
            if other is pick and key != "record_id":
                del chosen[key]
        out.note(
            "columns",
            "check: no header names a record id; "
            + (
                "the first column with a distinct value in every row was taken"
                if unique
                else "no column has a distinct value in every row, so the first free "
                "column was taken"
            ),
        )
    # A full name is only used when there are no name parts.
    if "full_name" in chosen and ("forename" in chosen or "surname" in chosen):
        full = chosen.pop("full_name")
        out.note(
            "columns",
            f"check: {_toml_str(full.header)} looks like a full name but the name parts "
            "are mapped instead (a mapping takes one or the other)",
        )
    return dict(sorted(chosen.items(), key=lambda item: item[1].index))


# --------------------------------------------------------------------------- tables


def _source_table(
    out: _Suggestion, raw: cio.RawSource, file: Path, fmt: str, sheet: str | None
) -> None:
    name = _SOURCE_NAME_BAD.sub("_", file.stem).strip("_.-") or "source"
    out.source.append(("name", _toml_str(name), ["the source name (default: the file stem)"]))
    out.source.append(("format", _toml_str(fmt), []))
    if fmt == "csv":
        if raw.encoding in ENCODINGS:
            note = ["detected"]
            if raw.encoding in ("cp1252", "latin-1"):
                note = ["detected: the file is not UTF-8 (a Windows export?)"]
            out.source.append(("encoding", _toml_str(raw.encoding), note))
        else:
            out.note(
                "source",
                "check: the file mixes UTF-8 and Windows (cp1252) bytes; the encoding is left "
                "out so that ingest decodes each character as it comes",
            )
        delim = raw.delimiter or ","
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}
        said = f"detected ({shown.get(delim, delim)})"
        out.source.append(("delimiter", _toml_str(delim), [said]))
    if fmt == "xlsx":
        if sheet is not None:
            out.source.append(("sheet", _toml_str(sheet), []))
        else:
            out.note(
                "source", "the first sheet of the workbook was read (set sheet = ... for another)"
            )


def _columns_table(out: _Suggestion, chosen: dict[str, _Column], rows: int) -> None:
    for canonical, col in chosen.items():
        notes: list[str] = []
        if col.by_values:
            notes.append("check: chosen from what the values look like, not from the header")
        elif col.score == 2:
            notes.append("check: chosen from the words of the header")
        elif col.score == 1:
            notes.append("check: a town or locality column, read as the address")
        if canonical == "former_surnames" and set(_tokens(col.header)) & _ALIAS_WORDS:
            notes.append("a preferred or other surname: the young person is also searched "
                         "by forename + this surname")
        if col.filled == 0:
            notes.append("check: the column is empty")
        if canonical == "record_id":
            repeats = col.filled - col.distinct
            if repeats:
                notes.append(
                    f"check: {repeats:,} ids repeat an earlier one (ingest keeps every row, "
                    "each named 'ID (row N)')"
                )
            if col.filled < rows:
                notes.append("check: rows without an id are rejected")
        if canonical == "nhs_number" and not col.sample.empty:
            valid = col.share(_nhs_valid(col.sample["v"].astype(str)))
            notes.append(f"{valid:.0%} of the numbers pass the NHS check digit")
            if valid < 0.5:
                notes.append("check: most values are not valid NHS numbers")
        out.columns.append((canonical, _toml_str(col.header), notes))


def _names_table(out: _Suggestion, chosen: dict[str, _Column]) -> None:
    full = chosen.get("full_name")
    if full is not None and not full.sample.empty:
        order, notes = _name_order(full)
        out.names.append(("order", _toml_str(order), notes))
    separators: dict[str, tuple[str, bool, list[str]]] = {}
    for canonical in ("aliases", "former_surnames"):
        col = chosen.get(canonical)
        if col is not None:
            separators[canonical] = _separator(col)
    found = [sep for sep, seen, _ in separators.values() if seen]
    for canonical, (sep, seen, notes) in separators.items():
        if not seen and found:
            sep = found[0]
            notes = [f"no value lists several names; {sep!r} assumed, as in the other list"]
        out.names.append((f"{canonical}_separator", _toml_str(sep), notes))


def _name_order(col: _Column) -> tuple[str, list[str]]:
    """``surname_first`` or ``forename_first`` for a full-name column, from the values."""
    v = col.sample["v"].astype(str)
    n = col.sample["n"]
    total = float(n.sum())
    comma = v.str.contains(",", regex=False)
    words = v[~comma].str.split()
    many = words.str.len() >= 2
    upper = r"^[^a-z]*[A-Z][^a-z]*$"  # a word in capitals (letters, no lower case)
    first_up = words[many].str[0].str.contains(upper) & ~words[many].str[-1].str.contains(upper)
    last_up = words[many].str[-1].str.contains(upper) & ~words[many].str[0].str.contains(upper)
    sf = float(n[~comma][many][first_up].sum())
    ff = float(n[~comma][many][last_up].sum())
    with_comma = float(n[comma].sum())
    notes = []
    if with_comma:
        notes.append(
            f"{with_comma / total:.0%} of the names have a comma ('SURNAME, Forename Middle', "
            "always read surname first)"
        )
    rest = total - with_comma
    if rest == 0:
        return "surname_first", notes
    notes.append(
        f"of the names without a comma, {sf:,.0f} rows have the first word in capitals "
        f"('SURNAME Forename') and {ff:,.0f} the last ('Forename SURNAME')"
    )
    if sf > 2 * ff and sf > 0:
        return "surname_first", notes
    if ff > 2 * sf and ff > 0:
        return "forename_first", notes
    if with_comma >= rest:
        notes.append(
            "check: the order of names without a comma cannot be told; surname first "
            "assumed, as in the names with a comma"
        )
        return "surname_first", notes
    notes.append(
        "check: the order of the names cannot be told from the values; forename first assumed"
    )
    return "forename_first", notes


def _separator(col: _Column) -> tuple[str, bool, list[str]]:
    """The separator of a list column (; / |), whether the values showed it, and notes."""
    v = col.sample["v"].astype(str)
    counts = {sep: col.share(v.str.contains(sep, regex=False)) for sep in _LIST_SEPARATORS}
    best = max(_LIST_SEPARATORS, key=lambda s: (counts[s], -_LIST_SEPARATORS.index(s)))
    if counts[best] == 0:
        notes = ["no separator seen in the values; ';' assumed"]
        commas = col.share(v.str.contains(",", regex=False))
        if commas:
            notes.append(
                f"check: {commas:.0%} of the values hold a comma: set ',' if it separates names"
            )
        return ";", False, notes
    notes = [f"{counts[best]:.0%} of the values list several names with {best!r}"]
    others = [s for s in _LIST_SEPARATORS if s != best and counts[s]]
    if others:
        notes.append("check: values also hold " + ", ".join(repr(s) for s in others))
    return best, True, notes


def _date_coverage(
    con: duckdb.DuckDBPyConnection, table: str, col: _Column
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """How a column's dates parse, per distinct value.

    Every distinct value is tried with every format of :data:`DATE_FORMATS` in DuckDB
    (``try_strptime``, as ingest parses); a value counts as read only when its year is
    plausible.

    Returns:
        The share of rows some format reads; per distinct value its row count, a
        (values x formats) matrix of "this format reads it", and whether ingest reads it
        whatever the mapping says (ISO dates, with or without a time).
    """
    text = f"NULLIF(trim(CAST({quote_ident(col.raw)} AS VARCHAR)), '')"
    plausible = f"BETWEEN {_YEAR_MIN} AND {_YEAR_MAX}, false)"
    flags = ", ".join(
        f"coalesce(year(try_strptime(v, $f{i})) {plausible}" for i in range(len(DATE_FORMATS))
    )
    always = (
        f"coalesce(year(try_strptime(v, '%Y-%m-%d')) {plausible} OR coalesce("
        f"regexp_matches(v, '^\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]') "
        f"AND year(TRY_CAST(v AS TIMESTAMP)) {plausible}"
    )
    result = con.execute(
        f"SELECT n, {always} AS always, {flags} FROM (SELECT v, count(*) AS n FROM "
        f"(SELECT {text} AS v FROM {quote_ident(table)}) WHERE v IS NOT NULL GROUP BY v) "
        "ORDER BY v",
        {f"f{i}": f for i, f in enumerate(DATE_FORMATS)},
    ).fetchnumpy()
    keys = list(result)
    weights = np.asarray(result[keys[0]], dtype=np.float64)
    ingest_reads = np.asarray(result[keys[1]], dtype=bool)
    if not len(weights):
        return 0.0, weights, np.zeros((0, len(DATE_FORMATS)), dtype=bool), ingest_reads
    matrix = np.column_stack([np.asarray(result[k], dtype=bool) for k in keys[2:]])
    covered = float(weights[matrix.any(axis=1)].sum()) / float(weights.sum())
    return covered, weights, matrix, ingest_reads


def _dates_table(
    con: duckdb.DuckDBPyConnection, table: str, out: _Suggestion, col: _Column | None
) -> None:
    if col is None:
        return
    if col.temporal:
        out.note("dates", f"{_toml_str(col.header)} holds dates already: no formats needed")
        return
    _, weights, matrix, ingest_reads = _date_coverage(con, table, col)
    total = float(weights.sum())
    if total == 0:
        out.note("dates", "check: the date-of-birth column is empty")
        return
    index = {f: i for i, f in enumerate(DATE_FORMATS)}
    # Families: a format and its day/month-swapped partner, in DATE_FORMATS order.
    families: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for f in DATE_FORMATS:
        if f in seen:
            continue
        partner = swap_day_month(f)
        fam: tuple[str, ...] = (f, partner) if partner != f and partner in index else (f,)
        seen.update(fam)
        families.append(fam)
    covered = np.zeros(len(weights), dtype=bool)
    formats: list[str] = []
    notes: list[str] = []
    while len(formats) < 4:
        gains = []
        for fam in families:
            reads = matrix[:, [index[f] for f in fam]].any(axis=1)
            gains.append(float(weights[reads & ~covered].sum()))
        best = int(np.argmax(gains))  # the first family among equals (DATE_FORMATS order)
        gain = gains[best]
        if gain == 0 or (formats and gain < max(1.0, 0.001 * total)):
            break
        fam = families[best]
        if len(fam) == 2:
            chosen, fam_notes = _day_month_order(fam, weights, matrix, index)
        else:
            chosen = [fam[0]]
            fam_notes = [f"{gain / total:.0%} of the dates read as {_describe(fam[0])}"]
        formats += [f for f in chosen if f not in formats]
        notes += fam_notes
        covered |= matrix[:, [index[f] for f in fam]].any(axis=1)
        families.pop(best)
    if not formats:
        out.note("dates", "check: no date format reads the date-of-birth values; add yours")
        return
    left = total - float(weights[covered | ingest_reads].sum())
    if left:
        notes.append(
            f"check: {left:,.0f} of {total:,.0f} dates ({left / total:.1%}) read with none of "
            "these formats (they become empty)"
        )
    if any("%y" in f for f in formats):
        notes.append("check: two-digit years are read 00-68 as 20xx and 69-99 as 19xx")
    out.dates.append(("dob_formats", "[" + ", ".join(_toml_str(f) for f in formats) + "]", notes))


def _day_month_order(
    fam: tuple[str, ...], weights: np.ndarray, matrix: np.ndarray, index: dict[str, int]
) -> tuple[list[str], list[str]]:
    """Day first or month first: values only one of the two formats reads decide."""
    day_fmt, month_fmt = sorted(fam, key=lambda f: f.index("%d") > f.index("%m"))
    d = matrix[:, index[day_fmt]]
    m = matrix[:, index[month_fmt]]
    day_only = float(weights[d & ~m].sum())
    month_only = float(weights[m & ~d].sum())
    either = float(weights[d & m].sum())
    what = (
        f"dates read as {_describe(day_fmt)} or {_describe(month_fmt)}: {day_only:,.0f} have "
        f"a first part over 12 (day first), {month_only:,.0f} a second part over 12 "
        f"(month first), {either:,.0f} could be either"
    )
    if day_only and not month_only:
        return [day_fmt], [what, "day first"]
    if month_only and not day_only:
        return [month_fmt], [what, "month first (US order)"]
    if day_only and month_only:
        return [day_fmt, month_fmt], [
            what,
            "check: both orders occur; ingest keeps both and reads a date that fits both "
            "as day first",
        ]
    return [day_fmt], [
        what,
        "check: no date has a part over 12, so the order cannot be told from the values; "
        "day first (the UK convention) assumed",
    ]


def _describe(fmt: str) -> str:
    """A strptime format in words people use: ``%d/%m/%Y`` -> ``dd/mm/yyyy``."""
    words = {
        "%d": "dd",
        "%m": "mm",
        "%Y": "yyyy",
        "%y": "yy",
        "%b": "Mon",
        "%B": "Month",
        "%H": "hh",
        "%M": "mi",
        "%S": "ss",
        "%f": "ffffff",
    }
    return re.sub(r"%[a-zA-Z]", lambda m: words.get(m.group(0), m.group(0)), fmt)


def _sex_table(out: _Suggestion, col: _Column | None) -> None:
    if col is None or col.sample.empty:
        return
    numeric = _numeric_sex(col)
    codes: dict[str, list[str]] = {"M": [], "F": [], "U": []}
    seen: set[str] = set()
    unknown_codes = unknown_rows = 0
    for code, n in zip(col.sample["v"].astype(str), col.sample["n"], strict=True):
        meaning = _sex_meaning(code, numeric)
        if meaning is None:
            unknown_codes += 1
            unknown_rows += int(n)
            continue
        key = code.strip().upper()
        if key in seen:  # the same code in another case: matching ignores case
            continue
        seen.add(key)
        codes[meaning].append(code.strip())
    for key in ("M", "F", "U"):
        if codes[key]:
            out.sex.append((key, "[" + ", ".join(_toml_str(c) for c in codes[key]) + "]", []))
    if numeric:
        out.note(
            "sex",
            "check: numeric codes read as the NHS Data Dictionary's (1 male, 2 female, "
            "0 not known, 9 not specified)",
        )
    if unknown_codes:
        out.note(
            "sex",
            f"check: {unknown_codes} other code{'s' if unknown_codes > 1 else ''} "
            f"({unknown_rows:,} rows) {'are' if unknown_codes > 1 else 'is'} not recognised "
            "and not shown here: list them under M, F or U (unlisted codes are read as U)",
        )
    if not out.sex:
        out.note(
            "sex",
            "check: no sex code was recognised; the defaults (M/Male, F/Female, U/Unknown) apply",
        )


def _address_table(out: _Suggestion, chosen: dict[str, _Column]) -> None:
    address = chosen.get("address")
    if address is None or address.sample.empty:
        return
    has = address.sample["v"].astype(str).str.contains(_POSTCODE_IN, case=False)
    share = address.share(has)
    if "postcode" not in chosen:
        if share >= 0.5:
            out.address.append(
                (
                    "postcode_in_address",
                    "true",
                    [f"there is no postcode column; {share:.0%} of the addresses end with one"],
                )
            )
        elif share > 0:
            out.address.append(
                (
                    "postcode_in_address",
                    "true",
                    [
                        f"check: there is no postcode column and only {share:.0%} of the addresses "
                        "hold a postcode"
                    ],
                )
            )
        else:
            out.note("address", "there is no postcode column and no postcode in the addresses")
    elif share >= 0.5:
        out.note(
            "address",
            f"{share:.0%} of the addresses hold a postcode too; to fill empty postcodes from "
            "them, add: postcode_in_address = true",
        )


# --------------------------------------------------------------------------- rendering


def _toml_str(text: str) -> str:
    """A TOML basic string (escapes quotes, backslashes and control characters)."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _render(out: _Suggestion, file: Path) -> str:
    lines = [
        f"# Suggested cselink mapping for {_toml_str(file.name)}, made by `cselink mapping "
        "suggest`",
        "# from the file's headers and values. No value from the file is copied here.",
        "# Review every line marked 'check:', then try it with cselink dedupe or check.",
    ]
    lines += [f"# {n}" for n in out.header_notes]
    tables = (
        ("source", out.source),
        ("columns", out.columns),
        ("names", out.names),
        ("dates", out.dates),
        ("sex", out.sex),
        ("address", out.address),
        ("join", out.join),
    )
    for name, items in tables:
        notes = out.notes.get(name, [])
        if not items and not notes:
            continue
        lines.append("")
        if items:
            lines.append(f"[{name}]")
        width = max((len(k) for k, _, _ in items), default=0)
        for key, value, item_notes in items:
            for note in item_notes:
                lines.append(f"# {key}: {note}")
            lines.append(f"{key.ljust(width)} = {value}")
        lines += [f"# {note}" for note in notes]
    return "\n".join(lines) + "\n"
