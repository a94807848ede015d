"""The shipped default model: it fits the settings in force, and small data gets an answer."""

from __future__ import annotations

import json
import logging
import warnings

import pandas as pd

import cselink
from cselink.config import Settings
from cselink.profile import WITH_HOUSEHOLDS
from cselink.scoring import Model
from cselink.scoring.build_default_model import train_default_model
from cselink.scoring.default_model import default_model_path, load_default_model, misfit


def test_the_shipped_model_fits_the_default_settings() -> None:
    """Fails when the comparisons change: regenerate the model with
    ``python -m cselink.scoring.build_default_model`` (see the README)."""
    data = json.loads(default_model_path().read_text(encoding="utf-8"))
    comparisons = WITH_HOUSEHOLDS  # the shape of a population of children
    assert misfit(data, comparisons) is None
    model, provenance = load_default_model(comparisons)
    assert isinstance(model, Model) and model.comparisons == tuple(comparisons)
    for key in ("generator_seed", "generator_people", "cselink_version", "date",
                "settings_hash", "matches_per_record"):
        assert key in provenance
    assert provenance["settings_hash"] == Settings(link_type="dedupe").hash()


def test_a_model_whose_levels_changed_does_not_fit() -> None:
    data = json.loads(default_model_path().read_text(encoding="utf-8"))
    data["comparisons"]["dob"][0]["label"] = "something else"
    assert misfit(data, WITH_HOUSEHOLDS) == "the levels of comparison 'dob' have changed"
    del data["comparisons"]["sex"]
    assert misfit(data, ["sex"]) == "it has no comparison 'sex'"


def test_jade_brown_links_to_jayde_smith_on_three_records(caplog) -> None:
    left = pd.DataFrame({"record_id": ["L1", "L2"], "forename": ["Jade", "Tom"],
                         "surname": ["Brown", "Hill"], "dob": ["2009-03-04", "2008-07-12"],
                         "postcode": ["TA1 1AA", "TA2 3BB"]})
    right = pd.DataFrame({"record_id": ["R1"], "forename": ["Jayde"], "surname": ["Smith"],
                          "former_surnames": ["Brown"], "dob": ["2009-04-03"],
                          "postcode": ["TA1 1AA"]})
    with warnings.catch_warnings(record=True) as caught, \
            caplog.at_level(logging.WARNING, logger="cselink"):
        warnings.simplefilter("always")
        pairs = cselink.link(left, right)
    assert not caught  # no ConvergenceWarning
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "default model" in said[0]
    assert pairs[["record_id_l", "record_id_r"]].values.tolist() == [["L1", "R1"]]
    reasons = pairs.loc[0, "reasons"]
    assert "surname matches former surname 'Brown'" in reasons
    assert "day and month of birth swapped" in reasons
    assert pairs.loc[0, "match_probability"] > 0.9


def test_the_trainer_writes_provenance_and_the_comparisons_in_force() -> None:
    data = train_default_model(people=300, seed=5)
    assert data["provenance"]["generator_seed"] == 5
    assert data["provenance"]["generator_people"] == 300
    assert misfit(data, Settings().comparisons) is None
    Model.from_dict(data)  # loads as a model
