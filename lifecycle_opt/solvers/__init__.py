"""Solvers: the optimisation problem, the exact certified solver and the batch solver."""
