"""tasklane api."""
