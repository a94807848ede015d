"""Tests of the synthetic multi-agency generator (cselink.synthetic).

One small population is generated per module (a few hundred people) and shared;
the statistical checks use a separate population with raised rates so that the
observed shares can be compared with the configured ones tightly.
"""

from __future__ import annotations

import ast
import filecmp
import inspect
import os
import re
import subprocess
import sys
import tomllib
import unicodedata
from importlib import resources
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from cselink.errors import ConfigError, UsageError
from cselink.ingest import Source, load_sources
from cselink.mapping import Mapping
from cselink.schema import CANONICAL_COLUMNS
from cselink.synthetic import (
    AGENCIES,
    REFERRAL_SCENARIOS,
    RELATIONS,
    TAGS,
    SynthConfig,
    generate,
    generate_frames,
    nhs_number_is_valid,
    upn_check_letter,
)

PEOPLE = 400

#: A UK postcode in one of its six formats.
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][ABD-HJLNP-UW-Z]{2}$")
ID_FORMATS = {
    "education": re.compile(r"^[A-HJ-NP-RT-Z][0-9]{12}$"),
    "health": re.compile(r"^HP[0-9]{8}$"),
    "police": re.compile(r"^20[0-9]{2}/[0-9]{7}[A-Z]$"),
    "social_care": re.compile(r"^SC[0-9]{7}$"),
    "youth_justice": re.compile(r"^YJ[0-9]{7}$"),
}


def read(path: Path, sep: str = ",", encoding: str = "utf-8") -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, encoding=encoding)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(people=PEOPLE, seed=7), path)
    return path


@pytest.fixture(scope="module")
def canonical(out: Path) -> pd.DataFrame:
    return pd.concat([read(out / "canonical" / f"{a}.csv") for a in AGENCIES], ignore_index=True)


@pytest.fixture(scope="module")
def truth(out: Path) -> pd.DataFrame:
    return read(out / "truth.csv")


@pytest.fixture(scope="module")
def people(out: Path) -> pd.DataFrame:
    return read(out / "people.csv").set_index("person_id", drop=False)


@pytest.fixture(scope="module")
def noisy() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, SynthConfig]:
    """A larger population with raised rates, for the rate checks."""
    cfg = SynthConfig(
        people=3000,
        seed=11,
        dob_swap_rate=0.3,
        dob_missing_rate=0.1,
        sex_missing_rate=0.1,
        typo_rate=0.15,
        stale_surname_rate=0.4,
        stale_address_rate=0.4,
        surname_change_rate=0.3,
        move_rate=0.4,
        duplicate_rate=0.1,
    )
    frames = generate_frames(cfg)
    records = pd.concat(frames.canonical.values(), ignore_index=True)
    return (
        records.merge(frames.truth, on=["record_id", "source"]),
        frames.people.set_index("person_id", drop=False),
        frames.truth,
        cfg,
    )


def tag_set(corruptions: str) -> set[str]:
    return set(corruptions.split(";")) - {""}


# --------------------------------------------------------------------------- files


def test_layout_and_canonical_columns(out: Path) -> None:
    for agency in AGENCIES:
        df = read(out / "canonical" / f"{agency}.csv")
        assert tuple(df.columns) == CANONICAL_COLUMNS
        assert (df["source"] == agency).all()
        assert df["record_id"].is_unique
        assert set(df["sex"]) <= {"M", "F", "U"}
        dob = df.loc[df["dob"] != "", "dob"]
        assert pd.to_datetime(dob, format="%Y-%m-%d", errors="coerce").notna().all()
        assert (out / "native" / f"{agency}.csv").is_file()
        assert (out / "mappings" / f"{agency}.toml").is_file()
    assert tuple(read(out / "truth.csv").columns) == (
        "record_id",
        "source",
        "person_id",
        "household_id",
        "corruptions",
    )
    assert tuple(read(out / "relations.csv").columns) == ("person_id_a", "person_id_b", "relation")
    assert tuple(read(out / "referrals.csv").columns) == CANONICAL_COLUMNS
    assert tuple(read(out / "referrals_truth.csv").columns) == (
        "referral_id",
        "person_id",
        "scenario",
        "related_person_id",
    )


def test_same_seed_gives_identical_files_and_another_seed_does_not(
    out: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    generate(SynthConfig(people=PEOPLE, seed=7), again)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for f in files:
        assert filecmp.cmp(out / f, again / f, shallow=False), f
    other = tmp_path / "other"
    generate(SynthConfig(people=PEOPLE, seed=8), other)
    for f in files:  # mappings describe formats and do not depend on the seed
        if f.suffix == ".csv":
            assert (out / f).read_bytes() != (other / f).read_bytes(), f


def test_truth_rows_match_canonical_records_one_to_one(
    canonical: pd.DataFrame, truth: pd.DataFrame, people: pd.DataFrame
) -> None:
    assert len(truth) == len(canonical)
    keys_t = set(zip(truth["source"], truth["record_id"], strict=True))
    keys_c = set(zip(canonical["source"], canonical["record_id"], strict=True))
    assert keys_t == keys_c and len(keys_t) == len(truth)
    assert set(truth["person_id"]) == set(people.index)  # everyone is held somewhere
    assert (
        truth["household_id"] == people.loc[truth["person_id"], "household_id"].to_numpy()
    ).all()
    tags = set().union(*(tag_set(c) for c in truth["corruptions"]))
    assert tags <= set(TAGS)


def test_record_ids_are_agency_formats_unique_and_carry_no_personal_data(
    canonical: pd.DataFrame, people: pd.DataFrame
) -> None:
    for agency, fmt in ID_FORMATS.items():
        ids = canonical.loc[canonical["source"] == agency, "record_id"]
        assert ids.map(lambda s, fmt=fmt: bool(fmt.match(s))).all(), agency
    assert canonical["record_id"].is_unique  # even across agencies
    upns = canonical.loc[canonical["source"] == "education", "record_id"]
    assert all(upn_check_letter(u[1:]) == u[0] for u in upns)
    dobs = set(people["dob"].str.replace("-", ""))
    assert not any(d in rid for rid in canonical["record_id"] for d in dobs)
    assert not set(canonical["record_id"]) & set(people["nhs_number"])


def test_native_and_canonical_hold_the_same_ids(out: Path) -> None:
    for agency in AGENCIES:
        mapping = tomllib.loads((out / "mappings" / f"{agency}.toml").read_text("utf-8"))
        native = read(
            out / "native" / f"{agency}.csv",
            sep=mapping["source"]["delimiter"],
            encoding=mapping["source"]["encoding"],
        )
        canon = read(out / "canonical" / f"{agency}.csv")
        id_col = mapping["columns"]["record_id"]
        assert list(native[id_col]) == list(canon["record_id"]), agency
        assert set(mapping["columns"].values()) == set(native.columns), agency


def test_native_file_through_its_mapping_is_the_canonical_file(out: Path) -> None:
    """The canonical file is what the native file means: ingest both and compare."""
    cols = (
        "record_id, forename, middle_names, surname, aliases, former_surnames, dob, "
        "sex, address, postcode, nhs_number"
    )
    for agency in AGENCIES:
        con = duckdb.connect()
        mapping = Mapping.from_toml(out / "mappings" / f"{agency}.toml")
        load_sources(
            con,
            [Source(agency, out / "native" / f"{agency}.csv", mapping)],
            table="n",
            rejects_table="n_rejects",
        )
        load_sources(
            con,
            [Source(agency, out / "canonical" / f"{agency}.csv")],
            table="c",
            rejects_table="c_rejects",
        )
        assert con.execute("SELECT count(*) FROM n_rejects").fetchone() == (0,)
        differing = con.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM n EXCEPT ALL SELECT {cols} FROM c)"
        ).fetchone()
        assert differing == (0,), agency
        assert (
            con.execute("SELECT count(*) FROM n").fetchone()
            == con.execute("SELECT count(*) FROM c").fetchone()
        )


def test_agency_styles(out: Path, canonical: pd.DataFrame) -> None:
    police = canonical[canonical["source"] == "police"]
    assert (police["surname"] == police["surname"].str.upper()).all()
    assert (police["forename"] == police["forename"].str.upper()).all()
    yj = read(out / "native" / "youth_justice.csv", sep="\t")
    assert yj["FULL_NAME"].str.match(r"^[^,]+, \S+").all()
    social = read(out / "native" / "social_care.csv", encoding="utf-8-sig")
    assert "Postcode" not in social.columns
    assert (out / "native" / "social_care.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    health = read(out / "native" / "health.csv", sep="|")
    assert health["DATE_OF_BIRTH"].str.fullmatch(r"(\d{8})?").all()
    assert set(health["SEX"]) <= {"1", "2", "0"}


# --------------------------------------------------------------------------- identifiers


def test_nhs_numbers_are_valid_by_modulus_11(canonical: pd.DataFrame, truth: pd.DataFrame) -> None:
    assert nhs_number_is_valid("9434765919") and not nhs_number_is_valid("9434765918")
    merged = canonical.merge(truth, on=["source", "record_id"])
    health = merged[merged["source"] == "health"]
    assert (health["nhs_number"] != "").all()
    assert health["nhs_number"].map(nhs_number_is_valid).all()
    assert health["nhs_number"].str.startswith("999").all()  # the test range
    social = merged[merged["source"] == "social_care"]
    has = social[social["nhs_number"] != ""]
    assert len(has) >= 0.75 * len(social)
    typo = has["corruptions"].map(lambda c: "nhs_typo" in tag_set(c))
    assert has.loc[~typo, "nhs_number"].map(nhs_number_is_valid).all()
    assert not has.loc[typo, "nhs_number"].map(nhs_number_is_valid).any()
    others = merged[~merged["source"].isin(["health", "social_care"])]
    assert (others["nhs_number"] == "").all()


def test_people_are_young_have_real_format_postcodes_and_one_to_four_agencies(
    people: pd.DataFrame, truth: pd.DataFrame
) -> None:
    dob = pd.to_datetime(people["dob"])
    age = (pd.Timestamp("2026-11-01") - dob).dt.days / 365.25
    assert age.min() >= 10 and age.max() < 20
    assert people["postcode"].str.match(POSTCODE).all()
    shapes = (
        people["postcode"]
        .str.replace(r"[A-Z]", "A", regex=True)
        .str.replace(r"[0-9]", "9", regex=True)
    )
    assert set(shapes) == {"A9 9AA", "A99 9AA", "AA9 9AA", "AA99 9AA", "A9A 9AA", "AA9A 9AA"}
    held = truth.drop_duplicates(["person_id", "source"]).groupby("person_id").size()
    assert held.min() >= 1 and held.max() <= 4
    assert people["nhs_number"].is_unique


# --------------------------------------------------------------------------- hard negatives


def test_twins_share_surname_dob_and_address_with_different_forenames(
    out: Path, people: pd.DataFrame
) -> None:
    rel = read(out / "relations.csv")
    assert set(rel["relation"]) <= set(RELATIONS)
    twins = rel[rel["relation"] == "twin"]
    assert len(twins) >= 1
    a = people.loc[twins["person_id_a"]].reset_index(drop=True)
    b = people.loc[twins["person_id_b"]].reset_index(drop=True)
    assert (a["household_id"] == b["household_id"]).all()
    assert (a["dob"] == b["dob"]).all()
    assert (a["address"] == b["address"]).all()
    assert (a["forename"] != b["forename"]).all()
    same_sex = a["sex"] == b["sex"]
    assert same_sex.any()
    assert (a.loc[same_sex, "surname"] == b.loc[same_sex, "surname"]).all()
    # opposite-sex twins differ in surname only by its female form (Kowalski/Kowalska)
    differ = a["surname"] != b["surname"]
    assert (
        a.loc[differ, "community"]
        .isin(["polish", "lithuanian", "slovak_roma", "indian_sikh", "bangladeshi", "pakistani"])
        .all()
    )


def test_siblings_share_a_household_and_namesakes_share_a_name(
    out: Path, people: pd.DataFrame
) -> None:
    rel = read(out / "relations.csv")
    assert (rel["person_id_a"] < rel["person_id_b"]).all()
    sib = rel[rel["relation"] == "sibling"]
    assert len(sib) > 50
    a, b = people.loc[sib["person_id_a"]], people.loc[sib["person_id_b"]]
    assert (a["household_id"].to_numpy() == b["household_id"].to_numpy()).all()
    assert (a["dob"].to_numpy() != b["dob"].to_numpy()).all()
    ns = rel[rel["relation"] == "namesake"]
    assert len(ns) >= 2
    a, b = people.loc[ns["person_id_a"]], people.loc[ns["person_id_b"]]
    assert (a["forename"].str.upper().to_numpy() == b["forename"].str.upper().to_numpy()).all()
    assert (a["surname"].str.upper().to_numpy() == b["surname"].str.upper().to_numpy()).all()
    assert (a["household_id"].to_numpy() != b["household_id"].to_numpy()).all()


def test_twin_rate(noisy) -> None:
    _, ppl, _, cfg = noisy
    sizes = ppl.groupby("household_id").size()
    households = ppl.drop_duplicates("household_id").set_index("household_id")
    with_twins = households.index.isin(
        ppl.groupby(["household_id", "dob"]).size().loc[lambda s: s > 1].index.get_level_values(0)
    )
    several = (sizes.loc[households.index] >= 2).to_numpy()
    assert within(with_twins[several], cfg.effective_rate("twin_rate"))


def test_namesake_rate_and_same_dob_rate() -> None:
    cfg = SynthConfig(people=2000, seed=3, namesake_rate=0.05, namesake_same_dob_rate=1.0)
    frames = generate_frames(cfg)
    ppl = frames.people.set_index("person_id")
    ns = frames.relations[frames.relations["relation"] == "namesake"]
    same_dob = (
        ppl.loc[ns["person_id_a"], "dob"].to_numpy() == ppl.loc[ns["person_id_b"], "dob"].to_numpy()
    )
    assert same_dob.sum() >= 0.9 * 0.05 * 2000


# --------------------------------------------------------------------------- corruptions


def test_records_without_corruptions_are_the_truth(
    canonical: pd.DataFrame, truth: pd.DataFrame, people: pd.DataFrame
) -> None:
    """Tags are complete: a record tagged with nothing that changes values is exact."""
    harmless = {"duplicate", "surname_changed", "former_surname_listed", "alias_listed"}
    merged = canonical.merge(truth, on=["source", "record_id"])
    clean = merged[merged["corruptions"].map(lambda c: tag_set(c) <= harmless)]
    assert len(clean) > 0.4 * len(merged)
    who = people.loc[clean["person_id"]].reset_index(drop=True)
    clean = clean.reset_index(drop=True)
    for col in ("forename", "middle_names", "surname"):
        assert (clean[col].str.upper() == who[col].str.upper()).all(), col
    assert (clean["dob"] == who["dob"]).all()
    assert (clean["sex"] == who["sex"]).all()
    assert (clean["postcode"].str.upper() == who["postcode"]).all()
    # social care writes the postcode after the address
    assert all(
        a.upper().startswith(b.upper())
        for a, b in zip(clean["address"], who["address"], strict=True)
    )


def test_tags_say_what_happened_to_the_date_of_birth(noisy) -> None:
    records, ppl, _, _ = noisy
    true = ppl.loc[records["person_id"], "dob"].to_numpy()
    tags = records["corruptions"].map(tag_set)
    swap = tags.map(lambda t: "dob_swap" in t).to_numpy()
    y, m, d = (np.array([s.split("-")[i] for s in true[swap]]) for i in range(3))
    assert (records.loc[swap, "dob"].to_numpy() == y + "-" + d + "-" + m).all()
    missing = tags.map(lambda t: "dob_missing" in t).to_numpy()
    assert (records.loc[missing, "dob"] == "").all()
    placeholder = tags.map(lambda t: "dob_placeholder" in t).to_numpy()
    assert (records.loc[placeholder, "dob"] == "1900-01-01").all()
    untouched = ~tags.map(lambda t: any(x.startswith("dob_") for x in t)).to_numpy()
    assert (records.loc[untouched, "dob"].to_numpy() == true[untouched]).all()
    sex_missing = tags.map(lambda t: "sex_missing" in t).to_numpy()
    assert (records.loc[sex_missing, "sex"] == "U").all()
    assert (records.loc[~sex_missing, "sex"] != "U").all()


def within(observed: np.ndarray, expected: float) -> bool:
    n = len(observed)
    sd = (expected * (1 - expected) / n) ** 0.5
    return abs(float(np.mean(observed)) - expected) <= 4 * sd + 0.005


def test_corruption_rates_are_roughly_honoured(noisy) -> None:
    records, ppl, _, cfg = noisy
    tags = records["corruptions"].map(tag_set)
    true = ppl.loc[records["person_id"]]
    day = true["dob"].str[8:10].astype(int).to_numpy()
    month = true["dob"].str[5:7].astype(int).to_numpy()
    eligible_swap = (day <= 12) & (day != month)
    moved = (true["previous_address"] != "").to_numpy()
    for agency in AGENCIES:
        at = (records["source"] == agency).to_numpy()
        t = tags[at]

        def has(tag: str, t: pd.Series = t) -> np.ndarray:
            return t.map(lambda s: tag in s).to_numpy()

        checks = {
            "dob_swap_rate": has("dob_swap")[eligible_swap[at]],
            "dob_missing_rate": has("dob_missing"),
            "sex_missing_rate": has("sex_missing"),
            "typo_rate": has("typo_forename"),
            "stale_surname_rate": has("stale_surname")[has("surname_changed")],
            "stale_address_rate": has("moved")[moved[at]],
        }
        for rate, observed in checks.items():
            expected = cfg.effective_rate(rate, agency)
            assert within(observed, expected), (agency, rate, observed.mean(), expected)


def test_duplicates_and_coverage_follow_risk(noisy) -> None:
    records, ppl, truth, cfg = noisy
    dup = truth["corruptions"].map(lambda c: "duplicate" in tag_set(c))
    for agency in ("education", "health"):
        at = truth["source"] == agency
        p = cfg.effective_rate("duplicate_rate", agency)
        assert within(dup[at].to_numpy(), p / (1 + p)), agency
    police = set(truth.loc[truth["source"] == "police", "person_id"])
    share = ppl["person_id"].isin(police).groupby(ppl["risk"]).mean()
    assert share["high"] > 0.5 > 0.1 > share["low"]


def test_names_vary_as_documented(noisy) -> None:
    records, ppl, _, _ = noisy
    tags = records["corruptions"].map(tag_set)
    true = ppl.loc[records["person_id"]].reset_index(drop=True)
    records = records.reset_index(drop=True)
    swap_only = tags.map(
        lambda t: (
            t
            & {
                "name_swap",
                "nickname",
                "variant_forename",
                "anglicised_forename",
                "typo_forename",
                "typo_surname",
                "unicode_noise",
                "alias_as_main",
                "stale_surname",
                "surname_half",
                "title_surname",
                "middle_as_forename",
                "variant_surname",
            }
            == {"name_swap"}
        )
    )
    assert swap_only.sum() > 5
    assert (
        records.loc[swap_only, "forename"].str.upper() == true.loc[swap_only, "surname"].str.upper()
    ).all()
    stale = tags.map(
        lambda t: (
            "stale_surname" in t
            and not t
            & {
                "name_swap",
                "typo_surname",
                "unicode_noise",
                "alias_as_main",
                "variant_surname",
                "title_surname",
            }
        )
    )
    assert stale.sum() > 20
    assert (
        records.loc[stale, "surname"].str.upper() == true.loc[stale, "former_surnames"].str.upper()
    ).all()
    police_alias = (records["source"] == "police") & tags.map(lambda t: "alias_listed" in t)
    health_alias = (records["source"] == "health") & tags.map(lambda t: "alias_listed" in t)
    assert (
        police_alias.sum() / (records["source"] == "police").sum()
        > 5 * health_alias.sum() / (records["source"] == "health").sum()
    )


# --------------------------------------------------------------------------- referrals


def test_referrals_cover_every_scenario(out: Path, people: pd.DataFrame) -> None:
    ref = read(out / "referrals.csv").set_index("record_id")
    rt = read(out / "referrals_truth.csv")
    assert len(ref) == len(rt) == PEOPLE // 20
    assert list(ref.index) == [f"R{i:04d}" for i in range(1, len(ref) + 1)]
    assert (ref["source"] == "referral").all()
    assert set(rt["scenario"]) == set(REFERRAL_SCENARIOS)
    known = rt["scenario"].isin(["same_name", "other_name", "new_surname"])
    assert rt.loc[known, "person_id"].isin(people.index).all()
    assert (rt.loc[~known, "person_id"] == "").all()
    related = rt["scenario"].isin(["unlisted_sibling", "namesake"])
    assert rt.loc[related, "related_person_id"].isin(people.index).all()
    for r in rt.itertuples(index=False):
        form = ref.loc[r.referral_id]
        if r.scenario == "same_name":
            person = people.loc[r.person_id]
            assert (form["forename"], form["surname"], form["dob"]) == (
                person["forename"],
                person["surname"],
                person["dob"],
            )
        elif r.scenario == "unlisted_sibling":
            sib = people.loc[r.related_person_id]
            assert form["address"] == sib["address"] and form["dob"] != sib["dob"]
            brothers_sisters = people[people["household_id"] == sib["household_id"]]
            assert form["forename"] not in set(brothers_sisters["forename"])
        elif r.scenario == "namesake":
            other = people.loc[r.related_person_id]
            assert (form["forename"], form["surname"]) == (other["forename"], other["surname"])
            assert form["address"] != other["address"]
        elif r.scenario == "new_surname":
            person = people.loc[r.person_id]
            assert form["surname"] not in {person["surname"], person["former_surnames"]}


def test_tiny_populations_work() -> None:
    for n in (1, 3, 25):
        frames = generate_frames(SynthConfig(people=n, seed=1))
        assert len(frames.people) == n
        assert len(frames.referrals) <= 10


# --------------------------------------------------------------------------- settings


def test_presets_scale_rates_and_overrides_are_checked() -> None:
    easy, hard = SynthConfig.preset("easy"), SynthConfig.preset("hard", people=10)
    assert easy.effective_rate("dob_swap_rate") == pytest.approx(0.02)
    assert hard.effective_rate("dob_swap_rate") == pytest.approx(0.08)
    assert hard.effective_rate("typo_rate", "police") == pytest.approx(0.03 * 2 * 2.0)
    assert hard.effective_rate("referral_unknown_share") == 0.15  # shares are not scaled
    assert SynthConfig(difficulty="hard") == SynthConfig.preset("hard")
    with pytest.raises(ConfigError, match="did you mean 'typo_rate'"):
        SynthConfig.preset("hard", typo_rat=0.1)
    with pytest.raises(ConfigError, match="difficulty"):
        SynthConfig.preset("brutal")
    with pytest.raises(UsageError):
        hard.effective_rate("typo_rate", "probation")


def test_invalid_settings_report_every_problem() -> None:
    with pytest.raises(ConfigError) as err:
        SynthConfig(people=0, dob_swap_rate=1.5, referral_unknown_share=0.5)
    problems = " | ".join(err.value.problems)
    assert "people" in problems and "dob_swap_rate" in problems and "add up to 1" in problems
    assert SynthConfig(reference_date="2030-01-01").reference_date.year == 2030
    with pytest.raises(ConfigError, match="reference_date"):
        SynthConfig(reference_date="01/01/2030")


def test_reference_date_moves_the_dates_of_birth() -> None:
    a = generate_frames(SynthConfig(people=50, reference_date="2026-11-01")).people
    b = generate_frames(SynthConfig(people=50, reference_date="2030-11-01")).people
    shift = pd.to_datetime(b["dob"]) - pd.to_datetime(a["dob"])
    assert shift.dt.days.between(1460, 1462).all()


def test_output_path_must_be_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "file.csv"
    file.write_text("x")
    with pytest.raises(UsageError):
        generate(SynthConfig(people=5), file)


def test_mappings_load_and_name_native_columns(out: Path) -> None:
    for agency in AGENCIES:
        mapping = Mapping.from_toml(out / "mappings" / f"{agency}.toml")
        assert mapping.name == agency


# --------------------------------------------------------------------------- name knowledge
#
# The generator's name corruptions must come from its own table, so that the matcher's
# recall on them measures what the matcher knows, not the generator's copy of it.


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.lower().replace("ł", "l"))
    return "".join(ch for ch in decomposed if ch.isalpha() and not unicodedata.combining(ch))


def _generator_table() -> pd.DataFrame:
    ref = resources.files("cselink").joinpath("data", "synth_name_variants.csv")
    with ref.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False, comment="#")


def _pair(a: str, b: str) -> frozenset[str]:
    return frozenset((_fold(a), _fold(b)))


def _matcher_knowledge() -> set[frozenset[str]]:
    """Every name pair the matcher knows: its table, name_variants.csv and ``nicknames``."""
    from nicknames import name_triplets

    from cselink.standardise.names import variant_pairs

    known = {_pair(a, b) for a, b in variant_pairs()}
    known |= {_pair(t.name1, t.name2) for t in name_triplets()}
    ref = resources.files("cselink").joinpath("data", "name_variants.csv")
    if ref.is_file():
        with ref.open("r", encoding="utf-8") as fh:
            table = pd.read_csv(fh, dtype=str, keep_default_na=False, comment="#")
        if {"variant_group", "name"} <= set(table.columns):
            for _, group in table.groupby("variant_group"):
                names = list(group["name"])
                known |= {_pair(a, b) for i, a in enumerate(names) for b in names[i + 1 :]}
    return known


_GENERATOR_SCRIPT = """
import sys
import cselink.synthetic as synthetic
opened, imported = [], []
def hook(event, args):
    if event == "open" and isinstance(args[0], str):
        opened.append(args[0])
    elif event == "import":
        imported.append(args[0])
sys.addaudithook(hook)
synthetic.generate_frames(synthetic.SynthConfig(people=300, seed=3))
print("\\n".join(["OPEN " + p for p in opened] + ["IMPORT " + m for m in imported]))
"""


def test_generator_reads_none_of_the_matchers_name_knowledge() -> None:
    """In a fresh interpreter, generating opens the generator's table and nothing of the
    matcher's; and the module's source neither imports the matcher's name code or the
    ``nicknames`` package nor names the matcher's table."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _GENERATOR_SCRIPT],
        capture_output=True, text=True, check=True, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    lines = done.stdout.splitlines()
    opened = [Path(x[5:]).name for x in lines if x.startswith("OPEN ")]
    imported = {x[7:].split(".")[0] for x in lines if x.startswith("IMPORT ")}
    assert "synth_name_variants.csv" in opened  # the hook sees the data files
    assert "name_variants.csv" not in opened
    assert "nicknames" not in imported

    import cselink.synthetic as synthetic

    tree = ast.parse(inspect.getsource(synthetic))
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in modules if m.split(".")[0] == "nicknames"}
    assert not {m for m in modules if m.startswith(("cselink.standardise", "cselink.comparisons"))}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not {x for x in strings if isinstance(x, str) and x.endswith("name_variants.csv")
                and not x.startswith("synth_")}


def test_generator_table_mostly_lies_outside_the_matchers_knowledge() -> None:
    table = _generator_table()
    assert set(table["kind"]) == {
        "short_form", "spelling", "transliteration", "anglicised", "surname"
    }
    assert (table["name"] != table["variant"]).all()
    known = _matcher_knowledge()
    pairs = [_pair(a, b) for a, b in zip(table["name"], table["variant"], strict=True)]
    table["known"] = [p in known for p in pairs]
    forenames = table[table["kind"] != "surname"]
    assert len(forenames) >= 1000
    # at least half of the generator's forename pairs, and of its short forms, are
    # unknown to the matcher (a generator that copied the matcher's table fails)
    assert forenames["known"].mean() <= 0.5
    assert table.loc[table["kind"] == "short_form", "known"].mean() <= 0.5
    # and it holds the UK forms the matcher was found to miss
    for a, b in [("Oliver", "Olly"), ("Imogen", "Immy"), ("Freddie", "Freddy"),
                 ("Ruby", "Rubie"), ("Jasmine", "Jaz"), ("Muhammad", "Mo")]:
        assert _pair(a, b) in set(pairs)


def test_name_corruptions_come_from_the_generators_table(noisy) -> None:
    records, ppl, _, _ = noisy
    table = _generator_table()
    kinds = {
        "nickname": {"short_form"},
        "variant_forename": {"spelling", "transliteration"},
        "anglicised_forename": {"anglicised"},
    }
    other = {"name_swap", "typo_forename", "unicode_noise", "alias_as_main"}
    tags = records["corruptions"].map(tag_set)
    true = ppl.loc[records["person_id"], "forename"].to_numpy()
    for tag, allowed in kinds.items():
        rows = table[table["kind"].isin(allowed)]
        pairs = {_pair(a, b) for a, b in zip(rows["name"], rows["variant"], strict=True)}
        hit = tags.map(lambda t, tag=tag: tag in t and not t & other).to_numpy()
        assert hit.sum() >= (3 if tag == "anglicised_forename" else 30), tag
        recorded = records.loc[hit, "forename"].to_numpy()
        assert all(_pair(a, b) in pairs for a, b in zip(true[hit], recorded, strict=True)), tag


@pytest.fixture(scope="module")
def families() -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = generate_frames(SynthConfig(people=20_000, seed=5))
    return frames.people.set_index("person_id", drop=False), frames.relations


def test_twins_are_about_three_percent_of_young_people(families) -> None:
    ppl, rel = families
    twins = (rel["relation"] == "twin").sum() * 2 / len(ppl)
    assert 0.025 <= twins <= 0.035


def test_siblings_names_follow_naming_practice(families) -> None:
    """Never one name written two ways (by the generator's table or a shortening such as
    Alf/Alfie); alliterative or rhyming pairs only a few percent."""
    ppl, rel = families
    table = _generator_table()
    variants = {_pair(a, b) for a, b in zip(table["name"], table["variant"], strict=True)}
    for relation in ("twin", "sibling"):
        pairs = rel[rel["relation"] == relation]
        assert len(pairs) >= 200, relation
        a = ppl.loc[pairs["person_id_a"], "forename"].map(_fold).to_numpy()
        b = ppl.loc[pairs["person_id_b"], "forename"].map(_fold).to_numpy()
        same = [
            x == y or frozenset((x, y)) in variants or x.startswith(y) or y.startswith(x)
            for x, y in zip(a, b, strict=True)
        ]
        assert not any(same), relation
        alike = np.array([x[0] == y[0] or x[-3:] == y[-3:] for x, y in zip(a, b, strict=True)])
        assert 0.005 <= alike.mean() <= 0.08, relation


# --------------------------------------------------------------------------- name frequencies


@pytest.fixture(scope="module")
def cohorts() -> pd.DataFrame:
    """18 birth cohorts (ages 0 to 17) with realistic name frequencies."""
    frames = generate_frames(SynthConfig(people=30_000, seed=9, min_age=0, max_age=17))
    people = frames.people
    return people.assign(year=people["dob"].str[:4].astype(int))


def test_forenames_follow_realistic_shares_and_change_by_birth_year(cohorts) -> None:
    for sex in "MF":
        shares = cohorts.loc[cohorts["sex"] == sex, "forename"].value_counts(normalize=True)
        assert 0.01 <= shares.iloc[0] <= 0.04  # the top name: a few percent
        assert 0.35 <= shares.head(100).sum() <= 0.7  # the top 100 about half the births
        assert len(shares) >= 600  # and a long tail
    white = cohorts[cohorts["community"] == "white_british"]
    early, late = white[white["year"] <= 2012], white[white["year"] >= 2020]
    for rising, falling in [("Arthur", "Joshua"), ("Florence", "Jessica")]:
        assert (late["forename"] == rising).mean() > 1.3 * (early["forename"] == rising).mean()
        assert (early["forename"] == falling).mean() > 1.3 * (late["forename"] == falling).mean()


def test_surnames_are_zipf_like_with_smith_first(cohorts) -> None:
    white = cohorts.loc[cohorts["community"] == "white_british", "surname"]
    shares = white.str.split("-").str[0].value_counts(normalize=True)
    assert list(shares.index[:2]) == ["Smith", "Jones"]
    assert 0.01 <= shares["Smith"] <= 0.02
    assert shares.head(10).sum() < 0.1


def test_flat_names_are_a_labelled_contrast() -> None:
    flat = generate_frames(SynthConfig(people=3000, seed=9, name_frequencies="flat")).people
    real = generate_frames(SynthConfig(people=3000, seed=9)).people
    assert flat["forename"].nunique() < real["forename"].nunique()
    with pytest.raises(ConfigError, match="name_frequencies"):
        SynthConfig(name_frequencies="uniform")
