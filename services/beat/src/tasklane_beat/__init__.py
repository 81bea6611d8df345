"""tasklane's Celery beat: the periodic schedule, fired by one owner at a time."""
