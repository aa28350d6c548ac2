"""Scorers: the metrics of a run's predictions against the dataset's targets."""
