"""Variables of the repository's Makefile, read the way make assigns them (`:=`, `?=`, `=`)."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def make_variable(name: str) -> list[str]:
    """The words a top-level assignment of `name` gives it."""
    match = re.search(rf"^{name}\s*[:?]?=\s*(.*)$", MAKEFILE.read_text(), re.MULTILINE)
    assert match, f"the Makefile does not assign {name}"
    return match.group(1).split()


def image_services() -> list[str]:
    """The services `make images` builds an image of."""
    return make_variable("IMAGE_SERVICES")
