"""The public surface: exactly the names in cselink.__all__, sorted."""

from __future__ import annotations

import cselink


def test_all_is_sorted_and_complete() -> None:
    public = {n for n in dir(cselink) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(cselink, n)).__name__ == "module"}
    assert cselink.__all__ == sorted(cselink.__all__)
    assert set(cselink.__all__) == public - modules - {"annotations"}


def test_link_explains_an_alias_match() -> None:
    import pandas as pd

    police = pd.DataFrame({"record_id": ["P1"], "forename": ["Jade"], "surname": ["Brown"],
                           "former_surnames": ["Smith"], "dob": ["2010-03-04"]})
    school = pd.DataFrame({"record_id": ["E7"], "forename": ["Jade"], "surname": ["Smith"],
                           "dob": ["2010-04-03"]})
    pairs = cselink.link(police, school, threshold=0.0)
    reasons = pairs.loc[0, "reasons"]
    assert "surname matches former surname 'Smith' recorded by source_1" in reasons
    assert "day and month of birth swapped" in reasons
