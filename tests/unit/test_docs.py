"""The README is part of the interface: it must match the code."""

from __future__ import annotations

from pathlib import Path

from tasklane_contract.catalog import CATALOG
from tasklane_contract.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [
        f"TASKLANE_{n.upper()}"
        for n in Settings.model_fields
        if f"`TASKLANE_{n.upper()}`" not in README
    ]
    assert missing == []


def test_every_task_is_documented() -> None:
    assert [name for name in CATALOG if f"`{name}`" not in README] == []
