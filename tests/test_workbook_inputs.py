"""Every input of a workbook recalculates to what `lifeopt evaluate` gives for the same
change (issue 30). Each input of the finance examples' Inputs sheets (finance_plan.toml,
owned_cluster.toml) is changed in turn in a copy of the workbook; LibreOffice recalculates
them all in one call; each copy's NPV, loss, nominal total, training days and energy are
then compared with `evaluate` of this plan (N and D as solved) under the scenario changed
the same way (1e-9). The truth is the Python model, reached through the scenario: the
workbook's formulas are never consulted for the expected numbers.

Inputs that are constants of the model rather than scenario keys are changed through the
scenario setting that has the same effect (docs/model.md §2, §3): FLOP per parameter-token
k× is every MFU of that phase ÷k (GPU-hours = FLOP / (peak · MFU) / 3600); seconds per hour
k× is every MFU ×k; hours per month k× is the amortisation k× (an owned GPU-hour costs
capex / (months × hours per month) + energy).
"""
import copy
import math
import re

import openpyxl
import pytest

from lifecycle_opt import evaluate
from lifecycle_opt.model.finance import owned_gpu_hour_cost
from lifecycle_opt.scenario.reader import scenario_from_dict

from books import planned, workbook_file
from spreadsheet import cell_value

EXAMPLES = ("finance_plan", "owned_cluster")
#: compared with 1e-9 relative (LibreOffice keeps 15 significant digits)
REL = 1e-9


def inputs_of(path):
    """(name, value, whole) of every input cell of the Inputs sheet: the yellow cells,
    by their workbook names; ``whole`` when shown as a whole number."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Inputs"]
    out = []
    for name, defined in wb.defined_names.items():
        for sheet, ref in defined.destinations:
            cell = ws[ref.replace("$", "")] if sheet == "Inputs" else None
            if cell is not None and cell.fill.fgColor.rgb and str(cell.fill.fgColor.rgb).endswith("FFF2CC"):
                out.append((name, float(cell.value), cell.number_format == "0", ws.cell(cell.row, 4).value))
    return sorted(out)


def changed_value(name: str, value: float, whole: bool) -> float:
    """A new value the input accepts: two more months of training (issue 30: 3 → 5 and
    2 → 4), a law's constant 1 % more (a quarter more E would put it above the target
    loss of owned_cluster.toml), else a quarter more (a share stays below 1)."""
    if name == "training_months":
        return value + 2
    if name.startswith("law_"):
        return value * 1.01
    if value == 0:
        return 0.1
    if whole:
        return float(round(value * 1.25))
    return value * 1.25


def changed_scenario(scenario, name: str, key: str | None, value: float, new: float):
    """The scenario changed as the input ``name`` (scenario key ``key``) changed from
    ``value`` to ``new``; the constants of the model through their equivalents (see the
    module docstring)."""
    raw = copy.deepcopy(scenario.raw)
    hw = raw.setdefault("hardware", {})
    ratio = new / value if value else math.nan
    if name.startswith("law_"):
        law = scenario.law
        raw["law"] = {k: getattr(law, k) for k in ("E", "A", "B", "alpha", "beta")}
        raw["law"][name.removeprefix("law_")] = new
    elif name in ("flop_per_param_token_train", "flop_per_param_token_infer", "seconds_per_hour"):
        phases = {"flop_per_param_token_train": (("training", "mfu"),),
                  "flop_per_param_token_infer": (("inference", "prefill_mfu"), ("inference", "decode_mfu"))}
        factor = ratio if name == "seconds_per_hour" else 1 / ratio
        for phase, mfu in phases.get(name, phases["flop_per_param_token_train"]
                                     + phases["flop_per_param_token_infer"]):
            hw[phase][mfu] = float(scenario_value(scenario, phase, mfu)) * factor
    elif name == "hours_per_month":
        if "amortisation_months" in raw.get("finance", {}):
            raw["finance"]["amortisation_months"] = raw["finance"]["amortisation_months"] * ratio
    elif name in ("train_peak", "infer_peak"):
        section = hw["training" if name == "train_peak" else "inference"]
        section.pop("gpu")
        section["peak_flops"] = new
    elif name == "first_month_tokens":
        raw["finance"]["monthly_tokens"] = new
    elif name.startswith("tokens_month_"):
        months = list(raw["finance"]["monthly_tokens"])
        months[int(name.removeprefix("tokens_month_")) - 1] = new
        raw["finance"]["monthly_tokens"] = months
    else:
        section, _, field = key.rpartition(".")
        node = raw
        for part in section.split("."):
            node = node.setdefault(part, {})
        node[field] = int(new) if field in ("training_months", "gpus") else new
    return scenario_from_dict(raw, source=scenario.source)


def scenario_value(scenario, phase, field):
    """An MFU of the scenario as parsed (the raw file may give it as a percentage)."""
    hw = scenario.training if phase == "training" else scenario.inference
    return getattr(hw, field)


def expected(scenario, sol):
    """What `evaluate` gives for this plan under ``scenario``, and the energy of its cash
    flow as the model lays it out (Finance.cash_flow)."""
    e = evaluate(scenario, params=sol.params, tokens=sol.tokens)
    fin, t, i = scenario.finance, scenario.training, scenario.inference
    energy = fin.cash_flow(e.row["training_gpu_hours"] or 0.0, t.price_per_gpu_hour,
                           e.row["inference_gpu_hours"] or 0.0, i.price_per_gpu_hour).total_energy_kwh
    return {"npv_usd": e.row["npv_usd"], "loss": e.row["loss"], "total_usd": e.row["total_cost_usd"],
            "train_days": e.row["training_days"], "energy": energy}


#: the inputs of owned_cluster.toml changed too: those of owned GPUs (capex, amortisation,
#: energy price, power, and hours per month, which prices their amortisation), its training
#: months (issue 30: 2 → 4) and its last month of demand; its other inputs enter the same
#: formulas as finance_plan.toml's (LibreOffice takes 0.5-0.8 s a workbook)
OWNED_INPUTS = {"training_months", "train_capex", "infer_capex", "amortisation_months", "energy_price",
                "hours_per_month", "train_power", "tokens_month_12"}


@pytest.fixture(scope="module")
def changes(libreoffice, tmp_path_factory):
    """(example, input, old, new, expected, recalculated values) for each input changed:
    all of finance_plan's, and owned_cluster's :data:`OWNED_INPUTS`, recalculated in
    one call of LibreOffice. The values: every workbook name → its value, and "energy",
    the Cash flow's total energy."""
    folder = tmp_path_factory.mktemp("inputs")
    cases, files, names_of = [], [], {}
    for example in EXAMPLES:
        scenario, sol = planned(example)
        path, _ = workbook_file(example, folder)
        inputs = inputs_of(path)
        if example == "owned_cluster":
            inputs = [i for i in inputs if i[0] in OWNED_INPUTS]
            assert len(inputs) == len(OWNED_INPUTS)
        wb = openpyxl.load_workbook(path)
        names_of[example] = {n: next(iter(d.destinations)) for n, d in wb.defined_names.items()}
        for name, value, whole, key in inputs:
            new = changed_value(name, value, whole)
            sheet, ref = names_of[example][name]
            wb[sheet][ref.replace("$", "")].value = new
            wb.save(folder / f"{example}-{name}.xlsx")
            wb[sheet][ref.replace("$", "")].value = value
            files.append(folder / f"{example}-{name}.xlsx")
            cases.append((example, name, value, new, expected(changed_scenario(scenario, name, key, value, new), sol)))
    out = []
    for case, book in zip(cases, libreoffice.values(files)):
        got = {n: cell_value(book, sheet, ref) for n, (sheet, ref) in names_of[case[0]].items()}
        got["energy"] = next(r for r in book["Cash flow"] if r and r[0] == "energy")[2]
        out.append(case + (got, book))
    return out


def test_every_input_recalculates_to_what_evaluate_gives(changes):
    """Each input changed alone: the workbook's NPV, loss, nominal total, training days and
    energy equal evaluate's for the same change; and the change shows (no stale cache
    passes: the inputs that move money move the NPV)."""
    assert len({(c[0], c[1]) for c in changes}) == len(changes) > 30
    moved = set()
    for example, name, old, new, want, got, _ in changes:
        for key, value in want.items():
            if value is None or key not in got or got[key] is None:
                assert key in ("train_days",), (example, name, key)
                continue
            assert got[key] == pytest.approx(value, rel=REL), (example, name, old, new, key)
        _, sol = planned(example)
        if not math.isclose(got["npv_usd"], sol.cash_flow.npv_usd, rel_tol=1e-12):
            moved.add(name)
    # what moves the money: prices, utilisation, peak, demand, rates, months, the constants
    assert {"train_price_in", "infer_price_in", "train_mfu", "discount_rate", "price_decline",
            "training_months", "first_month_tokens", "monthly_growth", "output_fraction", "train_peak",
            "flop_per_param_token_train", "seconds_per_hour", "train_capex", "amortisation_months",
            "energy_price", "hours_per_month", "tokens_month_12", "train_power"} <= moved


def test_more_months_of_training_move_serving_later_and_lose_no_month(changes):
    """Issue 30: finance_plan.toml with 3 → 5 months of training gave $3,901,797 where
    evaluate gives $3,829,165 (the last two months' GPU-hours moved into earlier months):
    now every month of demand is served, the first one the month after training ends."""
    case = {(c[0], c[1]): c for c in changes}
    for example in EXAMPLES:
        _, name, old, new, want, names, book = case[(example, "training_months")]
        scenario, sol = planned(example)
        assert names["npv_usd"] == pytest.approx(want["npv_usd"], rel=REL)
        assert names["months_past_end"] == 0
        assert names["serving_start"] == sol.cash_flow.labels[int(new)]
        cash = book["Cash flow"]
        first = next(i for i, h in enumerate(cash[0]) if isinstance(h, str) and re.fullmatch(r"\d{4}-\d{2}", h))
        tokens = next(r for r in cash if r and r[0] == "tokens served")[first:]
        k = int(new)
        assert all(t == 0 for t in tokens[:k]) and tokens[k] > 0
        assert tokens[k:k + len(scenario.finance.monthly_tokens)] == pytest.approx(scenario.finance.monthly_tokens,
                                                                                   rel=1e-12)
        assert sum(tokens) == pytest.approx(scenario.finance.total_tokens, rel=1e-12)
        note = next(r for r in book["Outputs"] if r and r[0] == "training wall-clock")[3]
        assert f"over {k} (finance.training_months)" in note or f"than the {k} " in note
    assert case[("finance_plan", "training_months")][4]["npv_usd"] == pytest.approx(3_829_165.49, abs=0.01)


def test_a_price_scales_the_costs_it_pays_for(changes):
    """A quarter more per training GPU-hour: training dollars a quarter more, nominal and
    present value, inference unchanged, N and D as optimised."""
    case = {(c[0], c[1]): c for c in changes}
    _, _, old, new, _, names, _ = case[("finance_plan", "train_price_in")]
    _, sol = planned("finance_plan")
    c, k = sol.costs, new / old
    assert names["train_usd"] == pytest.approx(k * c.training_cost_usd, rel=1e-12)
    assert names["train_pv"] == pytest.approx(k * c.training_cost_pv_usd, rel=1e-12)
    assert names["infer_usd"] == pytest.approx(c.inference_cost_usd, rel=1e-12)
    assert names["npv_check"] == pytest.approx(k * c.training_cost_pv_usd + c.inference_cost_pv_usd, rel=1e-12)
    # the optimiser's results stay as they were (LibreOffice saves 15 significant digits)
    assert names["params_N"] == pytest.approx(sol.params, rel=1e-14)
    assert names["tokens_D"] == pytest.approx(sol.tokens, rel=1e-14)


def test_the_owned_gpu_hour_follows_its_capex_amortisation_and_energy(changes):
    """The cost of an owned GPU-hour recomputes from the Inputs as the model's
    owned_gpu_hour_cost gives it (capex over the amortisation, plus power × PUE × price)."""
    case = {(c[0], c[1]): c for c in changes}
    scenario, _ = planned("owned_cluster")
    fin, watts = scenario.finance, scenario.finance.training_power_watts
    for name, args in (("train_capex", lambda n: (n, fin.amortisation_months, watts, fin.pue, fin.energy_price)),
                       ("amortisation_months", lambda n: (fin.training_capex, n, watts, fin.pue, fin.energy_price)),
                       ("energy_price", lambda n: (fin.training_capex, fin.amortisation_months, watts, fin.pue, n))):
        _, _, old, new, _, names, _ = case[("owned_cluster", name)]
        assert names["train_price"] == pytest.approx(owned_gpu_hour_cost(*args(new)), rel=1e-12), name
