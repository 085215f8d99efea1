"""Property-based fuzzing of the whole path a planner's input takes: scenario dict →
Scenario → certified plan.

Scenarios are valid, borderline and invalid at once: sections missing, values of the wrong
type, units in the wrong place, NaN and infinity, zero and negative quantities, targets at
or below the irreducible loss, contradictory limits, budgets of 1e15–1e30 FLOP and
corpora of 1e6–1e16 tokens. Whatever comes in, the outcome is one of three:

* a ScenarioError whose message names the key and what was expected;
* an InfeasibleError listing the constraints in conflict, each with its scenario key;
* a plan whose certificate passes and which meets every constraint to 1e-9 relative.

A loss objective flat at its optimum (the budget buys more than the law can use) is a
SolverError that says so and what to set instead; it is counted. Known limits, found by
this fuzzer and not fixed, are let through and counted as events (see check_outcome): a
flat optimum that cannot be certified on a corpus under 1e8 tokens with the repetition
penalty, and solved plans without a second opinion (cvxpy failed).

Anything else (another exception, a plan that breaks a limit) fails the test. The default
run draws a small number of examples; the dedicated job sets LIFEOPT_FUZZ_EXAMPLES=10000
(`.ci/fuzz`).
"""
import math
import os

from hypothesis import HealthCheck, Phase, event, example, given, settings, strategies as st

from lifecycle_opt.errors import InfeasibleError, ScenarioError, SolverError
from lifecycle_opt.model.presets import PRESETS, preset
from lifecycle_opt.problem.formulation import build_problem
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.plan.planning import solve as plan

EXAMPLES = int(os.environ.get("LIFEOPT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
                suppress_health_check=list(HealthCheck),
                phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))
FEASIBLE = 1e-9            # relative slack allowed on any constraint of a returned plan

# ------------------------------------------------------------------ strategies
#: values that are wrong wherever they appear
JUNK = st.one_of(
    st.none(), st.booleans(), st.just(float("nan")), st.just(float("inf")), st.just(-float("inf")),
    st.just(0), st.just(-1.0), st.just(1e308), st.just(5e-324), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(("a", "b")), st.integers(), max_size=2),
    st.sampled_from(("", "abc", "70B", "1.4T", "$40M", "90 days", "2.1 nats", "1e", "-5T", "=1+1",
                     "nan", "inf", "1,000", "  ", "1.4 T tokens")),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30))


def log_uniform(lo: float, hi: float):
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10 ** e))


def _strategies(junk: bool) -> dict:
    """The value strategies of every scenario section; with ``junk``, about one draw in six
    of each value is junk."""
    def maybe(valid):
        return st.one_of(*([valid] * 5), JUNK) if junk else valid

    def section(**keys):
        """A table with any subset of ``keys`` (each a strategy of its value)."""
        return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in keys.items()})

    def table(**keys):
        """A table with every key of ``keys`` (any subset with junk)."""
        return section(**keys) if junk else st.fixed_dictionaries({k: v for k, v in keys.items()})

    def target(floor):
        # below the floor, at it, a hair above it, comfortably above it, or a reference model
        return st.one_of(
            st.fixed_dictionaries({"loss": maybe(st.floats(floor - 0.1, floor + 2.0))}),
            st.fixed_dictionaries({"loss": st.just(floor)}),
            st.fixed_dictionaries({"loss": st.floats(floor + 1e-9, floor + 1e-3)}),
            st.fixed_dictionaries({"reference": table(params=log_uniform(1e6, 1e14),
                                                      tokens=log_uniform(1e6, 1e16))}))

    def gpu(names, training: bool):
        low = 0.0 if junk else 0.01
        keys = dict(gpu=st.sampled_from(names + (("TPU9", "A100") if junk else ())),
                    mfu=st.floats(low, 1.5 if junk else 1.0))
        keys["price_per_gpu_hour"] = st.floats(low * 10, 20)
        if training:
            keys["gpus"] = st.integers(-1 if junk else 1, 10**6)
        return table(**keys)

    laws = [st.fixed_dictionaries({"preset": st.sampled_from(PRESETS)}),
            table(E=st.floats(0.0 if junk else 0.1, 3.0), A=log_uniform(1, 1e5), B=log_uniform(1, 1e5),
                  alpha=st.floats(0.05, 1.2), beta=st.floats(0.05, 1.2))]
    if junk:
        laws += [st.fixed_dictionaries({"preset": st.sampled_from(("chinchilla", "", "hoffmann"))})]
    return {
        "law": maybe(st.one_of(*laws)),
        "target": target,
        "inference": st.one_of(table(tokens=st.one_of(st.just(0.0), log_uniform(1e6, 1e16))),
                               table(requests=log_uniform(1, 1e13), input_tokens=st.floats(1, 1e5),
                                     output_tokens=st.floats(1, 1e5))),
        "objective": table(minimize=st.sampled_from(("cost", "flops", "loss") + (("speed",) if junk else ()))),
        "data": st.one_of(section(unique_tokens=log_uniform(1e6, 1e16), max_epochs=st.floats(0, 200),
                                  repetition_penalty=st.booleans()),
                          st.fixed_dictionaries({"unique_tokens": log_uniform(1e6, 1e16)},
                                                optional={"max_epochs": st.floats(0.5, 200),
                                                          "repetition_penalty": st.booleans()})),
        "budget": section(training_flops=log_uniform(1e15, 1e30), training_cost=log_uniform(1e2, 1e12),
                          total_cost=log_uniform(1e2, 1e13)),
        "limits": section(max_params=log_uniform(1e6, 1e14), min_tokens_per_param=st.floats(0, 1e4),
                          max_tokens_per_param=st.floats(0, 1e5), max_training_days=st.floats(0, 1e4),
                          max_training_cost=log_uniform(1e2, 1e12), max_total_cost=log_uniform(1e2, 1e13)),
        "hardware": st.one_of(*([st.just({})] if junk else []), st.fixed_dictionaries(
            {"training": gpu(("H100", "A100-80GB", "B200"), True),
             "inference": gpu(("H100", "A100-40GB"), False)})),
    }


CLEAN, DIRTY = _strategies(junk=False), _strategies(junk=True)


@st.composite
def scenario_dicts(draw) -> dict:
    """Two draws in three have well-typed values (still borderline: missing sections,
    extreme magnitudes, contradictory limits); the third has junk in any value."""
    junk = draw(st.integers(0, 2)) == 0
    keys = DIRTY if junk else CLEAN
    law = draw(keys["law"])
    floor = 1.7
    if isinstance(law, dict) and law.get("preset") in PRESETS:
        floor = preset(law["preset"]).irreducible_loss
    elif isinstance(law, dict) and isinstance(law.get("E"), float) and 0 <= law["E"] <= 10:
        floor = law["E"]
    raw = {"law": law, "target": draw(st.one_of(keys["target"](floor), JUNK) if junk else keys["target"](floor))}
    for key in ("inference", "objective", "data", "budget", "limits", "hardware"):
        raw[key] = draw(keys[key])
    if not junk and raw["objective"]["minimize"] == "loss" and not raw["budget"]:
        raw["budget"] = {"training_flops": draw(log_uniform(1e15, 1e30))}
    # drop a section now and then, and with junk put a stray key at the top
    if draw(st.integers(0, 2 if junk else 9)) == 0:
        del raw[draw(st.sampled_from(sorted(raw)))]
    if junk and draw(st.integers(0, 9)) == 0:
        raw[draw(st.sampled_from(("limit", "targets", "law ")))] = {}
    return raw


# ------------------------------------------------------------------ the properties
def check_outcome(raw: dict) -> str:
    """Run ``raw`` through the API and check the outcome; returns its kind."""
    scenario = None
    try:
        scenario = scenario_from_dict(raw)
        solution = plan(scenario)
    except SolverError as exc:
        if "the loss is flat" in str(exc):
            # a loss objective whose budget buys more than the law can use: no single plan
            # is the optimum, and the message says what to set instead
            assert "\n" not in str(exc) and "minimize = \"cost\"" in str(exc), str(exc)
            return "flat loss objective, explained (SolverError)"
        # Known limit (found by this fuzzer, not fixed): with the repetition penalty, on a
        # tiny corpus or under a budget far past what the corpus supports, the loss is flat
        # to 1e-8 over a range of plans and the optimum cannot be certified; the error says
        # so on one line.
        assert _saturated(scenario), str(exc)
        assert "\n" not in str(exc)
        return "known limit: flat optimum under heavy repetition (SolverError)"
    except ScenarioError as exc:
        message = str(exc)
        assert exc.key and exc.key in message and "expected" in message, message
        assert "\n" not in message, message
        return "invalid"
    except InfeasibleError as exc:
        # each conflict names its key and the value that alone would fix the plan; when no
        # single setting can, the message names the settings to relax together
        assert exc.conflicts or "relax several of: " in str(exc), str(exc)
        assert all(c.key and "." in c.key for c in exc.conflicts), exc.conflicts
        return "infeasible"
    cert = solution.certificate
    assert cert.status == "optimal" and cert.kkt_residual <= 1e-9, cert
    assert_meets_every_constraint(scenario, solution.params, solution.tokens)
    if not cert.methods_agree:
        # Counted, not failed: the KKT residual above already certifies the convex optimum.
        # cvxpy's answer, off by 1e-6–1e-3 on flat or badly scaled plans (toy laws, a target
        # a hair above E, a tiny corpus), agrees when the polish from it reaches the same
        # plan; left here are the plans where cvxpy gave no answer at all (Clarabel failed
        # round after round in the cutting-plane loop) or polishes elsewhere.
        if math.isnan(cert.polished_agreement):
            return "solved; no second opinion (cvxpy failed)"
        return "solved; cvxpy's answer polishes to another plan"
    if cert.agreement > cert.agreement_tol:
        return "solved; solvers agree after the polish from each"
    return "solved"


def _saturated(scenario) -> bool:
    """The repetition penalty on a corpus under 1e8 tokens, or with a loss objective (the
    budget may buy far more than the corpus can use)."""
    data = scenario.data if scenario is not None else None
    return bool(data and data.repetition_penalty and (data.unique_tokens < 1e8 or scenario.objective == "loss"))


def assert_meets_every_constraint(scenario, N: float, D: float) -> None:
    for c in build_problem(scenario).constraints:
        if c.is_loss:
            assert c.law.loss(N, D) <= c.target * (1 + FEASIBLE), (c.name, N, D)
        else:
            assert c.posynomial.value(N, D) <= 1 + FEASIBLE, (c.name, c.posynomial.value(N, D))


#: Failures the fuzzer found, kept as explicit examples (run first, every time).
#: 2026-11-29, 10,000-example job: a loss objective under a FLOP and a dollar budget (both
#: cap N·D) with the loss nearly flat in D; the polish put both budgets in its active set
#: at once, a singular system, and stopped with a KKT residual of 4.4.
PARALLEL_BUDGETS = {
    "law": {"E": 0.5, "A": 100.0, "B": 1.0, "alpha": 0.5, "beta": 1.0}, "target": {"loss": 1.0},
    "inference": {"tokens": 0.0}, "objective": {"minimize": "loss"}, "data": {},
    "budget": {"training_flops": 1e17, "total_cost": 100.0}, "limits": {"max_params": 1e6},
    "hardware": {"training": {"gpu": "H100", "mfu": 1.0, "price_per_gpu_hour": 0.5, "gpus": 1},
                 "inference": {"gpu": "H100", "mfu": 1.0, "price_per_gpu_hour": 1.0}}}

#: The same job, second run: a limit of 2.2e-309 tokens per parameter (a subnormal double;
#: its reciprocal, the constraint's coefficient, overflowed to inf); third run: Kaplan's law
#: at a target of 1.42e-98 nats (L^(1/α_D) underflowed to 0).
SUBNORMAL_LIMIT = {
    "law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "inference": {"tokens": 0.0},
    "objective": {"minimize": "cost"}, "data": {}, "budget": {},
    "limits": {"max_tokens_per_param": 2.225073858507203e-309},
    "hardware": {"training": {"gpu": "H100", "mfu": 1.0, "price_per_gpu_hour": 1.0, "gpus": 1},
                 "inference": {"gpu": "H100", "mfu": 1.0, "price_per_gpu_hour": 1.0}}}


@FUZZ
@given(raw=scenario_dicts())
@example(raw=PARALLEL_BUDGETS)
@example(raw=SUBNORMAL_LIMIT)
@example(raw={**SUBNORMAL_LIMIT, "limits": {"max_tokens_per_param": 1e-290}})
@example(raw={**SUBNORMAL_LIMIT, "law": {"preset": "kaplan2020"}, "target": {"loss": 1.42e-98}, "limits": {}})
def test_any_scenario_gives_a_typed_error_or_a_certified_plan(raw):
    event(check_outcome(raw))
