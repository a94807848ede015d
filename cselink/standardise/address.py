"""UK postcode normalisation and address tokens, applied once per distinct value.

A UK postcode is an outward code (area letters + district, e.g. ``TA1``) and an inward
code (sector digit + unit letters, e.g. ``2AB``). Letter O and digit 0 are confused in
data entry, so each position is coerced to the character class the format requires.
A value that is not a UK postcode is kept as a compact upper-case key, with no outward
or sector code (FEBRL's Australian postcodes, for instance).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, NamedTuple

from cselink.identifiers import POSTCODE_IN_TEXT_LENIENT, POSTCODE_PARTS

_UK_POSTCODE: Final = re.compile(POSTCODE_PARTS)
_UK_IN_TEXT: Final = re.compile(POSTCODE_IN_TEXT_LENIENT, re.IGNORECASE)
#: The same on folded (lower-case, punctuation-free) text: cheaper without IGNORECASE.
_UK_IN_FOLDED: Final = re.compile(POSTCODE_IN_TEXT_LENIENT.lower())
_APOSTROPHES: Final = re.compile("['\u2018\u2019]")
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")
#: The UK's postcode areas (and the Crown Dependencies'), to tell a real area typed as it
#: is (LS, BS, CO) from a digit mistyped as a letter (MI4 for M14).
POSTCODE_AREAS: Final[frozenset[str]] = frozenset("""
    AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN
    DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY
    L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM
    S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN
    WR WS WV YO ZE
""".split())
_TO_DIGIT: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5"})
_TO_LETTER: Final = str.maketrans({"0": "O", "1": "I", "5": "S"})

#: Address words written several ways, mapped to one spelling.
_ADDRESS_WORDS: Final[dict[str, str]] = {
    "rd": "road", "st": "street", "str": "street", "ave": "avenue", "av": "avenue",
    "ln": "lane", "dr": "drive", "drv": "drive", "cl": "close", "ct": "court", "crt": "court",
    "cres": "crescent", "cresc": "crescent", "cr": "crescent", "pl": "place", "sq": "square",
    "gdns": "gardens", "gds": "gardens", "gr": "grove", "gro": "grove", "tce": "terrace",
    "terr": "terrace", "pk": "park", "hse": "house", "ho": "house", "flt": "flat",
    "apt": "flat", "apartment": "flat", "bldg": "building", "wy": "way", "hwy": "highway",
    "mt": "mount", "nth": "north", "sth": "south", "e": "east", "w": "west",
}
#: Address values that mean "no address".
_NO_ADDRESS: Final[frozenset[str]] = frozenset(
    {"nfa", "no fixed abode", "unknown", "not known", "none", "n a", "na", "homeless"}
)


def fold_keep_digits(value: str | None) -> str:
    """Like :func:`fold`, but digits survive (house numbers)."""
    text = str(value or "")
    if not text.isascii():  # NFKD is the identity on ASCII, the common case
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = _APOSTROPHES.sub("", text.lower())
    return " ".join(_NOT_ALNUM.sub(" ", plain).split())


class Postcode(NamedTuple):
    """A normalised postcode: the full key, and for UK postcodes outward code and sector."""

    full: str | None
    outward: str | None
    sector: str | None


def _uk_parts(compact: str) -> tuple[str, str] | None:
    """Split a compact candidate into outward and inward codes, fixing O/0 by position.

    An outward code typed with a real postcode area is kept (BS1, LS6, CO4, SW1A); else
    the first reading whose area is real wins (TAl -> TA1, MI4 -> M14, 5W1A -> SW1A).
    """
    if not 5 <= len(compact) <= 7:
        return None
    inward = compact[-3:]
    inward = inward[0].translate(_TO_DIGIT) + inward[1:].translate(_TO_LETTER)
    outward = compact[:-3]
    shaped = []
    # As typed first, then the area coerced to letters and the district's first character
    # to a digit, with a two-letter area (TA) before a one-letter one (M).
    for letters in (0, 2, 1):
        if letters and len(outward) <= letters:
            continue
        area, district = outward[:letters].translate(_TO_LETTER), outward[letters:]
        if letters:
            district = district[0].translate(_TO_DIGIT) + district[1:]
        match = _UK_POSTCODE.match(area + district + inward)
        if match:
            shaped.append((match.group(1) in POSTCODE_AREAS, area + district))
    if not shaped:
        return None
    real = [code for is_real, code in shaped if is_real]
    return (real or [shaped[0][1]])[0], inward


def normalise_postcode(value: str | None) -> Postcode:
    """Normalise a postcode; total over any string.

    Examples:
        >>> normalise_postcode("ta1 2ab")
        Postcode(full='TA1 2AB', outward='TA1', sector='TA1 2')
        >>> normalise_postcode("TAl 2AB").full  # a lower-case L typed for 1
        'TA1 2AB'
    """
    if value is None:
        return Postcode(None, None, None)
    compact = re.sub(r"[^A-Z0-9]", "", str(value).upper())
    if not compact:
        return Postcode(None, None, None)
    parts = _uk_parts(compact)
    if parts is None:
        return Postcode(compact, None, None)
    outward, inward = parts
    return Postcode(f"{outward} {inward}", outward, f"{outward} {inward[0]}")


def postcode_in_text(text: str | None) -> str | None:
    """The last UK-postcode-shaped substring of a free-text address, if any."""
    if not text:
        return None
    found = _UK_IN_TEXT.findall(str(text))
    if not found:
        return None
    out, inn = found[-1]
    return normalise_postcode(out + inn).full


def address_tokens(value: str | None) -> list[str]:
    """Address words, folded and with common abbreviations expanded; [] for no address.

    A postcode inside the address is left out (postcodes are compared on their own).
    """
    # Keep house numbers, which are strong evidence.
    text = _UK_IN_FOLDED.sub(" ", fold_keep_digits(value))
    raw = text.split()
    tokens = [_ADDRESS_WORDS.get(t, t) for t in raw]
    if " ".join(tokens) in _NO_ADDRESS:
        return []
    return tokens
