"""A seeded synthetic multi-agency population of young people, with truth.

Nothing here is real: every person, name combination, address, NHS number and
identifier is drawn at random from the reference lists in ``cselink/data/``. The
generator makes the data that the linkage engine is built, tested and demonstrated
on: English young people aged about 10 to 19 held by up to five agencies, each
agency recording them in its own way and with its own mistakes, plus a panel's
referral forms and the truth needed to score a linker.

It is deterministic (the same :class:`SynthConfig` gives byte-identical files; dates
of birth are relative to ``reference_date``, never today) and vectorised with numpy
(Python loops only over the small share of values that get a typo or a nickname), so
100,000 people take seconds and a million records are practical for benchmarks.

How the population is made
--------------------------
* **Places.** Local authorities (fictional names, real-format postcode districts:
  ``A9 9AA`` M8, ``A99 9AA`` M14, ``AA9 9AA`` TA1, ``AA99 9AA`` BS13, ``A9A 9AA`` E1W,
  ``AA9A 9AA`` EC1V) from ``local_authorities.csv`` and ``postcode_districts.csv``.
  Each LA gets streets ("Oak Road") from ``street_parts.csv``; a street lies in one
  postcode sector and every 25 house numbers share a unit, so neighbours share
  postcodes. Addresses read ``Flat 3, 12 Oak Road, Taunton`` (flat 8% of the time).
* **Households.** One to four young people each, in an LA drawn by weight, with a
  community drawn from the LA's mix (``la_communities.csv``). Siblings share the
  address and surname; ``twin_rate`` of the households with two or more children
  have twins (same DOB, the same sex two times in three; about 3% of young people
  are twins). Brothers and sisters, twins or not, are named as parents name them:
  never one name written two ways (Freddie/Freddy, Alfie/Alf, Leila/Layla), and
  alliterative or rhyming names (Harry and Holly) for only 5% of pairs.
* **Names.** Forenames by community, sex and birth year and surnames by community, at
  approximate England and Wales shares (``frequency`` and ``trend`` in
  ``forenames.csv``, ``surnames.csv``): the top names take a few percent of births
  each, names rise and fall (Jack and Jessica for the older cohorts, Arthur and
  Willow for the younger), and the births the lists do not cover go to a long tail
  of rarer spellings (Jaxon, Evee) and double names (Lacey-Mae); white British
  surnames run from Smith (about 1.4%) down a Zipf-like curve to about 2,000 rare
  toponymic names. ``name_frequencies="flat"`` gives the lists' rank weights
  instead, every cohort alike and no tail: a labelled contrast. Polish, Lithuanian
  and Slovak surnames take their female form for girls (Kowalski/Kowalska). Sikh
  children carry Singh/Kaur, and some Bangladeshi and Pakistani girls
  Begum/Bibi/Khatun/Akter, as a middle name after the family name or (in some
  families) as the surname itself.
  Most children have a middle name. 3% of white British and Irish families have a
  double-barrelled surname from birth.
* **Name variants** come only from the generator's own table
  ``synth_name_variants.csv`` (UK short forms, spellings, transliterations, anglicised
  forms and surname spellings, written for the generator), never from the matcher's
  knowledge (``name_variants.csv``, the ``nicknames`` package): the matcher's recall
  on them measures what it knows, not a copy of it.
* **Surname changes** (``surname_change_rate`` of households): to a step-parent's
  surname, from the mother's to the father's, or to a double-barrelled name. The
  former surname lingers in some agencies (``stale_surname_rate``).
* **Aliases** (``alias_rate``, much likelier for high-risk young people): a street
  name ("Tiny"), the forename with another surname, another forename with the
  surname, or a false identity; a quarter of high-risk alias holders have two.
* **Moves** (``move_rate`` of households; ``move_across_la_share`` of them across an
  LA border): agencies may still hold the previous address (``stale_address_rate``).
* **Namesakes** (``namesake_rate`` of people): a young person in another household
  with the same forename and surname as someone, and the same DOB for
  ``namesake_same_dob_rate`` of them. Common names also make namesakes by chance.
* **Risk and holdings.** A latent risk (low 75%, medium 18%, high 7%, shared in part
  by siblings) sets which agencies hold a person (``COVERAGE``): education and health
  hold most young people, police, social care and youth justice mostly the medium and
  high-risk ones. Everyone is held by one to four of the five agencies. Each agency
  record is corrupted independently; ``duplicate_rate`` adds a second, independently
  corrupted record of the same person within an agency.

Rates
-----
Every corruption has its own rate field in :class:`SynthConfig`. A *record* rate is
the probability that a record shows the corruption, among the records where it is
possible (a day/month swap needs a day of 12 or less; a nickname needs a forename
that has one), for an agency of average quality. The actual probability is::

    min(1, rate x difficulty factor x agency factor)

with difficulty factors ``easy`` 0.5, ``standard`` 1, ``hard`` 2 and the agency
factors in :data:`AGENCY_FACTORS` (police types worst and records aliases; health is
slowest to pick up surname changes; education and social care record former
surnames). :meth:`SynthConfig.effective_rate` gives the number. *Person* and
*household* rates (twins, namesakes, surname changes, aliases, moves) are scaled by
the difficulty factor only. Shares (``move_across_la_share``,
``social_care_nhs_coverage`` and the ``referral_*`` shares) are never scaled.

Output of :func:`generate` (``out_dir/...``)
----------------------------------------------
``canonical/<agency>.csv``
    One file per agency (education, health, police, social_care, youth_justice), in
    the canonical schema, columns exactly ``record_id, source, forename,
    middle_names, surname, aliases, former_surnames, dob, sex, address, postcode,
    nhs_number``. Lists are ``;``-separated, ``dob`` is ISO ``yyyy-mm-dd`` or empty,
    ``sex`` is M, F or U. It is what the native file means after its mapping, value
    for value (police upper-case everything, health and youth justice the surname;
    social care's address keeps its postcode, and ``postcode`` is the postcode found
    in it).
``native/<agency>.csv``
    The same records (same ids) in each agency's own export format; the mapping in
    ``mappings/`` says which column is which:

    * ``education``: ``UPN`` (13 characters, a check letter first), ``Surname``,
      ``Forename``, ``MiddleNames``, ``KnownAs`` (aliases), ``FormerSurname``, ``DOB``
      dd/mm/yyyy, ``Gender`` Male/Female/Not known, ``Address``, ``Postcode``.
    * ``health`` (``|``-delimited): ``LOCAL_PATIENT_ID``, ``NHS_NUMBER`` (always
      present and valid), ``FAMILY_NAME`` (upper case), ``GIVEN_NAME``,
      ``OTHER_GIVEN_NAMES``, ``ALIAS_NAMES``, ``PREVIOUS_FAMILY_NAMES``,
      ``DATE_OF_BIRTH`` yyyymmdd, ``SEX`` 1/2/0, ``ADDRESS``, ``POSTCODE``.
    * ``police`` (all upper case): ``PNC_ID`` (yyyy/nnnnnnnL), ``SURNAME``,
      ``FORENAME``, ``MIDDLE_NAMES``, ``AKA`` and ``PREVIOUS_SURNAMES`` (``/``-separated),
      ``DOB`` ISO with time (2009-04-05T00:00:00), ``SEX`` M/F/U, ``ADDRESS``,
      ``POSTCODE``.
    * ``social_care`` (UTF-8 with a byte-order mark): ``PersonID``, ``FirstName``,
      ``MiddleName``, ``LastName``, ``KnownAs``, ``PreviousNames``, ``DateOfBirth``
      d-Mon-yyyy (5-Apr-2009), ``Gender`` Male/Female/Unknown, ``NHSNumber`` (for
      ``social_care_nhs_coverage`` of records), ``Address`` with the postcode at its
      end (no postcode column).
    * ``youth_justice`` (tab-delimited): ``YJ_REF``, ``FULL_NAME`` "SURNAME, Forename
      Middle", ``ALIASES``, ``FORMER_SURNAMES``, ``DOB`` yyyy-mm-dd, ``SEX`` m/f/u,
      ``ADDRESS``, ``POSTCODE``.

    Lists are ``;``-separated unless said otherwise; an empty field is a missing value.
``mappings/<agency>.toml``
    The source mapping of the native file (format: the mapping contract read by
    :mod:`cselink.mapping`).
``truth.csv``
    ``record_id, source, person_id, household_id, corruptions``: one row per agency
    record; ``corruptions`` is the ``;``-separated tags from :data:`TAGS`.
``relations.csv``
    ``person_id_a, person_id_b, relation`` with a < b: ``twin`` and ``sibling``
    (same household), ``namesake`` (other households, same forename and surname:
    the namesakes made on purpose, and chance ones that also share the DOB or the
    postcode district).
``referrals.csv``
    Referral forms in the canonical schema: ``record_id`` is the referral id
    (R0001, ...), ``source`` is ``referral``.
``referrals_truth.csv``
    ``referral_id, person_id, scenario, related_person_id``: ``person_id`` is empty
    when the referred young person is nobody in the population; ``scenario`` is one of
    :data:`REFERRAL_SCENARIOS`; ``related_person_id`` is the known person an
    ``unlisted_sibling`` is a sibling of, or a ``namesake`` shares a name with.
``people.csv``
    The truth about each person: ``person_id, household_id, la, community, risk,
    forename, middle_names, surname, former_surnames, aliases, dob, sex, address,
    postcode, previous_address, previous_postcode, nhs_number`` (for evaluation by
    group: recall by community, risk or LA).

Referral scenarios: ``same_name`` (as the person is currently known, aliases listed
for ``referral_aliases_listed_share``), ``other_name`` (an alias or a former
surname), ``new_surname`` (a surname no agency holds, the current one sometimes given
as former), ``unknown`` (a young person nobody holds), ``unlisted_sibling`` (a brother
or sister of a known person, at the same address, held by no agency), ``namesake``
(someone else with a known person's name).

Identifiers never carry personal data: record ids are random serial numbers in each
agency's id format, NHS numbers are drawn from the 999 range reserved for testing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import combinations
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from cselink.errors import ConfigError, UsageError, did_you_mean
from cselink.identifiers import (
    POSTCODE_IN_TEXT,
    nhs_check_digits,
    nhs_number_is_valid,
    upn_check_letter,
    upn_check_letters,
)
from cselink.schema import CANONICAL_COLUMNS
from cselink.synthetic_contacts import GeneratorParts, add_contacts

logger = logging.getLogger(__name__)

__all__ = [
    "AGENCIES",
    "AGENCY_FACTORS",
    "COVERAGE",
    "DIFFICULTIES",
    "REFERRAL_SCENARIOS",
    "RELATIONS",
    "TAGS",
    "SynthConfig",
    "SynthFrames",
    "SynthResult",
    "generate",
    "generate_frames",
    "nhs_number_is_valid",
    "upn_check_letter",
]

Array = np.ndarray[Any, Any]

#: The agencies, in file order.
AGENCIES: Final[tuple[str, ...]] = (
    "education",
    "health",
    "police",
    "social_care",
    "youth_justice",
)

#: Multiplier of every scaled rate for each difficulty.
DIFFICULTIES: Final[Mapping[str, float]] = MappingProxyType(
    {"easy": 0.5, "standard": 1.0, "hard": 2.0}
)

#: Relations written to relations.csv.
RELATIONS: Final[tuple[str, ...]] = ("twin", "sibling", "namesake")

#: Scenarios of referrals_truth.csv.
REFERRAL_SCENARIOS: Final[tuple[str, ...]] = (
    "same_name",
    "other_name",
    "new_surname",
    "unknown",
    "unlisted_sibling",
    "namesake",
)

#: Corruption tags of truth.csv, in the order they are written, and what each means.
TAGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "duplicate": "a second record of the person within the same agency",
        "surname_changed": "the person's surname has changed (on every record of theirs)",
        "stale_surname": "the record holds the former surname, not the current one",
        "former_surname_listed": "the record lists the former surname",
        "surname_half": "one half of a double-barrelled surname recorded",
        "title_surname": "Singh/Kaur/Begum-style name recorded as the surname, or the "
        "family name recorded where the title is the registered surname",
        "alias_listed": "the aliases column is not empty",
        "alias_as_main": "an alias recorded as the main name",
        "nickname": "forename replaced by a short form or the name it shortens "
        "(Oliver/Olly, Alfie/Alf, Charlotte/Charlie)",
        "variant_forename": "forename spelt or transliterated another way "
        "(Freddie/Freddy, Mohammed/Muhammad, Ciarán/Kieran)",
        "anglicised_forename": "forename recorded in an English form (Jakub/Jacob, "
        "Yusuf/Joseph, Katarzyna/Kate)",
        "variant_surname": "surname spelt another way (Hussain/Hussein)",
        "middle_as_forename": "middle name recorded as the forename",
        "name_swap": "forename and surname swapped",
        "unicode_noise": "apostrophe, hyphen or accent changed (O'Brien/OBrien, Zoë/Zoe)",
        "typo_forename": "a typing error in the forename",
        "typo_surname": "a typing error in the surname",
        "dob_swap": "day and month of birth transposed",
        "dob_digit": "one digit of the date of birth wrong",
        "dob_year": "year of birth off by one",
        "dob_placeholder": "date of birth 1900-01-01",
        "dob_year_only": "date of birth recorded as 1 January of the right year",
        "dob_missing": "date of birth missing",
        "sex_missing": "sex recorded as unknown",
        "moved": "the record holds the address before the household moved",
        "moved_across_la": "that move crossed a local-authority border",
        "address_nfa": "address recorded as no fixed abode",
        "address_variant": "address abbreviated or shortened (Rd, no town, no flat)",
        "postcode_missing": "postcode missing",
        "postcode_typo": "postcode mistyped (O/0 confusion or a wrong character)",
        "postcode_format": "postcode with its space dropped or in lower case",
        "nhs_typo": "NHS number mistyped (fails its check digit)",
    }
)

#: Probability that an agency holds a person, by risk level (low, medium, high).
#: Education holds fewer young people from 16 (see _EDUCATION_POST16).
COVERAGE: Final[Mapping[str, tuple[float, float, float]]] = MappingProxyType(
    {
        "education": (0.96, 0.93, 0.85),
        "health": (0.80, 0.83, 0.88),
        "police": (0.02, 0.20, 0.65),
        "social_care": (0.03, 0.30, 0.80),
        "youth_justice": (0.003, 0.05, 0.35),
    }
)
_EDUCATION_POST16 = 0.7  # multiplier of education coverage from age 16
_RISK_P = (0.75, 0.18, 0.07)
_RISK_NAMES = np.array(["low", "medium", "high"], dtype=object)
_ALIAS_RISK_WEIGHT = np.array([0.3, 2.0, 6.0])  # alias likelihood by risk, mean about 1
_REFERRAL_RISK_WEIGHT = np.array([1.0, 4.0, 12.0])  # who gets referred

# Agency factors per quality group: (education, health, police, social_care, youth_justice).
_QUALITY: Final[dict[str, tuple[float, float, float, float, float]]] = {
    "duplicate": (0.5, 0.8, 2.0, 1.2, 0.8),
    "stale_surname": (0.7, 1.8, 0.9, 0.5, 0.8),
    "former_surname": (1.2, 0.3, 1.0, 1.5, 1.0),
    "alias": (0.15, 0.05, 1.5, 1.0, 1.5),
    "stale_address": (0.6, 1.4, 1.1, 0.6, 0.9),
    "names": (0.8, 0.5, 1.6, 1.0, 1.3),
    "typing": (0.7, 0.5, 2.0, 1.0, 1.2),
    "nfa": (0.0, 0.0, 2.0, 0.6, 2.0),
    "nhs": (0.0, 0.0, 0.0, 1.0, 0.0),
    "flat": (1.0, 1.0, 1.0, 1.0, 1.0),
}

# Which quality group scales each record rate.
_RECORD_RATES: Final[dict[str, str]] = {
    "duplicate_rate": "duplicate",
    "stale_surname_rate": "stale_surname",
    "former_surname_recorded_rate": "former_surname",
    "double_barrel_half_rate": "names",
    "title_surname_rate": "names",
    "alias_recorded_rate": "alias",
    "alias_as_main_rate": "alias",
    "nickname_rate": "names",
    "spelling_variant_rate": "names",
    "anglicised_rate": "names",
    "middle_as_forename_rate": "names",
    "name_swap_rate": "names",
    "typo_rate": "typing",
    "unicode_noise_rate": "typing",
    "dob_swap_rate": "typing",
    "dob_digit_rate": "typing",
    "dob_year_rate": "typing",
    "dob_placeholder_rate": "typing",
    "dob_year_only_rate": "typing",
    "dob_missing_rate": "typing",
    "sex_missing_rate": "typing",
    "stale_address_rate": "stale_address",
    "address_variant_rate": "flat",
    "nfa_rate": "nfa",
    "postcode_missing_rate": "typing",
    "postcode_typo_rate": "typing",
    "postcode_format_rate": "typing",
    "nhs_typo_rate": "nhs",
}
# Person and household rates: scaled by difficulty only.
_PERSON_RATES: Final[tuple[str, ...]] = (
    "twin_rate",
    "namesake_rate",
    "namesake_same_dob_rate",
    "surname_change_rate",
    "alias_rate",
    "move_rate",
)

#: Agency factor of each record rate field (1.0 = an agency of average quality).
AGENCY_FACTORS: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        rate: MappingProxyType(dict(zip(AGENCIES, _QUALITY[group], strict=True)))
        for rate, group in _RECORD_RATES.items()
    }
)

_NAME_FREQUENCIES: Final[tuple[str, ...]] = ("realistic", "flat")
_TAG_BIT: Final[dict[str, int]] = {t: i for i, t in enumerate(TAGS)}
_REFERRAL_SHARES: Final[tuple[str, ...]] = tuple(f"referral_{s}_share" for s in REFERRAL_SCENARIOS)
# NHS numbers come from the 999 test range: about 900,000 valid numbers.
_MAX_PEOPLE = 800_000


# =========================================================================== configuration


@dataclass(frozen=True, slots=True, kw_only=True)
class SynthConfig:
    """Settings of a synthetic population; every rate is a probability in [0, 1].

    Record rates are for an agency of average quality at the standard difficulty,
    among the records where the corruption is possible; see the module docstring and
    :meth:`effective_rate` for how difficulty and agency factors scale them.

    Attributes:
        people: young people in the population (each held by one to four agencies).
        seed: seed of every random draw.
        difficulty: ``easy`` (rates x0.5), ``standard`` or ``hard`` (rates x2).
        reference_date: the date ages are measured at (ISO string or date).
        min_age: youngest age in whole years on the reference date.
        max_age: oldest age in whole years on the reference date.
        local_authorities: how many of the ten local authorities to use (2 to 10).
        referrals: referral forms to make; None means one per 20 people, at least 10.
            A population too small to supply the known young people a scenario needs
            gets fewer (an ``other_name`` referral falls back to ``same_name`` first).
        name_frequencies: ``realistic`` (forenames by birth year and sex at their
            approximate England and Wales shares, with a long tail of rarer
            spellings; Zipf-like surnames, Smith about 1.4% of white British people)
            or ``flat``, a labelled contrast: the lists' rank weights, the same for
            every cohort, no tail (the generator before realistic frequencies).
        twin_rate: households with two or more children whose eldest two are twins
            (the default makes about 3% of young people twins, as of births in
            England and Wales).
        namesake_rate: people given the forename and surname of someone elsewhere.
        namesake_same_dob_rate: of those namesakes, the share who share the DOB too.
        surname_change_rate: households whose children changed surname.
        alias_rate: people with an alias or street name (weighted towards high risk).
        move_rate: households that moved (agencies may hold the previous address).
        move_across_la_share: of the moves, the share across an LA border.
        duplicate_rate: records with a second record of the person in the same agency.
        stale_surname_rate: records of a person whose surname changed that still hold
            the former surname.
        former_surname_recorded_rate: up-to-date records that list the former surname.
        double_barrel_half_rate: records of a double-barrelled surname holding one half.
        title_surname_rate: records of a person with Singh/Kaur/Begum/Bibi/Khatun/Akter
            that record it as the surname (or the family name where it is the surname).
        alias_recorded_rate: records of a person with aliases that list them.
        alias_as_main_rate: records of a person with a full-name alias that use it as
            the main name.
        nickname_rate: records whose forename has a short form (Olly for Oliver) or
            is one (Alf for Alfred), in the generator's own ``synth_name_variants.csv``,
            that use the other form.
        spelling_variant_rate: records whose forename (and, separately, surname) has
            other spellings or transliterations (``synth_name_variants.csv``) that
            use one.
        anglicised_rate: records whose forename has an English form (Jakub: Jacob,
            Jake) that use it.
        middle_as_forename_rate: records with a middle name that use it as forename.
        name_swap_rate: records with forename and surname swapped.
        typo_rate: records with a typing error, for each of forename and surname.
        unicode_noise_rate: records whose names have an apostrophe, hyphen or accent
            that change them (O'Brien -> OBrien / O Brien / O’Brien, Zoë -> Zoe).
        dob_swap_rate: records with day <= 12 (and day != month) that swap them.
        dob_digit_rate: records with one digit of the DOB wrong (a valid date).
        dob_year_rate: records with the year of birth off by one.
        dob_placeholder_rate: records with the placeholder DOB 1900-01-01.
        dob_year_only_rate: records with 1 January of the right year.
        dob_missing_rate: records with no DOB.
        sex_missing_rate: records with sex unknown (U).
        stale_address_rate: records of a person whose household moved that hold the
            previous address.
        address_variant_rate: records with the address abbreviated or shortened.
        nfa_rate: records with the address "No Fixed Abode" (police, youth justice,
            some social care).
        postcode_missing_rate: records with no postcode.
        postcode_typo_rate: records with a mistyped postcode (O/0 where possible).
        postcode_format_rate: records with the postcode space dropped or lower case.
        nhs_typo_rate: social-care records with a mistyped NHS number.
        social_care_nhs_coverage: social-care records that hold the NHS number.
        referral_same_name_share: referrals under the name the person is known by.
        referral_other_name_share: referrals under an alias or a former surname.
        referral_new_surname_share: referrals under a surname no agency holds.
        referral_unknown_share: referrals of young people nobody holds.
        referral_unlisted_sibling_share: referrals of an unheld sibling of someone held.
        referral_namesake_share: referrals of an unheld namesake of someone held.
        referral_aliases_listed_share: referrals that list the aliases and former
            surnames the referrer knows.
    """

    people: int = 2000
    seed: int = 42
    difficulty: str = "standard"
    reference_date: dt.date | str = dt.date(2026, 11, 1)
    min_age: int = 10
    max_age: int = 19
    local_authorities: int = 8
    referrals: int | None = None
    name_frequencies: str = "realistic"
    # people and households
    twin_rate: float = 0.053
    namesake_rate: float = 0.01
    namesake_same_dob_rate: float = 0.25
    surname_change_rate: float = 0.08
    alias_rate: float = 0.06
    move_rate: float = 0.15
    move_across_la_share: float = 0.35
    # records: duplicates, surnames, aliases
    duplicate_rate: float = 0.02
    stale_surname_rate: float = 0.3
    former_surname_recorded_rate: float = 0.5
    double_barrel_half_rate: float = 0.25
    title_surname_rate: float = 0.3
    alias_recorded_rate: float = 0.6
    alias_as_main_rate: float = 0.2
    # records: forenames and typing
    nickname_rate: float = 0.08
    spelling_variant_rate: float = 0.1
    anglicised_rate: float = 0.05
    middle_as_forename_rate: float = 0.03
    name_swap_rate: float = 0.01
    typo_rate: float = 0.03
    unicode_noise_rate: float = 0.3
    # records: dates of birth and sex
    dob_swap_rate: float = 0.04
    dob_digit_rate: float = 0.01
    dob_year_rate: float = 0.01
    dob_placeholder_rate: float = 0.003
    dob_year_only_rate: float = 0.005
    dob_missing_rate: float = 0.01
    sex_missing_rate: float = 0.01
    # records: addresses and identifiers
    stale_address_rate: float = 0.3
    address_variant_rate: float = 0.1
    nfa_rate: float = 0.01
    postcode_missing_rate: float = 0.04
    postcode_typo_rate: float = 0.02
    postcode_format_rate: float = 0.08
    nhs_typo_rate: float = 0.01
    social_care_nhs_coverage: float = 0.9
    # referrals
    referral_same_name_share: float = 0.35
    referral_other_name_share: float = 0.2
    referral_new_surname_share: float = 0.1
    referral_unknown_share: float = 0.15
    referral_unlisted_sibling_share: float = 0.1
    referral_namesake_share: float = 0.1
    referral_aliases_listed_share: float = 0.5
    #: Make known contacts too (cselink.synthetic_contacts): contacts.csv and its truth,
    #: and the adults' police and youth justice records in the agency files.
    contacts: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.reference_date, str):
            try:
                ref = dt.date.fromisoformat(self.reference_date)
            except ValueError:
                raise ConfigError(
                    "invalid synthetic settings: reference_date is not an ISO date (yyyy-mm-dd)"
                ) from None
            object.__setattr__(self, "reference_date", ref)
        problems = self.problems()
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ConfigError(f"invalid synthetic settings: {problems[0]}{more}", problems)

    def problems(self) -> list[str]:
        """Every problem with these settings (empty when they are valid)."""
        out: list[str] = []

        def whole(name: str, low: int, high: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(f"{name} must be a whole number")
            elif not low <= value <= high:
                out.append(f"{name} must be between {low:,} and {high:,}")

        whole("people", 1, _MAX_PEOPLE)
        whole("seed", 0, 2**63 - 1)
        whole("min_age", 0, 30)
        whole("max_age", 0, 30)
        whole("local_authorities", 2, len(_tables().las))
        if self.referrals is not None:
            whole("referrals", 0, 1_000_000)
        if not out and self.max_age < self.min_age:
            out.append("max_age must not be below min_age")
        if self.name_frequencies not in _NAME_FREQUENCIES:
            out.append(f"name_frequencies must be one of {', '.join(_NAME_FREQUENCIES)}")
        if self.difficulty not in DIFFICULTIES:
            tip = did_you_mean(str(self.difficulty), DIFFICULTIES)
            out.append(f"difficulty must be one of {', '.join(DIFFICULTIES)}{tip}")
        if not isinstance(self.reference_date, dt.date):
            out.append("reference_date must be a date")
        for f in dataclasses.fields(self):
            if f.name.endswith(("_rate", "_share", "_coverage")):
                value = getattr(self, f.name)
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    out.append(f"{f.name} must be a number")
                elif not 0.0 <= float(value) <= 1.0:
                    out.append(f"{f.name} must be between 0 and 1")
        shares = [getattr(self, s) for s in _REFERRAL_SHARES]
        if all(isinstance(s, (int, float)) for s in shares) and abs(sum(shares) - 1) > 1e-6:
            out.append(
                f"the referral scenario shares must add up to 1 (they add up to {sum(shares):.3f})"
            )
        return out

    @classmethod
    def preset(cls, difficulty: str, **overrides: Any) -> SynthConfig:
        """The settings of a difficulty, with some fields overridden.

        Overridden rates are, like every rate, standard-difficulty rates: the
        difficulty scales them too.

        Raises:
            ConfigError: an unknown field or difficulty, or an invalid value.

        Examples:
            >>> SynthConfig.preset("hard", people=500).effective_rate("dob_swap_rate")
            0.08
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in overrides if k not in names or k == "difficulty"]
        if unknown:
            problems = []
            for k in unknown:
                problems.append(f"unknown setting {k!r}" + did_you_mean(k, names))
            raise ConfigError(f"invalid synthetic settings: {problems[0]}", problems)
        return cls(difficulty=difficulty, **overrides)

    @property
    def reference_day(self) -> dt.date:
        """``reference_date`` as a date (a string is converted when the settings are made)."""
        if isinstance(self.reference_date, str):  # pragma: no cover - converted in __post_init__
            return dt.date.fromisoformat(self.reference_date)
        return self.reference_date

    @property
    def scale(self) -> float:
        """The difficulty factor applied to every scaled rate."""
        return DIFFICULTIES[self.difficulty]

    def effective_rate(self, name: str, agency: str | None = None) -> float:
        """The probability actually used for a rate field, for one agency.

        Args:
            name: a rate field, e.g. ``"dob_swap_rate"``.
            agency: for record rates, the agency (None: an agency of average quality).

        Raises:
            UsageError: an unknown rate or agency.
        """
        if name in _RECORD_RATES:
            if agency is None:
                factor = 1.0
            elif agency in AGENCIES:
                factor = AGENCY_FACTORS[name][agency]
            else:
                raise UsageError(f"unknown agency {agency!r}")
            return min(1.0, float(getattr(self, name)) * self.scale * factor)
        if name in _PERSON_RATES:
            return min(1.0, float(getattr(self, name)) * self.scale)
        if name in ("move_across_la_share", "social_care_nhs_coverage") or name in (
            *_REFERRAL_SHARES,
            "referral_aliases_listed_share",
        ):
            return float(getattr(self, name))
        raise UsageError(f"unknown rate {name!r}")

    @property
    def referral_count(self) -> int:
        """Referral forms to make."""
        return self.referrals if self.referrals is not None else max(10, self.people // 20)


@dataclass(frozen=True, slots=True)
class SynthFrames:
    """Everything :func:`generate` writes, in memory (see the module docstring).

    Attributes:
        canonical: agency -> the canonical-schema records.
        native: agency -> the same records in the agency's export format.
        mappings: agency -> the TOML text of the native file's mapping.
        native_formats: agency -> (delimiter, encoding) of the native CSV file.
        truth, relations, referrals, referrals_truth, people: the other files.
    """

    canonical: Mapping[str, pd.DataFrame]
    native: Mapping[str, pd.DataFrame]
    mappings: Mapping[str, str]
    native_formats: Mapping[str, tuple[str, str]]
    truth: pd.DataFrame
    relations: pd.DataFrame
    referrals: pd.DataFrame
    referrals_truth: pd.DataFrame
    people: pd.DataFrame
    #: People named on the referrals and their truth (cselink.synthetic_contacts).
    contacts: pd.DataFrame | None = None
    contacts_truth: pd.DataFrame | None = None

    @property
    def record_counts(self) -> dict[str, int]:
        """Records per agency."""
        return {a: len(df) for a, df in self.canonical.items()}


@dataclass(frozen=True, slots=True)
class SynthResult:
    """What :func:`generate` wrote.

    Attributes:
        out_dir: the output folder.
        files: a short name (``canonical/police``, ``truth``, ...) -> the path written.
        people: people in the population.
        records: agency -> records written.
        referrals: referral forms written.
        relations: relation -> pairs written.
    """

    out_dir: Path
    files: Mapping[str, Path]
    people: int
    records: Mapping[str, int]
    referrals: int
    relations: Mapping[str, int]

    @property
    def total_records(self) -> int:
        """Agency records over all agencies."""
        return sum(self.records.values())


# =========================================================================== public API


def generate_frames(config: SynthConfig) -> SynthFrames:
    """Make the synthetic population, its agency records, referrals and truth in memory.

    Args:
        config: the settings.

    Returns:
        The frames :func:`generate` writes (no files are touched).

    Raises:
        ConfigError: settings the reference lists cannot satisfy.
    """
    started = time.perf_counter()
    tables = _tables()
    rngs = _Streams(config.seed)
    places = _build_places(config, tables, rngs.get("places"))
    people = _make_people(config, tables, places, rngs)
    records = _make_records(config, people, rngs)
    canonical, native, tag_bits, record_ids, order = _corrupt_and_render(
        config, tables, places, people, records, rngs
    )
    truth = _truth_frame(records, people, tag_bits, record_ids, order)
    relations = _relations_frame(people)
    referrals, referrals_truth = _make_referrals(config, tables, places, people, rngs)
    frames = SynthFrames(
        canonical=canonical,
        native=native,
        mappings={a: _mapping_toml(_EXPORTS[a]) for a in AGENCIES},
        native_formats={a: (_EXPORTS[a].delimiter, _EXPORTS[a].encoding) for a in AGENCIES},
        truth=truth,
        relations=relations,
        referrals=referrals,
        referrals_truth=referrals_truth,
        people=_people_frame(people),
    )
    if config.contacts:
        frames = add_contacts(config, frames, GeneratorParts(
            monikers=tuple(tables.monikers), exports=_EXPORTS, canonical_frame=_canonical_frame,
            native_frame=_native_frame, style=_style))
    logger.info(
        "synthetic population: %d people, %d records, %d referrals in %.2f s",
        config.people,
        len(truth),
        len(referrals),
        time.perf_counter() - started,
    )
    return frames


def generate(config: SynthConfig, out_dir: str | Path) -> SynthResult:
    """Make the synthetic population and write its files (layout in the module docstring).

    Files are overwritten; other files in ``out_dir`` are left alone.

    Args:
        config: the settings.
        out_dir: the output folder (created if missing).

    Returns:
        The paths written and the counts.

    Raises:
        ConfigError: settings the reference lists cannot satisfy.
        UsageError: ``out_dir`` exists and is not a folder.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError("the output path exists and is not a folder", file=str(out))
    frames = generate_frames(config)
    files: dict[str, Path] = {}

    def write(key: str, df: pd.DataFrame, sep: str = ",", encoding: str = "utf-8") -> None:
        path = out / f"{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False, sep=sep, encoding=encoding, lineterminator="\n")
        files[key] = path

    for agency in AGENCIES:
        write(f"canonical/{agency}", frames.canonical[agency])
        sep, encoding = frames.native_formats[agency]
        write(f"native/{agency}", frames.native[agency], sep=sep, encoding=encoding)
        path = out / "mappings" / f"{agency}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(frames.mappings[agency], encoding="utf-8", newline="\n")
        files[f"mappings/{agency}"] = path
    write("truth", frames.truth)
    write("relations", frames.relations)
    write("referrals", frames.referrals)
    write("referrals_truth", frames.referrals_truth)
    write("people", frames.people)
    if frames.contacts is not None and frames.contacts_truth is not None:
        write("contacts", frames.contacts)
        write("contacts_truth", frames.contacts_truth)
    counts = frames.relations["relation"].value_counts()
    return SynthResult(
        out_dir=out,
        files=files,
        people=config.people,
        records=frames.record_counts,
        referrals=len(frames.referrals),
        relations={r: int(counts.get(r, 0)) for r in RELATIONS},
    )


# =========================================================================== reference data

_PNC_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"
_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)
_HOUSES_PER_STREET = 200
_HOUSES_PER_UNIT = 25
_MIDDLE_POOL = "english_middle"  # middle-name-only forename list
_FREQUENCY_YEAR = 2012  # the birth year of forenames.csv's frequency column
# Double forenames in the long tail, in the communities that use them (Lacey-Mae, Alfie-James).
_COMPOUND_COMMUNITIES = frozenset({"white_british", "gypsy_irish_traveller", "black_caribbean"})
_COMPOUND_SECONDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "M": ("James", "Jay", "Lee", "John", "Ray", "Joe"),
        "F": ("Mae", "May", "Rose", "Grace", "Louise", "Jayne", "Leigh"),
    }
)
_ANGLO = ("white_british", "irish", "gypsy_irish_traveller", "black_caribbean")
_BIRTH_DOUBLE_BARREL = {"white_british": 0.03, "irish": 0.03}
_CHILDREN_P = (0.52, 0.31, 0.12, 0.05)  # 1 to 4 young people per household
_FLAT_SHARE = 0.08
_TWINS_SAME_SEX = 2 / 3
# Sibling pairs (twins or not) whose names alliterate or rhyme (Harry and Holly, Ella and
# Bella); the rest have unrelated names, and no siblings have one name written two ways.
_SIBLINGS_ALIKE_SHARE = 0.05
_NAME_DRAW_ROUNDS = 200
_NAME_CANDIDATES = 8  # names drawn at once for a sibling whose name does not fit
_ALIKE_ROUNDS = 12  # rounds of candidates for a sibling pair meant to alliterate or rhyme
# community -> sex -> (share with a title, titles, weights); and the share of families
# that register the title as the surname.
_TITLES: Final[dict[str, dict[str, tuple[float, tuple[str, ...], tuple[float, ...]]]]] = {
    "indian_sikh": {"M": (1.0, ("Singh",), (1.0,)), "F": (1.0, ("Kaur",), (1.0,))},
    "bangladeshi": {"F": (0.4, ("Begum", "Khatun", "Akter"), (0.6, 0.25, 0.15))},
    "pakistani": {"F": (0.2, ("Bibi", "Begum"), (0.5, 0.5))},
}
_TITLE_AS_SURNAME = {"indian_sikh": 0.25, "bangladeshi": 0.5, "pakistani": 0.5}
_STREET_ABBREVIATIONS = {
    "Road": "Rd",
    "Street": "St",
    "Avenue": "Ave",
    "Lane": "Ln",
    "Close": "Cl",
    "Drive": "Dr",
    "Crescent": "Cres",
    "Gardens": "Gdns",
    "Terrace": "Ter",
    "Place": "Pl",
    "Court": "Ct",
    "Grove": "Gr",
}
_MONTHS = np.array(
    ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    dtype=object,
)
_TWO_DIGITS = np.array([f"{i:02d}" for i in range(100)], dtype=object)
_NUMBERS = np.array([str(i) for i in range(10_000)], dtype=object)
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@dataclass(frozen=True, slots=True)
class _Tables:
    """The reference lists of cselink/data, loaded once."""

    communities: tuple[str, ...]
    forenames: pd.DataFrame  # community, sex, name, weight, frequency, trend
    surnames: pd.DataFrame  # community, name, female_form, weight, frequency
    las: pd.DataFrame  # la_number, la_name, weight
    districts: pd.DataFrame  # la_number, district, town
    la_communities: pd.DataFrame  # la_number, community, share
    street_names: Array
    street_types: Array
    street_type_p: Array
    monikers: Array
    variants: _Variants  # the generator's own name variants (synth_name_variants.csv)


def _read_data(name: str) -> pd.DataFrame:
    ref = resources.files("cselink").joinpath("data", name)
    with ref.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    forenames = _read_data("forenames.csv")
    for column in ("weight", "frequency", "trend"):
        forenames[column] = forenames[column].astype(float)
    surnames = _read_data("surnames.csv")
    for column in ("weight", "frequency"):
        surnames[column] = surnames[column].astype(float)
    las = _read_data("local_authorities.csv")
    las["weight"] = las["weight"].astype(float)
    districts = _read_data("postcode_districts.csv")
    la_comm = _read_data("la_communities.csv")
    la_comm["share"] = la_comm["share"].astype(float)
    streets = _read_data("street_parts.csv")
    names = streets[streets["kind"] == "name"]
    types = streets[streets["kind"] == "type"]
    type_w = types["weight"].astype(float).to_numpy()
    communities = tuple(sorted(set(forenames["community"]) - {_MIDDLE_POOL}))
    return _Tables(
        communities=communities,
        forenames=forenames,
        surnames=surnames,
        las=las,
        districts=districts,
        la_communities=la_comm,
        street_names=names["part"].to_numpy(dtype=object),
        street_types=types["part"].to_numpy(dtype=object),
        street_type_p=type_w / type_w.sum(),
        monikers=_read_data("monikers.csv")["moniker"].to_numpy(dtype=object),
        variants=_read_variants(),
    )


#: The generator's own name-variant table (never read by the matcher; see its header).
_VARIANTS_FILE: Final[str] = "synth_name_variants.csv"
#: Forename corruption tag -> the kinds of ``synth_name_variants.csv`` it draws on.
_FORENAME_KINDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "nickname": ("short_form",),
        "variant_forename": ("spelling", "transliteration"),
        "anglicised_forename": ("anglicised",),
    }
)
_ONE_WAY_KINDS = frozenset({"anglicised"})  # Jakub -> Jacob, never Jacob -> Jakub


@dataclass(frozen=True, slots=True)
class _Variants:
    """The generator's name variants, by corruption tag.

    Attributes:
        forenames: forename tag -> (forename, sex) -> the forms it may be recorded as.
        surnames: surname -> its other spellings.
        related: folded name pairs ``"a|b"`` (both orders) of every kind: one name
            written two ways, which siblings never share.
    """

    forenames: Mapping[str, Mapping[tuple[str, str], tuple[str, ...]]]
    surnames: Mapping[str, tuple[str, ...]]
    related: frozenset[str]


def _read_variants() -> _Variants:
    """Load ``synth_name_variants.csv``: each row a pair, usable both ways unless one-way."""
    ref = resources.files("cselink").joinpath("data", _VARIANTS_FILE)
    with ref.open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, dtype=str, keep_default_na=False, comment="#")
    tag_of = {kind: tag for tag, kinds in _FORENAME_KINDS.items() for kind in kinds}
    options: dict[str, dict[tuple[str, str], set[str]]] = {t: {} for t in _FORENAME_KINDS}
    surnames: dict[str, set[str]] = {}
    related: set[str] = set()
    for kind, sex, name, variant in table.itertuples(index=False):
        fa, fb = _fold(name), _fold(variant)
        related.update((f"{fa}|{fb}", f"{fb}|{fa}"))
        ways = [(name, variant)] if kind in _ONE_WAY_KINDS else [(name, variant), (variant, name)]
        if kind == "surname":
            for a, b in ways:
                surnames.setdefault(a, set()).add(b)
            continue
        for s in ("M", "F") if sex == "U" else (sex,):
            for a, b in ways:
                options[tag_of[kind]].setdefault((a, s), set()).add(b)
    return _Variants(
        forenames=MappingProxyType(
            {
                tag: MappingProxyType({k: tuple(sorted(v)) for k, v in sorted(by.items())})
                for tag, by in options.items()
            }
        ),
        surnames=MappingProxyType({k: tuple(sorted(v)) for k, v in sorted(surnames.items())}),
        related=frozenset(related),
    )


@lru_cache(maxsize=1 << 16)
def _fold(name: str) -> str:
    """Lower case, accents, hyphens, apostrophes and spaces removed (Zoë-Mae -> zoemae)."""
    return "".join(ch for ch in _strip_accents(name).lower() if ch.isalpha())


class _Streams:
    """Independent random streams by name, so that changing one stage leaves the others."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def get(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])


def _cumulative(weights: Array) -> Array:
    cum = np.cumsum(np.asarray(weights, dtype=float))
    return np.asarray(cum / cum[-1])


def _pick(rng: np.random.Generator, cum: Array, n: int) -> Array:
    """n indices drawn with the probabilities whose cumulative sum is ``cum``."""
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


def _per_distinct(func: Callable[[str], Any], values: Array) -> Array:
    """Apply ``func`` once per distinct value (values: an object array of str)."""
    codes, uniques = pd.factorize(values)
    mapped = np.array([func(v) for v in uniques], dtype=object)
    return mapped[codes] if len(values) else np.array([], dtype=object)


def _groups(keys: Array) -> list[tuple[int, Array]]:
    """(key, positions) for each distinct integer key, keys ascending."""
    if not len(keys):
        return []
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    return [(int(k), pos) for k, pos in zip(uniq, np.split(order, starts[1:]), strict=True)]


def _obj(values: Iterable[Any]) -> Array:
    return np.array(list(values), dtype=object)


def _join(arrays: Iterable[Array], sep: str) -> Array:
    """Element-wise join of the non-empty strings of several object arrays."""
    arrays = [np.asarray(a, dtype=object) for a in arrays]
    out = arrays[0].copy()
    for a in arrays[1:]:
        both = (out != "") & (a != "")
        out = np.where(both, out + sep + a, np.where(out == "", a, out))
    return out


# =========================================================================== places


@dataclass(frozen=True, slots=True)
class _Places:
    """The local authorities in use and their streets."""

    la_number: Array  # int per LA
    la_name: Array
    la_cum: Array  # cumulative weights of LAs
    community_cum: Array  # (n_la, n_communities) cumulative community mix
    la_streets: tuple[Array, ...]  # street indices of each LA
    street_name: Array
    street_town: Array
    street_outward: Array
    street_sector: Array  # object, "1".."9"
    street_units: Array  # (n_streets, units) object, "AB"


def _build_places(cfg: SynthConfig, tables: _Tables, rng: np.random.Generator) -> _Places:
    las = tables.las.iloc[: cfg.local_authorities]
    la_w = las["weight"].to_numpy()
    la_p = la_w / la_w.sum()
    community_index = {c: i for i, c in enumerate(tables.communities)}
    mix = np.zeros((len(las), len(tables.communities)))
    for i, la in enumerate(las["la_number"]):
        rows = tables.la_communities[tables.la_communities["la_number"] == la]
        for c, share in zip(rows["community"], rows["share"], strict=True):
            mix[i, community_index[c]] = share
    combos = len(tables.street_names) * len(tables.street_types)
    # Room for every address drawn (households, previous addresses, referrals) with
    # streets three-quarters empty, so that draws without replacement stay cheap.
    expected = (cfg.people / 1.6 * 1.4 + cfg.referral_count + 100) * la_p
    names, towns, outwards, sectors, units, la_streets = [], [], [], [], [], []
    start = 0
    units_per_street = _HOUSES_PER_STREET // _HOUSES_PER_UNIT
    for i, la in enumerate(las["la_number"]):
        n = int(np.clip(np.ceil(4 * expected[i] / _HOUSES_PER_STREET), 40, combos))
        chosen = rng.choice(
            combos,
            size=n,
            replace=False,
            p=np.tile(tables.street_type_p, len(tables.street_names)) / len(tables.street_names),
        )
        first = tables.street_names[chosen // len(tables.street_types)]
        kind = tables.street_types[chosen % len(tables.street_types)]
        names.append(first + " " + kind)
        dist = tables.districts[tables.districts["la_number"] == la]
        d = rng.integers(0, len(dist), n)
        towns.append(dist["town"].to_numpy(dtype=object)[d])
        outwards.append(dist["district"].to_numpy(dtype=object)[d])
        sectors.append(_NUMBERS[rng.integers(1, 10, n)])
        letters = _UNIT_LETTERS[rng.integers(0, len(_UNIT_LETTERS), (n, units_per_street, 2))]
        units.append(letters[..., 0] + letters[..., 1])
        la_streets.append(np.arange(start, start + n))
        start += n
    return _Places(
        la_number=las["la_number"].astype(int).to_numpy(),
        la_name=las["la_name"].to_numpy(dtype=object),
        la_cum=_cumulative(la_p),
        community_cum=np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1),
        la_streets=tuple(la_streets),
        street_name=np.concatenate(names),
        street_town=np.concatenate(towns),
        street_outward=np.concatenate(outwards),
        street_sector=np.concatenate(sectors),
        street_units=np.concatenate(units),
    )


@dataclass(frozen=True, slots=True)
class _Addresses:
    la: Array
    text: Array
    postcode: Array


def _draw_addresses(places: _Places, la: Array, rng: np.random.Generator) -> _Addresses:
    """One address per entry of ``la`` (LA indices), distinct within this draw."""
    n = len(la)
    street = np.zeros(n, dtype=np.int64)
    house = np.zeros(n, dtype=np.int64)
    for i, streets in enumerate(places.la_streets):
        where = np.flatnonzero(la == i)
        if not len(where):
            continue
        slots = len(streets) * _HOUSES_PER_STREET
        if len(where) > slots:
            raise ConfigError("too many people for the street table of a local authority")
        pos = rng.choice(slots, size=len(where), replace=False)
        street[where] = streets[pos // _HOUSES_PER_STREET]
        house[where] = pos % _HOUSES_PER_STREET + 1
    flat = np.where(rng.random(n) < _FLAT_SHARE, rng.integers(1, 13, n), 0)
    prefix = np.where(flat > 0, "Flat " + _NUMBERS[flat] + ", ", "")
    text = (
        prefix
        + _NUMBERS[house]
        + " "
        + places.street_name[street]
        + ", "
        + places.street_town[street]
    )
    unit = places.street_units[street, (house - 1) // _HOUSES_PER_UNIT]
    postcode = places.street_outward[street] + " " + places.street_sector[street] + unit
    return _Addresses(la=la, text=text.astype(object), postcode=postcode.astype(object))


# =========================================================================== people


@dataclass(slots=True)
class _People:
    """The population's truth, one entry per person (arrays of equal length)."""

    person_id: Array
    household: Array  # int household index
    household_id: Array
    child: Array  # position in the household, 0 = eldest
    twin: Array  # bool, one of the household's twins
    community: Array  # int code into _Tables.communities
    risk: Array  # 0 low, 1 medium, 2 high
    sex: Array  # object "M" | "F"
    dob: Array  # datetime64[D]
    forename: Array
    middle: Array  # given middle names (space-separated), no title
    title: Array  # Singh/Kaur/Begum... or ""
    title_is_surname: Array  # bool
    family: Array  # the family surname (current)
    family_rows: Array  # (n, 2) surname-table rows of the family surname (-1: no 2nd half)
    family_a: Array  # halves of a double-barrelled family surname, "" otherwise
    family_b: Array
    former: Array  # former family surname, "" if unchanged
    alias1: Array
    alias2: Array
    alias_forename: Array  # the first full-name alias, split ("" if none)
    alias_surname: Array
    la: Array
    address: Array
    postcode: Array
    moved: Array  # bool
    moved_across: Array  # bool
    prev_la: Array
    prev_address: Array
    prev_postcode: Array
    nhs: Array
    namesake_of: Array  # int: the person whose name a made namesake took, -1 otherwise

    @property
    def surname(self) -> Array:
        """The registered surname: the title where the family registers it, else family."""
        return np.where(self.title_is_surname, self.title, self.family)

    @property
    def middle_names(self) -> Array:
        """Recorded middle names: given ones, then the title unless it is the surname."""
        title = np.where(self.title_is_surname, "", self.title)
        return _join([self.middle, title], " ")

    @property
    def has_former(self) -> Array:
        return np.asarray((self.former != "") & ~self.title_is_surname)

    def __len__(self) -> int:
        return len(self.person_id)


@dataclass(frozen=True, slots=True)
class _ForenameWeights:
    """How one (community, sex) list draws forenames in one birth year."""

    cum: Array  # cumulative weights of the list's names
    rare: Array  # rarer spellings of them, drawn uniformly in the tail
    seconds: tuple[str, ...]  # second halves of double names (Lacey-Mae, Alfie-James)
    tail_share: float  # births that go to the tail


class _NameDraws:
    """Weighted draws of forenames and surnames by community, sex and birth year.

    With ``realistic`` frequencies a forename's weight in birth year ``y`` is
    ``frequency x exp(trend x (y - 2012))`` (``forenames.csv``), and the births that the
    list's names do not take (``1 - sum(frequency) / 10,000``) go to the long tail: half
    to rarer spellings of the listed names (Jaxon, Evee; the generator's variant table),
    half, in the communities that use them, to double names (Lacey-Mae, Alfie-James).
    Surnames follow ``surnames.csv``'s ``frequency``. Otherwise (``flat``, a labelled
    contrast) every cohort draws by the lists' rank ``weight`` and there is no tail.
    """

    def __init__(self, tables: _Tables, realistic: bool = True) -> None:
        self.tables = tables
        self.realistic = realistic
        fn = tables.forenames
        self.fn_names = fn["name"].to_numpy(dtype=object)
        self.fn_index: dict[tuple[str, str], Array] = {
            (str(comm), str(sex)): group.index.to_numpy()
            for (comm, sex), group in fn.groupby(["community", "sex"], sort=True)
        }
        self._fn_draws: dict[tuple[str, str, int], _ForenameWeights] = {}
        sn = tables.surnames
        self.sn_male = sn["name"].to_numpy(dtype=object)
        self.sn_female = np.where(sn["female_form"] != "", sn["female_form"], sn["name"]).astype(
            object
        )
        column = "frequency" if realistic else "weight"
        self.sn_groups: dict[str, tuple[Array, Array]] = {}
        for comm, group in sn.groupby("community", sort=True):
            self.sn_groups[str(comm)] = (
                group.index.to_numpy(),
                _cumulative(group[column].to_numpy()),
            )

    def _forename_weights(self, group: tuple[str, str], year: int) -> _ForenameWeights:
        """The draw of a (community, sex) list in a birth year (see the class docstring)."""
        key = (*group, year)
        if key not in self._fn_draws:
            rows = self.tables.forenames.loc[self.fn_index[group]]
            if not self.realistic:
                self._fn_draws[key] = _ForenameWeights(
                    _cumulative(rows["weight"].to_numpy()), _blank(0), (), 0.0
                )
                return self._fn_draws[key]
            freq = rows["frequency"].to_numpy()
            weight = freq * np.exp(rows["trend"].to_numpy() * (year - _FREQUENCY_YEAR))
            spellings = self.tables.variants.forenames["variant_forename"]
            rare = sorted(
                {v for n in rows["name"] for v in spellings.get((n, group[1]), ())}
                - set(rows["name"])
            )
            seconds = _COMPOUND_SECONDS[group[1]] if group[0] in _COMPOUND_COMMUNITIES else ()
            self._fn_draws[key] = _ForenameWeights(
                _cumulative(weight),
                _obj(rare),
                seconds,
                max(0.0, 1.0 - float(freq.sum()) / 10_000) if (rare or seconds) else 0.0,
            )
        return self._fn_draws[key]

    def forenames(
        self,
        community: Array,
        sex: Array,
        rng: np.random.Generator,
        pool: str | None = None,
        year: Array | None = None,
        tail: bool = True,
    ) -> Array:
        """A forename per person (community codes, sex "M"/"F"), from ``pool`` if given.

        ``year`` is each person's birth year (None: the frequency tables' own year);
        ``tail=False`` draws only the lists' names (for middle names).
        """
        n = len(community)
        out = np.empty(n, dtype=object)
        years = np.full(n, _FREQUENCY_YEAR) if year is None else np.asarray(year, np.int64)
        key = (np.asarray(community, dtype=np.int64) * 2 + (np.asarray(sex) == "F")) * 10_000
        key = key + (years if pool is None else _FREQUENCY_YEAR)
        for k, where in _groups(key):
            group = (pool or self.tables.communities[k // 20_000], "MF"[k // 10_000 % 2])
            draw = self._forename_weights(group, k % 10_000)
            names = self.fn_names[self.fn_index[group][_pick(rng, draw.cum, len(where))]]
            share = draw.tail_share if tail else 0.0
            in_tail = np.flatnonzero(rng.random(len(where)) < share)
            if len(in_tail):
                # half rarer spellings, half double names (Lacey-Mae) where families use them
                spelt = (rng.random(len(in_tail)) < 0.5) | (not draw.seconds)
                if not len(draw.rare):
                    spelt[:] = False
                pick = in_tail[spelt]
                names[pick] = draw.rare[rng.integers(0, len(draw.rare), len(pick))]
                hyphen = np.char.count(names[in_tail].astype(str), "-").astype(bool)
                pick = in_tail[~spelt & ~hyphen]
                second = np.array(draw.seconds, dtype=object)
                if len(second):
                    halves = second[rng.integers(0, len(second), len(pick))]
                    names[pick] = names[pick] + "-" + halves
            out[where] = names
        return out

    def surname_rows(self, community: Array, rng: np.random.Generator) -> Array:
        """A surname table row per entry of ``community``."""
        out = np.zeros(len(community), dtype=np.int64)
        for c, where in _groups(np.asarray(community, dtype=np.int64)):
            idx, cum = self.sn_groups[self.tables.communities[c]]
            out[where] = idx[_pick(rng, cum, len(where))]
        return out

    def surname_text(self, a: Array, b: Array, sex: Array) -> Array:
        """Surname strings: rows ``a`` (and ``b`` >= 0, double-barrelled), by sex."""
        female = sex == "F"
        first = np.where(female, self.sn_female[a], self.sn_male[a])
        bb = np.maximum(b, 0)
        second = np.where(female, self.sn_female[bb], self.sn_male[bb])
        return np.asarray(np.where(b >= 0, first + "-" + second, first), dtype=object)


def _make_people(cfg: SynthConfig, tables: _Tables, places: _Places, rngs: _Streams) -> _People:
    """Households, then the young people in them, then namesakes."""
    rng = rngs.get("households")
    draws = _NameDraws(tables, realistic=cfg.name_frequencies == "realistic")
    n_comm = len(tables.communities)
    wb = tables.communities.index("white_british")

    # --- households and their sizes (exactly cfg.people young people)
    sizes = np.zeros(0, dtype=np.int64)
    while sizes.sum() < cfg.people:
        more = rng.choice(np.arange(1, 5), size=int(cfg.people / 1.6) + 16, p=_CHILDREN_P)
        sizes = np.concatenate([sizes, more])
    cum = np.cumsum(sizes)
    n_hh = int(np.searchsorted(cum, cfg.people) + 1)
    sizes = sizes[:n_hh]
    sizes[-1] -= int(cum[n_hh - 1] - cfg.people)
    h_la = _pick(rng, places.la_cum, n_hh)
    u = rng.random(n_hh)
    h_comm = np.zeros(n_hh, dtype=np.int64)
    for i in range(len(places.la_number)):
        where = h_la == i
        h_comm[where] = np.minimum(
            np.searchsorted(places.community_cum[i], u[where], side="right"), n_comm - 1
        )

    # --- household surnames: birth, current and former (rows of the surname table)
    birth_a = draws.surname_rows(h_comm, rng)
    other = draws.surname_rows(np.where(rng.random(n_hh) < 0.7, h_comm, wb), rng)
    double_p = np.array([_BIRTH_DOUBLE_BARREL.get(c, 0.0) for c in tables.communities])
    birth_b = np.where(rng.random(n_hh) < double_p[h_comm], other, -1)
    kind = np.where(
        rng.random(n_hh) < cfg.effective_rate("surname_change_rate"),
        1 + _pick(rng, _cumulative(np.array([0.5, 0.2, 0.3])), n_hh),
        0,
    )  # 1 step-parent, 2 mother's then father's, 3 double-barrelled
    kind = np.where((kind == 3) & (birth_b >= 0), 1, kind)
    new = draws.surname_rows(np.where(rng.random(n_hh) < 0.7, h_comm, wb), rng)
    new = np.where(new == birth_a, other, new)
    front = rng.random(n_hh) < 0.5
    cur_a = np.select([kind == 1, kind == 3], [new, np.where(front, birth_a, new)], birth_a)
    cur_b = np.select([kind == 1, kind == 3], [-1, np.where(front, new, birth_a)], birth_b)
    old_a = np.select([kind == 1, kind == 2, kind == 3], [birth_a, new, birth_a], -1)
    old_b = np.where(kind == 1, birth_b, -1)
    unchanged = (old_a == cur_a) & (old_b == cur_b)  # a "change" to the same name
    old_a, old_b = np.where(unchanged, -1, old_a), np.where(unchanged, -1, old_b)

    # --- moves and addresses
    addr_rng = rngs.get("addresses")
    h_cur = _draw_addresses(places, h_la, addr_rng)
    moved = rng.random(n_hh) < cfg.effective_rate("move_rate")
    across = moved & (rng.random(n_hh) < cfg.move_across_la_share)
    shift = rng.integers(1, len(places.la_number), n_hh)
    prev_la = np.where(across, (h_la + shift) % len(places.la_number), h_la)
    h_prev = _draw_addresses(places, prev_la, addr_rng)

    h_risk = _pick(rng, _cumulative(np.array(_RISK_P)), n_hh)
    h_twins = (sizes >= 2) & (rng.random(n_hh) < cfg.effective_rate("twin_rate"))
    title_p = np.array([_TITLE_AS_SURNAME.get(c, 0.0) for c in tables.communities])
    h_title_surname = rng.random(n_hh) < title_p[h_comm]

    # --- young people
    prng = rngs.get("people")
    n = cfg.people
    hh = np.repeat(np.arange(n_hh), sizes)
    first_of_hh = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    child = np.arange(n) - first_of_hh[hh]
    twin = h_twins[hh] & (child <= 1)
    sex = np.where(prng.random(n) < 0.5, "M", "F").astype(object)
    # two in three pairs of twins are of the same sex (identical twins and half the others)
    second_twin = np.flatnonzero(twin & (child == 1))
    same_sex = prng.random(len(second_twin)) < _TWINS_SAME_SEX
    sex[second_twin] = np.where(
        same_sex, sex[second_twin - 1], np.where(sex[second_twin - 1] == "M", "F", "M")
    )
    comm = h_comm[hh]
    risk = np.where(
        prng.random(n) < 0.6, h_risk[hh], _pick(prng, _cumulative(np.array(_RISK_P)), n)
    )
    dob = _draw_sibling_dobs(cfg, sizes, hh, child, twin, prng)

    # forenames: some families in every community choose English names
    fn_comm = np.where((comm != wb) & (prng.random(n) < 0.1), wb, comm)
    year = _birth_years(dob)
    forename = _sibling_forenames(draws, fn_comm, sex, year, sizes, prng)

    # titles (Singh/Kaur, Begum/Bibi/...)
    title = np.full(n, "", dtype=object)
    for c, comm_name in enumerate(tables.communities):
        for s, (share, titles, weights) in _TITLES.get(comm_name, {}).items():
            where = np.flatnonzero((comm == c) & (sex == s) & (prng.random(n) < share))
            title[where] = np.array(titles, dtype=object)[
                _pick(prng, _cumulative(np.array(weights)), len(where))
            ]
    has_title = title != ""
    title_is_surname = has_title & h_title_surname[hh]

    # middle names: anglophone families mostly from the English middle-name list
    anglo = np.isin(comm, [tables.communities.index(c) for c in _ANGLO])
    middle_p = np.where(anglo, 0.75, 0.3)
    has_middle = (prng.random(n) < middle_p) & ~has_title
    english = anglo & (prng.random(n) < 0.7)
    m1 = np.where(
        english,
        draws.forenames(comm, sex, prng, pool=_MIDDLE_POOL),
        draws.forenames(comm, sex, prng, year=year, tail=False),
    )
    m2 = draws.forenames(comm, sex, prng, pool=_MIDDLE_POOL)
    # a middle name is never the child's own forename, or a brother's or sister's,
    # written some way
    a, b = _sibling_pairs(sizes)
    clash = _related_names(m1, forename)
    clash[a[_related_names(m1[a], forename[b])]] = True
    clash[b[_related_names(m1[b], forename[a])]] = True
    second = has_middle & anglo & (prng.random(n) < 0.12) & (m2 != m1)
    middle = np.where(has_middle & ~clash, m1, "")
    clash2 = _related_names(m2, forename)
    clash2[a[_related_names(m2[a], forename[b])]] = True
    clash2[b[_related_names(m2[b], forename[a])]] = True
    middle = _join([middle, np.where(second & ~clash2, m2, "")], " ")

    family_ab = (cur_a[hh], cur_b[hh])
    family = draws.surname_text(*family_ab, sex)
    family_a = np.where(
        family_ab[1] >= 0, draws.surname_text(family_ab[0], -np.ones(n, int), sex), ""
    )
    family_b = np.where(
        family_ab[1] >= 0,
        draws.surname_text(np.maximum(family_ab[1], 0), -np.ones(n, int), sex),
        "",
    )
    former = np.where(
        old_a[hh] >= 0, draws.surname_text(np.maximum(old_a[hh], 0), old_b[hh], sex), ""
    )

    people = _People(
        person_id=_ids("P", n),
        household=hh,
        household_id=_ids("H", n_hh)[hh],
        child=child,
        twin=twin,
        community=comm,
        risk=risk,
        sex=sex,
        dob=dob,
        forename=forename,
        middle=middle.astype(object),
        title=title,
        title_is_surname=title_is_surname,
        family=family,
        family_rows=np.stack([cur_a[hh], cur_b[hh]], axis=1),
        family_a=family_a.astype(object),
        family_b=family_b.astype(object),
        former=former.astype(object),
        alias1=np.full(n, "", dtype=object),
        alias2=np.full(n, "", dtype=object),
        alias_forename=np.full(n, "", dtype=object),
        alias_surname=np.full(n, "", dtype=object),
        la=h_la[hh],
        address=h_cur.text[hh],
        postcode=h_cur.postcode[hh],
        moved=moved[hh],
        moved_across=across[hh],
        prev_la=prev_la[hh],
        prev_address=np.where(moved, h_prev.text, "")[hh].astype(object),
        prev_postcode=np.where(moved, h_prev.postcode, "")[hh].astype(object),
        nhs=_nhs_numbers(n, rngs.get("nhs")),
        namesake_of=np.full(n, -1, dtype=np.int64),
    )
    _make_namesakes(cfg, people, sizes, rngs.get("namesakes"))
    _make_aliases(cfg, tables, draws, people, rngs.get("aliases"))
    return people


def _sibling_forenames(
    draws: _NameDraws,
    community: Array,
    sex: Array,
    year: Array,
    sizes: Array,
    rng: np.random.Generator,
) -> Array:
    """Forenames of the young people, household by household, as parents name children.

    Brothers and sisters, twins or not, never share a name or one name written two
    ways (:func:`_related_names`: Freddie/Freddy, Alfie/Alf, Leila/Layla). Their names
    are unrelated, not even alliterative or rhyming, except for
    ``_SIBLINGS_ALIKE_SHARE`` of the pairs whose names deliberately are (Harry and
    Holly). A younger sibling's name is drawn again until it fits.
    """
    forename = draws.forenames(community, sex, rng, year=year)
    a, b = _sibling_pairs(sizes)
    want_alike = rng.random(len(a)) < _SIBLINGS_ALIKE_SHARE
    check = np.flatnonzero(np.ones(len(a), dtype=bool))
    for round_ in range(_NAME_DRAW_ROUNDS):
        if round_ == _ALIKE_ROUNDS:
            want_alike[:] = False  # an alike pair not found by now: settle for unrelated
        misfit = _misfits(forename[a[check]], forename[b[check]], want_alike[check])
        redraw = np.unique(b[check[misfit]])
        if not len(redraw):
            break
        # several candidates each; keep the first that fits every pair with an elder
        cands = draws.forenames(
            np.tile(community[redraw], _NAME_CANDIDATES),
            np.tile(sex[redraw], _NAME_CANDIDATES),
            rng,
            year=np.tile(year[redraw], _NAME_CANDIDATES),
        ).reshape(_NAME_CANDIDATES, len(redraw))
        pairs = np.flatnonzero(np.isin(b, redraw))
        col = np.searchsorted(redraw, b[pairs])
        bad = _misfits(
            np.tile(forename[a[pairs]], _NAME_CANDIDATES),
            cands[:, col].ravel(),
            np.tile(want_alike[pairs], _NAME_CANDIDATES),
        ).reshape(_NAME_CANDIDATES, len(pairs))
        fits = np.ones(cands.shape, dtype=bool)
        k, j = np.nonzero(bad)
        fits[k, col[j]] = False
        forename[redraw] = cands[fits.argmax(axis=0), np.arange(len(redraw))]
        check = np.flatnonzero(np.isin(a, redraw) | np.isin(b, redraw))
    return forename


def _misfits(elder: Array, younger: Array, want_alike: Array) -> Array:
    """Sibling pairs whose names break the naming rules of :func:`_sibling_forenames`."""
    return _related_names(elder, younger) | (_alike_names(elder, younger) != want_alike)


def _sibling_pairs(sizes: Array) -> tuple[Array, Array]:
    """Every pair of young people in the same household, as (elder, younger) indices."""
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    elder, younger = [], []
    for k in range(2, int(sizes.max(initial=1)) + 1):
        starts = first[sizes == k]
        for i, j in combinations(range(k), 2):
            elder.append(starts + i)
            younger.append(starts + j)
    if not elder:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(elder), np.concatenate(younger)


def _related_names(a: Array, b: Array) -> Array:
    """True where two names are one name written two ways.

    That is: the same once folded (Zoë/Zoe), a pair of the generator's variant table
    (Charlotte/Charlie, Yusuf/Yousef), one the start of the other (Alf/Alfie,
    Fred/Freddie) or the same consonants in the same order (Jayden/Jaden, Leila/Layla).
    """
    fa, fb = _folded_pair(a, b)
    if not len(fa):
        return np.zeros(0, dtype=bool)
    consonants = _per_distinct(_consonants, np.concatenate([fa, fb]))
    related = (fa == fb) | (consonants[: len(fa)] == consonants[len(fa) :])
    related |= pd.Index(fa + "|" + fb).isin(_tables().variants.related)
    short_first = pd.Series(fa).str.len().to_numpy() <= pd.Series(fb).str.len().to_numpy()
    short = np.where(short_first, fa, fb).astype(str)
    long_ = np.where(short_first, fb, fa).astype(str)
    related |= (np.char.str_len(short) >= 3) & np.char.startswith(long_, short)
    return np.asarray(related)


def _alike_names(a: Array, b: Array) -> Array:
    """True where two names alliterate or rhyme: the same first letter or last three."""
    fa, fb = _folded_pair(a, b)
    n = len(fa)
    both = np.concatenate([fa, fb])
    initial = _per_distinct(lambda f: f[:1], both)
    ending = _per_distinct(lambda f: f[-3:] if len(f) >= 3 else f + "<", both)
    return np.asarray((initial[:n] == initial[n:]) | (ending[:n] == ending[n:]), dtype=bool)


def _folded_pair(a: Array, b: Array) -> tuple[Array, Array]:
    """Both name arrays folded (:func:`_fold`), computed once per distinct name."""
    n = len(a)
    both = np.concatenate([np.asarray(a, dtype=object), np.asarray(b, dtype=object)])
    folded = _per_distinct(_fold, both)
    return folded[:n], folded[n:]


@lru_cache(maxsize=1 << 16)
def _consonants(folded: str) -> str:
    """The consonants of a folded name, doubled letters once (Jayden, Jaden -> jdn)."""
    skeleton = re.sub(r"[aeiouy]+", "", folded)
    return re.sub(r"(.)\1+", r"\1", skeleton)


def _draw_sibling_dobs(
    cfg: SynthConfig, sizes: Array, hh: Array, child: Array, twin: Array, rng: np.random.Generator
) -> Array:
    """Dates of birth: siblings 11 months to 3 years apart, twins on the same day."""
    ref, youngest, oldest = _age_window(cfg)
    span = oldest - youngest
    gap = np.where((child == 0) | (twin & (child == 1)), 0, rng.integers(330, 1100, len(hh)))
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cum = np.cumsum(gap)
    cum_gap = cum - cum[first][hh]
    total = cum_gap[first + sizes - 1][hh]
    shrink = np.where(total > span, span / np.maximum(total, 1), 1.0)
    cum_gap = np.floor(cum_gap * shrink).astype(np.int64)
    total = np.floor(total * shrink).astype(np.int64)
    eldest_age = youngest + total + np.floor(rng.random(len(sizes))[hh] * (span - total + 1))
    age_days = eldest_age.astype(np.int64) - cum_gap
    return np.asarray(ref - age_days.astype("timedelta64[D]"))


def _age_window(cfg: SynthConfig) -> tuple[np.datetime64, int, int]:
    """The reference day and the youngest and oldest allowed ages, in days."""
    ref = np.datetime64(cfg.reference_day, "D")
    youngest = ref - np.datetime64(_years_before(cfg.reference_day, cfg.min_age), "D")
    oldest = ref - np.datetime64(_years_before(cfg.reference_day, cfg.max_age + 1), "D")
    return ref, int(youngest.astype(np.int64)), int(oldest.astype(np.int64)) - 1


def _random_dobs(cfg: SynthConfig, n: int, rng: np.random.Generator) -> Array:
    ref, youngest, oldest = _age_window(cfg)
    return ref - rng.integers(youngest, oldest + 1, n).astype("timedelta64[D]")


def _birth_years(dob: Array) -> Array:
    """The calendar year of each date of birth."""
    return np.asarray(dob, dtype="datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _ids(prefix: str, n: int) -> Array:
    width = max(6, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _nhs_numbers(n: int, rng: np.random.Generator) -> Array:
    """Distinct valid NHS numbers in the 999 test range (never a real person's)."""
    body = rng.choice(10**6, size=min(10**6, int(n * 1.2) + 200), replace=False)
    nine = 999_000_000 + body  # the first nine digits, starting 999
    digits = (nine[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    check = nhs_check_digits(digits)
    full = (nine * 10 + check)[(check != 10) & (nine != 999_999_999)]
    if len(full) < n:  # pragma: no cover - prevented by _MAX_PEOPLE
        raise ConfigError("too many people for the NHS test-number range")
    return np.asarray(full[:n].astype(str), dtype=object)


def _make_namesakes(cfg: SynthConfig, p: _People, sizes: Array, rng: np.random.Generator) -> None:
    """Give some only children the forename and surname (and maybe DOB) of someone else."""
    k = int(round(cfg.effective_rate("namesake_rate") * len(p)))
    only_child = np.flatnonzero(sizes[p.household] == 1)
    k = min(k, len(only_child) // 2)
    if k == 0:
        return
    chosen = rng.choice(only_child, size=k, replace=False)
    target = rng.integers(0, len(p), k)
    target = np.where(
        np.isin(target, chosen) | (p.household[target] == p.household[chosen]),
        (target + 1) % len(p),
        target,
    )
    keep = ~np.isin(target, chosen)
    chosen, target = chosen[keep], target[keep]
    for name in (
        "forename",
        "sex",
        "title",
        "title_is_surname",
        "family",
        "family_rows",
        "family_a",
        "family_b",
        "community",
    ):
        arr = getattr(p, name)
        arr[chosen] = arr[target]
    p.former[chosen] = ""
    p.namesake_of[chosen] = target
    p.middle[chosen] = np.where(p.title[chosen] != "", "", p.middle[chosen])
    same_dob = rng.random(len(chosen)) < cfg.effective_rate("namesake_same_dob_rate")
    p.dob[chosen] = np.where(same_dob, p.dob[target], p.dob[chosen])


def _make_aliases(
    cfg: SynthConfig, tables: _Tables, draws: _NameDraws, p: _People, rng: np.random.Generator
) -> None:
    """Street names, other surnames or forenames, false identities."""
    n = len(p)
    wb = tables.communities.index("white_british")
    prob = (
        cfg.effective_rate("alias_rate")
        * _ALIAS_RISK_WEIGHT[p.risk]
        / float(np.dot(_ALIAS_RISK_WEIGHT, _RISK_P))
    )
    has = rng.random(n) < np.minimum(prob, 0.95)
    kind = _pick(rng, _cumulative(np.array([0.35, 0.25, 0.25, 0.15])), n)
    # 0 street name, 1 other surname, 2 other forename, 3 false identity
    comm = np.where(rng.random(n) < 0.5, p.community, wb)
    year = _birth_years(p.dob)
    other_fn = draws.forenames(comm, p.sex, rng, year=year)
    same = np.arange(n)
    for _ in range(_NAME_DRAW_ROUNDS):  # another name, not the true one written another way
        same = same[_related_names(other_fn[same], p.forename[same])]
        if not len(same):
            break
        other_fn[same] = draws.forenames(comm[same], p.sex[same], rng, year=year[same])
    other_sn = draws.surname_text(draws.surname_rows(comm, rng), -np.ones(n, int), p.sex)
    moniker = tables.monikers[rng.integers(0, len(tables.monikers), n)]
    surname = p.surname
    kind = np.where((kind == 1) & (other_sn == surname), 0, kind)
    a_fn = np.select([kind == 1, kind == 2, kind == 3], [p.forename, other_fn, other_fn], "")
    a_sn = np.select([kind == 1, kind == 2, kind == 3], [other_sn, surname, other_sn], "")
    full = has & (kind > 0) & (a_sn != surname) | has & (kind == 2)
    alias1 = np.where(has, np.where(kind == 0, moniker, a_fn + " " + a_sn), "")
    # a second alias for a quarter of high-risk alias holders
    two = has & (p.risk == 2) & (rng.random(n) < 0.25)
    fals = (
        draws.forenames(comm, p.sex, rng, year=year)
        + " "
        + draws.surname_text(draws.surname_rows(comm, rng), -np.ones(n, int), p.sex)
    )
    alias2 = np.where(two, np.where(kind == 0, fals, moniker), "")
    second_full = two & (kind == 0)
    p.alias1 = alias1.astype(object)
    p.alias2 = alias2.astype(object)
    fn2 = np.array([s.split(" ", 1)[0] if s else "" for s in fals.tolist()], dtype=object)
    sn2 = np.array([s.split(" ", 1)[1] if s else "" for s in fals.tolist()], dtype=object)
    p.alias_forename = np.where(full, a_fn, np.where(second_full, fn2, "")).astype(object)
    p.alias_surname = np.where(full, a_sn, np.where(second_full, sn2, "")).astype(object)


# =========================================================================== agency records


@dataclass(frozen=True, slots=True)
class _Records:
    person: Array  # person index per record
    agency: Array  # agency index per record
    duplicate: Array  # bool


def _make_records(cfg: SynthConfig, p: _People, rngs: _Streams) -> _Records:
    """Which agencies hold whom (one to four each), plus within-agency duplicates."""
    rng = rngs.get("holdings")
    n = len(p)
    age = (np.datetime64(cfg.reference_day, "D") - p.dob).astype(np.int64) / 365.25
    held = np.zeros((n, len(AGENCIES)), dtype=bool)
    for j, agency in enumerate(AGENCIES):
        prob = np.array(COVERAGE[agency])[p.risk]
        if agency == "education":
            prob = np.where(age >= 16, prob * _EDUCATION_POST16, prob)
        held[:, j] = rng.random(n) < prob
    none = ~held.any(axis=1)
    held[none & (age < 16), 0] = True
    held[none & (age >= 16), 1] = True
    every = held.all(axis=1)
    drop = np.where(rng.random(n) < 0.5, 0, 1)
    held[np.flatnonzero(every), drop[every]] = False
    persons, agencies, dups = [], [], []
    for j, agency in enumerate(AGENCIES):
        who = np.flatnonzero(held[:, j])
        dup = rng.random(len(who)) < cfg.effective_rate("duplicate_rate", agency)
        persons += [who, who[dup]]
        agencies += [np.full(len(who) + int(dup.sum()), j)]
        dups += [np.zeros(len(who), bool), np.ones(int(dup.sum()), bool)]
    return _Records(
        person=np.concatenate(persons),
        agency=np.concatenate(agencies),
        duplicate=np.concatenate(dups),
    )


class _Corruptor:
    """Per-record probabilities and tag bookkeeping over all agencies' records."""

    def __init__(self, cfg: SynthConfig, records: _Records, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.agency = records.agency
        self.n = len(records.agency)
        self.rng = rng
        self.bits = np.zeros(self.n, dtype=np.uint64)  # bit i: the i-th tag of TAGS

    def p(self, rate: str) -> Array:
        """The per-record probability of a record rate (difficulty and agency applied)."""
        factors = np.array([self.cfg.effective_rate(rate, a) for a in AGENCIES])
        return factors[self.agency]

    def u(self) -> Array:
        return self.rng.random(self.n)

    def tag(self, name: str, mask: Array) -> None:
        self.bits |= mask.astype(np.uint64) << np.uint64(_TAG_BIT[name])

    def choose(self, options: list[tuple[str, Array, Array]]) -> dict[str, Array]:
        """At most one of several corruptions per record, each with its own probability.

        ``options`` are (name, probability, eligible). One uniform draw falls in
        consecutive intervals, each as long as its probability where eligible, so
        that the share among eligible records is exactly the probability.
        """
        u = self.u()
        low = np.zeros(self.n)
        out = {}
        for name, prob, eligible in options:
            width = np.where(eligible, prob, 0.0)
            out[name] = eligible & (u >= low) & (u < low + width)
            low = low + width
        return out


def _corrupt_and_render(
    cfg: SynthConfig,
    tables: _Tables,
    places: _Places,
    p: _People,
    rec: _Records,
    rngs: _Streams,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], Array, Array, Array]:
    """Corrupt every record, style it per agency and render canonical and native frames.

    Returns the canonical and native frames, each record's tag bits and record id, and
    the record indices in file order (agency by agency, by record id).
    """
    c = _Corruptor(cfg, rec, rngs.get("corruptions"))
    pi = rec.person
    c.tag("duplicate", rec.duplicate)
    fields = _corrupt_names(c, tables, p, pi)
    fields.update(_corrupt_dates_and_sex(c, p, pi))
    fields.update(_corrupt_addresses(c, p, pi))
    fields["nhs_number"] = _nhs_as_recorded(c, p, pi)

    ids_rng = rngs.get("record_ids")
    canonical: dict[str, pd.DataFrame] = {}
    native: dict[str, pd.DataFrame] = {}
    record_ids = np.empty(c.n, dtype=object)
    order = []
    for j, agency in enumerate(AGENCIES):
        where = np.flatnonzero(rec.agency == j)
        ids = _record_ids(agency, len(where), places, ids_rng)
        record_ids[where] = ids
        where = where[np.argsort(ids, kind="stable")]
        order.append(where)
        values = {k: v[where] for k, v in fields.items()}
        values["record_id"] = record_ids[where]
        _style(agency, values)
        canonical[agency] = _canonical_frame(agency, values)
        native[agency] = _native_frame(_EXPORTS[agency], values)
    return canonical, native, c.bits, record_ids, np.concatenate(order)


def _corrupt_names(c: _Corruptor, tables: _Tables, p: _People, pi: Array) -> dict[str, Array]:
    """Surnames as recorded, aliases, forename variants, swaps, unicode noise, typos."""
    rng = c.rng
    sex = p.sex[pi]

    # surname history: the former surname lingers in some agencies
    changed = p.has_former[pi]
    c.tag("surname_changed", changed)
    stale = changed & (c.u() < c.p("stale_surname_rate"))
    c.tag("stale_surname", stale)
    surname = np.where(stale, p.former[pi], p.surname[pi])
    listed = changed & ~stale & (c.u() < c.p("former_surname_recorded_rate"))
    c.tag("former_surname_listed", listed)
    former = np.where(listed, p.former[pi], "")

    # one half of a double-barrelled surname
    double = (p.family_a[pi] != "") & ~stale & ~p.title_is_surname[pi]
    half = double & (c.u() < c.p("double_barrel_half_rate"))
    c.tag("surname_half", half)
    surname = np.where(half, np.where(c.u() < 0.5, p.family_a[pi], p.family_b[pi]), surname)

    # Singh/Kaur/Begum as the surname, or the family name where the title is the surname
    middle = p.middle_names[pi]
    titled = p.title[pi] != ""
    flip = titled & ~half & (c.u() < c.p("title_surname_rate"))
    c.tag("title_surname", flip)
    is_surname = p.title_is_surname[pi]
    surname = np.where(flip, np.where(is_surname, p.family[pi], p.title[pi]), surname)
    middle = np.where(
        flip, np.where(is_surname, _join([p.middle[pi], p.title[pi]], " "), p.middle[pi]), middle
    )

    # aliases: listed, or used as the main name
    forename = p.forename[pi]
    true_name = forename + " " + surname
    has_full = p.alias_forename[pi] != ""
    as_main = has_full & (c.u() < c.p("alias_as_main_rate"))
    c.tag("alias_as_main", as_main)
    forename = np.where(as_main, p.alias_forename[pi], forename)
    surname = np.where(as_main, p.alias_surname[pi], surname)
    middle = np.where(as_main, "", middle)
    main_alias = p.alias_forename[pi] + " " + p.alias_surname[pi]
    a1, a2 = p.alias1[pi], p.alias2[pi]
    list_them = (a1 != "") & (c.u() < c.p("alias_recorded_rate"))
    aliases = _join(
        [
            np.where(as_main & (c.u() < 0.5), true_name, ""),
            np.where(list_them & ~(as_main & (a1 == main_alias)), a1, ""),
            np.where(list_them & ~(as_main & (a2 == main_alias)), a2, ""),
        ],
        ";",
    )
    c.tag("alias_listed", aliases != "")

    # forename: a nickname, another spelling or the middle name (at most one)
    key = forename + "|" + sex
    by_tag = tables.variants.forenames
    ok = {
        tag: _per_distinct(lambda k, t=tag: tuple(k.split("|")) in by_tag[t], key).astype(bool)
        for tag in _FORENAME_KINDS
    }
    first_middle = _per_distinct(lambda m: m.split(" ", 1)[0] if m else "", p.middle[pi])
    mid_ok = (first_middle != "") & ~as_main
    chosen = c.choose(
        [
            ("nickname", c.p("nickname_rate"), ok["nickname"]),
            ("variant_forename", c.p("spelling_variant_rate"), ok["variant_forename"]),
            ("anglicised_forename", c.p("anglicised_rate"), ok["anglicised_forename"]),
            ("middle_as_forename", c.p("middle_as_forename_rate"), mid_ok),
        ]
    )
    for tag, mask in chosen.items():
        c.tag(tag, mask)
    for tag in _FORENAME_KINDS:
        w = np.flatnonzero(chosen[tag])
        forename[w] = _pick_option(
            [by_tag[tag][(f, s)] for f, s in zip(forename[w], sex[w], strict=True)], rng
        )
    w = np.flatnonzero(chosen["middle_as_forename"])
    rest = _per_distinct(lambda m: m.split(" ", 1)[1] if " " in m else "", p.middle[pi][w])
    middle[w] = _join([forename[w], rest], " ")
    forename[w] = first_middle[w]

    # surname: another spelling
    spellings = tables.variants.surnames
    svar_ok = _per_distinct(lambda s: s in spellings, surname).astype(bool)
    svar = svar_ok & (c.u() < c.p("spelling_variant_rate"))
    c.tag("variant_surname", svar)
    w = np.flatnonzero(svar)
    surname[w] = _pick_option([spellings[s] for s in surname[w]], rng)

    # forename and surname swapped
    swap = (c.u() < c.p("name_swap_rate")) & (surname != "")
    c.tag("name_swap", swap)
    forename, surname = np.where(swap, surname, forename), np.where(swap, forename, surname)

    # apostrophes, hyphens, accents (a forename never gains a space: a full-name field
    # could no longer be split)
    special = _per_distinct(_has_special, forename).astype(bool) | _per_distinct(
        _has_special, surname
    ).astype(bool)
    noisy = special & (c.u() < c.p("unicode_noise_rate"))
    w = np.flatnonzero(noisy)
    r = rng.random((len(w), 2))
    new_fn = _obj(
        _unicode_noise(s, x, spaces=False) for s, x in zip(forename[w], r[:, 0], strict=True)
    )
    new_sn = _obj(
        _unicode_noise(s, x, spaces=True) for s, x in zip(surname[w], r[:, 1], strict=True)
    )
    changed_noise = (new_fn != forename[w]) | (new_sn != surname[w])
    forename[w], surname[w] = new_fn, new_sn
    mask = np.zeros(c.n, bool)
    mask[w[changed_noise]] = True
    c.tag("unicode_noise", mask)

    # typing errors
    for tag, arr in (("typo_forename", forename), ("typo_surname", surname)):
        lengths = _per_distinct(len, arr).astype(np.int64)
        hit = (lengths >= 3) & (c.u() < c.p("typo_rate"))
        w = np.flatnonzero(hit)
        r = rng.random((len(w), 3))
        typed = _obj(_typo(s, *x) for s, x in zip(arr[w], r, strict=True))
        hit[w[typed == arr[w]]] = False  # swapping two equal letters changes nothing
        arr[w] = typed
        c.tag(tag, hit)

    return {
        "forename": forename.astype(object),
        "middle_names": middle.astype(object),
        "surname": surname.astype(object),
        "aliases": aliases.astype(object),
        "former_surnames": former.astype(object),
    }


def _pick_option(options: list[tuple[str, ...]], rng: np.random.Generator) -> Array:
    r = rng.random(len(options))
    return _obj(o[int(x * len(o))] for o, x in zip(options, r, strict=True))


def _has_special(s: str) -> bool:
    return ("'" in s) or ("-" in s) or not s.isascii()


_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ı": "i", "ø": "o", "Ø": "O", "đ": "d", "ß": "ss"})


def _strip_accents(s: str) -> str:
    decomposed = unicodedata.normalize("NFKD", s.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _unicode_noise(s: str, r: float, *, spaces: bool) -> str:
    """O'Brien -> OBrien / O Brien / O’Brien; Smith-Jones -> Smith Jones; Zoë -> Zoe."""
    if "'" in s:
        options = ["", " ", "\u2019"] if spaces else ["", "\u2019"]
        s = s.replace("'", options[int(r * len(options))])
    if "-" in s:
        s = s.replace("-", " " if spaces and r < 0.5 else "")
    if not s.isascii():
        s = _strip_accents(s)
    return s


def _typo(s: str, r_kind: float, r_pos: float, r_char: float) -> str:
    """One typing error after the first letter: a neighbouring key, a dropped, doubled or
    transposed letter. Case is kept; no spaces are added."""
    pos = 1 + int(r_pos * (len(s) - 1))
    ch = s[pos]
    kind = int(r_kind * 4)
    if kind == 0 and ch.isascii() and ch.isalpha():
        row = next(rw for rw in _KEYBOARD_ROWS if ch.lower() in rw)
        i = row.index(ch.lower())
        near = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
        new = near[int(r_char * len(near))]
        return s[:pos] + (new.upper() if ch.isupper() else new) + s[pos + 1 :]
    if kind == 1 or not ch.isalpha():
        return s[:pos] + s[pos + 1 :]
    if kind == 2:
        return s[:pos] + ch + s[pos:]
    if pos + 1 < len(s) and s[pos + 1].isalpha():
        return s[:pos] + s[pos + 1] + ch + s[pos + 2 :]
    return (
        s[: pos - 1] + ch + s[pos - 1] + s[pos + 1 :]
        if s[pos - 1].isalpha() and pos > 1
        else s[:pos] + ch + s[pos:]
    )


def _corrupt_dates_and_sex(c: _Corruptor, p: _People, pi: Array) -> dict[str, Array]:
    """Day/month swaps, digit slips, years off by one, placeholders, missing; sex unknown."""
    rng = c.rng
    dob = p.dob[pi]
    y, m, d = _ymd(dob)
    chosen = c.choose(
        [
            ("dob_swap", c.p("dob_swap_rate"), (d <= 12) & (d != m)),
            ("dob_digit", c.p("dob_digit_rate"), np.ones(c.n, bool)),
            ("dob_year", c.p("dob_year_rate"), np.ones(c.n, bool)),
            ("dob_placeholder", c.p("dob_placeholder_rate"), np.ones(c.n, bool)),
            ("dob_year_only", c.p("dob_year_only_rate"), (m != 1) | (d != 1)),
            ("dob_missing", c.p("dob_missing_rate"), np.ones(c.n, bool)),
        ]
    )
    sw = chosen["dob_swap"]
    d, m = np.where(sw, m, d), np.where(sw, d, m)
    yr = chosen["dob_year"]
    y = np.where(yr, y + np.where(rng.random(c.n) < 0.5, -1, 1), y)
    d = np.where(yr, np.minimum(d, _days_in_month(y, m)), d)
    ph = chosen["dob_placeholder"]
    y, m, d = np.where(ph, 1900, y), np.where(ph, 1, m), np.where(ph, 1, d)
    yo = chosen["dob_year_only"]
    m, d = np.where(yo, 1, m), np.where(yo, 1, d)
    digit = chosen["dob_digit"].copy()
    pending = np.flatnonzero(digit)
    for _ in range(8):  # a slip must still be a valid date that differs
        if not len(pending):
            break
        yy, mm, dd = y[pending], m[pending], d[pending]
        part = rng.integers(0, 4, len(pending))
        nd = rng.integers(0, 10, len(pending))
        ny = np.where(part == 0, yy // 10 * 10 + nd, yy)
        nm = np.where(part == 1, mm // 10 * 10 + nd, mm)
        ndd = np.select([part == 2, part == 3], [dd // 10 * 10 + nd, nd * 10 + dd % 10], dd)
        ok = (nm >= 1) & (nm <= 12) & (ndd >= 1)
        ok &= ndd <= _days_in_month(ny, np.clip(nm, 1, 12))
        ok &= (ny != yy) | (nm != mm) | (ndd != dd)
        good = pending[ok]
        y[good], m[good], d[good] = ny[ok], nm[ok], ndd[ok]
        pending = pending[~ok]
    digit[pending] = False
    chosen["dob_digit"] = digit
    for tag, mask in chosen.items():
        c.tag(tag, mask)
    missing = chosen["dob_missing"]
    sex_missing = c.u() < c.p("sex_missing_rate")
    c.tag("sex_missing", sex_missing)
    return {
        "_y": y,
        "_m": m,
        "_d": d,
        "_dob_missing": missing,
        "sex": np.where(sex_missing, "U", p.sex[pi]).astype(object),
    }


def _ymd(dates: Array) -> tuple[Array, Array, Array]:
    days = dates.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    y = months.astype("datetime64[Y]").astype(np.int64) + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (days - months).astype(np.int64) + 1
    return y, m, d


def _days_in_month(y: Array, m: Array) -> Array:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    base = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(m, 1, 12)]
    return np.asarray(base + ((m == 2) & leap))


def _corrupt_addresses(c: _Corruptor, p: _People, pi: Array) -> dict[str, Array]:
    """Stale addresses after moves, NFA, abbreviations, postcode noise."""
    rng = c.rng
    stale = p.moved[pi] & (c.u() < c.p("stale_address_rate"))
    c.tag("moved", stale)
    c.tag("moved_across_la", stale & p.moved_across[pi])
    address = np.where(stale, p.prev_address[pi], p.address[pi])
    postcode = np.where(stale, p.prev_postcode[pi], p.postcode[pi])

    nfa = c.u() < c.p("nfa_rate")
    c.tag("address_nfa", nfa)
    address = np.where(nfa, np.where(c.u() < 0.5, "NFA", "No Fixed Abode"), address)
    postcode = np.where(nfa, "", postcode)

    variant = ~nfa & (c.u() < c.p("address_variant_rate"))
    w = np.flatnonzero(variant)
    r = rng.random(len(w))
    new = _obj(_address_variant(a, x) for a, x in zip(address[w], r, strict=True))
    changed = new != address[w]
    address[w] = new
    mask = np.zeros(c.n, bool)
    mask[w[changed]] = True
    c.tag("address_variant", mask)

    has_pc = postcode != ""
    chosen = c.choose(
        [
            ("postcode_missing", c.p("postcode_missing_rate"), has_pc),
            ("postcode_typo", c.p("postcode_typo_rate"), has_pc),
            ("postcode_format", c.p("postcode_format_rate"), has_pc),
        ]
    )
    for tag, mask in chosen.items():
        c.tag(tag, mask)
    postcode = np.where(chosen["postcode_missing"], "", postcode)
    w = np.flatnonzero(chosen["postcode_typo"])
    r = rng.random((len(w), 3))
    postcode[w] = _obj(_postcode_typo(s, *x) for s, x in zip(postcode[w], r, strict=True))
    w = np.flatnonzero(chosen["postcode_format"])
    r = rng.random(len(w))
    police = c.agency[w] == AGENCIES.index("police")  # police write upper case
    pcs = postcode[w]
    postcode[w] = np.where(
        (r < 0.5) | police & (r < 0.8),
        _per_distinct(lambda s: s.replace(" ", ""), pcs),
        np.where(
            r < 0.8,
            _per_distinct(str.lower, pcs),
            _per_distinct(lambda s: s.replace(" ", "").lower(), pcs),
        ),
    )
    return {"address": address.astype(object), "postcode": postcode.astype(object)}


def _address_variant(address: str, r: float) -> str:
    """Abbreviate the street type, or drop the town or the flat."""
    parts = address.split(", ")
    if r < 0.5:
        words = parts[-2].split(" ")
        if words[-1] in _STREET_ABBREVIATIONS:
            words[-1] = _STREET_ABBREVIATIONS[words[-1]]
            parts[-2] = " ".join(words)
            return ", ".join(parts)
    if parts[0].startswith("Flat ") and r < 0.75:
        return ", ".join(parts[1:])
    return ", ".join(parts[:-1]) if len(parts) > 1 else address


def _postcode_typo(pc: str, r_kind: float, r_pos: float, r_char: float) -> str:
    """O/0 confusion where the postcode has a 0, else one wrong letter or digit."""
    if "0" in pc and r_kind < 0.7:
        return pc.replace("0", "O", 1)
    chars = list(pc)
    pos = [i for i, ch in enumerate(chars) if ch != " "][int(r_pos * (len(pc) - 1))]
    ch = chars[pos]
    if ch.isdigit():
        chars[pos] = str((int(ch) + 1 + int(r_char * 8)) % 10)
    else:
        letters = "ABDEFGHJLNPQRSTUWXYZ".replace(ch, "")
        chars[pos] = letters[int(r_char * len(letters))]
    return "".join(chars)


def _nhs_as_recorded(c: _Corruptor, p: _People, pi: Array) -> Array:
    """Health holds every NHS number, social care most, the others none."""
    agency = c.agency
    health = agency == AGENCIES.index("health")
    social = agency == AGENCIES.index("social_care")
    has = health | social & (c.u() < c.cfg.social_care_nhs_coverage)
    nhs = np.where(has, p.nhs[pi], "")
    typo = has & (c.u() < c.p("nhs_typo_rate"))
    w = np.flatnonzero(typo)
    r = c.rng.random((len(w), 2))
    nhs[w] = _obj(
        s[: int(a * 10)] + str((int(s[int(a * 10)]) + 1 + int(b * 9)) % 10) + s[int(a * 10) + 1 :]
        for s, (a, b) in zip(nhs[w], r, strict=True)
    )
    c.tag("nhs_typo", typo)
    return nhs.astype(object)


def _record_ids(agency: str, n: int, places: _Places, rng: np.random.Generator) -> Array:
    """Random serial numbers in each agency's identifier format (no personal data)."""
    if agency == "education":  # UPN: check letter, LA number, 9 digits
        serial = rng.choice(10**9, size=n, replace=False)
        la = places.la_number[rng.integers(0, len(places.la_number), n)]
        number = la.astype(np.int64) * 10**9 + serial  # the 12 digits after the letter
        digits = (number[:, None] // 10 ** np.arange(11, -1, -1, dtype=np.int64)) % 10
        letter = upn_check_letters(digits)
        return _obj(f"{c}{x:012d}" for c, x in zip(letter.tolist(), number.tolist(), strict=True))
    if agency == "police":  # PNC-like: year / 7-digit serial + check letter
        serial = rng.choice(10**7, size=n, replace=False)
        year = rng.integers(2008, 2027, n)
        return _obj(
            f"{yy}/{s:07d}{_PNC_LETTERS[(yy % 100 * 10**7 + s) % 23]}"
            for yy, s in zip(year.tolist(), serial.tolist(), strict=True)
        )
    prefix, width = {"health": ("HP", 8), "social_care": ("SC", 7), "youth_justice": ("YJ", 7)}[
        agency
    ]
    serial = rng.choice(10**width, size=n, replace=False)
    return _obj(f"{prefix}{s:0{width}d}" for s in serial.tolist())


# =========================================================================== agency formats


@dataclass(frozen=True, slots=True)
class _Export:
    """How an agency writes its native file (and so its mapping)."""

    agency: str
    columns: tuple[tuple[str, str], ...]  # (header, canonical column or "full_name")
    dob_format: str  # one of _DATE_WRITERS
    sex_codes: Mapping[str, tuple[str, ...]]  # canonical -> codes; the first is written
    delimiter: str = ","
    encoding: str = "utf-8"
    aliases_separator: str = ";"
    former_surnames_separator: str = ";"
    postcode_in_address: bool = False


_EXPORTS: Final[Mapping[str, _Export]] = MappingProxyType(
    {
        "education": _Export(
            agency="education",
            columns=(
                ("UPN", "record_id"),
                ("Surname", "surname"),
                ("Forename", "forename"),
                ("MiddleNames", "middle_names"),
                ("KnownAs", "aliases"),
                ("FormerSurname", "former_surnames"),
                ("DOB", "dob"),
                ("Gender", "sex"),
                ("Address", "address"),
                ("Postcode", "postcode"),
            ),
            dob_format="%d/%m/%Y",
            sex_codes={"M": ("Male", "M"), "F": ("Female", "F"), "U": ("Not known", "U")},
        ),
        "health": _Export(
            agency="health",
            columns=(
                ("LOCAL_PATIENT_ID", "record_id"),
                ("NHS_NUMBER", "nhs_number"),
                ("FAMILY_NAME", "surname"),
                ("GIVEN_NAME", "forename"),
                ("OTHER_GIVEN_NAMES", "middle_names"),
                ("ALIAS_NAMES", "aliases"),
                ("PREVIOUS_FAMILY_NAMES", "former_surnames"),
                ("DATE_OF_BIRTH", "dob"),
                ("SEX", "sex"),
                ("ADDRESS", "address"),
                ("POSTCODE", "postcode"),
            ),
            dob_format="%Y%m%d",
            sex_codes={"M": ("1",), "F": ("2",), "U": ("0", "9")},
            delimiter="|",
        ),
        "police": _Export(
            agency="police",
            columns=(
                ("PNC_ID", "record_id"),
                ("SURNAME", "surname"),
                ("FORENAME", "forename"),
                ("MIDDLE_NAMES", "middle_names"),
                ("AKA", "aliases"),
                ("PREVIOUS_SURNAMES", "former_surnames"),
                ("DOB", "dob"),
                ("SEX", "sex"),
                ("ADDRESS", "address"),
                ("POSTCODE", "postcode"),
            ),
            dob_format="%Y-%m-%dT%H:%M:%S",
            sex_codes={"M": ("M",), "F": ("F",), "U": ("U", "X")},
            aliases_separator="/",
            former_surnames_separator="/",
        ),
        "social_care": _Export(
            agency="social_care",
            columns=(
                ("PersonID", "record_id"),
                ("FirstName", "forename"),
                ("MiddleName", "middle_names"),
                ("LastName", "surname"),
                ("KnownAs", "aliases"),
                ("PreviousNames", "former_surnames"),
                ("DateOfBirth", "dob"),
                ("Gender", "sex"),
                ("NHSNumber", "nhs_number"),
                ("Address", "address"),
            ),
            dob_format="%d-%b-%Y",
            sex_codes={"M": ("Male",), "F": ("Female",), "U": ("Unknown",)},
            encoding="utf-8-sig",
            postcode_in_address=True,
        ),
        "youth_justice": _Export(
            agency="youth_justice",
            columns=(
                ("YJ_REF", "record_id"),
                ("FULL_NAME", "full_name"),
                ("ALIASES", "aliases"),
                ("FORMER_SURNAMES", "former_surnames"),
                ("DOB", "dob"),
                ("SEX", "sex"),
                ("ADDRESS", "address"),
                ("POSTCODE", "postcode"),
            ),
            dob_format="%Y-%m-%d",
            sex_codes={"M": ("m",), "F": ("f",), "U": ("u",)},
            delimiter="\t",
        ),
    }
)

#: A UK postcode inside free text; the same pattern ingest uses to find it.
_POSTCODE_IN_TEXT = re.compile(POSTCODE_IN_TEXT, re.ASCII)


def _style(agency: str, v: dict[str, Array]) -> None:
    """Agency conventions: police write upper case, health and youth justice upper-case
    surnames, social care puts the postcode at the end of the address."""

    def upper(key: str) -> None:
        v[key] = _per_distinct(str.upper, v[key])

    if agency == "police":
        for key in (
            "forename",
            "middle_names",
            "surname",
            "aliases",
            "former_surnames",
            "address",
            "postcode",
        ):
            upper(key)
    elif agency in ("health", "youth_justice"):
        upper("surname")
        upper("former_surnames")
    if _EXPORTS[agency].postcode_in_address:
        v["address"] = _join([v["address"], v["postcode"]], ", ")
        v["postcode"] = _per_distinct(_postcode_in_text, v["address"])


def _postcode_in_text(text: str) -> str:
    found = _POSTCODE_IN_TEXT.findall(text)
    return found[-1] if found else ""


def _iso_dates(v: Mapping[str, Array]) -> Array:
    return np.where(
        v["_dob_missing"],
        "",
        _NUMBERS[v["_y"]] + "-" + _TWO_DIGITS[v["_m"]] + "-" + _TWO_DIGITS[v["_d"]],
    )


_DATE_WRITERS: Final[dict[str, Callable[[Array, Array, Array], Array]]] = {
    "%Y-%m-%d": lambda y, m, d: _NUMBERS[y] + "-" + _TWO_DIGITS[m] + "-" + _TWO_DIGITS[d],
    "%d/%m/%Y": lambda y, m, d: _TWO_DIGITS[d] + "/" + _TWO_DIGITS[m] + "/" + _NUMBERS[y],
    "%Y%m%d": lambda y, m, d: _NUMBERS[y] + _TWO_DIGITS[m] + _TWO_DIGITS[d],
    "%Y-%m-%dT%H:%M:%S": lambda y, m, d: (
        _NUMBERS[y] + "-" + _TWO_DIGITS[m] + "-" + _TWO_DIGITS[d] + "T00:00:00"
    ),
    # "5-Apr-2009": the day without a leading zero (strptime's %d reads it)
    "%d-%b-%Y": lambda y, m, d: _NUMBERS[d] + "-" + _MONTHS[m] + "-" + _NUMBERS[y],
}


def _canonical_frame(agency: str, v: Mapping[str, Array]) -> pd.DataFrame:
    data = {col: v[col] for col in CANONICAL_COLUMNS if col in v}
    data["source"] = np.full(len(v["record_id"]), agency, dtype=object)
    data["dob"] = _iso_dates(v)
    return pd.DataFrame({col: data[col] for col in CANONICAL_COLUMNS})


def _native_frame(export: _Export, v: Mapping[str, Array]) -> pd.DataFrame:
    out: dict[str, Array] = {}
    for header, col in export.columns:
        if col == "full_name":  # "SURNAME, Forename Middle"
            out[header] = v["surname"] + ", " + _join([v["forename"], v["middle_names"]], " ")
        elif col == "dob":
            text = _DATE_WRITERS[export.dob_format](v["_y"], v["_m"], v["_d"])
            out[header] = np.where(v["_dob_missing"], "", text)
        elif col == "sex":
            codes = {k: vals[0] for k, vals in export.sex_codes.items()}
            out[header] = _per_distinct(codes.__getitem__, v["sex"])
        elif col == "aliases":
            out[header] = _per_distinct(
                lambda s: s.replace(";", export.aliases_separator), v["aliases"]
            )
        elif col == "former_surnames":
            out[header] = _per_distinct(
                lambda s: s.replace(";", export.former_surnames_separator), v["former_surnames"]
            )
        else:
            out[header] = v[col]
    return pd.DataFrame(out)


def _mapping_toml(export: _Export) -> str:
    """The TOML mapping of an agency's native file."""
    q = json.dumps  # a JSON string is a valid TOML basic string for these values
    lines = [
        f"# How native/{export.agency}.csv maps to the canonical schema.",
        "# Written by cselink.synthetic.",
        "",
        "[source]",
        f"name = {q(export.agency)}",
        'format = "csv"',
        f"encoding = {q(export.encoding)}",
        f"delimiter = {q(export.delimiter)}",
        "",
        "[columns]",
    ]
    lines += [f"{col} = {q(header)}" for header, col in export.columns]
    lines += ["", "[names]"]
    if any(col == "full_name" for _, col in export.columns):
        lines.append('order = "surname_first"')
    lines += [
        f"aliases_separator = {q(export.aliases_separator)}",
        f"former_surnames_separator = {q(export.former_surnames_separator)}",
        "",
        "[dates]",
        f"dob_formats = [{q(export.dob_format)}]",
        "",
        "[sex]",
    ]
    lines += [f"{k} = [{', '.join(q(c) for c in codes)}]" for k, codes in export.sex_codes.items()]
    if export.postcode_in_address:
        lines += ["", "[address]", "postcode_in_address = true"]
    return "\n".join(lines) + "\n"


# =========================================================================== truth files


def _truth_frame(
    rec: _Records, p: _People, tag_bits: Array, record_ids: Array, order: Array
) -> pd.DataFrame:
    """One row per record, in file order; the tag text is built once per distinct tag set."""
    codes, sets = pd.factorize(tag_bits[order])
    names = list(TAGS)
    text = _obj(";".join(t for i, t in enumerate(names) if int(bits) >> i & 1) for bits in sets)
    person = rec.person[order]
    return pd.DataFrame(
        {
            "record_id": record_ids[order],
            "source": np.array(AGENCIES, dtype=object)[rec.agency[order]],
            "person_id": p.person_id[person],
            "household_id": p.household_id[person],
            "corruptions": text[codes] if len(order) else _blank(0),
        }
    )


def _relations_frame(p: _People) -> pd.DataFrame:
    """Twins and siblings (same household) and namesakes.

    Namesakes are the pairs made on purpose plus, among other pairs from different
    households with the same forename and surname, those that also share the date of
    birth or the postcode district (the hard ones; all same-name pairs would grow with
    the square of the population).
    """
    a, b = _sibling_pairs(np.bincount(p.household))
    twin = p.twin[a] & p.twin[b]
    frames = [pd.DataFrame({"a": a, "b": b, "relation": np.where(twin, "twin", "sibling")})]
    made = np.flatnonzero(p.namesake_of >= 0)
    frames.append(
        pd.DataFrame(
            {
                "a": np.minimum(made, p.namesake_of[made]),
                "b": np.maximum(made, p.namesake_of[made]),
                "relation": "namesake",
            }
        )
    )
    name = pd.factorize(pd.Series(p.forename).str.lower() + "|" + pd.Series(p.surname).str.lower())[
        0
    ]
    shared = np.bincount(name)[name] > 1
    people = pd.DataFrame(
        {
            "name": name[shared],
            "i": np.flatnonzero(shared),
            "h": p.household[shared],
            "district": _per_distinct(lambda pc: pc.split(" ")[0], p.postcode[shared]),
            "dob": p.dob[shared].astype(np.int64),
        }
    )
    for also in ("dob", "district"):
        pairs = people.merge(people, on=["name", also])
        pairs = pairs[(pairs["i_x"] < pairs["i_y"]) & (pairs["h_x"] != pairs["h_y"])]
        frames.append(
            pd.DataFrame(
                {"a": pairs["i_x"].to_numpy(), "b": pairs["i_y"].to_numpy(), "relation": "namesake"}
            )
        )
    rel = pd.concat(frames, ignore_index=True).drop_duplicates(["a", "b"])
    rel = rel.sort_values(["a", "b"], kind="stable")
    return pd.DataFrame(
        {
            "person_id_a": p.person_id[rel["a"].to_numpy()],
            "person_id_b": p.person_id[rel["b"].to_numpy()],
            "relation": rel["relation"].to_numpy(dtype=object),
        }
    )


def _people_frame(p: _People) -> pd.DataFrame:
    comm = _tables().communities
    places_la = _tables().las["la_name"].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "person_id": p.person_id,
            "household_id": p.household_id,
            "la": places_la[p.la],
            "community": np.array(comm, dtype=object)[p.community],
            "risk": _RISK_NAMES[p.risk],
            "forename": p.forename,
            "middle_names": p.middle_names,
            "surname": p.surname,
            "former_surnames": np.where(p.has_former, p.former, ""),
            "aliases": _join([p.alias1, p.alias2], ";"),
            "dob": np.datetime_as_string(p.dob, unit="D").astype(object),
            "sex": p.sex,
            "address": p.address,
            "postcode": p.postcode,
            "previous_address": p.prev_address,
            "previous_postcode": p.prev_postcode,
            "nhs_number": p.nhs,
        }
    )


# =========================================================================== referrals


def _make_referrals(
    cfg: SynthConfig, tables: _Tables, places: _Places, p: _People, rngs: _Streams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Referral forms and who they really are (see the module docstring)."""
    rng = rngs.get("referrals")
    draws = _NameDraws(tables, realistic=cfg.name_frequencies == "realistic")
    total = cfg.referral_count
    shares = np.array([getattr(cfg, s) for s in _REFERRAL_SHARES])
    counts = np.floor(shares * total).astype(int)
    for i in np.argsort(-(shares * total - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    scenario_of = dict(zip(REFERRAL_SCENARIOS, counts.tolist(), strict=True))

    weight = _REFERRAL_RISK_WEIGHT[p.risk]
    used: set[int] = set()

    def pick_known(k: int, eligible: Array) -> Array:
        pool = np.flatnonzero(eligible & ~np.isin(np.arange(len(p)), list(used)))
        k = min(k, len(pool))
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        w = weight[pool] / weight[pool].sum()
        chosen = rng.choice(pool, size=k, replace=False, p=w)
        used.update(chosen.tolist())
        return chosen

    rows: list[dict[str, Array]] = []
    everyone = np.ones(len(p), bool)
    n_other = scenario_of["other_name"]
    eligible_other = (p.alias_forename != "") | p.has_former
    other = pick_known(n_other, eligible_other)
    same = pick_known(scenario_of["same_name"] + n_other - len(other), everyone)
    rows.append(_known_referral(p, same, "same_name", cfg, rng))
    if len(other):
        rows.append(_other_name_referral(p, other, rng))
    newsn = pick_known(scenario_of["new_surname"], everyone)
    rows.append(_new_surname_referral(p, newsn, draws, rng))
    rows.append(_unknown_referrals(cfg, scenario_of["unknown"], tables, places, draws, rng))
    sib = pick_known(scenario_of["unlisted_sibling"], everyone)
    rows.append(_sibling_referral(cfg, p, sib, draws, rng))
    nms = pick_known(scenario_of["namesake"], everyone)
    rows.append(_namesake_referral(cfg, p, nms, places, rng))

    data = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    n = len(data["forename"])
    order = rng.permutation(n)
    data = {k: v[order] for k, v in data.items()}
    width = max(4, len(str(n)))
    ids = _obj(f"R{i:0{width}d}" for i in range(1, n + 1))
    referrals = pd.DataFrame(
        {
            "record_id": ids,
            "source": np.full(n, "referral", dtype=object),
            "forename": data["forename"],
            "middle_names": data["middle_names"],
            "surname": data["surname"],
            "aliases": data["aliases"],
            "former_surnames": data["former_surnames"],
            "dob": np.datetime_as_string(data["dob"], unit="D").astype(object),
            "sex": data["sex"],
            "address": data["address"],
            "postcode": data["postcode"],
            "nhs_number": data["nhs_number"],
        }
    )
    truth = pd.DataFrame(
        {
            "referral_id": ids,
            "person_id": data["person_id"],
            "scenario": data["scenario"],
            "related_person_id": data["related_person_id"],
        }
    )
    return referrals, truth


def _blank(n: int) -> Array:
    return np.full(n, "", dtype=object)


def _referral_rows(p: _People, who: Array, scenario: str, **override: Array) -> dict[str, Array]:
    n = len(who)
    rows = {
        "forename": p.forename[who],
        "middle_names": p.middle_names[who],
        "surname": p.surname[who],
        "aliases": _blank(n),
        "former_surnames": _blank(n),
        "dob": p.dob[who],
        "sex": p.sex[who],
        "address": p.address[who],
        "postcode": p.postcode[who],
        "nhs_number": _blank(n),
        "person_id": p.person_id[who],
        "scenario": np.full(n, scenario, dtype=object),
        "related_person_id": _blank(n),
    }
    rows.update(override)
    return rows


def _known_referral(
    p: _People, who: Array, scenario: str, cfg: SynthConfig, rng: np.random.Generator
) -> dict[str, Array]:
    """The name the person is known by now, sometimes with aliases and former surnames."""
    n = len(who)
    listed = rng.random(n) < cfg.referral_aliases_listed_share
    return _referral_rows(
        p,
        who,
        scenario,
        middle_names=np.where(rng.random(n) < 0.5, p.middle_names[who], ""),
        aliases=np.where(listed, _join([p.alias1[who], p.alias2[who]], ";"), ""),
        former_surnames=np.where(listed & p.has_former[who], p.former[who], ""),
        nhs_number=np.where(rng.random(n) < 0.15, p.nhs[who], ""),
    )


def _other_name_referral(p: _People, who: Array, rng: np.random.Generator) -> dict[str, Array]:
    """An alias, or the former surname with the forename."""
    has_alias = p.alias_forename[who] != ""
    use_alias = has_alias & (~p.has_former[who] | (rng.random(len(who)) < 0.5))
    return _referral_rows(
        p,
        who,
        "other_name",
        forename=np.where(use_alias, p.alias_forename[who], p.forename[who]),
        middle_names=_blank(len(who)),
        surname=np.where(use_alias, p.alias_surname[who], p.former[who]),
    )


def _new_surname_referral(
    p: _People, who: Array, draws: _NameDraws, rng: np.random.Generator
) -> dict[str, Array]:
    """A surname no agency holds; the current one sometimes given as former."""
    n = len(who)
    new = draws.surname_text(
        draws.surname_rows(p.community[who], rng), -np.ones(n, int), p.sex[who]
    )
    clash = (new == p.surname[who]) | (new == p.former[who]) | (new == p.alias_surname[who])
    alt = draws.surname_text(draws.surname_rows(np.full(n, 0), rng), -np.ones(n, int), p.sex[who])
    new = np.where(clash, alt + "-" + new, new)  # double-barrelled with a new name: unheld
    return _referral_rows(
        p,
        who,
        "new_surname",
        surname=new.astype(object),
        middle_names=_blank(n),
        former_surnames=np.where(rng.random(n) < 0.3, p.surname[who], ""),
    )


def _unknown_referrals(
    cfg: SynthConfig,
    k: int,
    tables: _Tables,
    places: _Places,
    draws: _NameDraws,
    rng: np.random.Generator,
) -> dict[str, Array]:
    """Young people whom nobody holds: new names, DOBs and addresses."""
    la = _pick(rng, places.la_cum, k)
    u = rng.random(k)
    comm = np.array(
        [
            min(
                int(np.searchsorted(places.community_cum[a], x, side="right")),
                len(tables.communities) - 1,
            )
            for a, x in zip(la.tolist(), u.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    sex = np.where(rng.random(k) < 0.5, "M", "F").astype(object)
    addr = _draw_addresses(places, la, rng)
    dob = _random_dobs(cfg, k, rng)
    return {
        "forename": draws.forenames(comm, sex, rng, year=_birth_years(dob)),
        "middle_names": _blank(k),
        "surname": draws.surname_text(draws.surname_rows(comm, rng), -np.ones(k, int), sex),
        "aliases": _blank(k),
        "former_surnames": _blank(k),
        "dob": dob,
        "sex": sex,
        "address": addr.text,
        "postcode": addr.postcode,
        "nhs_number": _blank(k),
        "person_id": _blank(k),
        "scenario": np.full(k, "unknown", dtype=object),
        "related_person_id": _blank(k),
    }


def _sibling_referral(
    cfg: SynthConfig, p: _People, who: Array, draws: _NameDraws, rng: np.random.Generator
) -> dict[str, Array]:
    """A brother or sister of a known person, at their address, whom no agency holds."""
    n = len(who)
    sex = np.where(rng.random(n) < 0.5, "M", "F").astype(object)
    gap = rng.integers(400, 1500, n).astype("timedelta64[D]")
    latest = np.datetime64(_years_before(cfg.reference_day, cfg.min_age), "D")
    dob = np.where(p.dob[who] + gap <= latest, p.dob[who] + gap, p.dob[who] - gap)
    year = _birth_years(dob)
    forename = draws.forenames(p.community[who], sex, rng, year=year)
    # the household's young people: referral i against member j (never one name two ways)
    first = np.searchsorted(p.household, p.household[who])
    size = np.bincount(p.household)[p.household[who]]
    ref_i = np.repeat(np.arange(n), size)
    member = first[ref_i] + np.arange(len(ref_i)) - np.repeat(np.cumsum(size) - size, size)
    for _ in range(_NAME_DRAW_ROUNDS):
        clash = np.unique(ref_i[_related_names(forename[ref_i], p.forename[member])])
        if not len(clash):
            break
        forename[clash] = draws.forenames(
            p.community[who][clash], sex[clash], rng, year=year[clash]
        )
    family = draws.surname_text(p.family_rows[who, 0], p.family_rows[who, 1], sex)
    same_title = p.title_is_surname[who] & (sex == p.sex[who])
    return _referral_rows(
        p,
        who,
        "unlisted_sibling",
        forename=forename,
        middle_names=_blank(n),
        surname=np.where(same_title, p.title[who], family).astype(object),
        dob=dob,
        sex=sex,
        person_id=_blank(n),
        related_person_id=p.person_id[who],
    )


def _namesake_referral(
    cfg: SynthConfig, p: _People, who: Array, places: _Places, rng: np.random.Generator
) -> dict[str, Array]:
    """Someone else with a known person's name, living elsewhere, maybe with their DOB."""
    n = len(who)
    other_dob = _random_dobs(cfg, n, rng)
    same = rng.random(n) < cfg.effective_rate("namesake_same_dob_rate")
    addr = _draw_addresses(places, _pick(rng, places.la_cum, n), rng)
    return _referral_rows(
        p,
        who,
        "namesake",
        middle_names=_blank(n),
        dob=np.where(same, p.dob[who], other_dob),
        address=addr.text,
        postcode=addr.postcode,
        person_id=_blank(n),
        related_person_id=p.person_id[who],
    )
