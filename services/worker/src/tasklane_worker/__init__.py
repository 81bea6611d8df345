"""tasklane's Celery worker: implementations of every task in the contract."""
