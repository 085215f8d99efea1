"""The optimisation problem: typed constraints and objectives over the log variables."""
