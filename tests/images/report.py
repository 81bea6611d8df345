"""What the image tests measured, printed at the end of the run: how long each step took
(stand-ins, builds, checks) and each image's size against its base."""

from __future__ import annotations

import time
from typing import Any

# (step, seconds), in the order they ran.
TIMINGS: list[tuple[str, float]] = []
# image -> (size, size of its base), in bytes.
SIZES: dict[str, tuple[int, int]] = {}


def record(step: str, started: float) -> None:
    TIMINGS.append((step, time.monotonic() - started))


def write_summary(terminalreporter: Any) -> None:
    if not TIMINGS and not SIZES:
        return
    terminalreporter.section("images: timings")
    for step, seconds in TIMINGS:
        terminalreporter.write_line(f"{seconds:8.1f} s  {step}")
    if SIZES:
        terminalreporter.section("images: sizes")
        for image, (size, base) in sorted(SIZES.items()):
            growth = (size - base) / 1e6
            terminalreporter.write_line(f"{image}: {size / 1e6:.1f} MB, base + {growth:.1f} MB")
