"""One module per starter task: its argument model, result model and catalog entry."""
