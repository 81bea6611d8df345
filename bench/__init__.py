"""`make bench`: tasklane's API and worker against the textbook FastAPI + Celery pattern."""
