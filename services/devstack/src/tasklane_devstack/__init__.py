"""tasklane devstack."""
