"""Flower, Celery's monitoring UI, run with tasklane's Celery configuration: the contract's Redis
transport, JSON-only serializers and queues, so it lists tasklane's tasks and workers and its
revoke and pool controls reach them. It never starts without authentication."""
