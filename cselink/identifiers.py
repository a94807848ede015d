"""Identifiers: the NHS number, the Unique Pupil Number (UPN) and UK postcode patterns.

Each rule is written once here, from named constants, in the forms cselink needs: Python
functions (the synthetic generator, the mapping suggester, standardisation) and, where
DuckDB checks it, a SQL builder made from the same constants (ingest). The tests in
``tests/test_identifiers.py`` run both forms through real DuckDB and hold them to each other
and to python-stdnum, so the copies cannot drift apart.

* **NHS number**: ten digits, the last a modulus-11 check digit over the first nine
  weighted 10 down to 2 (NHS Data Dictionary). A number of one repeated digit
  (0000000000, 1111111111, ...) passes the arithmetic but is a placeholder typed where the
  number is unknown, so it is not valid here: it must never count as agreement.
* **UPN** (DfE, "Unique Pupil Numbers" guidance): 13 characters, a check letter first, then
  the local-authority number (3 digits), the school's establishment number (4), the year
  of issue (2) and a serial (3); a temporary UPN ends in a letter instead of its last
  digit. The check letter is the weighted sum of characters 2 to 13 (weights 2 to 13,
  digits at their value, a letter at its place in the check-letter table) modulo 23,
  looked up in that table, which leaves out I, O and S.
* **UK postcode**: outward code (area letters + district, ``TA1``) and inward code
  (sector digit + two unit letters, ``2AB``).
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import numpy.typing as npt

from cselink.errors import UsageError

__all__ = [
    "NHS_LENGTH",
    "NHS_MODULUS",
    "NHS_SEPARATORS",
    "NHS_WEIGHTS",
    "POSTCODE",
    "POSTCODE_IN_TEXT",
    "POSTCODE_IN_TEXT_LENIENT",
    "POSTCODE_PARTS",
    "UPN_LETTERS",
    "UPN_WEIGHTS",
    "nhs_check_digit",
    "nhs_check_digits",
    "nhs_digits",
    "nhs_digits_sql",
    "nhs_number_is_valid",
    "nhs_number_valid_sql",
    "postcodes_in_text",
    "upn_check_letter",
    "upn_check_letters",
    "upn_is_valid",
]

# =========================================================================== NHS number

#: Digits in an NHS number.
NHS_LENGTH: Final = 10
#: Weights of the first nine digits in the check-digit sum.
NHS_WEIGHTS: Final[tuple[int, ...]] = tuple(range(NHS_LENGTH, 1, -1))
#: The check digit's modulus; a check value of 10 means no valid number has those nine digits.
NHS_MODULUS: Final = 11
#: Characters agencies write inside an NHS number ("943 476 5919", "943-476-5919").
NHS_SEPARATORS: Final[tuple[str, ...]] = (" ", "-", "\t")
_TEN_DIGITS: Final = f"[0-9]{{{NHS_LENGTH}}}"


def nhs_digits(number: str) -> str:
    """The number without the separators agencies write inside it.

    Examples:
        >>> nhs_digits("943 476-5919")
        '9434765919'
    """
    for sep in NHS_SEPARATORS:
        number = number.replace(sep, "")
    return number


def nhs_check_digit(nine: str) -> int:
    """The check digit of the first nine digits; 10 when no NHS number starts with them.

    Examples:
        >>> nhs_check_digit("943476591")
        9
    """
    total = sum(int(d) * w for d, w in zip(nine, NHS_WEIGHTS, strict=True))
    return (NHS_MODULUS - total % NHS_MODULUS) % NHS_MODULUS


def nhs_check_digits(nine: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """:func:`nhs_check_digit` over an ``(n, 9)`` array of digits (10: no valid number)."""
    total = nine @ np.array(NHS_WEIGHTS, dtype=np.int64)
    return (NHS_MODULUS - total % NHS_MODULUS) % NHS_MODULUS


def nhs_number_is_valid(number: str) -> bool:
    """True for ten digits (separators allowed) with a valid check digit, not one repeated digit.

    Examples:
        >>> nhs_number_is_valid("943 476 5919")
        True
        >>> nhs_number_is_valid("9434765918")
        False
        >>> nhs_number_is_valid("0000000000")  # passes modulus 11, but a placeholder
        False
    """
    d = nhs_digits(number)
    if re.fullmatch(_TEN_DIGITS, d) is None or d == d[0] * NHS_LENGTH:
        return False
    return nhs_check_digit(d[: NHS_LENGTH - 1]) == int(d[-1])


def nhs_digits_sql(col: str) -> str:
    """SQL: the column ``col`` (an expression) without the separators of :data:`NHS_SEPARATORS`."""
    out = col
    for sep in NHS_SEPARATORS:
        out = f"replace({out}, chr({ord(sep)}), '')"
    return out


def nhs_number_valid_sql(col: str, digits: str) -> str:
    """SQL: :func:`nhs_number_is_valid` in DuckDB; NULL when ``col`` is NULL.

    Args:
        col: the NHS number column as recorded (an SQL expression).
        digits: the same without separators (:func:`nhs_digits_sql`).
    """
    weighted = " + ".join(
        f"{w} * CAST(substr({digits}, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(NHS_WEIGHTS)
    )
    check = f"(({NHS_MODULUS} - (({weighted}) % {NHS_MODULUS})) % {NHS_MODULUS})"
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN NOT regexp_full_match({digits}, '{_TEN_DIGITS}') THEN FALSE "
        f"WHEN {digits} = repeat(substr({digits}, 1, 1), {NHS_LENGTH}) THEN FALSE "
        f"ELSE {check} = CAST(substr({digits}, {NHS_LENGTH}, 1) AS INTEGER) END"
    )


# =========================================================================== UPN

#: The check-letter table: 23 letters, without I, O and S; a letter's value is its place.
UPN_LETTERS: Final = "ABCDEFGHJKLMNPQRTUVWXYZ"
#: Weights of characters 2 to 13.
UPN_WEIGHTS: Final[tuple[int, ...]] = tuple(range(2, 14))
_UPN_REST: Final = re.compile(f"[0-9]{{11}}[0-9{UPN_LETTERS}]")


def upn_check_letter(rest: str) -> str:
    """The check letter of a UPN, from its other 12 characters.

    Args:
        rest: characters 2 to 13: eleven digits, then a digit (a permanent UPN) or a
            letter of :data:`UPN_LETTERS` (a temporary one).

    Raises:
        UsageError: ``rest`` is not of that shape.

    Examples:
        >>> upn_check_letter("801200001001")
        'H'
    """
    if _UPN_REST.fullmatch(rest) is None:
        raise UsageError("a UPN check letter needs the 12 characters after it")
    values = [int(c) if c.isdigit() else UPN_LETTERS.index(c) for c in rest]
    total = sum(v * w for v, w in zip(values, UPN_WEIGHTS, strict=True))
    return UPN_LETTERS[total % len(UPN_LETTERS)]


def upn_check_letters(digits: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """:func:`upn_check_letter` over an ``(n, 12)`` array of digits (permanent UPNs)."""
    total = digits @ np.array(UPN_WEIGHTS, dtype=np.int64)
    return np.array(list(UPN_LETTERS), dtype=object)[total % len(UPN_LETTERS)]


def upn_is_valid(upn: str) -> bool:
    """True for a 13-character UPN whose first character is its check letter.

    The local-authority number is not checked against a list: authorities are created and
    merged, and a list would go stale.

    Examples:
        >>> upn_is_valid("H801200001001")
        True
        >>> upn_is_valid("A801200001001")
        False
    """
    upn = upn.strip().upper()
    if len(upn) != 13 or _UPN_REST.fullmatch(upn[1:]) is None:
        return False
    return upn_check_letter(upn[1:]) == upn[0]


# =========================================================================== UK postcode

#: A postcode as written: outward code, an optional space, inward code. Letters in either
#: case, spelt out rather than by a case-insensitive flag, because DuckDB's RE2 folds
#: case over Unicode (the Kelvin sign matches K) and Python's ``re.ASCII`` does not.
POSTCODE: Final = r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]?[\t\n\f\r ]?[0-9][A-Za-z]{2}"
#: A postcode inside free text, one group (the postcode). The same text works in DuckDB
#: (``regexp_extract_all(address, ?, 1)``) and in Python compiled with ``re.ASCII``, where
#: ``\b`` is the ASCII word boundary RE2 uses.
POSTCODE_IN_TEXT: Final = rf"\b({POSTCODE})\b"
#: A compact upper-case postcode, anchored, in four groups: area, district, sector, unit.
POSTCODE_PARTS: Final = r"^([A-Z]{1,2})([0-9][0-9A-Z]?)([0-9])([A-Z]{2})$"
#: A postcode inside free text, lenient about letter O typed for digit 0 and about spacing;
#: two groups (outward, inward). Upper case; compile with ``re.IGNORECASE``, or lower the
#: pattern for text already folded to lower case.
POSTCODE_IN_TEXT_LENIENT: Final = r"\b([A-Z]{1,2}[0-9O][0-9A-Z]?)\s*([0-9O][A-Z0-9]{2})\b"

_POSTCODE_IN_TEXT_RE: Final = re.compile(POSTCODE_IN_TEXT, re.ASCII)


def postcodes_in_text(text: str) -> list[str]:
    """Every postcode-shaped substring of ``text``, as DuckDB's ``regexp_extract_all`` finds them.

    Examples:
        >>> postcodes_in_text("1 High St, Taunton TA1 2AB")
        ['TA1 2AB']
    """
    return _POSTCODE_IN_TEXT_RE.findall(text)
