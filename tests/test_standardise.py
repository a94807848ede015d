"""Standardisers: behaviour on domain cases, and idempotent and total over any Unicode."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cselink.pipeline import Linker
from cselink.standardise.address import address_tokens, normalise_postcode
from cselink.standardise.names import (
    clean_forename,
    clean_surname,
    fold,
    split_full_name,
    surname_parts,
    variant_pairs,
)


def test_apostrophes_spaces_and_accents_fold_to_one_key() -> None:
    keys = {clean_surname(s) for s in ["O'Brien", "O\u2019Brien", "OBrien", "O Brien", "o'brien"]}
    assert keys == {"obrien"}
    assert clean_forename("Zoë") == clean_forename("ZOE") == "zoe"


def test_placeholders_and_noise_words_are_not_names() -> None:
    for value in ["Unknown", "BABY BOY", "Twin 1", "NFA", "  ", "n/k"]:
        assert clean_forename(value) is None, value
    assert clean_forename("Miss Jade") == "jade"
    assert split_full_name("SMITH, Jade Louise") == ("jade", "smith")
    assert split_full_name("Sean O Brien") == ("sean", "obrien")


def test_double_barrelled_surname_parts() -> None:
    assert surname_parts("Smith-Jones") == ["smith", "jones"]
    assert surname_parts("van der Berg") == ["vanderberg"]


def test_nicknames_are_not_transitive() -> None:
    pairs = variant_pairs()
    assert ("rob", "robert") in pairs and ("robert", "rob") in pairs
    # Find a name standing for two others that do not stand for each other.
    by_name: dict[str, set[str]] = {}
    for a, b in pairs:
        by_name.setdefault(a, set()).add(b)
    witness = next(
        (a, b, c) for a, others in sorted(by_name.items())
        for b in sorted(others) for c in sorted(others)
        if b < c and (b, c) not in pairs
    )
    a, b, c = witness
    assert (a, b) in pairs and (a, c) in pairs and (b, c) not in pairs


def test_postcodes() -> None:
    assert normalise_postcode("b11 oab").full == "B11 0AB"
    assert normalise_postcode("SW1A1AA").sector == "SW1A 1"
    assert normalise_postcode("2000").outward is None
    # Areas whose second letter looks like a digit (S/5, O/0, L/1) are kept as typed.
    for typed in ("BS1 4AB", "LS6 1AB", "CO4 3SQ", "OL1 1AA", "SL1 2AB", "SO16 3AB"):
        assert normalise_postcode(typed.lower()).full == typed
    # A digit typed as a letter, or the reverse, is repaired towards a real area.
    assert normalise_postcode("MI4 4PX").full == "M14 4PX"
    assert normalise_postcode("5W1A 1AA").full == "SW1A 1AA"
    assert normalise_postcode("TAl 2AB").full == "TA1 2AB"
    assert address_tokens("12 Oak Rd, Taunton TA1 2AB") == ["12", "oak", "road", "taunton"]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_name_cleaning_is_total_and_idempotent(text: str) -> None:
    fn = clean_forename(text)
    sn = clean_surname(text)
    assert fn is None or (fn and clean_forename(fn) == fn)
    assert sn is None or clean_surname(sn) == sn
    assert fold(fold(text)) == fold(text)
    split_full_name(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_postcode_and_address_are_total_and_idempotent(text: str) -> None:
    pc = normalise_postcode(text)
    if pc.full is not None:
        assert normalise_postcode(pc.full) == pc
    tokens = address_tokens(text)
    assert address_tokens(" ".join(tokens)) == tokens


def test_records_and_variants_tables() -> None:
    police = pd.DataFrame([{
        "record_id": "P1", "forename": "Jade", "middle_names": "Louise",
        "surname": "Smith-Jones", "aliases": "JB Brown; Shorty", "former_surnames": "Williams",
        "dob": "2009-03-04", "sex": "F", "postcode": "ta1 2ab",
    }])
    with Linker({"police": police}) as linker:
        kinds = linker.con.execute(
            "SELECT kind, fn, sn FROM name_variants ORDER BY ALL").fetchall()
        rec = linker.con.execute("SELECT dob_swapped, pc, pc_sector FROM records").fetchone()
    assert ("primary", "jade", "smithjones") in kinds
    assert ("alias", "jb", "brown") in kinds
    assert ("alias", "shorty", "smithjones") in kinds
    assert ("former_surname", "jade", "williams") in kinds
    assert ("surname_part", "jade", "smith") in kinds
    assert ("surname_part", "jade", "jones") in kinds
    assert ("middle_name", "louise", "smithjones") in kinds
    assert str(rec[0]) == "2009-04-03" and rec[1:] == ("TA1 2AB", "TA1 2")


def test_postcode_inside_the_address_stands_in_for_a_missing_postcode() -> None:
    health = pd.DataFrame([
        {"record_id": "H1", "forename": "Amy", "surname": "Khan",
         "address": "Flat 2, 7 Mill Lane, Leeds ls6 1ab", "postcode": None},
        {"record_id": "H2", "forename": "Amy", "surname": "Khan",
         "address": "7 Mill Lane LS6 1AB", "postcode": "LS7 3XY"},
        {"record_id": "H3", "forename": "Amy", "surname": "Khan",
         "address": "7 Mill Lane, Leeds", "postcode": None},
    ])
    with Linker({"health": health}) as linker:
        rows = linker.con.execute(
            "SELECT record_id, pc, pc_outward, pc_sector, addr FROM records ORDER BY record_id"
        ).fetchall()
    assert rows == [
        # No other record holds "LS6 1AB" as a raw postcode: the address alone gives it.
        ("H1", "LS6 1AB", "LS6", "LS6 1", "flat 2 7 mill lane leeds"),
        # A recorded postcode wins over one written in the address.
        ("H2", "LS7 3XY", "LS7", "LS7 3", "7 mill lane"),
        ("H3", None, None, None, "7 mill lane leeds"),
    ]
