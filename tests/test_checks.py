"""The checks both solvers make, as array functions: the search box's edges and a flat
loss objective."""
import math

import numpy as np

from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.solvers.batch_data import batch_from_problems
from lifecycle_opt.solvers.boundary import BatchLaw
from lifecycle_opt.solvers.checks import at_box_edge, box_sides, flat_loss
from lifecycle_opt.problem.formulation import BOX, build_problem


def test_the_box_edges_are_found_side_by_side():
    (xl, xu), (yl, yu) = BOX
    x = np.array([xl, xu, 20.0, 20.0, 20.0, xu - 1e-7])
    y = np.array([25.0, 25.0, yl, yu, 25.0, 25.0])
    sides = box_sides(x, y)
    assert sides["x_low"].tolist() == [True, False, False, False, False, False]
    assert sides["x_high"].tolist() == [False, True, False, False, False, False]
    assert sides["y_low"].tolist() == [False, False, True, False, False, False]
    assert sides["y_high"].tolist() == [False, False, False, True, False, False]
    # a solver that stops 1e-6 below the top counts as on the edge with its own margin
    assert at_box_edge(x, y, top_x_margin=1e-6).tolist() == [True, True, True, True, False, True]


def _loss_law(raw):
    batch = batch_from_problems([build_problem(scenario_from_dict(raw))])
    return BatchLaw(batch, penalty=bool(np.isfinite(batch.unique[0])))


def test_a_loss_saturated_in_N_is_flat_and_a_compute_optimal_one_is_not():
    # 1e24 FLOP over 1e9 unique tokens at 16 epochs at most: D is pinned by the epochs and
    # N far beyond what the data can feed, where N' saturates (Muennighoff et al. 2023 eq. 15)
    raw = {"law": {"preset": "muennighoff2023"}, "objective": {"minimize": "loss"},
           "budget": {"training_flops": 1e24},
           "data": {"unique_tokens": 1e9, "max_epochs": 16, "repetition_penalty": True}}
    law = _loss_law(raw)
    x, y = np.array([math.log(1e13)]), np.array([math.log(16e9)])
    assert flat_loss(law, x, y, np.arange(1), np.zeros((1, 2)) + 1.0)[0]
    # the same law without a corpus limit, at a Chinchilla-sized plan: the loss still falls
    law = _loss_law({**raw, "data": {}})
    x, y = np.array([math.log(1e10)]), np.array([math.log(2e11)])
    assert not flat_loss(law, x, y, np.arange(1), np.zeros((1, 2)) + 1.0)[0]
    # a zero gradient is flat by itself
    assert flat_loss(law, x, y, np.arange(1), np.zeros((1, 2)))[0]
