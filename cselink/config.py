"""Settings of a linkage run: frozen dataclasses, read from and written to TOML/dicts.

Settings are declarative and carry no SQL: blocking rules name keys, comparisons are
chosen by name from :mod:`cselink.comparisons.library`, and the SQL is compiled later.
Trained parameters are not settings; they live in the model file (:mod:`cselink.scoring.model`).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final, Literal

from .errors import ConfigError, did_you_mean

#: Keys a blocking rule may join on (columns of the ``block_keys`` table).
BLOCKING_KEYS: Final[tuple[str, ...]] = (
    "fn", "sn", "fn_metaphone", "sn_metaphone", "fn_nysiis", "sn_nysiis", "fn_initial",
    "sn_initial", "fn_alt", "dob", "dob_swapped", "dob_year", "dob_md", "dob_ym", "dob_yd", "sex",
    "pc", "pc_outward", "pc_sector", "nhs", "addr_head", "no_dob", "year_only",
    "main_name",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockingRule:
    """An equi-join on keys: two records are candidates when every key agrees.

    ``dob_swapped`` on one side joins ``dob`` on the other (day and month transposed).
    ``fn_alt`` joins a forename to each name it may stand for (nicknames, spellings), on
    the other side a main forename (not a middle name standing in for it). Name keys are
    taken over every name variant of a record; ``main_name`` keeps to the names a record
    is known by in its own right (no middle name as forename) on both sides.
    """

    name: str
    keys: tuple[str, ...]
    #: A broad rule that is worth its pairs on small data only: it is skipped (and the skip
    #: reported) when it would give more than this many pairs per record.
    max_pairs_per_record: float | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError(f"blocking rule {self.name!r} has no keys")


#: A broad rule runs while its estimated pairs stay under this many per record: on small
#: data it rescues heavily corrupted records, on large data (where its pairs grow with the
#: square of the records) the tight rules above find nearly all it would.
BROAD: Final = 3.0

#: Default rules: each catches the matches the others miss (a changed surname, a DOB error,
#: a changed forename, a nickname, a swapped day/month, no usable DOB), none is a cross
#: join. The tight rules keep pairs per record nearly flat as the data grows: on a
#: 1M-record synthetic set they find 99.9% of true pairs (see benchmarks/README.md).
DEFAULT_BLOCKING: Final[tuple[BlockingRule, ...]] = (
    BlockingRule(name="dob+surname", keys=("dob", "sn_metaphone")),
    BlockingRule(name="dob+nickname", keys=("dob", "fn_alt")),
    BlockingRule(name="swapped_dob+forename", keys=("dob_swapped", "fn_metaphone", "main_name")),
    # One wrong digit in the day, the month or the year of birth.
    BlockingRule(name="full_name+birth_year_month", keys=("fn", "sn", "dob_ym")),
    BlockingRule(name="full_name+birth_year_day", keys=("fn", "sn", "dob_yd")),
    BlockingRule(name="names+birth_day_month", keys=("fn_metaphone", "sn_metaphone", "dob_md")),
    BlockingRule(name="full_name+no_dob", keys=("fn", "sn", "no_dob")),
    BlockingRule(name="full_name+year_only", keys=("fn", "sn", "year_only")),
    BlockingRule(name="address+postcode", keys=("addr_head", "pc")),
    BlockingRule(name="dob+address", keys=("dob", "addr_head")),
    BlockingRule(name="address+birth_day_month", keys=("addr_head", "dob_md")),
    BlockingRule(name="address+no_dob", keys=("addr_head", "no_dob")),
    BlockingRule(name="address+year_only", keys=("addr_head", "year_only")),
    BlockingRule(name="nhs_number", keys=("nhs",)),
    # Broad rules.
    BlockingRule(name="full_name+birth_year", keys=("fn", "sn", "dob_year"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="names+birth_year", keys=("fn_metaphone", "sn_metaphone", "dob_year"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="address+forename_initial", keys=("addr_head", "fn_initial"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="surname+initial+birth_month", keys=("sn", "fn_initial", "dob_ym"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="dob+forename", keys=("dob", "fn_metaphone"), max_pairs_per_record=BROAD),
    BlockingRule(name="swapped_dob+surname", keys=("dob_swapped", "sn_metaphone"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="dob+postcode", keys=("dob", "pc"), max_pairs_per_record=BROAD),
    BlockingRule(name="dob+postcode_district", keys=("dob", "pc_outward"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="names+postcode_district",
                 keys=("fn_metaphone", "sn_metaphone", "pc_outward"), max_pairs_per_record=BROAD),
    BlockingRule(name="postcode+forename_initial", keys=("pc", "fn_initial"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="full_name", keys=("fn", "sn"), max_pairs_per_record=BROAD),
    BlockingRule(name="swapped_dob+forename_initial", keys=("dob_swapped", "fn_initial"),
                 max_pairs_per_record=BROAD),
    # Broader still: for small sets with heavy corruption (FEBRL), where a record may keep
    # only its DOB, its address or the sound of its name.
    BlockingRule(name="forename+surname_initial", keys=("fn", "sn_initial"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="names_sound_alike", keys=("fn_metaphone", "sn_metaphone"),
                 max_pairs_per_record=2.0),
    BlockingRule(name="names_sound_alike_nysiis", keys=("fn_nysiis", "sn_nysiis"),
                 max_pairs_per_record=2.0),
    BlockingRule(name="surname+birth_year", keys=("sn", "dob_year"), max_pairs_per_record=2.0),
    BlockingRule(name="forename+birth_year", keys=("fn", "dob_year"), max_pairs_per_record=2.0),
    BlockingRule(name="dob_only", keys=("dob",), max_pairs_per_record=2.0),
    BlockingRule(name="address_only", keys=("addr_head",), max_pairs_per_record=2.0),
    BlockingRule(name="dob+forename_initial", keys=("dob", "fn_initial"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="dob+surname_initial", keys=("dob", "sn_initial"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="postcode+surname_initial", keys=("pc", "sn_initial"),
                 max_pairs_per_record=BROAD),
    BlockingRule(name="address+surname_initial", keys=("addr_head", "sn_initial"),
                 max_pairs_per_record=BROAD),
)

#: Training sessions: each estimates m for the comparisons its keys do not touch.
DEFAULT_TRAINING_RULES: Final[tuple[BlockingRule, ...]] = (
    BlockingRule(name="train:dob", keys=("dob",)),
    BlockingRule(name="train:names", keys=("fn_metaphone", "sn_metaphone")),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EMConfig:
    """Expectation-maximisation over comparison-pattern counts (see scoring.training)."""

    max_iterations: int = 200
    tolerance: float = 1e-6
    #: EM sessions; the first also gives the prior, so it should be a strict rule.
    training_rules: tuple[BlockingRule, ...] = DEFAULT_TRAINING_RULES
    #: Records are sampled so that no session scores more pairs than this.
    max_training_pairs: int = 250_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything that shapes a linkage run, apart from the data and the trained model.

    Attributes:
        link_type: "link" compares records of different sources only; "dedupe" compares
            every pair, within and across sources.
        blocking: the union of these rules makes the candidate pairs.
        comparisons: comparison names from :mod:`cselink.comparisons.library`; empty (the
            default) lets the data decide (:mod:`cselink.profile`: address and postcode as
            one ``location`` where households occur, separately where they do not).
        max_pairs: stop before materialising a rule estimated to give more pairs.
        u_sample_pairs: random pairs sampled to estimate u. Exact agreement is counted
            from value frequencies instead, so the sample only shapes the weaker levels.
        seed: seeds every random step (sampling), so runs are reproducible.
        tf_adjust: adjust exact name matches for how common the name is.
        tf_weight_cap: largest term-frequency adjustment, in bits, either way.
        twins_probability: the lowest probability the twins-and-siblings guard gives a pair
            that looks like twins or siblings (same surname and home, clearly different
            forenames, no shared NHS number). The guard applies where the data holds
            households (:mod:`cselink.profile`), and learns from the data how many such pairs
            are one young person recorded under another forename. None turns it off.
        threshold: default match probability to accept a link.
        cannot_link_below: clustering keeps apart two records whose own pair was scored
            below this probability (strong evidence of two people), even when a chain of
            links joins them; pairs held back as possible twins do not count. None or 0
            gives plain connected components.
    """

    link_type: Literal["link", "dedupe"] = "dedupe"
    blocking: tuple[BlockingRule, ...] = DEFAULT_BLOCKING
    comparisons: tuple[str, ...] = ()
    max_pairs: int = 200_000_000
    u_sample_pairs: int = 50_000
    seed: int = 42
    tf_adjust: bool = True
    tf_weight_cap: float = 6.0
    twins_probability: float | None = 0.001
    threshold: float = 0.5
    cannot_link_below: float | None = 0.001
    em: EMConfig = field(default_factory=EMConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that :meth:`from_dict` turns back into equal settings."""
        out = asdict(self)
        out["blocking"] = [
            {"name": r.name, "keys": list(r.keys), "max_pairs_per_record": r.max_pairs_per_record}
            for r in self.blocking
        ]
        out["em"]["training_rules"] = [
            {"name": r.name, "keys": list(r.keys)} for r in self.em.training_rules
        ]
        out["comparisons"] = list(self.comparisons)
        return out

    def hash(self) -> str:
        """A short stable hash of the settings (stored in model files)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, file: str | None = None) -> Settings:
        """Settings from a dict (as read from TOML), collecting every problem.

        Raises:
            ConfigError: with ``.problems`` listing every unknown or ill-typed entry.
        """
        from .comparisons.library import COMPARISONS

        problems: list[str] = []
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                problems.append(_unknown("setting", key, known))
                continue
            kwargs[key] = value
        if "blocking" in kwargs:
            rules = []
            for i, rule in enumerate(kwargs["blocking"]):
                keys = tuple(rule.get("keys", ()))
                for k in keys:
                    if k not in BLOCKING_KEYS:
                        problems.append(_unknown(f"blocking rule {i + 1} key", k, BLOCKING_KEYS))
                if not keys:
                    problems.append(f"blocking rule {i + 1} has no keys")
                rules.append(BlockingRule(name=rule.get("name", "+".join(keys) or f"rule{i + 1}"),
                                          keys=keys or ("dob",),
                                          max_pairs_per_record=rule.get("max_pairs_per_record")))
            kwargs["blocking"] = tuple(rules)
        if "comparisons" in kwargs:
            for name in kwargs["comparisons"]:
                if name not in COMPARISONS:
                    problems.append(_unknown("comparison", name, COMPARISONS))
            kwargs["comparisons"] = tuple(kwargs["comparisons"])
        if "em" in kwargs:
            em = kwargs["em"]
            em_known = {f.name for f in fields(EMConfig)}
            for key in em:
                if key not in em_known:
                    problems.append(_unknown("em setting", key, em_known))
            em_kwargs = {k: v for k, v in em.items() if k in em_known}
            if "training_rules" in em_kwargs:
                em_kwargs["training_rules"] = tuple(
                    BlockingRule(name=r.get("name", "+".join(r.get("keys", ()))),
                                 keys=tuple(r.get("keys", ())) or ("dob",))
                    for r in em_kwargs["training_rules"]
                )
            kwargs["em"] = EMConfig(**em_kwargs)
        if kwargs.get("link_type", "dedupe") not in ("link", "dedupe"):
            problems.append("link_type must be 'link' or 'dedupe'")
        threshold = kwargs.get("threshold", 0.5)
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            problems.append("threshold must be a number from 0 to 1")
        cannot = kwargs.get("cannot_link_below", 0.0)
        if cannot is not None and (not isinstance(cannot, int | float) or not 0 <= cannot < 1):
            problems.append("cannot_link_below must be a number from 0 (off) to below 1")
        if problems:
            raise ConfigError(
                f"{len(problems)} problem(s) in settings: " + "; ".join(problems),
                problems, file=file,
            )
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Settings from a TOML file (the keys of :meth:`to_dict`)."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError("settings file not found", file=str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"settings file does not parse: {exc}", file=str(path)) from None
        return cls.from_dict(data, file=str(path))


def _unknown(what: str, name: str, known: Any) -> str:
    return f"unknown {what} {name!r}{did_you_mean(str(name), sorted(known))}"
