"""tasklane beat."""
