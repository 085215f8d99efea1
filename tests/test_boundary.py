"""The loss target's boundary the batch solver walks (lifecycle_opt/solvers/boundary.py):
log N = g(log D) meets the target exactly, with g' and g'' against finite differences,
with and without the repetition penalty."""
import math

import numpy as np
import pytest

from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.solvers.batch_data import batch_from_problems
from lifecycle_opt.solvers.boundary import BatchLaw


@pytest.mark.parametrize("data", [None, {"unique_tokens": 3e10, "repetition_penalty": True}])
def test_the_curve_meets_the_target_and_its_derivatives(data):
    raw = {"law": {"preset": "muennighoff2023"}, "target": {"loss": 2.4}, "objective": {"minimize": "flops"}}
    if data:
        raw["data"] = data
    scenario = scenario_from_dict(raw)
    batch = batch_from_problems([build_problem(scenario)])
    law = BatchLaw(batch, penalty=data is not None)
    i = np.zeros(1, dtype=int)
    for y in np.log([2e10, 6e10, 3e11]):
        x, g1, g2 = (float(v[0]) for v in law.curve(np.array([y]), i, second=True))
        assert float(scenario.loss_law.loss(math.exp(x), math.exp(y))) == pytest.approx(2.4, rel=1e-12)
        h = 1e-5
        up, down = (float(law.curve(np.array([y + s]), i)[0][0]) for s in (h, -h))
        assert g1 == pytest.approx((up - down) / (2 * h), rel=1e-5)
        assert g2 == pytest.approx((up - 2 * x + down) / h ** 2, rel=1e-3, abs=1e-6)
        assert g1 < 0 and g2 >= -1e-9                              # decreasing and convex
