from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasklane_contract.catalog import CATALOG
from tasklane_contract.queues import ALL_QUEUES
from tasklane_contract.spec import TaskOptions
from tasklane_contract.tasks.demo import SleepArgs
from tasklane_contract.tasks.report import GenerateReportArgs
from tasklane_contract.types import INTEGER_LITERAL


def test_every_spec_is_complete() -> None:
    for name, spec in CATALOG.items():
        assert spec.name == name
        assert spec.queue in ALL_QUEUES
        assert spec.description
        entry = spec.catalog_entry()
        assert entry["args_schema"]["type"] == "object"
        assert entry["options"]["time_limit_s"] > entry["options"]["soft_time_limit_s"]


def test_argument_models_refuse_unknown_fields() -> None:
    for spec in CATALOG.values():
        assert spec.args_model.model_config.get("extra") == "forbid", spec.name


def test_bounds() -> None:
    with pytest.raises(ValidationError):
        SleepArgs(seconds=1000)
    with pytest.raises(ValidationError, match="seconds_per_row"):
        GenerateReportArgs(rows=10_000, seconds_per_row=0.1)
    with pytest.raises(ValidationError, match="rows"):
        GenerateReportArgs(rows=100_001)
    for not_an_integer in (9.0, 1e3):
        with pytest.raises(ValidationError, match="valid integer"):
            GenerateReportArgs.model_validate({"rows": not_an_integer})
    with pytest.raises(ValidationError):
        GenerateReportArgs(rows=True)
    with pytest.raises(ValidationError):
        GenerateReportArgs.model_validate({"rows": "9"})
    assert GenerateReportArgs(rows=100).seconds_per_row == 0.001


def test_options_refuse_inverted_time_limits() -> None:
    with pytest.raises(ValueError, match="soft_time_limit_s"):
        TaskOptions(soft_time_limit_s=10, time_limit_s=5)


def test_every_integer_argument_is_strict_and_says_so() -> None:
    checked = 0
    for spec in CATALOG.values():
        for name, prop in spec.args_model.model_json_schema()["properties"].items():
            if prop.get("type") != "integer":
                continue
            assert INTEGER_LITERAL in prop["description"], (spec.name, name)
            with pytest.raises(ValidationError, match="valid integer"):
                spec.args_model.model_validate({name: 1.0})
            checked += 1
    assert checked >= 2
