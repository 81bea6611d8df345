"""tasklane worker."""
