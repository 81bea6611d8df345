"""Closed-loop HTTP load with wrk (Debian's `wrk`), parsed into figures."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
POST_SCRIPT = """wrk.method = "POST"
wrk.body = '{"data": "hello"}'
wrk.headers["Content-Type"] = "application/json"
"""


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    return found


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse(output: str) -> dict[str, float]:
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for percentile in ("50", "99"):
        match = re.search(rf"^\s+{percentile}%\s+(\S+)", output, re.MULTILINE)
        figures[f"p{percentile}_ms"] = to_ms(match.group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    figures["errors"] = float(non_2xx.group(1)) if non_2xx else 0.0
    return figures


def run(
    url: str, work_dir: Path, *, post: bool, seconds: int, connections: int
) -> dict[str, float]:
    argv = [require_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if post:
        script = work_dir / "post.lua"
        script.write_text(POST_SCRIPT)
        argv += ["-s", str(script)]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    return parse(output)
