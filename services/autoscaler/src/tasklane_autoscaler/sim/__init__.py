"""A deterministic discrete-event simulation of Celery workers under an autoscaler.

It replays a workload trace against one scaling controller at a time, so scaling policies can be
compared on the same arrivals and task durations: how long tasks waited, and how many
replica-seconds were paid for.
"""
