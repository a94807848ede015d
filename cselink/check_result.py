"""The result of a pre-panel check, and its options: what the report reads.

:class:`CheckResult` is what :func:`cselink.check.run_check` returns, what
:func:`cselink.check.write_outputs` writes and what :mod:`cselink.report` draws. It lives
apart from the job so that the report reads a result type and never imports the job
(``cselink.check`` re-exports every name here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from ._version import __version__
from .blocking import RuleStats
from .config import Settings
from .errors import UsageError
from .scoring import Model

if TYPE_CHECKING:
    from .contacts import ContactsResult

__all__ = [
    "DEFAULT_KNOWN_THRESHOLD",
    "DEFAULT_POSSIBLE_THRESHOLD",
    "STATUSES",
    "CheckOptions",
    "CheckResult",
]

#: Statuses, strongest first.
STATUSES: Final[tuple[str, ...]] = ("known", "possible", "not_found")

#: Default known threshold. Measured on synthetic data (``evaluate_against_truth``; the
#: referrals looked up with ``Linker.search``): 3 seeds of 5,000 people with 500 referrals
#: each (standard difficulty), 2 seeds of 5,000 (hard) and 20,000 people with 1,000
#: referrals. At 0.99 a true record is ``known`` for 96.8% / 94.9% / 96.1% of the agencies
#: holding a referred young person (94.2% / 91.6% / 93.7% when referred under another name),
#: and 2.3% / 3.0% / 1.7% of the agencies not holding them show a ``known`` candidate,
#: nearly all namesakes given the same name and date of birth (a deliberate hard case of
#: the generator, told apart only by the address). 0.999 loses 1.4-2.6 points of known
#: for 0.1-0.3 points fewer false ``known``.
DEFAULT_KNOWN_THRESHOLD: Final[float] = 0.99

#: Default possible threshold. At 0.0005, 1 in 2,458 / 4 in 1,583 / 2 in 1,608 agencies
#: holding a referred young person report ``not_found`` (0.04% / 0.25% / 0.12%; referred
#: under another name or a new surname 0.08% / 0.53% / 0.25%), with 0.47 / 0.72 / 0.96
#: ``possible`` candidates per referral and agency. It sits below the probability the
#: engine gives pairs that look like twins or siblings (0.001): some of those are the
#: young person after all. 0.002 drops them and misses 1-1.5%; 0.0001 lists up to
#: twice as many candidates (1.8 per referral and agency on 20,000 people) for at most
#: one more agency found in 1,500.
DEFAULT_POSSIBLE_THRESHOLD: Final[float] = 0.0005


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOptions:
    """Settings of a pre-panel check.

    Attributes:
        known_threshold: probability at or above which a candidate with identity
            evidence is ``known``.
        possible_threshold: probability at or above which a candidate is listed
            (``possible``); below it the agency reports ``not_found``.
        panel_date: the panel's date, for the turning-18 list (default: today).
        settings: linkage settings (link_type is always ``dedupe``).
        model: a trained model (or its JSON path) to score with instead of training.
        database: a DuckDB file holding a persisted index of the agency sources: built
            when missing, reused when its manifest matches the source files, refused
            (:class:`~cselink.errors.IndexStaleError`) when it does not.
        la_lookup: postcode district -> local authority, for the cross-border list;
            without it the postcode area (the letters of the district) is compared.
        progress: show progress on the terminal (rich); never when stderr is not one.
        memory_limit: DuckDB's memory limit for the agency records, e.g. ``"2GB"``
            (default: :func:`cselink.resources.default_memory_limit`).
    """

    known_threshold: float = DEFAULT_KNOWN_THRESHOLD
    possible_threshold: float = DEFAULT_POSSIBLE_THRESHOLD
    panel_date: dt.date | None = None
    settings: Settings | None = None
    model: Model | str | Path | None = None
    database: str | Path | None = None
    la_lookup: Mapping[str, str] | None = None
    progress: bool = False
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        for name in ("known_threshold", "possible_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"{name} must be a number")
            if not 0.0 < float(value) <= 1.0:
                raise UsageError(f"{name} must be above 0 and at most 1")
        if self.possible_threshold > self.known_threshold:
            raise UsageError("the possible threshold must not be above the known threshold")

    @property
    def date(self) -> dt.date:
        """The panel date (today when not given)."""
        return self.panel_date or dt.date.today()


@dataclass(slots=True)
class CheckResult:
    """Everything a check found (written by :func:`write_outputs`, drawn by the report).

    Attributes:
        results: the results.csv rows (:data:`RESULT_COLUMNS`).
        referrals: per referral, in input order: its fields as recorded, the status per
            source, its candidates (fields, reasons, weights) and the lists (aliases to
            circulate, agencies to inform, cross-border, turning 18, household).
        sources: the agency source names, in the order given.
        options: the options used.
        rejected_rows: agency rows rejected at ingest, per source.
        rejects: the rejected agency rows (source, row_number, record_id, column, reason).
        comparisons: the comparisons scored, in weight-column order.
        timings: seconds per step.
        la_lookup_used: whether cross-border used a local-authority lookup.
        records: the agency records linked with each other.
        blocking: what each blocking rule contributed to that linking (none when a
            persisted index's pairs were reused).
    """

    results: pd.DataFrame
    referrals: list[dict[str, Any]]
    sources: list[str]
    options: CheckOptions
    rejected_rows: dict[str, int] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    la_lookup_used: bool = False
    records: int = 0
    blocking: list[RuleStats] = field(default_factory=list)
    #: The contacts named on the referrals, when given (:mod:`cselink.contacts`).
    contacts: ContactsResult | None = None

    def status_table(self) -> pd.DataFrame:
        """One row per referral, one column per source: the best status."""
        rank = {s: i for i, s in enumerate(STATUSES)}
        frame = self.results.assign(rank=self.results["status"].map(rank))
        best = frame.groupby(["referral_id", "source"], sort=False)["rank"].min()
        table = best.map(dict(enumerate(STATUSES))).unstack("source")
        order = [r["referral_id"] for r in self.referrals]
        return table.reindex(index=order, columns=self.sources)

    def counts(self) -> dict[str, int]:
        """How many referral x agency cells have each status."""
        table = self.status_table()
        values = table.to_numpy().ravel().tolist()
        return {s: values.count(s) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        """results.json: the results rows plus the per-referral lists (JSON-ready)."""
        rows = self.results.astype(object).where(self.results.notna(), None)
        return {
            "cselink_version": __version__,
            "panel_date": self.options.date.isoformat(),
            "known_threshold": self.options.known_threshold,
            "possible_threshold": self.options.possible_threshold,
            "sources": list(self.sources),
            "rejected_rows": dict(self.rejected_rows),
            "counts": self.counts(),
            "results": rows.to_dict(orient="records"),
            "referrals": [
                {
                    "referral_id": r["referral_id"],
                    "statuses": r["statuses"],
                    "aliases_to_circulate": r["aliases"],
                    "agencies_to_inform": r["agencies"],
                    "cross_border": r["cross_border"],
                    "turning_18": r["turning_18"],
                    "household": r["household"],
                }
                for r in self.referrals
            ],
            **({"contacts": self.contacts.to_dict()} if self.contacts is not None else {}),
        }
