"""Reasons name the variant that gave a name's level, for every kind of variant (issue 12
point 5): an alias, a former surname, a middle name, half of a double-barrelled surname,
names swapped, a nickname and a clipped short form. Learned pairs are in test_profile."""

from __future__ import annotations

import pandas as pd
import pytest

from cselink import Linker, Settings

BASE = {"dob": "2010-05-06", "sex": "F", "address": "12 Mill Lane, Taunton",
        "postcode": "TA1 1AB"}

CASES = [
    ("alias", {"forename": "Jade", "surname": "Smith", "aliases": "Kim Jones"},
     {"forename": "Kim", "surname": "Jones"}, "alias 'Kim Jones' recorded by police"),
    ("former surname", {"forename": "Jade", "surname": "Smith", "former_surnames": "Brown"},
     {"forename": "Jade", "surname": "Brown"}, "former surname 'Brown' recorded by police"),
    ("middle name", {"forename": "Jade", "middle_names": "Anne", "surname": "Smith"},
     {"forename": "Anne", "surname": "Smith"},
     "middle name 'anne' recorded by police ('jade' / 'anne')"),
    ("surname half", {"forename": "Jade", "surname": "Smith-Jones"},
     {"forename": "Jade", "surname": "Jones"}, "part of the double-barrelled surname"),
    ("swap", {"forename": "Jade", "surname": "Smith"}, {"forename": "Smith", "surname": "Jade"},
     "forename and surname recorded the other way round"),
    ("nickname", {"forename": "Robert", "surname": "Smith", "sex": "M"},
     {"forename": "Bob", "surname": "Smith", "sex": "M"}, "('robert' / 'bob')"),
    ("clipped short form", {"forename": "Rhodri", "surname": "Smith", "sex": "M"},
     {"forename": "Rhod", "surname": "Smith", "sex": "M"}, "('rhodri' / 'rhod')"),
]


@pytest.mark.parametrize(("kind", "police", "health", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_reasons_quote_the_variant_that_matched(kind: str, police: dict[str, str],
                                                health: dict[str, str], words: str) -> None:
    frames = {"police": pd.DataFrame([{"record_id": "p1", **BASE, **police}]),
              "health": pd.DataFrame([{"record_id": "h1", **BASE, **health}])}
    with Linker(frames, settings=Settings(link_type="link")) as linker:
        pairs = linker.predict(0.0)
    assert len(pairs) == 1, kind
    assert words in pairs["reasons"].iloc[0], pairs["reasons"].iloc[0]
