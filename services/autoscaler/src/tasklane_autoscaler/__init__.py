"""tasklane's worker autoscaler: scale Celery workers on queue backlog.

The decision lives in `policy` (pure, no I/O); `operator` applies it to Kubernetes Deployments,
`local` to worker processes on one machine, and `simulate` replays workload traces against it
and against a model of KEDA's defaults.
"""
