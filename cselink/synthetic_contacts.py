"""Synthetic known contacts and perpetrators, with truth, beside the synthetic referrals.

Called by :func:`cselink.synthetic.generate_frames` (with ``SynthConfig(contacts=True)``,
``cselink synth --contacts``) once the young people, their agency records and the
referrals exist. Nothing here is real: names are drawn from the
population's own names and ``monikers.csv``, addresses from the population's streets.

How the contacts are made
-------------------------
* **Adults.** Exploitation groups of one to four adults (mostly men, aged 18 to 35 at the
  reference date) each operate in two to four local authorities. Most adults have a
  street name ("Ghost"), some two. Police hold most adults (street names among the
  aliases most of the time), youth justice those young enough to have a record from
  their teens; some adults are held by nobody. Their agency records are corrupted as
  police and youth justice records are: upper case, a typing slip in the surname, a
  date of birth with day and month swapped or a digit wrong, a street name not
  recorded.
* **Groups across referrals.** Each group is named on several referrals (two to six),
  mostly referrals in its own local authorities; each referral names one or two of its
  adults. Mentions of one adult differ: the full name, a street name alone, a first
  name with a street name, a misspelt surname.
* **Older young people.** Some referrals name a peer: a young person of 15 to 19 from
  the population with a police or youth justice record; some peers are named on two
  referrals.
* **Unknown contacts.** Some contacts are nobody any agency holds.
* **As written on the referral.** An age range (most), a single age, a date of birth
  (a few), nothing; sex sometimes; a postcode or a full address sometimes; a
  relationship ("adult associate", "older boyfriend", ...).

Files (written by :func:`cselink.synthetic.generate`): ``contacts.csv`` (the canonical
contacts columns, :data:`cselink.contacts.CONTACT_COLUMNS`) and ``contacts_truth.csv``
(``referral_id, contact_id, person_id, kind, group_id``; ``kind`` is ``adult``,
``peer`` or ``unknown``). The adults' agency records are added to the agency files and
to ``truth.csv`` (person ids ``A000001``..., not in ``people.csv``, which holds the
young people).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .synthetic import SynthConfig, SynthFrames

__all__ = ["CONTACT_KINDS", "GeneratorParts", "add_contacts"]

#: What a synthetic contact is, in contacts_truth.csv.
CONTACT_KINDS: Final[tuple[str, ...]] = ("adult", "peer", "unknown")

#: Agencies that hold contacts (the others hold young people).
_HOLDERS = ("police", "youth_justice")
_RELATIONSHIPS = ("adult associate", "older boyfriend", "seen with", "drives her around",
                  "gives him money", "associate")
_PEER_RELATIONSHIPS = ("friend", "peer", "boyfriend", "girlfriend", "associate")
_SEED_OFFSET = 7_919  # the contacts' own random stream, apart from the population's


def _rng(config: SynthConfig) -> np.random.Generator:
    return np.random.default_rng([config.seed, _SEED_OFFSET])


def _age(dob: dt.date, day: dt.date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _typo(rng: np.random.Generator, text: str) -> str:
    """One slip: a letter dropped, doubled or swapped with the next."""
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return text[:i] + text[i + 1:]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _dob_slip(rng: np.random.Generator, dob: dt.date) -> dt.date:
    """Day and month swapped where possible, else a day one off."""
    if dob.day <= 12 and dob.day != dob.month:
        return dob.replace(day=dob.month, month=dob.day)
    return dob + dt.timedelta(days=1 if dob.day < 28 else -1)


def _places(frames: SynthFrames) -> pd.DataFrame:
    """Addresses of the population with their local authority (to house the adults)."""
    p = frames.people
    return p.loc[p["address"] != "", ["la", "address", "postcode"]].reset_index(drop=True)


def _referral_las(frames: SynthFrames) -> pd.Series:
    """The local authority of each referral: its person's, else by its postcode district."""
    people = frames.people.set_index("person_id")["la"]
    truth = frames.referrals_truth.set_index("referral_id")["person_id"]
    district_la = (frames.people.assign(d=frames.people["postcode"].str.split(" ").str[0]
                                        .str.upper())
                   .groupby("d")["la"].first())
    las = {}
    for rid, pc in zip(frames.referrals["record_id"], frames.referrals["postcode"], strict=True):
        pid = truth.get(rid, "")
        la = people.get(pid) if pid else None
        if la is None and isinstance(pc, str) and pc:
            la = district_la.get(pc.split(" ")[0].upper())
        las[rid] = la or ""
    return pd.Series(las)


class GeneratorParts(NamedTuple):
    """What the contacts take from the population generator (:mod:`cselink.synthetic`),
    handed in by it so that this module never imports it back."""

    monikers: Sequence[str]
    exports: Mapping[str, Any]
    canonical_frame: Callable[[str, pd.DataFrame], pd.DataFrame]
    native_frame: Callable[[Any, pd.DataFrame], pd.DataFrame]
    style: Callable[[str, pd.DataFrame], Any]


def _adults(config: SynthConfig, frames: SynthFrames, n: int,
            rng: np.random.Generator, parts: GeneratorParts) -> pd.DataFrame:
    """The adults: names drawn from the population, a street name or two, a home."""
    people = frames.people
    monikers = list(parts.monikers)
    male = rng.random(n) < 0.85
    ref = config.reference_day
    rows = []
    places = _places(frames)
    # A street name singles someone out where they operate: the adults' street names are
    # distinct while the list lasts (it has 50), then reused in a new order (two adults
    # of one street name, as happens).
    names = (str(monikers[int(j)]) for _ in range(2 * n + 1)
             for j in rng.permutation(len(monikers)))
    for i in range(n):
        sex = "M" if male[i] else "F"
        pool = people[people["sex"] == sex]
        fore = str(pool["forename"].iloc[int(rng.integers(0, len(pool)))])
        sur = str(people["surname"].iloc[int(rng.integers(0, len(people)))])
        age = int(rng.integers(18, 36))
        dob = ref - dt.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
        k = int(rng.choice([0, 1, 2], p=[0.15, 0.65, 0.20]))
        streets = [next(names) for _ in range(k)]
        home = places.iloc[int(rng.integers(0, len(places)))]
        rows.append({"person_id": f"A{i + 1:06d}", "forename": fore, "surname": sur,
                     "dob": dob, "sex": sex, "street_names": streets, "la": home["la"],
                     "address": home["address"], "postcode": home["postcode"]})
    return pd.DataFrame(rows)


def _adult_records(config: SynthConfig, adults: pd.DataFrame, frames: SynthFrames,
                   rng: np.random.Generator) -> dict[str, list[dict[str, Any]]]:
    """Canonical police / youth justice records of the adults who are held."""
    scale = {"easy": 0.5, "standard": 1.0, "hard": 2.0}.get(config.difficulty, 1.0)
    taken = {a: set(frames.canonical[a]["record_id"]) for a in _HOLDERS}
    out: dict[str, list[dict[str, Any]]] = {a: [] for a in _HOLDERS}
    ref = config.reference_day
    for a in adults.itertuples(index=False):
        age = _age(a.dob, ref)
        held = {"police": rng.random() < 0.88,
                "youth_justice": age <= 22 and rng.random() < 0.55}
        for agency, yes in held.items():
            if not yes:
                continue
            while True:
                if agency == "police":
                    rid = (f"{int(rng.integers(2008, 2026))}/{int(rng.integers(0, 10**7)):07d}"
                           f"{'ABCDEFGHJKLMNPQRTUVWXYZ'[int(rng.integers(0, 23))]}")
                else:
                    rid = f"YJ{int(rng.integers(0, 10**7)):07d}"
                if rid not in taken[agency]:
                    taken[agency].add(rid)
                    break
            surname = a.surname if rng.random() > 0.06 * scale else _typo(rng, a.surname)
            dob = a.dob if rng.random() > 0.05 * scale else _dob_slip(rng, a.dob)
            streets = [s for s in a.street_names
                       if rng.random() < (0.85 if agency == "police" else 0.6)]
            moved = rng.random() < 0.3
            out[agency].append({
                "person_id": a.person_id, "record_id": rid, "forename": a.forename,
                "surname": surname, "aliases": ";".join(streets), "dob": dob, "sex": a.sex,
                "address": "" if moved else a.address, "postcode": "" if moved else a.postcode,
            })
    return out


def _append_records(frames: SynthFrames, records: dict[str, list[dict[str, Any]]],
                    parts: GeneratorParts) -> dict[str, Any]:
    """The agency frames and truth with the adults' records added (native and canonical)."""

    canonical, native = dict(frames.canonical), dict(frames.native)
    truth = [frames.truth]
    for agency, rows in records.items():
        if not rows:
            continue
        n = len(rows)
        v: dict[str, Any] = {
            key: np.array([r[key] for r in rows], dtype=object)
            for key in ("record_id", "forename", "surname", "aliases", "sex", "address",
                        "postcode")
        }
        v["middle_names"] = np.full(n, "", dtype=object)
        v["former_surnames"] = np.full(n, "", dtype=object)
        v["nhs_number"] = np.full(n, "", dtype=object)
        v["_y"] = np.array([r["dob"].year for r in rows])
        v["_m"] = np.array([r["dob"].month for r in rows])
        v["_d"] = np.array([r["dob"].day for r in rows])
        v["_dob_missing"] = np.zeros(n, dtype=bool)
        parts.style(agency, v)
        canonical[agency] = pd.concat(
            [frames.canonical[agency], parts.canonical_frame(agency, v)], ignore_index=True)
        native[agency] = pd.concat(
            [frames.native[agency], parts.native_frame(parts.exports[agency], v)],
            ignore_index=True)
        truth.append(pd.DataFrame({"record_id": v["record_id"], "source": agency,
                                   "person_id": [r["person_id"] for r in rows],
                                   "household_id": "", "corruptions": ""}))
    return {"canonical": canonical, "native": native,
            "truth": pd.concat(truth, ignore_index=True)}


def _mention(rng: np.random.Generator, person: dict[str, Any], day: dt.date) -> dict[str, str]:
    """A contact as a referral names them: some of the names, an age, perhaps a place."""
    streets = person.get("street_names") or []
    form = rng.random()
    fore, sur, aliases = person["forename"], person["surname"], ""
    if streets and form < 0.25:
        fore, sur, aliases = "", "", streets[int(rng.integers(0, len(streets)))]
    elif streets and form < 0.45:
        sur, aliases = "", streets[int(rng.integers(0, len(streets)))]
    elif form < 0.55:
        sur = _typo(rng, sur)
    elif form < 0.62:
        sur = ""
    dob: dt.date = person["dob"]
    age = _age(dob, day)
    a = rng.random()
    dob_text, age_text = "", ""
    if a < 0.12:
        dob_text = dob.isoformat()
    elif a < 0.62:
        lo = age - int(rng.integers(0, 3))
        age_text = f"{lo}-{lo + int(rng.integers(2, 5))}"
    elif a < 0.90:
        age_text = str(age + int(rng.choice([-1, 0, 0, 0, 1])))
    place = rng.random()
    address, postcode = "", ""
    if place < 0.15:
        address, postcode = person["address"], person["postcode"]
    elif place < 0.40:
        postcode = person["postcode"]
    return {"forename": fore, "surname": sur, "aliases": aliases, "dob": dob_text,
            "age": age_text, "sex": person["sex"] if rng.random() < 0.6 else "",
            "address": address, "postcode": postcode}


def _peers(frames: SynthFrames, day: dt.date) -> pd.DataFrame:
    """Young people of 15 to 19 with a police or youth justice record."""
    t = frames.truth
    held = set(t.loc[t["source"].isin(_HOLDERS), "person_id"])
    p = frames.people[frames.people["person_id"].isin(held) & (frames.people["dob"] != "")]
    dobs = pd.to_datetime(p["dob"]).dt.date
    ages = dobs.map(lambda d: _age(d, day))
    return p.assign(dob=dobs)[(ages >= 15) & (ages <= 19)].reset_index(drop=True)


def add_contacts(config: SynthConfig, frames: SynthFrames,
                 parts: GeneratorParts) -> SynthFrames:
    """The frames with contacts, contacts truth and the adults' agency records added.

    Deterministic for a seed (its own random stream, so the rest of the population is
    unchanged by it).
    """
    rng = _rng(config)
    day = config.reference_day
    refs = list(frames.referrals["record_id"])
    if not refs:
        return frames
    ref_la = _referral_las(frames)
    n_groups = max(1, len(refs) // 6)
    sizes = rng.choice([1, 2, 3, 4], size=n_groups, p=[0.3, 0.35, 0.25, 0.1])
    n_unknown = max(1, len(refs) // 5)
    adults = _adults(config, frames, int(sizes.sum()) + n_unknown, rng, parts)
    known_adults, unknown_adults = adults.iloc[:int(sizes.sum())], adults.iloc[int(sizes.sum()):]
    records = _adult_records(config, known_adults, frames, rng)
    mentions: list[dict[str, Any]] = []
    las = sorted({la for la in ref_la if la})
    start = 0
    for g, size in enumerate(sizes, start=1):
        members = known_adults.iloc[start:start + int(size)].to_dict(orient="records")
        start += int(size)
        home = set(rng.choice(las, size=min(len(las), int(rng.integers(2, 5))),
                              replace=False)) if las else set()
        local = [r for r in refs if ref_la.get(r) in home]
        pool = local if len(local) >= 2 else refs
        k = min(len(pool), int(rng.integers(2, 7)))
        chosen = rng.choice(len(pool), size=k, replace=False)
        for j in sorted(chosen):
            for m in rng.choice(len(members), size=min(len(members), int(rng.integers(1, 3))),
                                replace=False):
                mentions.append({"referral_id": pool[int(j)], "person": members[int(m)],
                                 "kind": "adult", "group_id": f"G{g:04d}"})
    peers = _peers(frames, day)
    referred = set(frames.referrals_truth["person_id"])
    peers = peers[~peers["person_id"].isin(referred)].reset_index(drop=True)
    for rid in refs:
        if len(peers) and rng.random() < 0.35:
            peer = peers.iloc[int(rng.integers(0, len(peers)))].to_dict()
            peer["street_names"] = [a for a in str(peer["aliases"]).split(";")
                                    if a and " " not in a]
            others = [rid] + ([refs[int(rng.integers(0, len(refs)))]]
                              if rng.random() < 0.25 else [])
            for r in dict.fromkeys(others):
                mentions.append({"referral_id": r, "person": peer, "kind": "peer",
                                 "group_id": ""})
    for a in unknown_adults.to_dict(orient="records"):
        mentions.append({"referral_id": refs[int(rng.integers(0, len(refs)))], "person": a,
                         "kind": "unknown", "group_id": ""})
    order = {r: i for i, r in enumerate(refs)}
    mentions.sort(key=lambda m: order[m["referral_id"]])
    seen: dict[str, int] = {}
    named: set[tuple[str, str]] = set()
    rows, truth = [], []
    for m in mentions:
        person = m["person"]
        rid = m["referral_id"]
        if (rid, person["person_id"]) in named:
            continue  # one mention of a person per referral
        named.add((rid, person["person_id"]))
        seen[rid] = seen.get(rid, 0) + 1
        cid = f"C{seen[rid]}"
        rel = (_RELATIONSHIPS if m["kind"] != "peer" else _PEER_RELATIONSHIPS)
        rows.append({"referral_id": rid, "contact_id": cid, **_mention(rng, person, day),
                     "relationship": rel[int(rng.integers(0, len(rel)))]})
        truth.append({"referral_id": rid, "contact_id": cid, "person_id": person["person_id"],
                      "kind": m["kind"], "group_id": m["group_id"]})
    from .contacts import CONTACT_COLUMNS

    contacts = pd.DataFrame(rows)[list(CONTACT_COLUMNS)]
    added = _append_records(frames, records, parts)
    return dataclasses.replace(frames, **added, contacts=contacts,
                               contacts_truth=pd.DataFrame(truth))
