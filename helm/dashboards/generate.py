"""tasklane's Grafana dashboards, as code. `make dashboards` writes them to
helm/tasklane/files/dashboards/*.json, which the chart ships as ConfigMaps; `--check` exits 1
when the committed JSON differs from what this module builds (a test runs it).

grafana-foundation-sdk, not grafanalib: it is Grafana's own SDK, generated from the current
dashboard schema and released with Grafana, while grafanalib has had no release since early
2024. It lives beside the chart, not in services/: nothing deployed imports it.

Every query filters on the `namespace` and `release` labels (the chart's ServiceMonitors set
`release` from the app.kubernetes.io/instance label) and, where it has one, the queue. Our own
backlog metrics call the queue `queue`; celery-exporter calls it `queue_name`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "tasklane" / "files" / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")

# Label filters shared by every query.
RELEASE = 'namespace=~"$namespace", release=~"$release"'
QUEUE = f'{RELEASE}, queue=~"$queue"'  # tasklane's own metrics
QUEUE_NAME = f'{RELEASE}, queue_name=~"$queue"'  # celery-exporter's
TASK = f'{QUEUE_NAME}, name=~"$task"'
RATE = "[$__rate_interval]"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    width: int = 12
    # Why the panel may show nothing on a healthy install (the real-Prometheus test lists it).
    empty_by_design: str | None = None


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    extra_variables: tuple[tuple[str, str, str], ...] = field(default=())  # name, label, query


def q(expr: str, legend: str) -> Query:
    return Query(expr, legend)


def _quantiles(metric: str, selector: str, by: str = "") -> tuple[Query, ...]:
    group = f"le{', ' + by if by else ''}"
    prefix = f"{{{{{by}}}}} " if by else ""
    return tuple(
        q(
            f"histogram_quantile({p}, sum by ({group}) "
            f"(rate({metric}_bucket{{{selector}}}{RATE})))",
            f"{prefix}p{round(p * 100)}",
        )
        for p in (0.5, 0.95, 0.99)
    )


def _backlog_per_queue() -> Query:
    # Every API replica exports the same backlog: max, not sum.
    return q(f"max by (queue) (tasklane_queue_waiting{{{QUEUE}}})", "{{queue}} waiting")


def _estimated_wait() -> Query:
    # Little's law: waiting tasks divided by the rate workers start them from that queue.
    started = (
        f"label_replace(sum by (queue_name) (rate(celery_task_started_total{{{QUEUE_NAME}}}[5m])),"
        ' "queue", "$1", "queue_name", "(.*)")'
    )
    return q(
        f"max by (queue) (tasklane_queue_waiting{{{QUEUE}}}) / on (queue) {started}",
        "{{queue}}",
    )


OVERVIEW = Dashboard(
    uid="tasklane-overview",
    title="tasklane / Overview",
    description="Is tasklane keeping up? API traffic, backlog per queue, workers, task outcomes.",
    rows=(
        Row(
            "Queues: is my queue keeping up?",
            (
                Panel(
                    "Backlog per queue",
                    "Tasks waiting (every priority list) and reserved by workers, counted by "
                    "tasklane from Redis; celery_queue_length would miss priorities and "
                    "reserved tasks.",
                    (
                        _backlog_per_queue(),
                        q(
                            f"max by (queue) (tasklane_queue_reserved{{{QUEUE}}})",
                            "{{queue}} reserved",
                        ),
                    ),
                ),
                Panel(
                    "Estimated queue wait",
                    "Waiting tasks divided by the rate workers start tasks from the queue over "
                    "5 minutes: roughly how long a task submitted now waits. +Inf: nothing "
                    "is being started.",
                    (_estimated_wait(),),
                    unit="s",
                ),
                Panel(
                    "Tasks in and out per queue",
                    "Sent by producers (API, beat) against started by workers: out below in "
                    "means the backlog grows.",
                    (
                        q(
                            "sum by (queue_name) "
                            f"(rate(celery_task_sent_total{{{QUEUE_NAME}}}{RATE}))",
                            "{{queue_name}} sent",
                        ),
                        q(
                            "sum by (queue_name) "
                            f"(rate(celery_task_started_total{{{QUEUE_NAME}}}{RATE}))",
                            "{{queue_name}} started",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Workers consuming each queue",
                    "Workers (and their task processes) answering for each queue; 0 with a "
                    "backlog fires TasklaneBacklogNoConsumer.",
                    (
                        q(
                            f"max by (queue_name) (celery_active_worker_count{{{QUEUE_NAME}}})",
                            "{{queue_name}} workers",
                        ),
                        q(
                            f"max by (queue_name) (celery_active_process_count{{{QUEUE_NAME}}})",
                            "{{queue_name}} processes",
                        ),
                    ),
                ),
            ),
        ),
        Row(
            "Workers",
            (
                Panel(
                    "Workers up",
                    "Workers whose heartbeat celery-exporter has seen recently.",
                    (q(f"sum(celery_worker_up{{{RELEASE}}})", "up"),),
                    kind="stat",
                    width=6,
                ),
                Panel(
                    "Tasks running",
                    "Tasks the workers are executing right now.",
                    (q(f"sum(celery_worker_tasks_active{{{RELEASE}}})", "running"),),
                    kind="stat",
                    width=6,
                ),
                Panel(
                    "Busy per worker",
                    "Tasks each worker is executing.",
                    (
                        q(
                            f"sum by (hostname) (celery_worker_tasks_active{{{RELEASE}}})",
                            "{{hostname}}",
                        ),
                    ),
                ),
            ),
        ),
        Row(
            "Tasks",
            (
                Panel(
                    "Task outcomes",
                    "Tasks finished per second: succeeded, failed (after their last retry), "
                    "retried, rejected and revoked.",
                    tuple(
                        q(
                            f"sum(rate(celery_task_{event}_total{{{QUEUE_NAME}}}{RATE}))",
                            event,
                        )
                        for event in ("succeeded", "failed", "retried", "rejected", "revoked")
                    ),
                    unit="ops",
                ),
                Panel(
                    "Tasks given back to their queue",
                    "Tasks workers gave back before they finished, per second, by queue and "
                    "reason: reclaimed (their worker's lease expired: killed, frozen or cut "
                    "off), shutdown (their worker was stopped and they outlasted its shutdown "
                    "timeout), interrupted (their process died or their worker lost Redis). "
                    "Each runs again.",
                    (
                        q(
                            # Every API replica exports the same count: max, not sum.
                            "max by (queue, reason) "
                            f"(rate(tasklane_tasks_requeued_total{{{QUEUE}}}{RATE}))",
                            "{{queue}} {{reason}}",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Failure ratio per task",
                    "Failed over finished (succeeded + failed) per task; above 10% for 5 "
                    "minutes fires TasklaneTaskFailureRatioHigh.",
                    (
                        q(
                            f"sum by (name) (rate(celery_task_failed_total{{{QUEUE_NAME}}}[5m]))"
                            " / (sum by (name) "
                            f"(rate(celery_task_succeeded_total{{{QUEUE_NAME}}}[5m]))"
                            f" + sum by (name) (rate(celery_task_failed_total{{{QUEUE_NAME}}}"
                            "[5m])))",
                            "{{name}}",
                        ),
                    ),
                    unit="percentunit",
                ),
                Panel(
                    "Task runtime",
                    "Run time of succeeded tasks, all tasks together.",
                    _quantiles("celery_task_runtime", QUEUE_NAME),
                    unit="s",
                ),
                Panel(
                    "Failures by task and exception",
                    "Which task fails, and with what.",
                    (
                        q(
                            "sum by (name, exception) "
                            "(rate(celery_task_failed_total"
                            f'{{{QUEUE_NAME}, exception!=""}}{RATE}))',
                            "{{name}} {{exception}}",
                        ),
                    ),
                    unit="ops",
                ),
            ),
        ),
        Row(
            "API",
            (
                Panel(
                    "Requests per second by status",
                    "HTTP requests answered by the API, by status code.",
                    (
                        q(
                            "sum by (status) "
                            f"(rate(tasklane_api_requests_total{{{RELEASE}}}{RATE}))",
                            "{{status}}",
                        ),
                    ),
                    unit="reqps",
                ),
                Panel(
                    "API latency",
                    "Time to answer a request, every route together.",
                    _quantiles("tasklane_api_request_duration_seconds", RELEASE),
                    unit="s",
                ),
                Panel(
                    "API 5xx ratio",
                    "Server errors over all answers; above 5% fires TasklaneApiErrorRatioHigh.",
                    (
                        q(
                            "(sum(rate(tasklane_api_requests_total"
                            f'{{{RELEASE}, status=~"5.."}}{RATE})) or vector(0))'
                            f" / sum(rate(tasklane_api_requests_total{{{RELEASE}}}{RATE}))",
                            "5xx",
                        ),
                    ),
                    unit="percentunit",
                ),
                Panel(
                    "Submissions and rejections",
                    "Tasks accepted by the API per task, and submissions refused per reason.",
                    (
                        q(
                            "sum by (task) "
                            f"(rate(tasklane_api_tasks_submitted_total{{{RELEASE}}}{RATE}))",
                            "{{task}} accepted",
                        ),
                        q(
                            "sum by (reason) "
                            f"(rate(tasklane_api_tasks_rejected_total{{{RELEASE}}}{RATE}))",
                            "rejected: {{reason}}",
                        ),
                    ),
                    unit="ops",
                ),
            ),
        ),
        Row(
            "Redis",
            (
                Panel(
                    "Redis memory",
                    "Memory Redis uses against its maxmemory, read by the API from INFO memory "
                    "on each scrape. At maxmemory Redis refuses writes (noeviction): "
                    'submissions answer 503 "Redis is full". Above 80% fires '
                    "TasklaneRedisMemoryHigh, above 95% TasklaneRedisMemoryFull.",
                    (
                        q(f"max(tasklane_redis_memory_used_bytes{{{RELEASE}}})", "used"),
                        q(f"max(tasklane_redis_memory_max_bytes{{{RELEASE}}} > 0)", "maxmemory"),
                    ),
                    unit="bytes",
                ),
                Panel(
                    "Redis memory used of maxmemory",
                    "Used memory over maxmemory (nothing when Redis has no maxmemory).",
                    (
                        q(
                            f"max(tasklane_redis_memory_used_bytes{{{RELEASE}}})"
                            f" / max(tasklane_redis_memory_max_bytes{{{RELEASE}}} > 0)",
                            "used",
                        ),
                    ),
                    unit="percentunit",
                    kind="stat",
                ),
            ),
        ),
    ),
)

PER_TASK = Dashboard(
    uid="tasklane-task",
    title="tasklane / Task",
    description="One task type: its traffic, outcomes, runtime and failures.",
    extra_variables=(("task", "Task", f"label_values(celery_task_sent_total{{{RELEASE}}}, name)"),),
    rows=(
        Row(
            "$task",
            (
                Panel(
                    "Lifecycle events",
                    "Sent, received, started, succeeded, failed and retried per second.",
                    tuple(
                        q(f"sum(rate(celery_task_{event}_total{{{TASK}}}{RATE}))", event)
                        for event in (
                            "sent",
                            "received",
                            "started",
                            "succeeded",
                            "failed",
                            "retried",
                        )
                    ),
                    unit="ops",
                ),
                Panel(
                    "Runtime",
                    "Run time of the task's successful runs.",
                    _quantiles("celery_task_runtime", TASK, by="name"),
                    unit="s",
                ),
                Panel(
                    "Failures by exception",
                    "The exceptions that failed the task.",
                    (
                        q(
                            "sum by (name, exception) "
                            f'(increase(celery_task_failed_total{{{TASK}, exception!=""}}{RATE}))',
                            "{{name}} {{exception}}",
                        ),
                    ),
                ),
                Panel(
                    "Submitted and rejected by the API",
                    "Submissions over HTTP; beat and other producers are in Lifecycle events.",
                    (
                        q(
                            "sum by (task) (rate(tasklane_api_tasks_submitted_total"
                            f'{{{RELEASE}, task=~"$task"}}{RATE}))',
                            "{{task}} accepted",
                        ),
                        q(
                            "sum by (task, reason) (rate(tasklane_api_tasks_rejected_total"
                            f'{{{RELEASE}, task=~"$task"}}{RATE}))',
                            "{{task}} rejected: {{reason}}",
                        ),
                    ),
                    unit="ops",
                ),
            ),
        ),
    ),
)

AUTOSCALER = f'{RELEASE}, autoscaler=~"$autoscaler"'

AUTOSCALING = Dashboard(
    uid="tasklane-autoscaling",
    title="tasklane / Autoscaling",
    description="The WorkerAutoscaler operator: backlog against current and desired replicas.",
    extra_variables=(
        (
            "autoscaler",
            "WorkerAutoscaler",
            f"label_values(tasklane_autoscaler_desired_replicas{{{RELEASE}}}, autoscaler)",
        ),
    ),
    rows=(
        Row(
            "Decisions",
            (
                Panel(
                    "Backlog against replicas",
                    "What the operator read (waiting and reserved tasks of the pool's queues) "
                    "and what it decided: current and desired replicas, against the maximum.",
                    (
                        q(
                            "sum by (autoscaler) "
                            f'(tasklane_autoscaler_backlog{{{AUTOSCALER}, queue=~"$queue"}})',
                            "{{autoscaler}} waiting",
                        ),
                        q(
                            "sum by (autoscaler) "
                            f'(tasklane_autoscaler_reserved{{{AUTOSCALER}, queue=~"$queue"}})',
                            "{{autoscaler}} reserved",
                        ),
                        q(
                            "max by (autoscaler) "
                            f"(tasklane_autoscaler_current_replicas{{{AUTOSCALER}}})",
                            "{{autoscaler}} current replicas",
                        ),
                        q(
                            "max by (autoscaler) "
                            f"(tasklane_autoscaler_desired_replicas{{{AUTOSCALER}}})",
                            "{{autoscaler}} desired replicas",
                        ),
                        q(
                            "max by (autoscaler) "
                            f"(tasklane_autoscaler_max_replicas{{{AUTOSCALER}}})",
                            "{{autoscaler}} max replicas",
                        ),
                    ),
                    width=24,
                ),
                Panel(
                    "Decisions by reason",
                    "Why the operator chose its replicas: backlog, idle, stabilizing, "
                    "running-tasks, busy-replicas, idle-before-zero, scheduled-surge, spike-floor, "
                    "steady or bounds (the autoscaler README says what each means). Tasks waiting "
                    "while current replicas are at the maximum for 15 minutes fires "
                    "TasklaneAutoscalerPinnedAtMax.",
                    (
                        q(
                            "sum by (autoscaler, reason) "
                            f"(rate(tasklane_autoscaler_decisions_total{{{AUTOSCALER}}}{RATE}))",
                            "{{autoscaler}} {{reason}}",
                        ),
                    ),
                    unit="ops",
                ),
                Panel(
                    "Scale changes",
                    "Changes of the pool's replicas by direction.",
                    (
                        q(
                            "sum by (autoscaler, direction) "
                            f"(increase(tasklane_autoscaler_scale_patches_total{{{AUTOSCALER}}}"
                            f"{RATE}))",
                            "{{autoscaler}} {{direction}}",
                        ),
                    ),
                    empty_by_design="counts only changes: a pool whose replicas never changed "
                    "has no series yet",
                ),
                Panel(
                    "Backlog per queue (tasklane API)",
                    "The same backlog as the API exports it, for queues no autoscaler covers.",
                    (_backlog_per_queue(),),
                ),
                Panel(
                    "Estimated queue wait",
                    "Waiting tasks over their start rate: is the pool's size keeping up?",
                    (_estimated_wait(),),
                    unit="s",
                ),
            ),
        ),
    ),
)

DASHBOARDS = (OVERVIEW, PER_TASK, AUTOSCALING)


def _variable(name: str, label: str, query: str, *, multi: bool = True) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(DATASOURCE)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def _panel(panel: Panel) -> timeseries.Panel | stat.Panel:
    builder = timeseries.Panel() if panel.kind == "timeseries" else stat.Panel()
    description = panel.description
    if panel.empty_by_design:
        description += f" Empty by design when it {panel.empty_by_design}."
    builder = (
        builder.title(panel.title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(panel.unit)
        .height(8)
        .span(panel.width)
    )
    for number, query in enumerate(panel.queries):
        builder = builder.with_target(
            prometheus.Dataquery()
            .expr(query.expr)
            .legend_format(query.legend)
            .ref_id(chr(ord("A") + number))
            .datasource(DATASOURCE)
        )
    return builder


def build(spec: Dashboard) -> dict[str, object]:
    builder = (
        db.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["tasklane"])
        .time("now-1h", "now")
        .refresh("30s")
        .with_variable(db.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            _variable(
                "namespace", "Namespace", "label_values(tasklane_api_requests_total, namespace)"
            )
        )
        .with_variable(
            _variable(
                "release",
                "Release",
                'label_values(tasklane_api_requests_total{namespace=~"$namespace"}, release)',
            )
        )
        .with_variable(
            _variable("queue", "Queue", f"label_values(tasklane_queue_waiting{{{RELEASE}}}, queue)")
        )
    )
    for name, label, query in spec.extra_variables:
        builder = builder.with_variable(_variable(name, label, query))
    for row in spec.rows:
        builder = builder.with_row(db.Row(row.title))
        for panel in row.panels:
            builder = builder.with_panel(_panel(panel))
    encoded: dict[str, object] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return encoded


def render_all() -> dict[str, str]:
    """File name -> the JSON text committed under helm/tasklane/files/dashboards/."""
    return {
        f"{spec.uid}.json": json.dumps(build(spec), indent=2, sort_keys=True) + "\n"
        for spec in DASHBOARDS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when the JSON is stale")
    args = parser.parse_args(argv)
    wanted = render_all()
    if args.check:
        stale = sorted(
            name
            for name, text in wanted.items()
            if not (OUTPUT_DIR / name).exists() or (OUTPUT_DIR / name).read_text() != text
        )
        extra = sorted(p.name for p in OUTPUT_DIR.glob("*.json") if p.name not in wanted)
        if stale or extra:
            print(f"stale dashboards: {stale + extra}; run `make dashboards`", file=sys.stderr)
            return 1
        return 0
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT_DIR.glob("*.json"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (OUTPUT_DIR / name).write_text(text)
    print(f"wrote {', '.join(sorted(wanted))} to {OUTPUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
