"""One evaluation run: dataset, provider, scorers -> the run directory with its provenance."""
