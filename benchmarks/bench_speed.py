"""Smoke test of the speed benchmark at tiny sizes, so it cannot rot.

Runs :func:`benchmarks.speed.run_speed` end to end on two tiny synthetic populations,
FEBRL4 once and 20 look-ups, and checks what it writes. Splink runs only where it is
installed (CI installs the [test] extra only). The full measurements are
``python -m benchmarks.speed``.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from benchmarks import speed

HAS_SPLINK = importlib.util.find_spec("splink") is not None


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, object]:
    out = tmp_path_factory.mktemp("speed")
    # A tiny Splink budget: Splink runs at the first size, and the skip rule (estimate
    # from the sizes already measured) leaves it out at the second.
    result = speed.run_speed(
        sizes=(800, 300), seed=5, splink=HAS_SPLINK, febrl_repeat=1, febrl_limit=300,
        lookups=20, splink_lookups=5, out_dir=out, name="smoke", cache_dir=out / "cache",
        timeout=300,
        index_timeout=300, splink_max_seconds=0.5,
    )
    return result, out


def test_speed_writes_json_and_plots(smoke) -> None:
    result, out = smoke
    written = json.loads((out / "smoke.json").read_text())
    assert written["benchmark"] == "speed"
    assert written["settings"]["sizes"] == [300, 800]
    assert "ms_all" not in written["lookup"]  # plotted, not stored
    for plot in written["plots"]:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written["plots"] == ["smoke_scaling.png", "smoke_lookup_latency.png"]
    assert written["finished"] is not None
    from benchmarks.render import write_summary

    text = write_summary(out).read_text()
    assert "## Speed (`smoke.json`)" in text and "Single-referral look-up" in text


def test_dedupe_rows_are_sane(smoke) -> None:
    result, _ = smoke
    rows = result["dedupe"]
    assert [r["target_records"] for r in rows] == [300, 800]
    if HAS_SPLINK:
        assert rows[1]["splink"]["skipped"].startswith("estimated")
        assert rows[1]["splink"]["estimated_wall_seconds"] > 0.5
    for i, row in enumerate(rows):
        assert 0.8 * row["target_records"] <= row["records"] <= 1.2 * row["target_records"]
        names = ["cselink"] + (["splink"] if HAS_SPLINK and i == 0 else [])
        for name in names:
            c = row[name]
            assert "error" not in c, c.get("error")
            assert c["records"] == row["records"]
            assert c["wall_seconds"] >= c["call_seconds"] > 0
            assert c["candidate_pairs"] >= c["links"] > 0
            assert 0 < c["clusters"] < row["records"]
            assert c["pairs_per_second"] > 0
        # at standard difficulty people have about two records each
        assert row["records"] / 2.5 < row["cselink"]["clusters"] < row["records"] / 1.5
    assert result["growth"]["cselink"]["wall_exponent"] is not None


def test_febrl4_and_lookup(smoke) -> None:
    result, _ = smoke
    febrl = result["febrl4_link"]
    assert febrl["cselink"]["median_wall_seconds"] > 0
    if HAS_SPLINK:
        assert febrl["ratio_wall"] == pytest.approx(
            febrl["cselink"]["median_wall_seconds"] / febrl["splink"]["median_wall_seconds"],
            abs=1e-3)
    lk = result["lookup"]
    assert lk["target_records"] == 800 and lk["searches"] == 20
    assert 0 < lk["median_ms"] <= lk["p95_ms"] <= lk["max_ms"]
    assert lk["index"]["records"] == result["dedupe"][1]["records"]
    assert lk["hit_rate"]["best_is_theirs"] >= 0.8
    if HAS_SPLINK:
        peer = lk["splink"]
        assert "error" not in peer, peer.get("error")
        assert peer["searches"] == 5 and 0 < peer["median_ms"] <= peer["p95_ms"]
        assert peer["median_candidates"] > 0
        assert peer["ratio_median"] == pytest.approx(
            peer["cselink_median_ms_same_referrals"] / peer["median_ms"], rel=0.01)


def test_growth_exponent_and_line_fit() -> None:
    assert speed.growth_exponent([1_000, 10_000, 100_000], [2.0, 20.0, 200.0]) == 1.0
    assert speed.growth_exponent([1_000], [2.0]) is None
    assert speed._fit_line([10], [5.0], 100) == pytest.approx(50.0)
    assert speed._fit_line([10, 20], [5.0, 7.0], 120) == pytest.approx(27.0)


def test_splink_is_skipped_when_estimated_over_budget(tmp_path) -> None:
    folder = speed.speed_folder(300, seed=5, cache_dir=tmp_path)
    messages: list[str] = []
    row = speed._splink_at(
        speed.canonical_paths(folder), [(10, 5.0, 300.0)], threshold=0.5, max_seconds=1.0,
        max_gib=12.0, timeout=60, say=messages.append, size=300,
    )
    assert row["skipped"].startswith("estimated")
    assert row["estimated_wall_seconds"] > 1 and row["blocking_pairs_counted"] > 10
    assert sum(row["blocking_plan"].values()) == row["blocking_pairs_counted"]
    assert any("skipped" in m for m in messages)


def test_splink_estimate_counts_the_tightened_plan(tmp_path, monkeypatch) -> None:
    from benchmarks import peers

    paths = speed.canonical_paths(speed.speed_folder(300, seed=5, cache_dir=tmp_path))
    plan = speed.splink_blocking_plan(paths)
    # the plan Splink runs: the swapped-name and alias rules are counted too
    assert {"dob", "swapped_names", "forename_variants+surname_variants"} <= set(plan)
    assert speed.splink_pair_estimate(paths) == sum(plan.values())
    budget = plan["dob"] - 1
    monkeypatch.setattr(peers, "KEY_PAIR_BUDGET", budget)
    tightened = speed.splink_blocking_plan(paths)
    assert "dob" not in tightened
    assert {"dob+forename_soundex", "dob+surname_soundex"} <= set(tightened)
    broad = {"+".join(key) for key in peers.BROAD_BLOCKING_KEYS}
    assert all(count <= budget for name, count in tightened.items() if name not in broad)
    assert speed.splink_pair_estimate(paths) == sum(tightened.values())
