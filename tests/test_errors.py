"""The one "did you mean" helper, as the config, mapping, reader and generator use it."""

from __future__ import annotations

import pytest

from cselink.config import Settings
from cselink.errors import ConfigError, did_you_mean
from cselink.synthetic import SynthConfig


def test_did_you_mean_ignores_case_spaces_and_separators() -> None:
    assert did_you_mean("record_id", ["RecordID", "Name"]) == " (did you mean 'RecordID'?)"
    assert did_you_mean("sheet1", ["Sheet1", "Sheet2"]) == " (did you mean 'Sheet1'?)"
    assert did_you_mean("dificulty", ("difficulty", "people")) == " (did you mean 'difficulty'?)"
    assert did_you_mean("zzz", ["difficulty"]) == ""
    assert did_you_mean("x", []) == ""


def test_did_you_mean_cutoff_and_first_of_equals() -> None:
    # A stricter cutoff drops a weak suggestion that the default keeps.
    assert did_you_mean("surnme", ["surname"]) == " (did you mean 'surname'?)"
    assert did_you_mean("sname", ["surname"], cutoff=0.9) == ""
    assert did_you_mean("record id", ["Record_ID", "RecordID"]) == " (did you mean 'Record_ID'?)"


def test_call_sites_use_it() -> None:
    with pytest.raises(ConfigError) as exc:
        Settings.from_dict({"treshold": 0.5})
    assert exc.value.problems == ("unknown setting 'treshold' (did you mean 'threshold'?)",)
    with pytest.raises(ConfigError) as exc:
        SynthConfig.preset("hard", peopel=10)
    assert exc.value.problems == ("unknown setting 'peopel' (did you mean 'people'?)",)
    with pytest.raises(ConfigError) as exc:
        SynthConfig(difficulty="hrd")
    assert exc.value.problems[0].endswith("(did you mean 'hard'?)")
