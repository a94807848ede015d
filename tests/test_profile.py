"""The data profile (cselink.profile): households, the twins guard's probability and forename
pairs learned from the data, on small populations made here and run through real DuckDB."""

from __future__ import annotations

import pandas as pd
import pytest

from cselink.pipeline import Linker
from cselink.profile import (
    MAX_TWINS_PROBABILITY,
    MIN_PROFILE_RECORDS,
    WITH_HOUSEHOLDS,
    WITHOUT_HOUSEHOLDS,
    DataProfile,
    estimate_twins_probability,
)

#: Made-up forenames no name table knows, written two ways: one young person's two records.
SHORT, LONG = "Zorvan", "Zorvanious"
FORENAMES = ["Amira", "Bethan", "Callum", "Dafydd", "Eilidh", "Farah", "Gethin", "Hamish",
             "Isla", "Jago", "Keira", "Lowri", "Morgan", "Nia", "Osian", "Pria"]
SURNAMES = ["Ashdown", "Brackley", "Cotterill", "Dunmore", "Elphick", "Farrant", "Gorringe",
            "Hazlehurst", "Inchbald", "Jessop", "Kettley", "Lumsden", "Mottram", "Nettleship"]


def _person(i: int, forename: str, surname: str, dob: str, sex: str) -> dict[str, str]:
    return {"forename": forename, "surname": surname, "dob": dob, "sex": sex,
            "address": f"{i + 1} Mill Lane, Taunton", "postcode": f"TA{i % 9 + 1} 1AB"}


def _families(with_siblings: bool, learned_households: int = 0,
              families: int = 300) -> dict[str, pd.DataFrame]:
    """Two agencies holding the same young people, one family per address; with a brother
    at each address when asked, and ``learned_households`` young people recorded as Zorvan
    in one agency and Zorvanious in the other."""
    a, b = [], []
    for i in range(families):
        surname = f"{SURNAMES[i % len(SURNAMES)]}{'abcdefghijklmnopqrstuvwxyz'[i // 26 % 26]}"
        kid = _person(i, FORENAMES[i % len(FORENAMES)], surname,
                      f"2009-{i % 12 + 1:02d}-{i % 27 + 1:02d}", "F")
        a.append(kid)
        b.append(dict(kid))
        if with_siblings:
            sib = _person(i, FORENAMES[-1 - i % len(FORENAMES)], surname,
                          f"2012-{i % 12 + 1:02d}-{i % 27 + 1:02d}", "M")
            a.append(sib)
            b.append(dict(sib))
    for j in range(learned_households):
        kid = _person(1000 + j, SHORT, f"Quarrington{'abcdefgh'[j]}", f"2010-0{j + 1}-05", "M")
        a.append(kid)
        b.append({**kid, "forename": LONG})
    frames = {}
    for name, rows in (("education", a), ("health", b)):
        frame = pd.DataFrame(rows)
        frame.insert(0, "record_id", [f"{name[0]}{k}" for k in range(len(frame))])
        frames[name] = frame
    return frames


def test_too_few_records_to_tell_are_taken_as_children_with_families() -> None:
    with Linker(_families(with_siblings=False, families=50)) as linker:
        assert linker.profile.records < MIN_PROFILE_RECORDS
        assert linker.profile.households and linker.comparisons == WITH_HOUSEHOLDS


def test_households_decide_location_and_the_guard() -> None:
    with Linker(_families(with_siblings=True)) as linker:
        profile = linker.profile
        assert profile.households and profile.twins_guard
        assert linker.comparisons == WITH_HOUSEHOLDS
    with Linker(_families(with_siblings=False)) as linker:
        profile = linker.profile
        assert profile.sibling_pairs == 0
        assert not profile.households and not profile.twins_guard
        assert linker.comparisons == WITHOUT_HOUSEHOLDS
        model = linker.fit()
    assert model.twins is None
    assert model.profile["households"] is False
    assert model.to_dict()["twins_guard"] is None


def test_the_guard_can_be_turned_off_whatever_the_data() -> None:
    from cselink.config import Settings

    with Linker(_families(with_siblings=True), settings=Settings(twins_probability=None)) as lk:
        assert lk.profile.households and not lk.profile.twins_guard
        assert lk.comparisons == WITH_HOUSEHOLDS  # the home is still one piece of evidence


@pytest.mark.parametrize("households", [2, 4])
def test_a_forename_pair_recurring_across_households_is_learned(households: int) -> None:
    with Linker(_families(with_siblings=True, learned_households=households)) as linker:
        learned = {(x["name"], x["alt"]): x for x in linker.profile.learned_names}
        pairs = linker.predict(0.0)
    key = (LONG.lower(), SHORT.lower()) if LONG.lower() < SHORT.lower() else (
        SHORT.lower(), LONG.lower())
    if households < 3:  # two households prove nothing
        assert key not in learned
        return
    assert learned[key]["households"] == households
    assert learned[key]["expected"] < 1
    ours = pairs[pairs["reasons"].str.contains("written both ways")]
    assert len(ours) == households
    assert ours["reasons"].str.contains(
        f"written both ways for {households} young people in these records").all()
    assert not ours["possible_twins"].any()
    assert (ours["match_probability"] > 0.9).all()


def _profile(within: tuple[int, int], across: tuple[int, int]) -> DataProfile:
    return DataProfile(records=1000, sibling_pairs=200, twin_pairs_within=sum(within),
                       twin_pairs_across=sum(across),
                       households=True, comparisons=WITH_HOUSEHOLDS, twins_guard=True,
                       twin_sexes_within=within, twin_sexes_across=across)


def test_twins_probability_counts_same_sex_pairs_beyond_what_twins_explain() -> None:
    # Within sources a third of twin pairs are of opposite sex; across sources 100 opposite
    # sex pairs mean about 200 same-sex twin pairs: of 300 same-sex pairs, 100 are one person.
    p = estimate_twins_probability(_profile((200, 100), (300, 100)), 0.001)
    assert p == pytest.approx(100 / 300, abs=0.01)
    # Only twins across sources: the floor.
    assert estimate_twins_probability(_profile((200, 100), (200, 100)), 0.001) == 0.001
    # Many more same-sex pairs than twins explain: still below an even chance.
    assert estimate_twins_probability(_profile((200, 100), (900, 10)), 0.001) == (
        MAX_TWINS_PROBABILITY)
    # No twin-like pairs across sources: nothing to estimate.
    assert estimate_twins_probability(_profile((200, 100), (0, 0)), 0.001) == 0.001


def test_reasons_quote_the_names_that_differ() -> None:
    frames = _families(with_siblings=False)
    frames["health"].loc[0, "forename"] = "Amirah"  # Amira: a spelling slip
    with Linker(frames) as linker:
        pairs = linker.predict(0.0)
    row = pairs[(pairs.record_id_l == "e0") & (pairs.record_id_r == "h0")].iloc[0]
    assert "('amira' / 'amirah')" in row["reasons"]


def test_an_index_from_before_the_profile_is_brought_up_to_date(tmp_path) -> None:
    from cselink.errors import UsageError

    db = tmp_path / "index.duckdb"
    with Linker(_families(with_siblings=True), database=db) as linker:
        linker.fit()
        expected = linker.profile
    # As an earlier cselink left it: no profile in the meta table, no known_twin column.
    with Linker.open(db) as linker:
        linker.con.execute("DELETE FROM cselink_meta WHERE key = 'profile'")
        linker.con.execute("ALTER TABLE records DROP COLUMN known_twin")
    with pytest.raises(UsageError, match="earlier cselink"):
        Linker.open(db, read_only=True)
    with Linker.open(db) as linker:
        assert linker.profile.households == expected.households
        assert linker.profile.sibling_pairs == expected.sibling_pairs
        pairs = linker.predict(0.5)
    assert len(pairs) > 0
