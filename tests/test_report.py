"""The pre-panel check report: one self-contained, escaped, printable HTML file."""

from __future__ import annotations

import copy
import datetime as dt
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cselink.check import CheckOptions, CheckResult, run_check
from cselink.ingest import Source
from cselink.mapping import Mapping
from cselink.report import diff_segments, render_report, waterfall, write_report
from cselink.synthetic import AGENCIES, SynthConfig, generate

EVIL = '<img src="https://example.org/x.png" onerror="alert(1)">'


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    folder = tmp_path_factory.mktemp("synthetic")
    generate(SynthConfig(people=150, seed=5, referrals=20), folder)
    sources = [Source(a, folder / "native" / f"{a}.csv",
                      Mapping.from_toml(folder / "mappings" / f"{a}.toml")) for a in AGENCIES]
    return run_check(folder / "referrals.csv", sources,
                     options=CheckOptions(panel_date=dt.date(2026, 11, 1)))


class _Tags(HTMLParser):
    """Counts open/close tags of the elements whose nesting matters to the layout."""

    WATCH = ("html", "body", "section", "div", "table", "tr", "td", "th", "ul", "li", "svg")

    def __init__(self) -> None:
        super().__init__()
        self.depth = {t: 0 for t in self.WATCH}
        self.worst = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.depth:
            self.depth[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.depth:
            self.depth[tag] -= 1
            self.worst = min(self.worst, self.depth[tag])


# --------------------------------------------------------------------------- diff


def test_diff_ignores_case_and_spacing() -> None:
    assert diff_segments("SMITH", "Smith") == ([("SMITH", False)], [("Smith", False)])
    assert diff_segments("Jade  Ann", "jade ann") == ([("Jade  Ann", False)],
                                                     [("jade ann", False)])


def test_diff_marks_only_the_changed_digits_of_a_date() -> None:
    left, right = diff_segments("2009-03-04", "2009-04-03")
    assert "".join(t for t, _ in left) == "2009-03-04"
    assert "".join(t for t, _ in right) == "2009-04-03"
    assert [t for t, d in left if d] == ["3", "4"] and [t for t, d in right if d] == ["4", "3"]


def test_diff_marks_a_different_name_whole_and_leaves_missing_alone() -> None:
    assert diff_segments("Stone", "Milmore") == ([("Stone", True)], [("Milmore", True)])
    assert diff_segments(None, "Milmore") == ([], [("Milmore", False)])
    assert diff_segments("", None) == ([], [])


# --------------------------------------------------------------------------- waterfall


def test_waterfall_bars_run_on_from_each_other_to_the_total() -> None:
    weights = [{"comparison": "forename", "level": "same forename", "weight": 8.0},
               {"comparison": "dob", "level": "dates of birth differ", "weight": -4.5},
               {"comparison": "surname", "level": "same surname", "weight": 9.5}]
    g = waterfall(weights, -11.0, 2.0)
    rows = g["rows"]
    assert [r["kind"] for r in rows] == ["prior", "plus", "minus", "plus", "total"]
    # Each step starts where the running total stands: the bars of a waterfall.
    scale = rows[1]["w"] / 8.0
    assert rows[1]["x"] == pytest.approx(rows[0]["x"], abs=0.05)  # prior ends at -11
    assert rows[2]["x"] == pytest.approx(rows[1]["x"] + rows[1]["w"] - 4.5 * scale, abs=0.05)
    assert rows[-1]["value"] == "+2.0"
    assert g["zero_x"] == pytest.approx(rows[-1]["x"], abs=0.05)
    for r in rows:
        assert g["label_width"] <= r["x"] and r["x"] + r["w"] <= g["width"]


def test_waterfall_shows_the_guard_when_the_weight_was_capped() -> None:
    weights = [{"comparison": "surname", "level": "same surname", "weight": 10.0}]
    g = waterfall(weights, -5.0, -9.97)
    assert [r["kind"] for r in g["rows"]] == ["prior", "plus", "guard", "total"]
    assert g["rows"][2]["value"] == "-15.0"


# --------------------------------------------------------------------------- the document


def test_report_is_one_well_nested_document_per_referral(result: CheckResult) -> None:
    html = render_report(result)
    parser = _Tags()
    parser.feed(html)
    assert parser.worst == 0 and all(v == 0 for v in parser.depth.values()), parser.depth
    assert html.count('<section class="referral"') == len(result.referrals) + 1  # + method
    for ref in result.referrals:
        assert f">{ref['referral_id']}<" in html
    for heading in ("Aliases to circulate", "Agencies to inform", "Cross-border",
                    "Turning 18", "Household"):
        assert html.count(heading) >= len(result.referrals)


def test_report_prints_on_a4_with_a_page_per_referral(result: CheckResult) -> None:
    html = render_report(result)
    assert re.search(r"@page\s*{\s*size:\s*A4", html)
    assert re.search(r"@media print\s*{[^@]*\.referral\s*{[^}]*break-before:\s*page", html)


def test_report_loads_nothing(result: CheckResult) -> None:
    html = render_report(result)
    assert "default-src 'none'" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"<(?:script|link|img|iframe|object)\b", html, re.I)
    assert "url(" not in html


def test_report_escapes_every_personal_value(result: CheckResult) -> None:
    result = copy.deepcopy(result)
    ref = result.referrals[0]
    ref["fields"]["forename"] = EVIL
    ref["fields"]["aliases"] = [EVIL]
    for cand in ref["candidates"]:
        cand["fields"]["surname"] = EVIL
        cand["reasons"] = [EVIL]
    ref["aliases"].append({"name": EVIL, "kinds": ["alias"], "recorded_by": ["police"],
                           "tier": "known", "on_referral": False})
    html = render_report(result)
    assert "<img" not in html and 'src="https' not in html
    assert "&lt;img src=&#34;https://example.org/x.png&#34;" in html


def test_report_is_deterministic_and_private(result: CheckResult, tmp_path: Path) -> None:
    assert render_report(result) == render_report(result)
    path = write_report(result, tmp_path / "report.html")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == render_report(result)


def test_report_says_what_the_cross_border_check_rests_on(result: CheckResult) -> None:
    html = render_report(result)
    assert "postcode <em>area</em>" in html and "only a proxy" in html
