"""The kopf operator: one timer per WorkerAutoscaler reads the backlog, asks the policy, and
sets the worker Deployment's replicas. Handlers stay thin: the decision is `policy.decide`,
the reading is `observe.read_queues`, the pod ordering is `deletion_cost`."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Mapping
from typing import Any

import kombu.exceptions
import kopf
import prometheus_client
import redis

from tasklane_autoscaler.config import AutoscalerSettings
from tasklane_autoscaler.deletion_cost import (
    DELETION_COST_ANNOTATION,
    changed_costs,
    current_pods,
    deletion_costs,
    idle_replicas,
)
from tasklane_autoscaler.kube import KubernetesApi, KubernetesApiError, selector_string
from tasklane_autoscaler.leaving import leaving_pods, tasks_on_leaving
from tasklane_autoscaler.metrics import AutoscalerMetrics
from tasklane_autoscaler.observe import QueueReading, backlog_client, read_queues
from tasklane_autoscaler.policy import Decision, Observation, PolicyState, ScalingSpec, decide
from tasklane_autoscaler.spec import GROUP, PLURAL, VERSION, parse_spec
from tasklane_autoscaler.task_ages import finished_since
from tasklane_autoscaler.worker_load import ANSWER_REUSE_S, LastAnswer, running_tasks_by_worker
from tasklane_contract import Settings
from tasklane_contract.celery_config import create_celery_app

# Timers wake this often; each object acts every spec.pollIntervalSeconds.
TIMER_TICK_S = 1.0
# What Redis or the broker raise when they are away or a pooled connection went stale (after a
# restart, or a CLIENT KILL): a reason to try again at the next poll, not a handler failure
# (which kopf would retry only after its 60 s backoff).
BROKER_ERRORS = (redis.RedisError, kombu.exceptions.OperationalError, ConnectionError, TimeoutError)

# The operator's own lines: one per scaling decision that changes something. Routine polls log
# nothing at INFO (see `start`).
log = logging.getLogger("tasklane_autoscaler")


def _credentials(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo | None:
    # In a pod: the service account; on a laptop or in tests: KUBECONFIG.
    return kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
    return _credentials(settings)


@kopf.on.startup()
async def start(
    settings: kopf.OperatorSettings,
    memo: Any,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    # A timer succeeds every tick: its log line must not become an Event each time. The Events
    # written are the scaling decisions (kopf.event) and warnings.
    settings.posting.level = logging.WARNING
    # kopf logs each handler's success at INFO on `kopf.objects`: every poll of every
    # WorkerAutoscaler, and every watch event its own status patches cause (tens of thousands
    # of lines a day per pool). Failures are WARNING and above, and stay; the decisions are
    # logged on `tasklane_autoscaler`. TASKLANE_LOG_LEVEL=DEBUG brings the routine lines back.
    app_settings = Settings()
    if app_settings.log_level != "DEBUG":
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.peering.standalone = True  # one operator replica (Recreate strategy)
    # The CRD is installed with the chart: no watching of CRDs or namespaces, so the operator
    # needs no cluster-wide read access beyond what it scales.
    settings.scanning.disabled = True
    own = AutoscalerSettings()
    memo.own_settings = own
    memo.redis = backlog_client(app_settings)
    memo.celery = create_celery_app(app_settings, main="tasklane-autoscaler")
    memo.metrics = AutoscalerMetrics()
    if own.metrics_port:
        prometheus_client.start_http_server(own.metrics_port, registry=memo.metrics.registry)
    info = _credentials(settings)
    if info is None:
        raise kopf.PermanentError("no Kubernetes credentials: no service account, no KUBECONFIG")
    memo.kube = KubernetesApi(info)
    logger.info(
        "autoscaler ready: redis %s, kubernetes %s", app_settings.redis_display, info.server
    )


@kopf.on.cleanup()
async def stop(memo: Any, **_: Any) -> None:
    if "kube" in memo:
        await memo.kube.close()
    if "redis" in memo:
        memo.redis.close()


# The raw watch event, not `on.delete`: deletion handlers without a finalizer are not called
# for an object that is already gone, and a finalizer would be more than metrics are worth.
@kopf.on.event(GROUP, VERSION, PLURAL)
async def forget_deleted(
    type: str | None, name: str, namespace: str | None, uid: str | None, memo: Any, **_: Any
) -> None:
    if type == "DELETED":
        memo.metrics.forget(f"{namespace}/{name}", uid)


@kopf.timer(GROUP, VERSION, PLURAL, interval=TIMER_TICK_S)
async def autoscale(
    name: str,
    namespace: str | None,
    uid: str | None,
    spec: kopf.Spec,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: Any,
    **_: Any,
) -> None:
    if namespace is None:
        raise kopf.PermanentError("a WorkerAutoscaler is namespaced")
    try:
        config = parse_spec(spec)
    except ValueError as error:
        _warn_once(memo, body, "InvalidSpec", str(error))
        raise kopf.PermanentError(str(error)) from error
    now = time.monotonic()
    if now < memo.get("next_poll_at", 0.0):
        return
    memo.next_poll_at = now + config.poll_interval_s

    try:
        reading = await _read_queues(memo, config.queues, retry_s=config.poll_interval_s)
        deployment = await _get_deployment(memo.kube, namespace, config.target_deployment)
    except kopf.TemporaryError as error:
        _warn_once(memo, body, "CannotScale", str(error))
        raise
    memo.warned = False
    current = int(deployment.get("spec", {}).get("replicas", 1))
    # The API server leaves readyReplicas out when it is 0.
    ready = int(deployment.get("status", {}).get("readyReplicas", 0))
    selector = config.pod_selector or selector_string(
        deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
    )
    worker_pods = await _worker_pods(memo.kube, namespace, selector)
    retry_s = config.poll_interval_s
    on_leaving = await _tasks_on_leaving_pods(memo, worker_pods, retry_s)

    observation = Observation(
        time=now,
        waiting=reading.waiting,
        reserved=reading.reserved,
        replicas=current,
        ready=ready,
        running_mean_age_s=reading.running_mean_age_s,
        reserved_on_leaving=on_leaving,
        finished_of_reserved=finished_since(memo.get("reserved_tags"), reading.reserved_tags),
    )
    memo.reserved_tags = reading.reserved_tags
    state = memo.get("policy_state")
    decision = decide(observation, config.scaling, state)
    running: dict[str, int] | None = None
    if decision.desired < current:
        # Which pods run nothing is asked of Celery only when a scale-down is on the table; the
        # policy is pure, so it decides again on the same state knowing it. A recent answer may
        # hold the scale-down; one that goes ahead is decided on a fresh answer.
        running, asked_now = await _running_by_worker(memo, retry_s, ANSWER_REUSE_S)
        decision = _decide_knowing_idle(observation, config.scaling, state, worker_pods, running)
        if decision.desired < current and not asked_now:
            running, _asked_now = await _running_by_worker(memo, retry_s)
            decision = _decide_knowing_idle(
                observation, config.scaling, state, worker_pods, running
            )
    memo.policy_state = decision.state

    if decision.desired != current:
        if decision.desired < current:
            assert running is not None
            await _mark_idle_workers_first(memo, namespace, worker_pods, running)
        await _set_replicas(memo.kube, namespace, config.target_deployment, decision.desired)
        message = (
            f"{config.target_deployment}: {current} -> {decision.desired} replicas "
            f"({decision.reason.value}: {reading.waiting} waiting, {reading.reserved} reserved)"
        )
        log.info("%s/%s: %s", namespace, name, message)
        kopf.event(  # explicit type: not filtered by the posting level set at startup
            body,
            type="Normal",
            reason="ScaledUp" if decision.desired > current else "ScaledDown",
            message=message,
        )
        patch.status["lastScaleTime"] = datetime.datetime.now(datetime.UTC).isoformat()

    # A poll under way when its object was deleted must not bring the dropped series back.
    if not memo.metrics.forgotten(uid):
        _record_metrics(
            memo.metrics, f"{namespace}/{name}", reading, current, decision, config.scaling
        )
    patch.status.update(_status(reading, current, decision))


def _status(reading: QueueReading, current: int, decision: Decision) -> dict[str, Any]:
    if decision.desired > current:
        what = "scale-up"
    elif decision.desired < current:
        what = "scale-down"
    else:
        what = "hold"
    return {
        "backlog": reading.waiting,
        "reserved": reading.reserved,
        "currentReplicas": current,
        "desiredReplicas": decision.desired,
        "lastDecision": what,
        "reason": decision.reason.value,
        "scaleDownWindowSeconds": decision.window_s,
    }


def _record_metrics(
    metrics: AutoscalerMetrics,
    key: str,
    reading: QueueReading,
    current: int,
    decision: Decision,
    scaling: ScalingSpec,
) -> None:
    for queue, backlog in reading.backlogs.items():
        metrics.backlog.labels(key, queue).set(backlog.waiting)
        metrics.reserved.labels(key, queue).set(backlog.reserved)
    metrics.current_replicas.labels(key).set(current)
    metrics.desired_replicas.labels(key).set(decision.desired)
    metrics.min_replicas.labels(key).set(scaling.min_replicas)
    metrics.max_replicas.labels(key).set(scaling.max_replicas)
    metrics.decisions.labels(key, decision.reason.value).inc()
    if decision.desired != current:
        direction = "up" if decision.desired > current else "down"
        metrics.scale_patches.labels(key, direction).inc()


def _warn_once(memo: Any, body: kopf.Body, reason: str, message: str) -> None:
    """A Warning Event when a problem starts, not on every retry while it lasts."""
    if not memo.get("warned", False):
        kopf.event(body, type="Warning", reason=reason, message=message)
        memo.warned = True


async def _read_queues(memo: Any, queues: tuple[str, ...], retry_s: float) -> QueueReading:
    try:
        reading: QueueReading = await asyncio.to_thread(read_queues, memo.redis, queues)
    except BROKER_ERRORS as error:
        raise kopf.TemporaryError(f"cannot read the backlog: {error}", delay=retry_s) from error
    return reading


async def _get_deployment(kube: KubernetesApi, namespace: str, name: str) -> dict[str, Any]:
    try:
        return await kube.get_deployment(namespace, name)
    except KubernetesApiError as error:
        if error.status == 404:
            raise kopf.TemporaryError(
                f"Deployment {namespace}/{name} not found", delay=10
            ) from error
        raise kopf.TemporaryError(f"cannot read Deployment {name}: {error}", delay=10) from error


async def _set_replicas(kube: KubernetesApi, namespace: str, name: str, replicas: int) -> None:
    try:
        await kube.set_replicas(namespace, name, replicas)
    except KubernetesApiError as error:
        raise kopf.TemporaryError(f"cannot scale Deployment {name}: {error}", delay=5) from error


async def _worker_pods(kube: KubernetesApi, namespace: str, selector: str) -> list[dict[str, Any]]:
    try:
        pods = await kube.list_pods(namespace, selector)
    except KubernetesApiError as error:
        raise kopf.TemporaryError(f"cannot list worker pods: {error}", delay=5) from error
    wanted_labels = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
    return [pod for pod in pods if _labels_match(pod, wanted_labels)]


def _decide_knowing_idle(
    observation: Observation,
    scaling: ScalingSpec,
    state: PolicyState | None,
    worker_pods: list[dict[str, Any]],
    running: dict[str, int],
) -> Decision:
    idle = idle_replicas(current_pods(worker_pods), running)
    return decide(dataclasses.replace(observation, idle_replicas=idle), scaling, state)


async def _running_by_worker(
    memo: Any, retry_s: float, max_age_s: float = 0.0
) -> tuple[dict[str, int], bool]:
    """Running tasks per worker: Celery's last answer if younger than `max_age_s`, else a new
    one; and whether it was asked for now. Without an answer (Redis away, a stale pooled
    connection) nothing that needs it is decided: the poll is tried again in `retry_s`."""
    last: LastAnswer = memo.setdefault("last_running_answer", LastAnswer())
    reusable = last.within(time.monotonic(), max_age_s)
    if reusable is not None:
        return reusable, False
    own: AutoscalerSettings = memo.own_settings
    try:
        running: dict[str, int] = await asyncio.to_thread(
            running_tasks_by_worker, memo.celery, own.inspect_timeout_seconds
        )
    except BROKER_ERRORS as error:
        raise kopf.TemporaryError(
            f"cannot ask the workers what they run: {error}", delay=retry_s
        ) from error
    last.remember(time.monotonic(), running)
    return running, True


async def _tasks_on_leaving_pods(memo: Any, pods: list[dict[str, Any]], retry_s: float) -> int:
    """Reserved tasks on pods being terminated: asked of Celery only when there are such pods."""
    leaving = leaving_pods(pods)
    if not leaving:
        return 0
    running, _asked_now = await _running_by_worker(memo, retry_s, ANSWER_REUSE_S)
    return tasks_on_leaving(leaving, running)


async def _mark_idle_workers_first(
    memo: Any, namespace: str, pods: list[dict[str, Any]], running: dict[str, int]
) -> None:
    """Before a scale-down: pod-deletion-cost = running tasks, so idle pods are removed first."""
    current = current_pods(pods)
    try:
        for pod, cost in changed_costs(deletion_costs(current, running), current).items():
            await memo.kube.annotate_pod(namespace, pod, {DELETION_COST_ANNOTATION: str(cost)})
    except KubernetesApiError as error:
        # Without the costs the ReplicaSet would pick pods blindly: wait rather than guess.
        raise kopf.TemporaryError(f"cannot set pod-deletion-cost: {error}", delay=5) from error


def _labels_match(pod: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
    labels = pod.get("metadata", {}).get("labels", {}) or {}
    return all(labels.get(key) == value for key, value in wanted.items())
