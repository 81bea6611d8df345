"""`make load`: submissions at a set rate for a set time against a running tasklane (the local
stack by default), then the report a user needs: accepted, rejected by reason, latency
percentiles, and how many accepted tasks reached SUCCESS (all of them, or the exit code says so).

Open loop: requests start on schedule whether or not earlier ones have answered, so a slow API
shows up as latency and rejections instead of quietly lowering the rate."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

TERMINAL = {"SUCCESS", "FAILURE", "REVOKED"}


@dataclass
class LoadReport:
    sent: int = 0
    accepted: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    # (seconds from the start of the run when sent, status code or error name), in send order
    answers: list[tuple[float, str]] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def lines(self) -> list[str]:
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(self.rejected.items()))
        return [
            f"sent        {self.sent}",
            f"accepted    {len(self.accepted)}",
            f"rejected    {sum(self.rejected.values())}" + (f" ({rejected})" if rejected else ""),
            f"latency ms  p50 {self.percentile(0.5):.1f}  p95 {self.percentile(0.95):.1f}  "
            f"p99 {self.percentile(0.99):.1f}",
            f"outcomes    {dict(sorted(self.outcomes.items()))}",
            f"longest stretch with nothing accepted: {self.longest_refusal_s():.1f} s",
            f"all accepted tasks succeeded: {self.all_succeeded}",
        ]

    def longest_refusal_s(self) -> float:
        """The longest stretch of sending time with no submission accepted (0 with none)."""
        longest, since = 0.0, None
        for sent_at, answer in sorted(self.answers):
            if answer == "202":
                if since is not None:
                    longest = max(longest, sent_at - since)
                since = None
            elif since is None:
                since = sent_at
        return longest

    @property
    def all_succeeded(self) -> bool:
        return self.outcomes.get("SUCCESS", 0) == len(self.accepted)


def reason_of(response: httpx.Response) -> str:
    return f"{response.status_code}"


async def _submit(
    http: httpx.AsyncClient, task: str, body: dict[str, Any], report: LoadReport, sent_at: float
) -> None:
    started = time.perf_counter()
    try:
        response = await http.post(f"/v1/tasks/{task}", json=body)
    except httpx.HTTPError as error:
        report.rejected[type(error).__name__] += 1
        report.answers.append((sent_at, type(error).__name__))
        return
    report.latencies_ms.append((time.perf_counter() - started) * 1000)
    report.answers.append((sent_at, reason_of(response)))
    if response.status_code == 202:
        report.accepted.append(response.json()["id"])
    else:
        report.rejected[reason_of(response)] += 1


async def _outcome(http: httpx.AsyncClient, task_id: str, deadline: float) -> str:
    while time.monotonic() < deadline:
        try:
            status = (await http.get(f"/v1/tasks/{task_id}")).json().get("status", "?")
        except httpx.HTTPError:
            status = "unreachable"
        if status in TERMINAL:
            return str(status)
        await asyncio.sleep(0.2)
    return "unfinished"


async def run_load(
    base_url: str,
    *,
    rate: float,
    seconds: float,
    task: str = "text.process",
    body: dict[str, Any] | None = None,
    api_key: str | None = None,
    settle_s: float = 60.0,
) -> LoadReport:
    report = LoadReport()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=10
    ) as http:
        pending = []
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            report.sent += 1
            sent_at = time.perf_counter() - start
            pending.append(
                asyncio.create_task(_submit(http, task, body or {"data": "load"}, report, sent_at))
            )
        await asyncio.gather(*pending)
        deadline = time.monotonic() + settle_s
        outcomes = await asyncio.gather(*(_outcome(http, i, deadline) for i in report.accepted))
        report.outcomes.update(outcomes)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url", default=os.environ.get("TASKLANE_API_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--rate", type=float, default=50.0, help="submissions per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--task", default="text.process")
    parser.add_argument("--api-key", default=os.environ.get("TASKLANE_API_KEY"))
    options = parser.parse_args()
    report = asyncio.run(
        run_load(
            options.url,
            rate=options.rate,
            seconds=options.seconds,
            task=options.task,
            api_key=options.api_key,
        )
    )
    print("\n".join(report.lines()))
    return 0 if report.all_succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
