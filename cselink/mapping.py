"""Source mappings: how one agency export's columns map to the canonical schema.

A mapping is a small TOML file (format in ``docs``/the generator contract)::

    [source]   name, format (csv|parquet|xlsx), encoding, delimiter, sheet
    [columns]  canonical name = the export's header (record_id required; full_name may
               stand for forename/middle_names/surname)
    [names]    order ("surname_first" | "forename_first"), aliases_separator,
               former_surnames_separator
    [dates]    dob_formats (strptime formats, tried in order)
    [sex]      M/F/U = the export's codes (case-insensitive)
    [address]  postcode_in_address (extract a UK postcode from the address)
    [join]     canonical column = more headers whose values are appended to the mapped
               column: address (", "), middle_names (" "), aliases and former_surnames
               (their separator); e.g. address = ["Town"], former_surnames =
               ["PreferredSurname"]
    [constants] canonical column = a value for every row

:meth:`Mapping.from_dict` collects every problem before raising one
:class:`~cselink.errors.ConfigError` (``.problems``), with "did you mean ...?"
for misspelt tables, keys and columns. A mapping holds no SQL; :mod:`cselink.ingest`
compiles it. Reading the file is the only I/O here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping as AbcMapping
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cselink.errors import ConfigError, did_you_mean
from cselink.schema import CANONICAL_COLUMNS, LIST_SEPARATOR

NameOrder = Literal["surname_first", "forename_first"]

#: Columns of a contacts file beyond the canonical ones (see :mod:`cselink.contacts`): a
#: contacts mapping names ``referral_id`` and ``contact_id`` instead of ``record_id``.
CONTACT_ONLY_COLUMNS: Final[tuple[str, ...]] = ("referral_id", "contact_id", "age", "relationship")

#: Canonical columns a mapping may name in ``[columns]`` (``source`` is set at ingest).
MAPPABLE_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in CANONICAL_COLUMNS if c != "source") + (
    "full_name",
) + CONTACT_ONLY_COLUMNS

#: The name parts that ``full_name`` replaces.
NAME_PARTS: Final[tuple[str, ...]] = ("forename", "middle_names", "surname")

#: Canonical columns a mapping may set to a constant.
CONSTANT_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in CANONICAL_COLUMNS if c != "record_id")

FORMATS: Final[tuple[str, ...]] = ("csv", "parquet", "xlsx")

#: Encodings a mapping may declare, and the spellings accepted for each.
ENCODINGS: Final[dict[str, str]] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf8-sig": "utf-8-sig",
    "utf-16": "utf-16",
    "utf16": "utf-16",
    "cp1252": "cp1252",
    "windows-1252": "cp1252",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
}

DELIMITERS: Final[dict[str, str]] = {
    ",": ",",
    ";": ";",
    "|": "|",
    "\t": "\t",
    "tab": "\t",
    "\\t": "\t",
}

DEFAULT_DOB_FORMATS: Final[tuple[str, ...]] = ("%Y-%m-%d",)

#: Sex codes understood when a mapping has no ``[sex]`` table (case-insensitive).
DEFAULT_SEX_CODES: Final[dict[str, tuple[str, ...]]] = {
    "M": ("M", "Male"),
    "F": ("F", "Female"),
    "U": ("U", "Unknown"),
}

_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "source": ("name", "format", "encoding", "delimiter", "sheet"),
    "columns": MAPPABLE_COLUMNS,
    "names": ("order", "aliases_separator", "former_surnames_separator"),
    "dates": ("dob_formats",),
    "sex": ("M", "F", "U"),
    "address": ("postcode_in_address",),
    "join": ("address", "middle_names", "aliases", "former_surnames"),
    "constants": CONSTANT_COLUMNS,
}

#: What joins a ``[join]`` column's values onto the mapped column's (lists: their separator).
JOIN_SEPARATORS: Final[dict[str, str]] = {"address": ", ", "middle_names": " "}

#: Similarity a file header needs to be suggested for a missing column.
HEADER_HINT_CUTOFF: Final[float] = 0.85

_STRPTIME_DIRECTIVE = re.compile(r"%-?[A-Za-z%]")
_KNOWN_DIRECTIVES = frozenset("aAbBcdHIjmMpSUwWxXyYzZfgGuVe%")


_DATA_LIKE = re.compile(r"^\s*(\d[\d\s\-/.:]*|.*@.*\..*)\s*$")


def headers_look_like_data(headers: Sequence[str]) -> bool:
    """True when a "header" row has cells that look like values (numbers, dates, e-mails).

    A file without a header row has a data row there, so its cells must not be
    quoted back in a message.
    """
    return any(_DATA_LIKE.match(h) for h in headers if h)


def swap_day_month(fmt: str) -> str:
    """The format with ``%d`` and ``%m`` exchanged (``%d/%m/%Y`` -> ``%m/%d/%Y``)."""
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def is_day_first(fmt: str) -> bool:
    """True when a format has both day and month and the day comes first."""
    return "%d" in fmt and "%m" in fmt and fmt.index("%d") < fmt.index("%m")


@dataclass(frozen=True, slots=True, kw_only=True)
class Mapping:
    """How one agency export maps to the canonical schema (see the module docstring).

    Attributes:
        name: source name for the ``source`` column (default: the file stem).
        format: ``csv``, ``parquet`` or ``xlsx`` (default: from the file).
        encoding: CSV encoding (default: detected).
        delimiter: CSV delimiter (default: sniffed among , ; | tab).
        sheet: xlsx sheet (default: the first).
        columns: canonical name -> the export's header.
        name_order: how ``full_name`` is split when it has no comma (a comma always
            means "SURNAME, Forename Middle").
        aliases_separator: separator of the aliases column.
        former_surnames_separator: separator of the former surnames column.
        dob_formats: strptime formats tried in order (ISO dates are always accepted too).
        sex_codes: canonical code (M/F/U) -> the export's codes; None means
            :data:`DEFAULT_SEX_CODES`.
        postcode_in_address: extract a UK postcode from the address when there is no
            postcode (column or value).
        constants: canonical column -> a value for every row.
        join: canonical column -> more headers appended to it (``[join]``).
        origin: the TOML file the mapping came from, for messages.
    """

    name: str | None = None
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    columns: AbcMapping[str, str] = field(default_factory=dict)
    name_order: NameOrder = "forename_first"
    aliases_separator: str = LIST_SEPARATOR
    former_surnames_separator: str = LIST_SEPARATOR
    dob_formats: tuple[str, ...] = DEFAULT_DOB_FORMATS
    sex_codes: AbcMapping[str, tuple[str, ...]] | None = None
    postcode_in_address: bool = False
    constants: AbcMapping[str, str] = field(default_factory=dict)
    join: AbcMapping[str, tuple[str, ...]] = field(default_factory=dict)
    origin: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_toml(cls, path: str | Path) -> Mapping:
        """Read and validate a mapping TOML file.

        Raises:
            ConfigError: the file is missing or unreadable, the TOML does not parse
                (naming the line), or the mapping does not validate (every problem).
        """
        p = Path(path)
        try:
            text = p.read_bytes().decode("utf-8-sig")
        except FileNotFoundError:
            raise ConfigError("mapping file not found", file=str(p)) from None
        except IsADirectoryError:
            raise ConfigError("mapping path is a folder, not a file", file=str(p)) from None
        except UnicodeDecodeError:
            raise ConfigError("mapping file is not UTF-8 text", file=str(p)) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read the mapping file ({exc.strerror})", file=str(p)
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = str(exc)
            match = re.search(r"\(at line (\d+), column (\d+)\)", msg)
            line = int(match.group(1)) if match else None
            if match:
                msg = msg[: match.start()].strip()
                msg = f"{msg} at column {match.group(2)}"
            elif "end of document" in msg:
                line = text.count("\n") + 1
            raise ConfigError(
                f"mapping TOML does not parse: {msg}", [msg], file=str(p), row=line
            ) from None
        return cls.from_dict(data, origin=str(p))

    @classmethod
    def from_dict(cls, data: AbcMapping[str, Any], *, origin: str | None = None) -> Mapping:
        """Build and validate a mapping from its TOML-shaped dict.

        Raises:
            ConfigError: with every problem found in ``.problems``.
        """
        problems: list[str] = []
        if not isinstance(data, AbcMapping):
            raise ConfigError("a mapping must be a table of tables", file=origin)
        tables: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            if key not in _TABLES:
                problems.append(f"unknown table [{key}]{did_you_mean(key, list(_TABLES))}")
                continue
            if not isinstance(value, AbcMapping):
                problems.append(f"[{key}] must be a table")
                continue
            tables[key] = dict(value)
            allowed = _TABLES[key]
            for sub in value:
                if sub not in allowed:
                    hint = did_you_mean(sub, allowed)
                    if key == "columns" and sub == "source":
                        hint = " (the source name is set by [source] name or [constants])"
                    problems.append(f"unknown key {sub!r} in [{key}]{hint}")

        kwargs: dict[str, Any] = {}
        src = tables.get("source", {})
        for key in ("name", "sheet"):
            if key in src:
                if _nonempty_str(src[key]):
                    kwargs[key] = src[key].strip()
                else:
                    problems.append(f"[source] {key} must be a non-empty string")
        if "format" in src:
            fmt = src["format"]
            if isinstance(fmt, str) and fmt.strip().lower() in FORMATS:
                kwargs["format"] = fmt.strip().lower()
            else:
                problems.append(
                    f"[source] format must be one of {', '.join(FORMATS)}"
                    f"{did_you_mean(str(fmt), FORMATS)}"
                )
        if "encoding" in src:
            enc = src["encoding"]
            norm = enc.strip().lower().replace("_", "-") if isinstance(enc, str) else None
            if norm in ENCODINGS:
                kwargs["encoding"] = ENCODINGS[norm]
            else:
                problems.append(
                    "[source] encoding must be one of utf-8, utf-8-sig, utf-16, cp1252, latin-1"
                    f"{did_you_mean(str(enc), list(ENCODINGS))}"
                )
        if "delimiter" in src:
            delim = src["delimiter"]
            if isinstance(delim, str) and delim.lower() in DELIMITERS:
                kwargs["delimiter"] = DELIMITERS[delim.lower()]
            else:
                problems.append("[source] delimiter must be one of ',', ';', '|', 'tab'")
        if "sheet" in kwargs and kwargs.get("format") not in (None, "xlsx"):
            problems.append("[source] sheet is only for format 'xlsx'")

        cols = tables.get("columns", {})
        columns: dict[str, str] = {}
        for key, header in cols.items():
            if key not in MAPPABLE_COLUMNS:
                continue
            if _nonempty_str(header):
                columns[key] = header.strip()
            else:
                problems.append(f"[columns] {key} must name a column (a non-empty string)")
        if "record_id" not in cols and not {"referral_id", "contact_id"} <= set(cols):
            problems.append("[columns] record_id is required (the export's id column; "
                            "a contacts file names referral_id and contact_id)")
        if "full_name" in columns:
            clash = [p for p in NAME_PARTS if p in columns]
            if clash:
                problems.append(
                    f"[columns] full_name cannot be combined with {', '.join(clash)}: "
                    "map either full_name or the name parts"
                )
        kwargs["columns"] = columns

        names = tables.get("names", {})
        if "order" in names:
            order = names["order"]
            if order in ("surname_first", "forename_first"):
                kwargs["name_order"] = order
            else:
                problems.append(
                    "[names] order must be 'surname_first' or 'forename_first'"
                    f"{did_you_mean(str(order), ['surname_first', 'forename_first'])}"
                )
        for key in ("aliases_separator", "former_surnames_separator"):
            if key in names:
                if isinstance(names[key], str) and names[key] != "":
                    kwargs[key] = names[key]
                else:
                    problems.append(f"[names] {key} must be a non-empty string")

        dates = tables.get("dates", {})
        if "dob_formats" in dates:
            fmts = dates["dob_formats"]
            if isinstance(fmts, str):
                fmts = [fmts]
            if isinstance(fmts, list) and fmts and all(_nonempty_str(f) for f in fmts):
                for f in fmts:
                    problem = _check_date_format(f)
                    if problem:
                        problems.append(f"[dates] dob_formats: {problem}")
                if len(set(fmts)) != len(fmts):
                    problems.append("[dates] dob_formats lists a format twice")
                kwargs["dob_formats"] = tuple(fmts)
            else:
                problems.append(
                    "[dates] dob_formats must be a non-empty list of strptime "
                    'formats such as "%d/%m/%Y"'
                )

        if "sex" in tables:
            sex_codes: dict[str, tuple[str, ...]] = {}
            seen: dict[str, str] = {}
            for key, codes in tables["sex"].items():
                if key not in ("M", "F", "U"):
                    continue
                if isinstance(codes, str | int) and not isinstance(codes, bool):
                    codes = [codes]
                if not isinstance(codes, list) or not all(
                    isinstance(c, str | int) and not isinstance(c, bool) and str(c).strip()
                    for c in codes
                ):
                    problems.append(f"[sex] {key} must be a list of codes (strings)")
                    continue
                clean = tuple(str(c).strip() for c in codes)
                for code in clean:
                    other = seen.get(code.upper())
                    if other is not None and other != key:
                        problems.append(
                            f"[sex] code {code!r} is listed under both {other} and {key}"
                        )
                    seen[code.upper()] = key
                sex_codes[key] = clean
            kwargs["sex_codes"] = sex_codes

        address = tables.get("address", {})
        if "postcode_in_address" in address:
            flag = address["postcode_in_address"]
            if isinstance(flag, bool):
                kwargs["postcode_in_address"] = flag
            else:
                problems.append("[address] postcode_in_address must be true or false")

        constants: dict[str, str] = {}
        for key, value in tables.get("constants", {}).items():
            if key not in CONSTANT_COLUMNS:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int):
                problems.append(f"[constants] {key} must be a string")
                continue
            constants[key] = str(value)
            if key in columns:
                problems.append(f"[constants] {key} is also mapped in [columns]: choose one")
            if key in NAME_PARTS and "full_name" in columns:
                problems.append(f"[constants] {key} cannot be combined with [columns] full_name")
        kwargs["constants"] = constants
        if "source" in constants:
            if "name" in kwargs and kwargs["name"] != constants["source"]:
                problems.append("[constants] source differs from [source] name")
            if not constants["source"].strip():
                problems.append("[constants] source must be a non-empty string")

        join: dict[str, tuple[str, ...]] = {}
        for key, headers in tables.get("join", {}).items():
            if key not in _TABLES["join"]:
                continue
            if isinstance(headers, str):
                headers = [headers]
            if not (isinstance(headers, list) and headers
                    and all(_nonempty_str(h) for h in headers)):
                problems.append(f"[join] {key} must be a list of column names")
                continue
            join[key] = tuple(h.strip() for h in headers)
            if key not in columns:
                problems.append(f"[join] {key} needs [columns] {key} (the column joined onto)")
        kwargs["join"] = join

        if kwargs.get("postcode_in_address") and not (
            "address" in columns or "address" in constants
        ):
            problems.append("[address] postcode_in_address needs an address column")

        if problems:
            raise ConfigError(
                f"invalid mapping ({len(problems)} problem{'s' if len(problems) > 1 else ''}): "
                + "; ".join(problems),
                problems,
                file=origin,
            )
        return cls(origin=origin, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The mapping as a TOML-shaped dict; ``Mapping.from_dict(m.to_dict()) == m``."""
        out: dict[str, Any] = {}
        source = {
            k: v
            for k, v in (
                ("name", self.name),
                ("format", self.format),
                ("encoding", self.encoding),
                ("delimiter", self.delimiter),
                ("sheet", self.sheet),
            )
            if v is not None
        }
        if source:
            out["source"] = source
        out["columns"] = dict(self.columns)
        out["names"] = {
            "order": self.name_order,
            "aliases_separator": self.aliases_separator,
            "former_surnames_separator": self.former_surnames_separator,
        }
        out["dates"] = {"dob_formats": list(self.dob_formats)}
        if self.sex_codes is not None:
            out["sex"] = {k: list(v) for k, v in self.sex_codes.items()}
        out["address"] = {"postcode_in_address": self.postcode_in_address}
        if self.constants:
            out["constants"] = dict(self.constants)
        if self.join:
            out["join"] = {k: list(v) for k, v in self.join.items()}
        return out

    @classmethod
    def canonical(cls, headers: Sequence[str]) -> Mapping:
        """The identity mapping of a canonical file with these headers.

        Canonical columns are matched exactly, then ignoring case; ``source`` is not
        mapped (the source name comes from the caller).
        """
        exact = set(headers)
        lowered: dict[str, str] = {}
        for h in headers:
            lowered.setdefault(h.lower(), h)
        columns: dict[str, str] = {}
        for col in CANONICAL_COLUMNS:
            if col == "source":
                continue
            if col in exact:
                columns[col] = col
            elif col in lowered:
                columns[col] = lowered[col]
        return cls(columns=columns)

    # ------------------------------------------------------------------ helpers

    @property
    def effective_sex_codes(self) -> dict[str, tuple[str, ...]]:
        """The sex codes in force (the mapping's, else :data:`DEFAULT_SEX_CODES`)."""
        return dict(self.sex_codes) if self.sex_codes is not None else dict(DEFAULT_SEX_CODES)

    def separator(self, column: str) -> str:
        """The list separator of ``aliases`` or ``former_surnames``."""
        if column == "aliases":
            return self.aliases_separator
        if column == "former_surnames":
            return self.former_surnames_separator
        raise KeyError(column)

    def source_name(self) -> str | None:
        """The source name the mapping gives, if any (``[source] name`` or a constant)."""
        return self.name or self.constants.get("source")

    def headers(self) -> list[str]:
        """Every header the mapping reads: ``[columns]`` then ``[join]``, each once."""
        out = list(self.columns.values())
        out += [h for hs in self.join.values() for h in hs]
        return list(dict.fromkeys(out))

    def missing_columns(self, headers: Sequence[str]) -> list[str]:
        """Problems for every mapped header that is not among ``headers``, with hints.

        No hint quotes a header when the header row looks like data (a missing header).
        """
        present = set(headers)
        data_like = headers_look_like_data(headers)
        problems = []
        mapped = [*self.columns.items(), *((c, h) for c, hs in self.join.items() for h in hs)]
        for canonical, header in mapped:
            if header not in present:
                hint = (
                    " (the first row looks like data: is the header row missing?)"
                    if data_like
                    else did_you_mean(header, headers, cutoff=HEADER_HINT_CUTOFF)
                )
                problems.append(
                    f"column {header!r} (mapped to {canonical}) is not in the file{hint}"
                )
        return problems


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_date_format(fmt: str) -> str | None:
    """A problem with a strptime format, or None if DuckDB can use it."""
    directives = _STRPTIME_DIRECTIVE.findall(fmt)
    if not directives:
        return f"{fmt!r} has no % directives"
    unknown = [d for d in directives if d[-1] not in _KNOWN_DIRECTIVES]
    if unknown:
        return f"{fmt!r} has unknown directive {unknown[0]!r}"
    letters = {d[-1] for d in directives}
    if not letters & {"Y", "y", "G"}:
        return f"{fmt!r} has no year (%Y or %y)"
    return None
