"""Every way a plan can be infeasible is explained, and every suggested change works.

One scenario per kind of conflict (each limit against the loss target, the repetition
penalty, limits against each other). For each, the error must list the conflicting
settings; each suggestion is applied alone and the plan must then solve, while a change
1 % short of it must not (the suggestion is the smallest, rounded outwards).
"""
import copy

import pytest

from lifecycle_opt.errors import InfeasibleError
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.plan.planning import solve

HARDWARE = {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0, "gpus": 1024},
            "inference": {"gpu": "H100", "mfu": 0.3, "price_per_gpu_hour": 2.0}}


def case(limits=None, data=None, objective="flops", target=2.0, law="hoffmann2022", budget=None,
         inference=None):
    raw = {"law": {"preset": law}, "objective": {"minimize": objective}, "hardware": HARDWARE,
           "inference": inference or {"tokens": 1e12}}
    if target is not None:
        raw["target"] = {"loss": target}
    for key, value in (("limits", limits), ("data", data), ("budget", budget)):
        if value:
            raw[key] = value
    return raw


CASES = {
    "max_params": case(limits={"max_params": 1e9}),
    "epochs_over_a_small_corpus": case(data={"unique_tokens": 5e10, "max_epochs": 2}),
    "repetition_penalty": case(law="muennighoff2023", target=2.0,
                               data={"unique_tokens": 3e11, "max_epochs": 16, "repetition_penalty": True},
                               limits={"max_params": 1e10}),
    "min_tokens_per_param": case(limits={"min_tokens_per_param": 2000}, data={"unique_tokens": 1e12, "max_epochs": 1}),
    "max_tokens_per_param": case(limits={"max_tokens_per_param": 2}, data={"unique_tokens": 1e11, "max_epochs": 1}),
    "training_days": case(limits={"max_training_days": 0.5}),
    "training_cost": case(objective="cost", limits={"max_training_cost": 2e4}),
    "total_cost": case(objective="cost", limits={"max_total_cost": 5e4}),
    "training_flops_budget": case(objective="cost", budget={"training_flops": 1e19}),
    "serving_memory": case(limits={"serving_memory": "2 GB"}),
    "serving_gpus": case(law="besiroglu2024", target=2.05, limits={"serving_gpus": 1, "bytes_per_param": 160}),
}


def _with(raw: dict, key: str, value: float) -> dict:
    """``raw`` with the setting ``key`` (dotted) set to ``value`` (base units)."""
    out = copy.deepcopy(raw)
    *sections, name = key.split(".")
    table = out
    for s in sections:
        table = table.setdefault(s, {})
    if sections == ["target"]:
        table.clear()
    table[name] = value
    return out


@pytest.mark.parametrize("name", CASES)
def test_each_suggested_change_alone_makes_the_plan_feasible(name):
    raw = CASES[name]
    with pytest.raises(InfeasibleError) as info:
        solve(scenario_from_dict(raw))
    conflicts = [c for c in info.value.conflicts if c.required is not None]
    assert conflicts, str(info.value)
    for c in conflicts:
        assert c.key in str(info.value)
        plan = solve(scenario_from_dict(_with(raw, c.key, c.required)))
        assert plan.certificate.status == "optimal", c
        short = c.required * (0.99 if c.required > c.current else 1.01)
        if c.key == "limits.serving_gpus":                  # a whole number of GPUs
            short = c.required - 1
        with pytest.raises(InfeasibleError):
            solve(scenario_from_dict(_with(raw, c.key, short)))


def test_replica_size_advice_names_a_size_the_list_can_take():
    """serving_slo.toml with sequences of up to 6e6 tokens: the weights and one such sequence's
    KV cache (about 6e6 · 219 kB = 1.3 TB for a 31B model of the shape family) need more than
    16 GPUs of 72 usable GB, and only 1, 2, 4, 8 are allowed. The constraint knows its allowed
    sizes: the advice adds the next power of two at or above the need (32), and with it added
    the plan solves, while adding 16 (the power of two below) leaves it infeasible."""
    import tomllib
    from lifecycle_opt.problem.constraints import Cap
    with open("examples/serving_slo.toml", "rb") as f:
        raw = tomllib.load(f)
    raw["serving"]["max_context_tokens"] = 6e6
    with pytest.raises(InfeasibleError) as info:
        solve(scenario_from_dict(copy.deepcopy(raw)))
    conflict = next(c for c in info.value.conflicts if c.key == "serving.replica_gpus")
    assert conflict.required == 32.0
    assert "add 32 GPUs per replica" in str(info.value)
    for size, feasible in ((32, True), (16, False)):
        raw["serving"]["replica_gpus"] = [1, 2, 4, 8, size]
        if feasible:
            assert solve(scenario_from_dict(copy.deepcopy(raw))).serving.rounded.replica_gpus == size
        else:
            with pytest.raises(InfeasibleError):
                solve(scenario_from_dict(copy.deepcopy(raw)))
    # the rule, on the constraint itself: an allowed size when one fits, else the list extended
    cap = Cap("max_replica_gpus", "", "serving.replica_gpus", 8.0, "GPUs per replica", whole=True,
              allowed=(1.0, 2.0, 4.0, 8.0))
    assert [cap.allowed_at_least(v) for v in (3, 8, 8.5, 42, 64)] == [4.0, 8.0, 16.0, 64.0, 64.0]
    odd = Cap("max_replica_gpus", "", "serving.replica_gpus", 6.0, "GPUs per replica", allowed=(3.0, 6.0))
    assert odd.allowed_at_least(13) == 18.0           # not powers of two: a multiple of the largest
