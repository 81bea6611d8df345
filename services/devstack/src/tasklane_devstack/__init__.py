"""`make run`: the whole tasklane stack as local processes, no Docker needed."""
