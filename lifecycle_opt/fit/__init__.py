"""Fitting laws to training runs: reading runs, the parametric fit, the three approaches."""
