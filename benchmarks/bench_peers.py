"""Smoke tests of the benchmark peers, loaders and measuring harness on small FEBRL slices.

These keep the benchmark code from rotting: every peer runs end to end on a few
hundred records and must give sane, useful output. The full measurements are
``python -m benchmarks.quality`` (``--tasks febrl4,febrl3,febrl2,febrl1`` for FEBRL alone).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from benchmarks import peers
from benchmarks.febrl import load_febrl3, load_febrl4, true_pairs_by_entity, write_canonical_csv
from benchmarks.measure import machine_info, run_measured
from cselink.evaluation import pair_metrics
from cselink.schema import CANONICAL_COLUMNS

pytest.importorskip("recordlinkage")

_N_ENTITIES = 300


def _entity(record_id: str) -> int:
    return int(record_id.split("-")[1])


@pytest.fixture(scope="module")
def febrl4_slice() -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[str, str]]]:
    """Entities 0-299 of FEBRL4: 300 records each side, 300 true links."""
    left, right, truth = load_febrl4()
    keep_l = left[left["record_id"].map(_entity) < _N_ENTITIES].reset_index(drop=True)
    keep_r = right[right["record_id"].map(_entity) < _N_ENTITIES].reset_index(drop=True)
    ids = set(keep_l["record_id"]) | set(keep_r["record_id"])
    return keep_l, keep_r, {p for p in truth if p[0] in ids and p[1] in ids}


@pytest.fixture(scope="module")
def febrl3_slice() -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """The FEBRL3 records of 300 entities, with their within-entity pairs."""
    records, _ = load_febrl3()
    entities = sorted(records["record_id"].map(_entity).unique())[:_N_ENTITIES]
    keep = records[records["record_id"].map(_entity).isin(entities)].reset_index(drop=True)
    return keep, true_pairs_by_entity(keep["record_id"])


def _check_output(out: pd.DataFrame, peer: str) -> None:
    assert list(out.columns) == list(peers.PEER_OUTPUT_COLUMNS)
    assert out["match_probability"].between(0.0, 1.0).all()
    assert not out["match_probability"].isna().any()
    assert out.attrs["peer"] == peer
    assert out.attrs["candidate_pairs"] >= len(out[out["match_probability"] >= 0.5])
    assert not (out["record_id_l"] == out["record_id_r"]).any()


def test_febrl4_loader_is_canonical_and_complete() -> None:
    left, right, truth = load_febrl4()
    assert (len(left), len(right), len(truth)) == (5000, 5000, 5000)
    assert list(left.columns) == list(CANONICAL_COLUMNS)
    assert "soc_sec_id" not in left.columns
    assert set(left["source"]) == {"febrl4a"} and set(right["source"]) == {"febrl4b"}
    assert all(a < b for a, b in truth)
    dob = pd.concat([left["dob"], right["dob"]])
    assert dob[dob != ""].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert (dob == "").sum() > 0  # missing and impossible dates are emptied, not kept
    assert left["postcode"].str.fullmatch(r"\d{4}").all()
    first = left.set_index("record_id").loc["rec-1070-org"]
    assert (first["forename"], first["surname"], first["dob"]) == (
        "michaela",
        "neumann",
        "1915-11-11",
    )
    assert first["address"] == "8 stanley street miami winston hills nsw"
    assert not left["address"].str.contains("  ").any()


def test_febrl3_truth_is_every_within_entity_pair() -> None:
    records, truth = load_febrl3()
    assert len(records) == 5000
    assert len(truth) == 6538  # the count the FEBRL3 documentation gives
    assert all(a < b and _entity(a) == _entity(b) for a, b in truth)
    sizes = records["record_id"].map(_entity).value_counts()
    assert len(truth) == int((sizes * (sizes - 1) // 2).sum())


def test_write_canonical_csv_round_trips(tmp_path, febrl4_slice) -> None:
    left, _, _ = febrl4_slice
    path = write_canonical_csv(left.drop(columns=["nhs_number"]), tmp_path / "a.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == list(CANONICAL_COLUMNS)
    pd.testing.assert_frame_equal(
        back[["record_id", "dob", "postcode"]],
        left[["record_id", "dob", "postcode"]].astype(object),
    )


_LINKERS: list[tuple[str, Callable[..., pd.DataFrame], Callable[..., pd.DataFrame], float]] = [
    # (peer, link, dedupe, F1 floor on the slices)
    ("exact", peers.exact_link, peers.exact_dedupe, 0.3),
    ("recordlinkage", peers.recordlinkage_link, peers.recordlinkage_dedupe, 0.8),
    ("splink", peers.splink_link, peers.splink_dedupe, 0.85),
]


@pytest.mark.parametrize(
    ("peer", "link", "dedupe", "floor"), _LINKERS, ids=[row[0] for row in _LINKERS]
)
def test_peer_links_and_dedupes_febrl_slices(
    peer, link, dedupe, floor, febrl4_slice, febrl3_slice
) -> None:
    if peer == "splink":
        pytest.importorskip("splink")
    left, right, truth4 = febrl4_slice
    out = link(left, right)
    _check_output(out, peer)
    assert set(out["record_id_l"]) <= set(left["record_id"])
    assert set(out["record_id_r"]) <= set(right["record_id"])
    m4 = pair_metrics(out[out["match_probability"] >= 0.5], truth4, candidates=out)
    assert m4.f1 >= floor, m4
    assert m4.precision >= 0.9, m4

    records, truth3 = febrl3_slice
    out3 = dedupe(records)
    _check_output(out3, peer)
    m3 = pair_metrics(out3[out3["match_probability"] >= 0.5], truth3, candidates=out3)
    assert m3.f1 >= floor, m3
    if peer != "exact":
        # the probabilistic peers block more widely than they link
        assert m3.pairs_completeness is not None and m3.pairs_completeness >= m3.recall


def test_exact_peer_is_case_and_space_insensitive_but_nothing_more() -> None:
    left = pd.DataFrame(
        {
            "record_id": ["a1", "a2", "a3"],
            "source": "s1",
            "forename": [" Jade ", "Kai", "Rob"],
            "surname": ["BROWN", "Li", "Smith"],
            "dob": ["2008-03-01", "2009-01-02", ""],
        }
    )
    right = pd.DataFrame(
        {
            "record_id": ["b1", "b2", "b3"],
            "source": "s2",
            "forename": ["jade", "Kai", "Rob"],
            "surname": ["brown ", "Lee", "Smith"],
            "dob": ["2008-03-01", "2009-01-02", ""],
        }
    )
    out = peers.exact_link(left, right)
    assert out[["record_id_l", "record_id_r"]].values.tolist() == [["a1", "b1"]]
    assert out.attrs["candidate_pairs"] == 1


def test_blocking_keys_keep_broad_keys_only_when_affordable(monkeypatch) -> None:
    frame = peers.prepare_records(
        pd.DataFrame(
            {
                "record_id": [str(i) for i in range(6)],
                "forename": ["amy"] * 6,
                "surname": ["x", "y", "z", "x", "y", "z"],
                "dob": ["2001-01-01"] * 6,
                "postcode": ["1000"] * 6,
            }
        )
    )
    assert peers._comparisons_for_key([frame], ("forename",)) == 15
    assert peers._comparisons_for_key([frame, frame], ("surname",)) == 12
    monkeypatch.setattr(peers, "BROAD_KEY_BUDGET", 14)
    keys = peers.blocking_keys([frame])
    assert ("surname",) in keys and ("forename",) not in keys and ("postcode",) not in keys


def _plan_frame() -> pd.DataFrame:
    """Eight records: six share a DOB, six share an alias, two have swapped names."""
    return peers.prepare_records(
        pd.DataFrame(
            {
                "record_id": [str(i) for i in range(8)],
                "forename": ["amy", "amy", "amy", "ben", "ben", "cat", "smith", "young"],
                "surname": ["smith", "smyth", "jones", "brown", "green", "cat", "young", "smith"],
                "dob": ["2001-01-01"] * 6 + ["1999-05-05", "1999-05-06"],
                "postcode": ["AB1 2CD"] * 4 + ["EF3 1AA", "CD2 1AA", "", "AB1 2CD"],
                "aliases": ["", "", "jo bloggs", "jo bloggs", "jo bloggs", "jo bloggs",
                            "jo bloggs", "jo bloggs"],
            }
        )
    )


def _brute_force_count(frames: list[pd.DataFrame], key: tuple[str, ...]) -> int:
    """The pairs a join on ``key`` makes, one record pair at a time (a pair on list
    columns once per shared combination of elements, as the group-by counts them)."""
    left, right = frames[0], frames[-1]

    def joins(a: pd.Series, b: pd.Series) -> int:
        shared = 1
        for column in key:
            if column == peers.SWAPPED_NAMES:
                shared *= int(a["forename"] is not None and a["surname"] is not None
                              and a["forename"] == b["surname"]
                              and a["surname"] == b["forename"])
            elif column in peers.ARRAY_COLUMNS:
                shared *= len(set(a[column] or ()) & set(b[column] or ()))
            else:
                shared *= int(a[column] is not None and a[column] == b[column])
        return shared

    return sum(
        joins(left.iloc[i], right.iloc[j])
        for i in range(len(left))
        for j in range(len(right))
        if len(frames) > 1 or i < j
    )


@pytest.mark.parametrize(
    "key",
    [
        ("dob",),
        ("dob", "postcode_district"),
        (peers.SWAPPED_NAMES,),
        (peers.SWAPPED_NAMES, "dob_year"),
        ("forename_variants", "surname_variants"),
        ("forename_variants", "surname_variants", "dob_month_day"),
    ],
)
def test_pair_counts_match_brute_force(key) -> None:
    frame = _plan_frame()
    other = frame.iloc[::-1].reset_index(drop=True)
    assert peers._comparisons_for_key([frame], key) == _brute_force_count([frame], key)
    assert peers._comparisons_for_key([frame, other], key) == _brute_force_count(
        [frame, other], key
    )


def test_blocking_plan_is_unchanged_within_budget() -> None:
    frame = _plan_frame()
    plan = peers.blocking_plan([frame], variants=True)
    assert list(plan) == [
        *peers.TIGHT_BLOCKING_KEYS,
        *peers.BROAD_BLOCKING_KEYS,
        (peers.SWAPPED_NAMES,),
        ("forename_variants", "surname_variants"),
    ]
    assert plan[("dob",)] == 15  # six records share a DOB
    assert plan[(peers.SWAPPED_NAMES,)] == 1  # smith young / young smith; cat cat is alone
    assert peers.blocking_keys([frame]) == [k for k in plan if peers.ARRAY_COLUMNS.isdisjoint(k)]


def test_blocking_plan_tightens_keys_over_budget(monkeypatch) -> None:
    frame = _plan_frame()
    monkeypatch.setattr(peers, "KEY_PAIR_BUDGET", 8)
    plan = peers.blocking_plan([frame], variants=True)
    # DOB (15 pairs) is pinned down along each part of a person it leaves free
    assert ("dob",) not in plan
    for key in [("dob", "forename_soundex"), ("dob", "surname_soundex"),
                ("dob", "postcode_district")]:
        assert plan[key] == _brute_force_count([frame], key) <= 8
    # the alias rule (15) gets the two halves of the DOB and the postcode district
    assert ("forename_variants", "surname_variants") not in plan
    assert ("forename_variants", "surname_variants", "dob_year") in plan
    assert ("forename_variants", "surname_variants", "dob_month_day") in plan
    # keys within the budget are kept as they are, in their place
    assert list(plan)[3:5] == [("surname", "forename_initial"), ("postcode", "forename_initial")]
    tight = [key for key in plan if key not in peers.BROAD_BLOCKING_KEYS]
    assert all(plan[key] <= 8 for key in tight)
    # no tight key kept is implied by another
    assert not any(set(a) < set(b) for a in tight for b in tight)


def test_blocking_plan_tightens_again_while_over_budget(monkeypatch) -> None:
    frame = _plan_frame()
    monkeypatch.setattr(peers, "KEY_PAIR_BUDGET", 2)
    monkeypatch.setattr(peers, "BROAD_KEY_BUDGET", 2)
    plan = peers.blocking_plan([frame], variants=True)
    assert ("dob", "postcode_district") not in plan  # 6 pairs: tightened again
    assert ("dob", "forename_soundex") not in plan  # 4 pairs: tightened again
    assert ("dob", "surname_soundex") in plan  # 1 pair
    # ... so (dob, forename soundex, surname soundex) is implied and left out
    assert ("dob", "forename_soundex", "surname_soundex") not in plan
    assert ("postcode", "forename_initial", "surname_soundex") in plan
    assert all(count <= 2 for count in plan.values())


def test_splink_rules_carry_the_tightening_keys() -> None:
    pytest.importorskip("splink")
    rules = peers._splink_blocking_rules(
        [("dob", "forename_soundex"), (peers.SWAPPED_NAMES, "dob_year"),
         ("forename_variants", "surname_variants", "dob_year")]
    )
    assert rules[1] == (
        "l.forename = r.surname AND l.surname = r.forename AND l.dob_year = r.dob_year"
    )
    exploded = rules[2].get_blocking_rule("duckdb")
    assert set(exploded.array_columns_to_explode) == set(peers.ARRAY_COLUMNS)
    assert "dob_year" in exploded.blocking_rule_sql
    assert "forename_soundex" in rules[0].get_blocking_rule("duckdb").blocking_rule_sql


def test_splink_scores_exactly_the_tightened_plan(febrl4_slice, monkeypatch) -> None:
    """Splink's candidate pairs are the union of the plan's joins, tightened or not."""
    pytest.importorskip("splink")
    left, right, _ = febrl4_slice
    left, right = left.copy(), right.copy()
    left["aliases"] = ""
    right["former_surnames"] = right["surname"].where(np.arange(len(right)) % 3 == 0, "")
    prep_l = peers.prepare_records(left)
    prep_r = peers.prepare_records(right, uid_offset=len(prep_l))
    # a budget every rule is over, the swapped-name and alias rules included
    monkeypatch.setattr(peers, "KEY_PAIR_BUDGET", 5)
    monkeypatch.setattr(peers, "BROAD_KEY_BUDGET", 0)
    plan = peers.blocking_plan([prep_l, prep_r], variants=True)
    assert not set(plan) & {*peers.TIGHT_BLOCKING_KEYS, *peers.BROAD_BLOCKING_KEYS}
    assert (peers.SWAPPED_NAMES,) not in plan
    assert any(peers.SWAPPED_NAMES in key and len(key) > 1 for key in plan)
    assert any(peers.ARRAY_COLUMNS <= set(key) and len(key) > 2 for key in plan)
    expected: set[tuple[str, str]] = set()
    for key in plan:
        cols = [c for c in key if c != peers.SWAPPED_NAMES]
        l_on, r_on = cols, cols
        if peers.SWAPPED_NAMES in key:
            l_on, r_on = ["forename", "surname", *cols], ["surname", "forename", *cols]
        a, b = prep_l[["record_id", *l_on]], prep_r[["record_id", *r_on]]
        for col in peers.ARRAY_COLUMNS & set(cols):
            a, b = a.explode(col), b.explode(col)
        joined = a.dropna().merge(b.dropna(), left_on=l_on, right_on=r_on)
        expected |= set(zip(joined["record_id_x"], joined["record_id_y"], strict=True))
    out = peers.splink_link(left, right)
    assert set(zip(out["record_id_l"], out["record_id_r"], strict=True)) == expected


def test_prepare_records_builds_alias_and_surname_variants() -> None:
    frame = pd.DataFrame(
        {
            "record_id": ["1", "2"],
            "forename": ["Zoë", ""],
            "surname": ["Smith-Jones", "O'Brien"],
            "aliases": ["Jay Brown; JB", ""],
            "former_surnames": ["Walker", None],
            "dob": ["2007-13-01", "1900-01-01"],
            "postcode": ["ta12ab", "1234"],
        }
    )
    prepared = peers.prepare_records(frame, uid_offset=10)
    assert prepared["uid"].tolist() == [10, 11]
    assert prepared.loc[0, "forename"] == "zoe"
    assert prepared.loc[0, "forename_variants"] == ["jay", "jb", "zoe"]
    assert prepared.loc[0, "surname_variants"] == [
        "brown",
        "jones",
        "smith",
        "smith-jones",
        "walker",
    ]
    assert prepared.loc[0, "given_names"] == ["zoe"]
    assert prepared.loc[0, "full_name"] == "zoe smith-jones"
    assert prepared.loc[1, "forename"] is None and prepared.loc[1, "surname"] == "obrien"
    assert prepared.loc[1, "full_name"] is None
    assert prepared["dob"].isna().all()  # impossible month; unknown-date placeholder
    assert prepared["postcode"].tolist() == ["TA1 2AB", "1234"]


def _household_pairs(rows: list[dict[str, str]]) -> pd.DataFrame:
    """Every ordered pair of the prepared rows, with ``_l`` / ``_r`` columns as Splink's."""
    base = {"source": "s", "dob": "2012-05-04", "postcode": "LS8 1AA",
            "address": "1 Park Road, Leeds", "surname": "Khan"}
    prepared = peers.prepare_records(pd.DataFrame([{**base, **row} for row in rows]))
    left = prepared.add_suffix("_l").assign(key=1)
    right = prepared.add_suffix("_r").assign(key=1)
    pairs = left.merge(right, on="key")
    return pairs[pairs["uid_l"] != pairs["uid_r"]].reset_index(drop=True)


def test_twins_rule_caps_two_children_of_a_household_and_spares_one_child() -> None:
    import duckdb

    rows = [
        {"record_id": "twin_a", "forename": "Amir", "middle_names": "Ali"},
        {"record_id": "twin_b", "forename": "Zain", "middle_names": "Omar"},
        {"record_id": "sibling", "forename": "Sara", "dob": "2009-11-30"},
        {"record_id": "twin_b_swapped", "forename": "Khan", "surname": "Zain"},
        {"record_id": "twin_b_typo", "forename": "Zian", "surname": "Kahn"},
        {"record_id": "twin_a_by_middle", "forename": "Ali"},
        {"record_id": "twin_a_alias", "forename": "Sonny", "aliases": "Amir Khan"},
        {"record_id": "elsewhere", "forename": "Ruby", "postcode": "M1 1AA",
         "address": "9 Mill Lane, Manchester"},
    ]
    con = duckdb.connect()
    con.register("pairs", _household_pairs(rows))
    flagged = con.sql(
        f"SELECT record_id_l, record_id_r FROM pairs WHERE coalesce({peers._TWINS_CONDITION},"
        " false)").df()
    got = {tuple(sorted(p)) for p in zip(flagged["record_id_l"], flagged["record_id_r"],
                                          strict=True)}
    # two children of the household (twins, or siblings born apart) are capped ...
    assert ("twin_a", "twin_b") in got and ("sibling", "twin_a") in got
    assert ("twin_a", "twin_b_swapped") in got  # after undoing the swap, Amir vs Zain
    # ... one child written two ways is not: swapped names, a typing slip in both names,
    # known by the middle name, an alias in common; nor a child living elsewhere.
    for one_child in [("twin_b", "twin_b_swapped"), ("twin_b", "twin_b_typo"),
                      ("twin_a", "twin_a_by_middle"), ("twin_a", "twin_a_alias")]:
        assert tuple(sorted(one_child)) not in got
    assert not any("elsewhere" in pair for pair in got)


def test_recordlinkage_compares_one_home_on_family_data() -> None:
    import recordlinkage

    rows = [
        {"record_id": "a", "forename": "Amir", "postcode": "LS8 1AA", "address": "1 Park Rd"},
        {"record_id": "b", "forename": "Zain", "postcode": "LS8 1AA", "address": "1 Park Rd"},
        {"record_id": "c", "forename": "Amir", "postcode": "", "address": "1 Park Rd"},
        {"record_id": "d", "forename": "Amir", "postcode": "M1 1AA", "address": "9 Mill Ln"},
    ]
    frame = peers._rl_frame(peers.prepare_records(
        pd.DataFrame(rows).assign(source="s", surname="Khan", dob="2012-05-04")))
    pairs = recordlinkage.index.Full().index(frame)
    plain = peers._rl_features(pairs, frame, frame)
    family = peers._rl_features(pairs, frame, frame, families=True)
    assert list(plain.columns) == ["fn", "sn", "dob", "pc", "addr"]
    assert list(family.columns) == ["fn", "sn", "dob", "home"]
    assert (family["home"] == plain[["pc", "addr"]].max(axis=1)).all()
    assert family["home"].sum() == 3  # a-b, a-c, b-c share the home; d lives elsewhere


def test_splink_alias_path_links_changed_surnames_and_splits_twins(febrl4_slice) -> None:
    pytest.importorskip("splink")
    left, right, truth = febrl4_slice
    rng = np.random.default_rng(7)
    left, right = left.copy(), right.copy()
    left["aliases"] = ""
    right["former_surnames"] = ""
    # a third of B changed surname, the old one recorded as former surname
    moved = rng.choice(len(right), size=len(right) // 3, replace=False)
    right.loc[moved, "former_surnames"] = right.loc[moved, "surname"]
    right.loc[moved, "surname"] = "newsurname" + pd.Series(moved.astype(str), index=moved)
    # twins: copies of 20 A records with another forename
    twins = left.sample(20, random_state=5).copy()
    twins["record_id"] = twins["record_id"].str.replace("org", "twin", regex=False)
    twins["forename"] = ["quentin"] * len(twins)
    right = pd.concat([right, twins], ignore_index=True)

    out = peers.splink_link(left, right)
    _check_output(out, "splink")
    links = out[out["match_probability"] >= 0.5]
    m = pair_metrics(links, truth)
    assert m.f1 >= 0.85, m
    moved_ids = set(right.loc[moved, "record_id"])
    found = {b for a, b in zip(links["record_id_l"], links["record_id_r"], strict=True)}
    assert len(found & moved_ids) >= 0.7 * len(moved_ids)
    twin_links = links[links["record_id_r"].str.contains("twin")]
    named = left.set_index("record_id")["forename"]
    # twins whose original has a forename are told apart
    assert (named.loc[twin_links["record_id_l"]] == "").all()


def test_run_measured_runs_in_a_fresh_process(febrl4_slice) -> None:
    left, right, _ = febrl4_slice
    measured = run_measured("benchmarks.peers:exact_link", left, right, timeout=120)
    direct = peers.exact_link(left, right)
    pd.testing.assert_frame_equal(measured.result, direct)
    assert measured.result.attrs == direct.attrs
    assert measured.wall_seconds >= measured.call_seconds > 0
    assert measured.peak_rss_mib >= measured.baseline_rss_mib > 10


def test_run_measured_reports_child_failure() -> None:
    from cselink.errors import CselinkError

    with pytest.raises(CselinkError, match="exited with status"):
        run_measured("benchmarks.peers:no_such_function", timeout=60)
    with pytest.raises(CselinkError, match="module:function"):
        run_measured("benchmarks.peers.exact_link")


def test_machine_info_names_cores_memory_and_versions() -> None:
    info = machine_info()
    assert info["cores"] >= 1 and info["memory_gib"] > 0
    assert info["python"].count(".") == 2
    assert info["libraries"]["pandas"] == pd.__version__
