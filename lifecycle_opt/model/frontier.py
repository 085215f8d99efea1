"""The compute-optimal frontier of a Chinchilla-form law L = E + A/N^α + B/D^β: the split
of a training budget C = 6·N·D between parameters and tokens that minimises the loss, and
the plan of a given reducible loss (Hoffmann et al. 2022, eq. 4; docs/model.md §2.1).
Closed forms, used by the laws, the fits, the boundary and the rows alike.

References
----------
Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv 2203.15556.
"""
from __future__ import annotations

__all__ = ["frontier_scale", "compute_optimal_split", "compute_optimal_plan", "compute_optimal_at_reducible"]

import numpy as np

from .constants import TRAIN_FLOPS_PER_PARAM_TOKEN


def frontier_scale(A, B, alpha, beta):
    """Return G = (α·A / (β·B))^(1/(α+β)), the scale of the compute-optimal frontier.

    Parameters
    ----------
    A, B, alpha, beta : float or numpy.ndarray
        The Chinchilla-form constants (docs/model.md §2.1); arrays broadcast.

    Returns
    -------
    float or numpy.ndarray
        G [–]: on the frontier N = G·(C/6)^(β/(α+β)).
    """
    return (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))


def compute_optimal_split(A, B, alpha, beta):
    """Return the exponents and scales of the compute-optimal plan.

    Parameters
    ----------
    A, B, alpha, beta : float or numpy.ndarray
        The Chinchilla-form constants; arrays broadcast.

    Returns
    -------
    tuple
        (a, b, k_N, k_D): N_opt(C) = k_N·C^a [parameters], D_opt(C) = k_D·C^b [tokens] at
        C = 6·N·D [FLOP]; a = β/(α+β), b = α/(α+β), k_N = G·6^(−a), k_D = 6^(−b)/G.

    Examples
    --------
    Approach 3 of Hoffmann et al. 2022 (arXiv:2203.15556, Table 2: a = 0.46, b = 0.54):

    >>> a, b, k_N, k_D = compute_optimal_split(406.401, 410.723, 0.33917084, 0.2849083)
    >>> round(a, 2), round(b, 2)
    (0.46, 0.54)
    """
    s = alpha + beta
    G = frontier_scale(A, B, alpha, beta)
    a, b = beta / s, alpha / s
    return a, b, G * TRAIN_FLOPS_PER_PARAM_TOKEN ** -a, TRAIN_FLOPS_PER_PARAM_TOKEN ** -b / G


def compute_optimal_plan(flops, A, B, alpha, beta):
    """Return the plan minimising the loss at a training compute.

    Parameters
    ----------
    flops : float or numpy.ndarray
        Training compute C = 6·N·D [FLOP].
    A, B, alpha, beta : float or numpy.ndarray
        The Chinchilla-form constants; arrays broadcast.

    Returns
    -------
    tuple of numpy.ndarray
        (N_opt [parameters], D_opt [tokens]): N_opt = G·(C/6)^(β/(α+β)),
        D_opt = G^(−1)·(C/6)^(α/(α+β)) (docs/model.md §2.1).

    Examples
    --------
    At Gopher's compute, 5.76e23 FLOP, the unrounded fit of Hoffmann et al. 2022 (App. D.2,
    via Besiroglu et al. 2024, arXiv:2404.10102) gives the paper's "40B" parameters:

    >>> N, D = compute_optimal_plan(5.76e23, 406.401, 410.723, 0.33917084, 0.2849083)
    >>> round(float(N) / 1e9, 1), abs(float(6 * N * D) / 5.76e23 - 1) < 1e-12
    (40.4, True)
    """
    a, b, k_N, k_D = compute_optimal_split(A, B, alpha, beta)
    C = np.asarray(flops, dtype=float)
    return k_N * C ** a, k_D * C ** b


def compute_optimal_at_reducible(reducible, A, B, alpha, beta):
    """Return the plan reaching a reducible loss with the least training compute.

    On the compute-optimal frontier α·A·N^−α = β·B·D^−β, so P splits as
    A·N^−α = β·P/(α+β) and B·D^−β = α·P/(α+β) (docs/model.md §2.1).

    Parameters
    ----------
    reducible : float or numpy.ndarray
        P = L − E [nats/token], positive.
    A, B, alpha, beta : float or numpy.ndarray
        The Chinchilla-form constants; arrays broadcast.

    Returns
    -------
    tuple of numpy.ndarray
        (N [parameters], D [tokens]).
    """
    P = np.asarray(reducible, dtype=float)
    s = alpha + beta
    return (A * s / (beta * P)) ** (1.0 / alpha), (B * s / (alpha * P)) ** (1.0 / beta)
