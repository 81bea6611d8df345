"""Flower, Celery's monitoring UI, run with tasklane's Celery configuration (JSON-only
serializers, the queues and routes, the result backend, the Redis password), so it lists
tasklane's tasks and workers and its revoke and pool controls reach them. It never starts
without authentication."""
