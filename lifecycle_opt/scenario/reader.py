"""Scenario: one plan's question, validated and typed. The only place TOML is read.

A scenario file (TOML) has the sections ``[law]``, ``[target]``, ``[inference]``,
``[data]``, ``[hardware.training]``, ``[hardware.inference]``, ``[objective]``,
``[budget]``, ``[limits]`` and ``[finance]``; see ``examples/`` and the README for every
key. Human
units are accepted wherever a quantity appears ("70B", "1.4T", "$2.1M", "90 days").

Every value is checked here, once: unknown keys (with a did-you-mean), wrong types,
zero or negative quantities, a target at or below the irreducible loss. A failure is a
:class:`~lifecycle_opt.errors.ScenarioError` naming the file, the key, what was
expected and what was found. Values the user may leave out have documented defaults,
and each default that shapes the answer is listed in ``Scenario.assumptions`` so the
report can print it.
"""
from __future__ import annotations

__all__ = ["Target", "DataLimits", "Budget", "Limits", "Robust", "Scenario", "load_scenario", "load_scenarios",
           "scenario_from_dict", "merge", "OBJECTIVES", "BYTES_PER_PARAM"]

import datetime
import difflib
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..model import hardware as hw_catalogue
from ..model.costs import CostModel, Demand, InferenceHardware, Timing, TrainingHardware
from ..errors import ScenarioError, UnknownKeyError
from ..model.finance import Finance, owned_gpu_hour_cost
from ..fit.runs import read_samples
from ..model.laws import (MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR, ChinchillaLaw, DataConstrainedLaw,
                   FittedRange, KaplanLaw, LossLaw, PRESETS, preset)
from ..model.constants import DAYS_PER_MONTH, SECONDS_PER_DAY
from ..model.units import (parse_bytes, parse_count, parse_duration, parse_flop_rate,
                    parse_flops, parse_money, parse_power, parse_rate)

#: what the optimiser can minimise
OBJECTIVES = ("cost", "flops", "loss")

#: bytes per weight when serving in a dtype (weights only; KV cache not included)
BYTES_PER_PARAM = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0,
                   "fp4": 0.5, "int4": 0.5}


# ------------------------------------------------------------------ the parts
@dataclass(frozen=True)
class Target:
    """The quality to reach: a loss [nats/token], perhaps derived from a reference plan.

    reference_params, reference_tokens [count]: the plan "as good as" which the target was
    given, or None when the loss was given directly.
    """

    loss: float
    reference_params: float | None = None
    reference_tokens: float | None = None


@dataclass(frozen=True)
class DataLimits:
    """The unique corpus: unique_tokens [count], max_epochs [–], and the repetition penalty
    of Muennighoff et al. 2023 (R_D*, R_N* from their App. A by default)."""

    unique_tokens: float | None = None
    max_epochs: float | None = None
    repetition_penalty: bool = False
    R_D_star: float = MUENNIGHOFF_R_D_STAR
    R_N_star: float = MUENNIGHOFF_R_N_STAR


@dataclass(frozen=True)
class Budget:
    """Budgets for ``minimize = "loss"``: training_flops [FLOP], training_cost and total_cost [$]."""

    training_flops: float | None = None
    training_cost: float | None = None
    total_cost: float | None = None

    def is_empty(self) -> bool:
        return self.training_flops is None and self.training_cost is None and self.total_cost is None


@dataclass(frozen=True)
class Limits:
    """Limits on the plan. max_params [count], max_training_days [days], max_training_cost and
    max_total_cost [$], min/max_tokens_per_param [tokens/parameter].

    ``max_params_key`` names the setting the parameter cap came from (``limits.max_params``
    or the serving memory), so that reports and shadow prices point at the right knob, and
    ``max_params_per_unit`` is how many parameters one unit of that setting holds (1 for
    max_params; 1/bytes per parameter for serving_memory [bytes]; a GPU's memory over
    bytes per parameter for serving_gpus).
    """

    max_params: float | None = None
    max_training_days: float | None = None
    max_training_cost: float | None = None
    max_total_cost: float | None = None
    min_tokens_per_param: float | None = None
    max_tokens_per_param: float | None = None
    max_params_key: str = "limits.max_params"
    max_params_per_unit: float = 1.0


@dataclass(frozen=True)
class Robust:
    """A plan that must reach the target under the law's uncertainty.

    probability : share of the bootstrap laws (``[law] samples``) under which the plan must
        reach the target loss [0–1]; None to only report the distribution of the plan
    distribution_samples : how many bootstrap laws the distribution of the optimal plan is
        computed over (evenly spaced through the file)
    """

    probability: float | None = None
    distribution_samples: int = 200


@dataclass(frozen=True)
class Scenario:
    """One planning question, in base units.

    name : str
    law : the base loss law (a Chinchilla-form or Kaplan law); see :attr:`loss_law` for the
        law with the repetition penalty applied when ``data.repetition_penalty`` is on
    objective : "cost" (lifecycle dollars), "flops" (lifecycle FLOP) or "loss" (under ``budget``)
    target : Target | None — required unless objective is "loss"
    demand : Demand — tokens served over the deployed life
    data, budget, limits : see their classes
    training, inference : hardware, or None when only FLOPs are asked for
    finance : Finance | None — months, discounting, price decline, owned GPUs; with it the
        cost objective is the present value of spending, and ``demand`` holds its totals
    law_samples : bootstrap laws (``lifeopt fit --samples``) describing the law's uncertainty
    robust : what to do with them (see Robust); None without samples
    assumptions : defaults applied, printed by the report
    source : the file the scenario came from, for error messages

    Build one in a notebook with :func:`scenario_from_dict` (the same keys as the file)
    or directly:

    >>> from lifecycle_opt.model.laws import preset
    >>> s = Scenario(name="quick", law=preset("sardana2024"), objective="flops",
    ...              target=Target(loss=1.947), demand=Demand(output_tokens=2e12))
    >>> s.costs.coefficients("flops")
    (6.0, 4000000000000.0)
    """

    name: str
    law: ChinchillaLaw | KaplanLaw
    objective: str = "flops"
    target: Target | None = None
    demand: Demand = field(default_factory=Demand)
    data: DataLimits = field(default_factory=DataLimits)
    budget: Budget = field(default_factory=Budget)
    limits: Limits = field(default_factory=Limits)
    training: TrainingHardware | None = None
    inference: InferenceHardware | None = None
    finance: Finance | None = None
    law_samples: tuple[ChinchillaLaw, ...] = field(default=(), repr=False)
    robust: Robust | None = None
    assumptions: tuple[str, ...] = ()
    source: str | None = None
    raw: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        _check(self)

    @property
    def loss_law(self) -> LossLaw:
        """The law the target is met under: the base law, with the repetition penalty when on."""
        if self.data.repetition_penalty and self.data.unique_tokens is not None:
            return DataConstrainedLaw(self.law, self.data.unique_tokens, self.data.R_D_star,
                                      self.data.R_N_star)
        return self.law

    @property
    def costs(self) -> CostModel:
        timing = self.finance.timing() if self.finance is not None else Timing()
        return CostModel(self.training, self.inference, self.demand, timing)


def _fail(source, key, expected, found=None, found_text=None):
    raise ScenarioError(key, expected, found, source=source, found_text=found_text)


def _check(s: Scenario) -> None:
    """Semantic checks that hold however the scenario was built (file or code)."""
    src = s.source
    if s.objective not in OBJECTIVES:
        _fail(src, "objective.minimize", 'one of "cost", "flops", "loss"', s.objective)
    if s.objective == "loss":
        # any cap on training compute bounds the loss objective: a budget, the deadline
        # times the GPUs, or a cap on training (or all) dollars
        caps = (s.limits.max_training_days, s.limits.max_training_cost, s.limits.max_total_cost)
        if s.budget.is_empty() and all(c is None for c in caps):
            _fail(src, "budget", 'a [budget] with training_flops, training_cost or total_cost, or a '
                  'limit that caps training (limits.max_training_days with hardware.training.gpus, '
                  'max_training_cost or max_total_cost) when minimize = "loss"',
                  found_text="found neither")
    elif s.target is None:
        _fail(src, "target", "a [target] with loss or reference", found_text="found no target")
    if s.target is not None:
        E = s.law.irreducible_loss
        key = "target.reference" if s.target.reference_params is not None else "target.loss"
        if not s.target.loss > E:
            _fail(src, key, f"a loss above the irreducible loss E = {E:g} of law {s.law.name}",
                  s.target.loss)
        if not s.law.posynomial_level(s.target.loss) >= _TINY:
            # a reducible loss under 1e-300 underflows: Kaplan's law at a target of 1e-98
            # nats has L^(1/α_D) = 0.0
            floor = s.law.loss_from_posynomial(_TINY)
            _fail(src, key, f"a loss of at least {floor:.3g} nats under law {s.law.name} (below it the "
                  f"reducible loss is under {_TINY:g})", s.target.loss)
    if s.data.repetition_penalty and not isinstance(s.law, ChinchillaLaw):
        _fail(src, "data.repetition_penalty",
              "false with the kaplan2020 law (the penalty of Muennighoff et al. 2023 is defined "
              "on the Chinchilla form)", True)
    if s.data.max_epochs is not None and s.data.unique_tokens is None:
        _fail(src, "data.unique_tokens", "a count of unique tokens when data.max_epochs is set",
              found_text="found none")
    if s.data.repetition_penalty and s.data.unique_tokens is None:
        _fail(src, "data.unique_tokens", "a count of unique tokens when repetition_penalty = true",
              found_text="found none")
    lim = s.limits
    if (lim.min_tokens_per_param is not None and lim.max_tokens_per_param is not None
            and lim.min_tokens_per_param > lim.max_tokens_per_param):
        _fail(src, "limits.min_tokens_per_param",
              f"at most limits.max_tokens_per_param = {lim.max_tokens_per_param:g}",
              lim.min_tokens_per_param)
    needs_usd = (s.objective == "cost" or lim.max_training_cost is not None
                 or lim.max_total_cost is not None or s.budget.training_cost is not None
                 or s.budget.total_cost is not None)
    if needs_usd:
        priced = [("training", s.training)]
        if s.demand.tokens > 0 and (s.objective == "cost" or lim.max_total_cost is not None
                                    or s.budget.total_cost is not None):
            priced.append(("inference", s.inference))      # serving dollars are part of the cost
        for section, hw in priced:
            if hw is None:
                _fail(src, f"hardware.{section}", f"a [hardware.{section}] section to price the plan "
                      "in dollars", found_text="found none")
            if hw.price_per_gpu_hour is None:
                _fail(src, f"hardware.{section}.price_per_gpu_hour", "a price per GPU-hour to price the "
                      "plan in dollars", found_text="found none")
    if s.robust is not None and s.robust.probability is not None:
        if not s.law_samples:
            _fail(src, "robust.probability", "bootstrap laws in [law] samples = \"law_samples.csv\" "
                  "(written by lifeopt fit --bootstrap N --samples FILE)", found_text="found none")
        if s.target is None or s.objective == "loss":
            _fail(src, "robust.probability", "a [target] loss and a cost or flops objective (a robust "
                  "plan reaches the target under most laws)", s.robust.probability)
    if s.finance is not None and not math.isclose(s.finance.total_tokens, s.demand.tokens,
                                                  rel_tol=1e-9, abs_tol=1e-6):
        _fail(src, "finance.monthly_tokens", f"monthly tokens adding up to the demand's "
              f"{s.demand.tokens:g} tokens", s.finance.total_tokens)
    if lim.max_training_days is not None and (s.training is None or s.training.gpus is None):
        _fail(src, "hardware.training.gpus", "a GPU count when limits.max_training_days is set",
              found_text="found none")


# ------------------------------------------------------------------ reading a file
def _read_toml(path: Path) -> dict:
    """The dict of the TOML file at ``path``; ScenarioError for anything unreadable."""
    source = str(path)
    if path.is_dir():
        _fail(source, "file", "a TOML scenario file", found_text="found a directory")
    try:
        if path.stat().st_size > 1_000_000:       # before reading it all
            _fail(source, "file", "a scenario file under 1 MB", found_text=f"found {path.stat().st_size} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        _fail(source, "file", "an existing TOML scenario file", found_text="found no such file")
    except OSError as exc:
        _fail(source, "file", "a readable TOML scenario file", found_text=f"found {exc.strerror}")
    if len(raw) > 1_000_000:
        _fail(source, "file", "a scenario file under 1 MB", found_text=f"found {len(raw)} bytes")
    try:
        text = raw.decode("utf-8-sig")           # a byte-order mark, as some editors write, is fine
    except UnicodeDecodeError as exc:
        _fail(source, "file", "UTF-8 text", found_text=f"found an invalid byte at position {exc.start}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        what = str(exc).replace("Cannot overwrite a value", "a key or table defined twice")
        _fail(source, "file", "valid TOML", found_text=f"found {what}")
    if not data:
        _fail(source, "file", "a scenario with at least a [law] and a [target]",
              found_text="found an empty file")
    return data


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path``.

    >>> s = load_scenario("examples/chat_assistant.toml")
    >>> s.objective, s.law.name
    ('cost', 'hoffmann2022')
    """
    path = Path(path)
    data = _read_toml(path)
    if "scenario" in data:
        _fail(str(path), "scenario", "one scenario (this file holds [[scenario]] tables: compare them "
              "with `lifeopt compare`)", found_text=f"found {_count(data['scenario'])}")
    return scenario_from_dict(data, source=str(path), default_name=path.stem)


def _count(value) -> str:
    return f"{len(value)} tables" if isinstance(value, list) else "a single table"


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Every scenario in the file at ``path``: the file itself, or one per ``[[scenario]]``
    table, each laid over the file's top-level sections (its keys win).

    >>> [s.name for s in load_scenarios("examples/compare_demand.toml")]
    ['light serving', 'medium serving', 'heavy serving']
    """
    path = Path(path)
    data = _read_toml(path)
    if "scenario" not in data:
        return [scenario_from_dict(data, source=str(path), default_name=path.stem)]
    tables = data.pop("scenario")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        _fail(str(path), "scenario", "[[scenario]] tables (an array of tables)", tables)
    out = []
    for i, table in enumerate(tables, start=1):
        name = table.get("name", f"{path.stem} #{i}")
        out.append(scenario_from_dict(merge(data, table), source=f"{path} [[scenario]] #{i}",
                                      default_name=str(name)))
    return out


def merge(base: dict, over: dict) -> dict:
    """``over`` laid on ``base``: tables merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def scenario_from_dict(data: dict, source: str | None = None, default_name: str = "scenario") -> Scenario:
    """Build a Scenario from a dict with the keys of a scenario file (see ``load_scenario``).

    >>> s = scenario_from_dict({"law": {"preset": "sardana2024"}, "target": {"loss": 1.947},
    ...                         "inference": {"tokens": "2T"}, "objective": {"minimize": "flops"}})
    >>> s.demand.tokens
    2000000000000.0
    """
    try:
        return _Reader(source).scenario(data, default_name)
    except ScenarioError as exc:
        if source is not None and exc.source is None:
            raise exc.with_source(source) from None
        raise


class _Section:
    """One table of the file, read key by key; unknown keys are reported with a suggestion."""

    def __init__(self, reader: "_Reader", name: str, table: Any, allowed: tuple[str, ...]):
        self.reader, self.name, self.allowed = reader, name, allowed
        if not isinstance(table, dict):
            reader.fail(name, "a table (section)", table)
        self.table = table
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UnknownKeyError(self.key(key), f"one of the keys {', '.join(allowed)}",
                                      source=reader.source, found_text=f"found an unknown key{hint}")

    def key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def has(self, key: str) -> bool:
        return key in self.table

    def get(self, key: str, parse: Callable[[Any], float], *, positive: bool = True,
            default=None, upper: float | None = None):
        """The value at ``key`` parsed with ``parse``; ``default`` when absent."""
        if key not in self.table:
            return default
        value = self.table[key]
        try:
            x = parse(value)
        except ValueError as exc:
            self.reader.fail(self.key(key), str(exc), value)
        if positive and not x > 0:
            self.reader.fail(self.key(key), "a positive quantity", value)
        if positive and x < _TINY:
            # a limit enters the problem as its reciprocal too: 1/2.2e-309 overflows
            self.reader.fail(self.key(key), f"a positive quantity of at least {_TINY:g}", value)
        if upper is not None and x > upper:
            self.reader.fail(self.key(key), f"at most {upper:g}", value)
        return x

    def text(self, key: str, choices: tuple[str, ...] | None = None, default=None):
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, str):
            self.reader.fail(self.key(key), "a string", value)
        if choices is not None and value not in choices:
            self.reader.fail(self.key(key), f"one of {', '.join(repr(c) for c in choices)}", value)
        return value

    def flag(self, key: str, default=None):
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, bool):
            self.reader.fail(self.key(key), "true or false", value)
        return value

    def sub(self, key: str, allowed: tuple[str, ...]) -> "_Section | None":
        if key not in self.table:
            return None
        return _Section(self.reader, self.key(key), self.table[key], allowed)


#: the smallest positive quantity accepted: a limit enters the problem as its reciprocal too
_TINY = 1e-300


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("a number")
    if not math.isfinite(value):
        raise ValueError("a finite number")
    return float(value)


def _fraction(value) -> float:
    x = _number(value)
    if not 0 < x <= 1:
        raise ValueError("a fraction in (0, 1]")
    return x


def _integer(value) -> float:
    x = parse_count(value, "count")
    if x != int(x):
        raise ValueError("a whole number")
    return x


def _signed_rate(value) -> float:
    """A rate that may be negative (a shrinking demand): a number or "-2%"."""
    if isinstance(value, str) and value.strip().startswith("-"):
        return -parse_rate(value.strip()[1:])
    return parse_rate(value)


def _days(value) -> float:
    return parse_duration(value, "days") / SECONDS_PER_DAY


_LAW_KEYS = ("preset", "E", "A", "B", "alpha", "beta", "Nc", "Dc", "alpha_N", "alpha_D", "name",
             "source", "method", "fitted_min_params", "fitted_max_params", "fitted_max_tokens",
             "fitted_max_flops", "file", "samples")
_TOP_KEYS = ("name", "description", "law", "target", "inference", "data", "hardware", "objective",
             "budget", "limits", "finance", "robust")
_FINANCE_KEYS = ("start", "training_months", "deployment_months", "monthly_tokens", "monthly_growth",
                 "discount_rate", "price_decline", "ownership", "training_gpu_capex",
                 "inference_gpu_capex", "amortisation_months", "training_gpu_power",
                 "inference_gpu_power", "pue", "energy_price")


class _Reader:
    """Turns the dict of a scenario file into a Scenario, failing on the first bad value."""

    def __init__(self, source: str | None):
        self.source = source
        self.assumptions: list[str] = []

    def fail(self, key, expected, found=None, found_text=None):
        _fail(self.source, key, expected, found, found_text)

    def scenario(self, data: dict, default_name: str) -> Scenario:
        top = _Section(self, "", data, _TOP_KEYS)
        name = top.text("name", default=default_name)
        top.text("description")
        if not top.has("law"):
            self.fail("law", 'a [law] section (preset = "hoffmann2022" or explicit constants)',
                      found_text="found none")
        law_sec, law_dir = self.law_file(top.sub("law", _LAW_KEYS))
        law = self.law(law_sec)
        samples = self.samples(law_sec, law, law_dir)
        robust = self.robust(top.sub("robust", ("probability", "distribution_samples")), samples)
        data_limits = self.data(top.sub("data", ("unique_tokens", "max_epochs", "repetition_penalty",
                                                 "R_D_star", "R_N_star")), law)
        target = self.target(top.sub("target", ("loss", "reference")), law)
        fin = top.sub("finance", _FINANCE_KEYS)
        monthly = self.monthly_demand(fin)
        demand = self.demand(top.sub("inference", ("tokens", "requests", "input_tokens",
                                                   "output_tokens", "output_fraction",
                                                   "deployment_days")), fin, monthly)
        hw = top.sub("hardware", ("training", "inference"))
        training = self.training(hw.sub("training", ("gpu", "peak_flops", "dtype", "mfu",
                                                     "price_per_gpu_hour", "gpus"))) if hw else None
        inference = self.inference(hw.sub("inference", ("gpu", "peak_flops", "memory", "dtype", "mfu",
                                                         "prefill_mfu", "decode_mfu",
                                                         "price_per_gpu_hour"))) if hw else None
        finance = None
        if fin is not None:
            finance, training, inference = self.finance(fin, demand, monthly, training, inference)
        budget = self.budget(top.sub("budget", ("training_flops", "training_cost", "total_cost")))
        limits = self.limits(top.sub("limits", ("max_params", "max_training_days", "max_training_cost",
                                                "max_total_cost", "min_tokens_per_param",
                                                "max_tokens_per_param", "serving_gpus",
                                                "serving_memory", "bytes_per_param")), inference)
        objective = self.objective(top.sub("objective", ("minimize",)), training, inference, demand)
        return Scenario(name=name, law=law, objective=objective, target=target, demand=demand,
                        data=data_limits, budget=budget, limits=limits, training=training,
                        inference=inference, finance=finance, law_samples=samples, robust=robust,
                        assumptions=tuple(self.assumptions),
                        source=self.source, raw=data)

    # ---- [law]
    def _folder(self) -> Path:
        return Path(self.source).parent if self.source else Path(".")

    def law_file(self, sec: _Section) -> tuple[_Section, Path]:
        """[law] file = "law.toml": that file's [law] table (relative to this file), with any
        other keys given here laid over it; and the folder its own paths are relative to."""
        if not sec.has("file"):
            return sec, self._folder()
        value = sec.table["file"]
        if not isinstance(value, str):
            self.fail("law.file", "the path of a TOML file with a [law] table", value)
        path = self._folder() / value
        data = _read_toml(path)
        if not isinstance(data.get("law"), dict):
            self.fail("law.file", f"a file with a [law] table ({path})", found_text="found none there")
        merged = {**data["law"], **{k: v for k, v in sec.table.items() if k != "file"}}
        if "file" in data["law"]:
            self.fail("law.file", "a [law] table without a further file key", value)
        return _Section(self, "law", merged, _LAW_KEYS), path.parent

    def samples(self, sec: _Section, law, folder: Path) -> tuple:
        if not sec.has("samples"):
            return ()
        if not isinstance(law, ChinchillaLaw):
            self.fail("law.samples", "bootstrap laws of the Chinchilla form", law.name)
        value = sec.table["samples"]
        if not isinstance(value, str):
            self.fail("law.samples", "the path of a CSV of bootstrap laws", value)
        rows = read_samples(folder / value)
        return tuple(ChinchillaLaw(E=E, A=A, B=B, alpha=al, beta=be, name=f"{law.name} [bootstrap {i}]",
                                   source=law.source, fitted=law.fitted)
                     for i, (E, A, B, al, be) in enumerate(rows))

    def robust(self, sec: _Section | None, samples: tuple):
        if sec is None:
            return Robust() if samples else None
        probability = sec.get("probability", _fraction)
        count = sec.get("distribution_samples", _integer, default=200.0)
        return Robust(probability, int(count))

    def law(self, sec: _Section):
        consts = [k for k in ("E", "A", "B", "alpha", "beta") if sec.has(k)]
        kaplan = [k for k in ("Nc", "Dc", "alpha_N", "alpha_D") if sec.has(k)]
        if sec.has("preset"):
            if consts or kaplan:
                self.fail(sec.key((consts + kaplan)[0]), "either preset or explicit constants, not both",
                          sec.table[(consts + kaplan)[0]])
            name = sec.text("preset")
            try:
                return preset(name)
            except KeyError:
                close = difflib.get_close_matches(name, PRESETS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail("law.preset", f"one of {', '.join(PRESETS)}", found_text=f"found {name!r}{hint}")
        fitted = None
        if any(sec.has(k) for k in ("fitted_min_params", "fitted_max_params", "fitted_max_tokens",
                                    "fitted_max_flops")):
            fitted = FittedRange(min_params=sec.get("fitted_min_params", parse_count),
                                 max_params=sec.get("fitted_max_params", parse_count),
                                 max_tokens=sec.get("fitted_max_tokens", parse_count),
                                 max_flops=sec.get("fitted_max_flops", parse_flops),
                                 note=f"fit ({sec.text('method', default='user')})")
        source = sec.text("source", default=self.source or "explicit constants")
        sec.text("method")
        if kaplan:
            missing = [k for k in ("Nc", "Dc", "alpha_N", "alpha_D") if not sec.has(k)]
            if missing or consts:
                self.fail(sec.key(missing[0] if missing else consts[0]),
                          "the four Kaplan constants Nc, Dc, alpha_N, alpha_D and nothing else",
                          found_text="found an incomplete or mixed set")
            return KaplanLaw(Nc=sec.get("Nc", parse_count), Dc=sec.get("Dc", parse_count),
                             alpha_N=sec.get("alpha_N", _number), alpha_D=sec.get("alpha_D", _number),
                             name=sec.text("name", default="explicit Kaplan law"), source=source,
                             fitted=fitted)
        missing = [k for k in ("E", "A", "B", "alpha", "beta") if not sec.has(k)]
        if missing:
            self.fail(sec.key(missing[0]),
                      'a number (explicit laws need E, A, B, alpha and beta; or give preset = "...")',
                      found_text="found none")
        return ChinchillaLaw(E=sec.get("E", _number), A=sec.get("A", _number), B=sec.get("B", _number),
                             alpha=sec.get("alpha", _number, upper=5.0),
                             beta=sec.get("beta", _number, upper=5.0),
                             name=sec.text("name", default="explicit law"), source=source,
                             fitted=fitted)

    # ---- [data]
    def data(self, sec: _Section | None, law) -> DataLimits:
        if sec is None:
            return DataLimits()
        unique = sec.get("unique_tokens", parse_count)
        epochs = sec.get("max_epochs", _number)
        default_penalty = unique is not None and isinstance(law, ChinchillaLaw)
        penalty = sec.flag("repetition_penalty", default=None)
        if penalty is None:
            penalty = default_penalty
            if penalty:
                self.assumptions.append("data.repetition_penalty not given: the repetition penalty of "
                                        "Muennighoff et al. 2023 is applied")
        return DataLimits(unique, epochs, penalty,
                          sec.get("R_D_star", _number, default=MUENNIGHOFF_R_D_STAR),
                          sec.get("R_N_star", _number, default=MUENNIGHOFF_R_N_STAR))

    # ---- [target]
    def target(self, sec: _Section | None, law) -> Target | None:
        if sec is None:
            return None
        if sec.has("loss") == sec.has("reference"):
            self.fail("target", "exactly one of loss or reference",
                      found_text="found both" if sec.has("loss") else "found neither")
        if sec.has("loss"):
            return Target(loss=sec.get("loss", _number))
        ref = sec.sub("reference", ("params", "tokens"))
        if not (ref.has("params") and ref.has("tokens")):
            self.fail("target.reference", 'a table { params = "70B", tokens = "1.4T" }', ref.table)
        N = ref.get("params", lambda v: parse_count(v, "parameter count"))
        D = ref.get("tokens", lambda v: parse_count(v, "token count"))
        # "as good as N trained on D fresh tokens under this law" — the base law, no repetition
        return Target(loss=float(law.loss(N, D)), reference_params=N, reference_tokens=D)

    # ---- [inference]
    def demand(self, sec: _Section | None, fin: _Section | None,
               monthly: list[float] | None) -> Demand:
        if monthly is not None:
            # the demand comes month by month from [finance]; [inference] may only split it
            if sec is not None:
                for k in ("tokens", "requests", "input_tokens", "output_tokens", "deployment_days"):
                    if sec.has(k):
                        self.fail(sec.key(k), "no total demand in [inference] when finance.monthly_tokens "
                                  "gives it month by month", sec.table[k])
            total = float(sum(monthly))
            frac = self._output_fraction(sec, total)
            return Demand(input_tokens=total * (1 - frac), output_tokens=total * frac,
                          deployment_days=len(monthly) * DAYS_PER_MONTH)
        if sec is None:
            self.assumptions.append("no [inference] section: no serving demand (training only)")
            return Demand()
        if fin is not None and sec.has("deployment_days"):
            self.fail("inference.deployment_days", "finance.deployment_months instead when a [finance] "
                      "section is given", sec.table["deployment_days"])
        days = sec.get("deployment_days", _days)
        if sec.has("tokens"):
            for k in ("requests", "input_tokens", "output_tokens"):
                if sec.has(k):
                    self.fail(sec.key(k), "either tokens or requests × (input_tokens + output_tokens), "
                              "not both", sec.table[k])
            tokens = sec.get("tokens", lambda v: parse_count(v, "token count"), positive=False)
            if tokens < 0:
                self.fail("inference.tokens", "zero or more tokens", sec.table["tokens"])
            frac = self._output_fraction(sec, tokens)
            return Demand(input_tokens=tokens * (1 - frac), output_tokens=tokens * frac,
                          deployment_days=days)
        if sec.has("output_fraction"):
            self.fail("inference.output_fraction", "only with inference.tokens", sec.table["output_fraction"])
        if not sec.has("requests"):
            self.fail("inference", "tokens, or requests with input_tokens and output_tokens",
                      found_text="found neither")
        requests = sec.get("requests", lambda v: parse_count(v, "request count"))
        inp = sec.get("input_tokens", lambda v: parse_count(v, "token count"), positive=False, default=0.0)
        out = sec.get("output_tokens", lambda v: parse_count(v, "token count"), positive=False, default=0.0)
        if inp < 0 or out < 0 or inp + out <= 0:
            self.fail("inference.output_tokens", "input_tokens and output_tokens per request, "
                      "non-negative and not both zero", found_text=f"found {inp:g} and {out:g}")
        return Demand(input_tokens=requests * inp, output_tokens=requests * out, deployment_days=days)

    def _output_fraction(self, sec: _Section | None, tokens: float) -> float:
        frac = sec.get("output_fraction", _fraction, default=None) if sec is not None else None
        if frac is None:
            frac = 0.2
            if tokens > 0:
                self.assumptions.append("inference.output_fraction not given: 20% of served tokens "
                                        "are generated (decode), 80% are prompt (prefill)")
        return frac

    # ---- [finance]
    def monthly_demand(self, sec: _Section | None) -> list[float] | None:
        """Tokens per deployment month from finance.monthly_tokens (a list, or a first month
        with monthly_growth over deployment_months); None when not given there."""
        if sec is None or not sec.has("monthly_tokens"):
            if sec is not None and sec.has("monthly_growth"):
                self.fail("finance.monthly_growth", "only with finance.monthly_tokens",
                          sec.table["monthly_growth"])
            return None
        value = sec.table["monthly_tokens"]
        months = sec.get("deployment_months", _integer)
        if isinstance(value, list):
            if sec.has("monthly_growth"):
                self.fail("finance.monthly_growth", "no growth rate when monthly_tokens is a list "
                          "(the list already gives every month)", sec.table["monthly_growth"])
            if not value:
                self.fail("finance.monthly_tokens", "a non-empty list of token counts", value)
            out = []
            for i, v in enumerate(value):
                try:
                    x = parse_count(v, "token count")
                except ValueError as exc:
                    self.fail(f"finance.monthly_tokens[{i}]", str(exc), v)
                if x < 0:
                    self.fail(f"finance.monthly_tokens[{i}]", "zero or more tokens", v)
                out.append(x)
            if months is not None and months != len(out):
                self.fail("finance.deployment_months", f"{len(out)}, the length of monthly_tokens "
                          "(or leave it out)", sec.table["deployment_months"])
            return out
        first = sec.get("monthly_tokens", lambda v: parse_count(v, "token count"), positive=False)
        if first < 0:
            self.fail("finance.monthly_tokens", "zero or more tokens", value)
        if months is None:
            self.fail("finance.deployment_months", "the number of months of serving when "
                      "monthly_tokens is one number", found_text="found none")
        growth = sec.get("monthly_growth", _signed_rate, positive=False, default=0.0)
        if not growth > -1:
            self.fail("finance.monthly_growth", "a monthly growth rate above -100%",
                      sec.table["monthly_growth"])
        return [first * (1.0 + growth) ** m for m in range(int(months))]

    def finance(self, sec: _Section, demand: Demand, monthly: list[float] | None,
                training: TrainingHardware | None, inference: InferenceHardware | None):
        """(Finance, training, inference): the hardware gets its owned GPU-hour cost when
        ownership = "own"."""
        if monthly is None:
            months = sec.get("deployment_months", _integer)
            if demand.tokens > 0:
                if months is None:
                    self.fail("finance.deployment_months", "the number of months of serving (or "
                              "finance.monthly_tokens)", found_text="found none")
                monthly = [demand.tokens / months] * int(months)
                self.assumptions.append(f"finance: the inference demand is spread evenly over "
                                        f"{int(months)} months")
            else:
                monthly = [0.0] * int(months or 0)
        start = self._start(sec)
        ownership = sec.text("ownership", ("rent", "own"), default="rent")
        rate = sec.get("discount_rate", parse_rate, positive=False, default=0.0)
        if rate < 0:
            self.fail("finance.discount_rate", "zero or a positive annual rate", sec.table["discount_rate"])
        decline = sec.get("price_decline", parse_rate, positive=False, default=0.0)
        if not 0 <= decline < 1:
            self.fail("finance.price_decline", "a yearly decline in [0, 1) such as 0.2 or \"20%\"",
                      sec.table["price_decline"])
        pue = sec.get("pue", _number, default=None)
        if pue is not None and pue < 1:
            self.fail("finance.pue", "a power usage effectiveness of at least 1", sec.table["pue"])
        train_w = sec.get("training_gpu_power", parse_power)
        infer_w = sec.get("inference_gpu_power", parse_power)
        energy = sec.get("energy_price", parse_money)
        capex = (sec.get("training_gpu_capex", parse_money), sec.get("inference_gpu_capex", parse_money))
        amort = sec.get("amortisation_months", _number)
        if (train_w or infer_w) and pue is None:
            pue = 1.0
            self.assumptions.append("finance.pue not given: energy counted at the GPU (PUE 1.0)")
        if ownership == "own":
            if decline:
                self.fail("finance.price_decline", "no price decline with ownership = \"own\" (it applies "
                          "to rented GPU-hours)", sec.table["price_decline"])
            for key, value in (("amortisation_months", amort), ("energy_price", energy)):
                if value is None:
                    self.fail(f"finance.{key}", 'a value when ownership = "own"', found_text="found none")
            if training is not None:
                training = replace(training, price_per_gpu_hour=self._owned_price(
                    "training", training, capex[0], train_w, amort, pue, energy))
            if inference is not None and demand.tokens > 0:
                inference = replace(inference, price_per_gpu_hour=self._owned_price(
                    "inference", inference, capex[1], infer_w, amort, pue, energy))
        else:
            for key, value in (("training_gpu_capex", capex[0]), ("inference_gpu_capex", capex[1]),
                               ("amortisation_months", amort)):
                if value is not None:
                    self.fail(f"finance.{key}", 'only with ownership = "own"', sec.table[key])
        training_months = sec.get("training_months", _integer, default=1.0)
        return (Finance(monthly_tokens=tuple(monthly), training_months=int(training_months),
                        discount_rate=rate, price_decline=decline, start=start, ownership=ownership,
                        training_power_watts=train_w, inference_power_watts=infer_w,
                        pue=pue if pue is not None else 1.0, energy_price=energy,
                        training_capex=capex[0], inference_capex=capex[1], amortisation_months=amort),
                training, inference)

    def _owned_price(self, phase, hw, capex, watts, months, pue, energy) -> float:
        if hw.price_per_gpu_hour is not None:
            self.fail(f"hardware.{phase}.price_per_gpu_hour", 'no rental price when finance.ownership = '
                      f'"own" (the GPU-hour cost comes from finance.{phase}_gpu_capex)', hw.price_per_gpu_hour)
        for key, value in ((f"{phase}_gpu_capex", capex), (f"{phase}_gpu_power", watts)):
            if value is None:
                self.fail(f"finance.{key}", 'a value when ownership = "own"', found_text="found none")
        cost = owned_gpu_hour_cost(capex, months, watts, pue, energy)
        self.assumptions.append(f"finance: an owned {hw.gpu} GPU-hour costs ${cost:.4g} ({phase}): capex "
                                f"over {months:g} months of round-the-clock use plus energy")
        return cost

    def _start(self, sec: _Section):
        if not sec.has("start"):
            return None
        value = sec.table["start"]
        if isinstance(value, datetime.date):
            return datetime.date(value.year, value.month, 1)
        if isinstance(value, str):
            try:
                return datetime.datetime.strptime(value.strip(), "%Y-%m").date()
            except ValueError:
                pass
        self.fail("finance.start", 'a month such as "2027-01"', value)

    # ---- [hardware.*]
    def _gpu(self, sec: _Section, default_dtype: str):
        dtype = sec.text("dtype", default=default_dtype)
        if sec.has("gpu") and sec.has("peak_flops"):
            self.fail(sec.key("peak_flops"), "either gpu or peak_flops, not both", sec.table["peak_flops"])
        if sec.has("gpu"):
            name = sec.text("gpu")
            try:
                card = hw_catalogue.gpu(name)
            except KeyError:
                self.fail(sec.key("gpu"), f"one of {', '.join(hw_catalogue.CATALOGUE)}", name)
            try:
                return card.name, dtype, card.peak(dtype), card.memory_bytes
            except KeyError:
                self.fail(sec.key("dtype"), f"one of {', '.join(card.peak_flops)} for {card.name}", dtype)
        if not sec.has("peak_flops"):
            self.fail(sec.key("gpu"), f"a GPU ({', '.join(hw_catalogue.CATALOGUE)}) or peak_flops",
                      found_text="found neither")
        return "custom", dtype, sec.get("peak_flops", parse_flop_rate), None

    def training(self, sec: _Section | None) -> TrainingHardware | None:
        if sec is None:
            return None
        name, dtype, peak, _ = self._gpu(sec, "bf16")
        if not sec.has("mfu"):
            self.fail(sec.key("mfu"), "the model FLOPs utilisation of training, e.g. 0.4",
                      found_text="found none")
        gpus = sec.get("gpus", _integer)
        return TrainingHardware(name, dtype, peak, sec.get("mfu", _fraction),
                                sec.get("price_per_gpu_hour", parse_money),
                                int(gpus) if gpus is not None else None)

    def inference(self, sec: _Section | None) -> InferenceHardware | None:
        if sec is None:
            return None
        name, dtype, peak, memory = self._gpu(sec, "bf16")
        if sec.has("mfu"):
            for k in ("prefill_mfu", "decode_mfu"):
                if sec.has(k):
                    self.fail(sec.key(k), "either mfu (blended) or prefill_mfu and decode_mfu, not both",
                              sec.table[k])
            prefill = decode = sec.get("mfu", _fraction)
        else:
            for k in ("prefill_mfu", "decode_mfu"):
                if not sec.has(k):
                    self.fail(sec.key(k), "a utilisation in (0, 1] (or a blended mfu)", found_text="found none")
            prefill, decode = sec.get("prefill_mfu", _fraction), sec.get("decode_mfu", _fraction)
        if sec.has("memory"):
            memory = sec.get("memory", parse_bytes)
        return InferenceHardware(name, dtype, peak, prefill, decode,
                                 sec.get("price_per_gpu_hour", parse_money), memory)

    # ---- [objective], [budget], [limits]
    def objective(self, sec, training, inference, demand) -> str:
        if sec is not None and sec.has("minimize"):
            return sec.text("minimize", OBJECTIVES)
        priced = training is not None and training.price_per_gpu_hour is not None and (
            demand.tokens == 0 or (inference is not None and inference.price_per_gpu_hour is not None))
        choice = "cost" if priced else "flops"
        self.assumptions.append(f"objective.minimize not given: minimising lifecycle {choice}")
        return choice

    def budget(self, sec) -> Budget:
        if sec is None:
            return Budget()
        return Budget(sec.get("training_flops", parse_flops), sec.get("training_cost", parse_money),
                      sec.get("total_cost", parse_money))

    def limits(self, sec, inference) -> Limits:
        if sec is None:
            return Limits()
        max_params = sec.get("max_params", lambda v: parse_count(v, "parameter count"))
        key, per_unit = "limits.max_params", 1.0
        memory = None
        if sec.has("serving_memory") and sec.has("serving_gpus"):
            self.fail("limits.serving_gpus", "either serving_memory or serving_gpus, not both",
                      sec.table["serving_gpus"])
        if sec.has("serving_memory"):
            memory, key = sec.get("serving_memory", parse_bytes), "limits.serving_memory"
            unit_bytes = 1.0
        elif sec.has("serving_gpus"):
            if inference is None or inference.memory_bytes is None:
                self.fail("hardware.inference.memory", "the memory of the serving GPU (a catalogue gpu "
                          "or memory = \"80GB\") when limits.serving_gpus is set", found_text="found none")
            memory = sec.get("serving_gpus", _integer) * inference.memory_bytes
            key, unit_bytes = "limits.serving_gpus", inference.memory_bytes
        elif sec.has("bytes_per_param"):
            self.fail("limits.bytes_per_param", "only with serving_memory or serving_gpus",
                      sec.table["bytes_per_param"])
        if memory is not None:
            dtype = inference.dtype if inference is not None else "bf16"
            per = sec.get("bytes_per_param", _number, default=None)
            if per is None:
                per = BYTES_PER_PARAM.get(dtype, 2.0)
                self.assumptions.append(f"serving memory holds the weights only, {per:g} bytes per "
                                        f"parameter ({dtype}); KV cache and activations not included")
            from_memory = memory / per
            if max_params is None or from_memory < max_params:
                max_params, per_unit = from_memory, unit_bytes / per
            else:
                key = "limits.max_params"
        return Limits(max_params=max_params,
                      max_training_days=sec.get("max_training_days", _days),
                      max_training_cost=sec.get("max_training_cost", parse_money),
                      max_total_cost=sec.get("max_total_cost", parse_money),
                      min_tokens_per_param=sec.get("min_tokens_per_param", _number),
                      max_tokens_per_param=sec.get("max_tokens_per_param", _number),
                      max_params_key=key, max_params_per_unit=per_unit)
