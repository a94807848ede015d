"""The pre-panel check report: one self-contained HTML file for the panel.

Drawn from a :class:`cselink.check_result.CheckResult` with the jinja2 template
``cselink/templates/check_report.html.j2`` (autoescaping on: every name in it is
untrusted input). The file has no scripts and no external assets (inline CSS and inline
SVG only, and a Content-Security-Policy that forbids loading anything), so it can be
opened offline, e-mailed securely or printed; on A4 each referral starts a new page.

For each referral it shows the statuses per agency, every candidate record side by side
with the referral (the parts that differ highlighted), the reasons in words and a
waterfall of the weight each field contributed, and the lists the audit asked for:
aliases to circulate, agencies to inform, cross-border, turning 18 and household.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from ._version import __version__
from .io import write_text_atomic

if TYPE_CHECKING:
    from .check_result import CheckResult

__all__ = ["diff_segments", "render_report", "waterfall", "write_report"]

_TEMPLATE: Final[str] = "check_report.html.j2"

#: Field labels of the side-by-side table.
FIELD_LABELS: Final[dict[str, str]] = {
    "forename": "Forename",
    "middle_names": "Middle names",
    "surname": "Surname",
    "aliases": "Aliases",
    "former_surnames": "Former surnames",
    "dob": "Date of birth",
    "sex": "Sex",
    "address": "Address",
    "postcode": "Postcode",
    "nhs_number": "NHS number",
}

#: Comparison labels of the waterfall.
COMPARISON_LABELS: Final[dict[str, str]] = {
    "forename": "forename",
    "surname": "surname",
    "dob": "date of birth",
    "postcode": "postcode",
    "address": "address",
    "sex": "sex",
    "nhs_number": "NHS number",
}

Segments = list[tuple[str, bool]]


def diff_segments(left: str | None, right: str | None) -> tuple[Segments, Segments]:
    """Split two values into (text, differs) runs, so the differing parts can be marked.

    Case and repeated spaces do not count as differences (police records are upper
    case). A value missing on either side is not marked.

    Examples:
        >>> diff_segments("2009-03-04", "2009-04-03")[0]
        [('2009-0', False), ('3', True), ('-0', False), ('4', True)]
    """
    if not left or not right:
        return ([(left, False)] if left else []), ([(right, False)] if right else [])
    if " ".join(left.casefold().split()) == " ".join(right.casefold().split()):
        return [(left, False)], [(right, False)]
    a = [ch.lower() for ch in left]
    b = [ch.lower() for ch in right]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.5:
        # Mostly different (another surname): mark the whole value, not scattered letters.
        return [(left, True)], [(right, True)]
    out_l: Segments = []
    out_r: Segments = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        same = tag == "equal"
        if i2 > i1:
            _append(out_l, left[i1:i2], not same)
        if j2 > j1:
            _append(out_r, right[j1:j2], not same)
    return out_l, out_r


def _append(segments: Segments, text: str, differs: bool) -> None:
    if segments and segments[-1][1] == differs:
        segments[-1] = (segments[-1][0] + text, differs)
    else:
        segments.append((text, differs))


def waterfall(
    weights: Sequence[Mapping[str, Any]],
    prior_weight: float,
    match_weight: float,
    *,
    width: int = 660,
    label_width: int = 270,
    row_height: int = 20,
) -> dict[str, Any]:
    """Geometry of a horizontal waterfall chart of match weights (inline SVG).

    The first bar is the prior weight, then one bar per comparison from the running
    total to the running total plus its weight, then any guard (the twins guard caps
    the weight) and the total. Positive weights (evidence for a match) and negative ones
    get different colours.

    Args:
        weights: ``{"comparison", "level", "weight"}`` per comparison.
        prior_weight: log2 prior odds (the start).
        match_weight: the pair's final match weight.

    Returns:
        ``{"width", "height", "zero_x", "rows": [{"y", "x", "w", "label", "value",
        "kind"}], "ticks": [...]}`` in SVG user units.
    """
    steps: list[tuple[str, float, str]] = [("prior (how rare a match is)", prior_weight, "prior")]
    for w in weights:
        name = COMPARISON_LABELS.get(str(w["comparison"]), str(w["comparison"]))
        steps.append((f"{name}: {w['level']}", float(w["weight"]), "step"))
    raw = prior_weight + sum(float(w["weight"]) for w in weights)
    if abs(raw - match_weight) > 0.05:
        steps.append(("guard (possible twins: capped)", match_weight - raw, "guard"))
    running = 0.0
    spans: list[tuple[float, float]] = []
    for _, value, _ in steps:
        spans.append((running, running + value))
        running += value
    spans.append((0.0, match_weight))
    low = min(0.0, *(min(s) for s in spans))
    high = max(0.0, *(max(s) for s in spans))
    if high - low < 1e-9:
        high = low + 1.0
    plot = width - label_width - 60
    scale = plot / (high - low)

    def x(v: float) -> float:
        return round(label_width + (v - low) * scale, 2)

    rows = []
    for i, ((label, value, kind), (a, b)) in enumerate(zip(steps, spans, strict=False)):
        rows.append({
            "y": 6 + i * row_height, "x": x(min(a, b)), "w": max(round(abs(b - a) * scale, 2), 1),
            "label": label, "value": f"{value:+.1f}",
            "kind": kind if kind != "step" else ("plus" if value >= 0 else "minus"),
        })
    rows.append({
        "y": 6 + len(steps) * row_height, "x": x(min(0.0, match_weight)),
        "w": max(round(abs(match_weight) * scale, 2), 1),
        "label": "total match weight", "value": f"{match_weight:+.1f}", "kind": "total",
    })
    ticks = []
    step = _tick_step(high - low)
    t = step * (low // step)
    while t <= high + 1e-9:
        if t >= low - 1e-9:
            ticks.append({"x": x(t), "label": f"{t:g}"})
        t += step
    return {
        "width": width,
        "height": 6 + (len(steps) + 1) * row_height + 22,
        "zero_x": x(0.0),
        "axis_y": 6 + (len(steps) + 1) * row_height + 4,
        "row_height": row_height - 4,
        "label_width": label_width,
        "rows": rows,
        "ticks": ticks,
    }


def _tick_step(span: float) -> float:
    for step in (1, 2, 5, 10, 20, 50, 100):
        if span / step <= 8:
            return float(step)
    return 200.0


def _list_text(value: Any) -> str | None:
    if isinstance(value, list):
        return "; ".join(value) if value else None
    return value  # type: ignore[no-any-return]


def _candidate_view(ref_fields: Mapping[str, Any], cand: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for key, label in FIELD_LABELS.items():
        left, right = _list_text(ref_fields.get(key)), _list_text(cand["fields"].get(key))
        seg_l, seg_r = diff_segments(left, right)
        rows.append({"label": label, "left": seg_l, "right": seg_r,
                     "differs": any(d for _, d in seg_l + seg_r)})
    charts = []
    direct = cand.get("direct")
    if direct and direct["weights"]:
        charts.append({
            "title": "Weight of each field: this record against the referral",
            "probability": direct["probability"],
            "chart": waterfall(direct["weights"], direct["prior_weight"],
                               direct["match_weight"]),
        })
    via = cand.get("via")
    if via and via["weights"] and via.get("match_weight") is not None:
        charts.append({
            "title": f"Weight of each field: this record against {via['source']} record "
                     f"{via['record_id']}",
            "probability": via["probability"],
            "chart": waterfall(via["weights"], via["prior_weight"], via["match_weight"]),
        })
    return {**cand, "rows": rows, "charts": charts}


def _context(result: CheckResult) -> dict[str, Any]:
    options = result.options
    referrals = []
    for ref in result.referrals:
        by_source = []
        for source in result.sources:
            cands = [_candidate_view(ref["fields"], c)
                     for c in ref["candidates"] if c["source"] == source]
            by_source.append({"source": source, "status": ref["statuses"][source],
                              "candidates": cands})
        f = ref["fields"]
        name = " ".join(p for p in (f["forename"], f["middle_names"], f["surname"]) if p)
        referrals.append({
            **ref,
            "name": name or "(no name)",
            "by_source": by_source,
            "other_names": [a for a in ref["aliases"]
                            if not a["on_referral"] and a["tier"] == "known"],
        })
    return {
        "version": __version__,
        "panel_date": options.date.isoformat(),
        "known_threshold": options.known_threshold,
        "possible_threshold": options.possible_threshold,
        "sources": result.sources,
        "referrals": referrals,
        "counts": result.counts(),
        "rejected_rows": result.rejected_rows,
        "la_lookup_used": result.la_lookup_used,
        **_contacts_context(result),
    }


def _contacts_context(result: CheckResult) -> dict[str, Any]:
    """The contacts sections: each referral's contacts and the panel-level network."""
    from .contacts import contact_network

    contacts = result.contacts
    if contacts is None:
        return {"contacts_given": False, "contacts_by_referral": {}, "shared_groups": [],
                "network": contact_network(pd.DataFrame())}
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for c in contacts.contacts:
        known = [k for k in c["candidates"] if k["status"] == "known"]
        by_ref.setdefault(c["referral_id"], []).append({
            **c, "known": known,
            "possible_sources": [s for s, st in c["statuses"].items() if st == "possible"],
        })
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in contacts.shared.to_dict(orient="records"):
        groups.setdefault(row["shared_id"], []).append(row)
    return {"contacts_given": True, "contacts_by_referral": by_ref,
            "shared_groups": [{"shared_id": k, "mentions": v} for k, v in groups.items()],
            "network": contact_network(contacts.shared),
            "contact_counts": contacts.counts()}


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("cselink", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(result: CheckResult) -> str:
    """The report as one self-contained HTML document."""
    return _environment().get_template(_TEMPLATE).render(**_context(result))


def write_report(result: CheckResult, path: str | Path) -> Path:
    """Render the report and write it atomically to a private (0600) file."""
    return write_text_atomic(path, render_report(result))
