"""The exact solver's numpy opinion (solvers/barrier.py): a primal-dual barrier method that
finds the same optimum as scipy's SLSQP and as the certified plan, Phase I that finds a
strictly feasible start or says there is none, SLSQP where it does not apply (said in the
certificate), and `lifeopt solve` without scipy.optimize."""
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from lifecycle_opt.errors import LifecycleError
from lifecycle_opt.plan.planning import solve
from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.solvers.barrier import phase_one_ipm, pinned, solve_barrier
from lifecycle_opt.solvers.slsqp import solve_scipy, start_point

from conftest import ROOT, example_plans
from test_batch import random_raw


def _gap(a, b) -> float:
    """The largest relative gap in N and D between two points in logs."""
    return float(np.max(np.abs(np.expm1(np.asarray(a)[:2] - np.asarray(b)[:2]))))


@pytest.mark.parametrize("name", ["chat_assistant.toml", "small_corpus.toml", "serving_slo.toml",
                                  "finance_plan.toml", "research_model.toml"])
def test_the_barrier_optimum_is_the_certified_plan_and_slsqps(name):
    """Independent truth: the certified plan (KKT residual ≤ 1e-9, reached by the batch
    solver or cvxpy) and scipy's SLSQP from the same start, each to 1e-6 in N and D. A
    serving problem is that of one replica size (docs/model.md §8), its size pinned by a cap
    and a floor: the start is strictly inside every other constraint and on the pin."""
    ((scenario, plan),) = example_plans(name)
    if scenario.serving is not None:              # the problem of the plan's replica size
        scenario = replace(scenario, serving=scenario.serving.at_size(int(plan.serving.relaxed.replica_gpus)))
    problem = build_problem(scenario)
    z0, s, strict = phase_one_ipm(problem, start_point(problem))
    pins, others = pinned(problem, z0)
    assert strict and s < 0 and max(c.value(z0) for c in others) < 0
    assert all(abs(c.value(z0)) <= 1e-12 for c in problem.constraints if c not in others)
    assert list(pins) == ([3] if scenario.serving is not None else [])       # G, the replica size
    z = solve_barrier(problem, z0)
    assert z is not None
    assert _gap(z, np.log([plan.params, plan.tokens])) <= 1e-6
    assert _gap(z, solve_scipy(problem, z0)) <= 1e-6
    assert plan.certificate.methods[1] == "numpy-barrier"


def test_random_scenarios_agree_with_slsqp():
    """Random scenarios of the batch tests' generator: wherever both converge, the barrier
    method's plan and SLSQP's agree (1e-6), and the certified plan is the barrier's."""
    rng = np.random.default_rng(31)
    compared = 0
    while compared < 15:
        raw = random_raw(rng)
        try:
            plan = solve(scenario_from_dict(raw))
        except LifecycleError:
            continue
        problem = build_problem(scenario_from_dict(raw))
        z0, _, strict = phase_one_ipm(problem, start_point(problem))
        z = solve_barrier(problem, z0) if strict else None
        if z is None:
            assert plan.certificate.methods[1] == "scipy-slsqp"
            continue
        assert _gap(z, np.log([plan.params, plan.tokens])) <= 1e-6, raw
        compared += 1


def test_phase_one_says_when_no_plan_exists():
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 1.9}, "inference": {"tokens": 1e12},
           "limits": {"max_params": 1e9, "max_tokens_per_param": 20}}
    problem = build_problem(scenario_from_dict(raw))
    _, s, strict = phase_one_ipm(problem, start_point(problem))
    # 1B parameters on at most 20B tokens reach L = 1.69 + 406.4/1e9^0.34 + 410.7/2e10^0.28,
    # about 2.58 nats, far above the target: every point violates something
    assert not strict and s > 0.01


def test_a_plan_pinned_by_its_limits_falls_back_to_slsqp_and_says_so():
    """Tokens per parameter held at exactly 20 by a floor and a cap: the feasible set has no
    interior, the barrier method cannot start, and SLSQP gives the second opinion."""
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "inference": {"tokens": 1e12},
           "limits": {"min_tokens_per_param": 20, "max_tokens_per_param": 20}}
    plan = solve(scenario_from_dict(raw))
    assert plan.certificate.methods[1] == "scipy-slsqp"
    assert plan.certificate.kkt_residual <= 1e-9 and plan.certificate.methods_agree
    assert plan.tokens / plan.params == pytest.approx(20, rel=1e-9)


def test_lifeopt_solve_does_not_import_scipy_optimize():
    code = ("import sys\n"
            "from lifecycle_opt.cli.app import cli\n"
            "cli.main(['solve', 'examples/chat_assistant.toml', '--format', 'json'], standalone_mode=False)\n"
            "print('scipy.optimize' in sys.modules, 'tabulate' in sys.modules, 'lifecycle_opt.fit.parametric' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False False False", done.stderr
