"""The scenario: one planning question, typed and validated, in base units.

Its parts (target, data, budget, limits, robustness) are frozen dataclasses; a
:class:`Scenario` checks, whenever it is built (read from a file or made in code), the
rules that tie its parts together (:func:`check`). Reading files is :mod:`.reader`'s job.
"""
from __future__ import annotations

__all__ = ["Target", "DataLimits", "Budget", "Limits", "Robust", "Scenario", "OBJECTIVES",
           "OBJECTIVE_UNITS", "BYTES_PER_PARAM", "TINY", "fail", "check"]

import math
from dataclasses import dataclass, field

from ..errors import ScenarioError
from ..model.costs import CostModel, Demand, InferenceHardware, Timing, TrainingHardware
from ..model.finance import Finance
from ..model.laws import (MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR, ChinchillaLaw, DataConstrainedLaw,
                          KaplanLaw, LossLaw)
from ..model.downstream import DownstreamMap
from ..model.moe import JointMoELaw, Mixture
from ..model.quantisation import Quantisation, QuantisedLaw
from ..model.serving import Roofline

#: the smallest positive quantity accepted: a limit enters the problem as its reciprocal too
TINY = 1e-300


#: what the optimiser can minimise
OBJECTIVES = ("cost", "flops", "loss")
#: the unit each objective is measured in: present-value dollars, FLOP, or nats
OBJECTIVE_UNITS = {"cost": "usd", "flops": "flops", "loss": "loss"}


#: bytes per weight when serving in a dtype (weights only; KV cache not included)
BYTES_PER_PARAM = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0,
                   "fp4": 0.5, "int4": 0.5}


@dataclass(frozen=True)
class Target:
    """The quality to reach: a loss [nats/token], perhaps derived from a reference plan or
    from a benchmark error.

    reference_params, reference_tokens [count]: the plan "as good as" which the target was
    given, or None when the loss was given directly.
    error [fraction]: the benchmark error to reach (``[target] error``), or None; the loss is
    then the one the scenario's ``[downstream]`` mapping gives for it (docs/model.md §11).
    """

    loss: float
    reference_params: float | None = None
    reference_tokens: float | None = None
    error: float | None = None


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
    """Limits on the plan, each in its own unit.

    max_params [count]; serving_memory [bytes] and serving_gpus [GPUs]: the memory, or the
    number of serving GPUs, that must hold the weights at ``bytes_per_param`` [bytes per
    parameter] (of a GPU of ``gpu_memory`` [bytes]); max_training_days [days];
    max_training_cost and max_total_cost [$]; min/max_tokens_per_param [tokens/parameter].
    """

    max_params: float | None = None
    max_training_days: float | None = None
    max_training_cost: float | None = None
    max_total_cost: float | None = None
    min_tokens_per_param: float | None = None
    max_tokens_per_param: float | None = None
    serving_memory: float | None = None
    serving_gpus: int | None = None
    bytes_per_param: float | None = None
    gpu_memory: float | None = None


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
    serving : the roofline serving model (docs/model.md §8), or None for the MFU model
    quantisation : the served weights' post-training quantisation (docs/model.md §11), or None
    downstream : the mapping from loss to a benchmark's error (``[downstream]``), or None
    moe : the mixture of experts (Mixture(): dense); joint_law : the joint dense/MoE law its
        ``law`` is the member of (docs/model.md §10), or None
    choices : ((setting, allowed values), ...): the discrete choices the plan makes among
        (``[moe] experts``, ``[quantisation] dtypes``); the scenario itself is one combination
    assumptions : defaults applied, printed by the report
    source : the file the scenario came from, for error messages

    Build one in a notebook with :func:`scenario_from_dict` (the same keys as the file)
    or directly:

    >>> from lifecycle_opt.model.presets import preset
    >>> s = Scenario(name="quick", law=preset("sardana2024"), objective="flops",
    ...              target=Target(loss=1.947), demand=Demand(output_tokens=2e12))
    >>> s.costs.cost("flops").terms     # 6·N·D + 2·N·T [FLOP]
    ((6.0, 1.0, 1.0, 0.0, 0.0, 0.0), (4000000000000.0, 1.0, 0.0, 0.0, 0.0, 0.0))
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
    serving: Roofline | None = None
    quantisation: Quantisation | None = None
    downstream: DownstreamMap | None = None
    moe: Mixture = field(default_factory=Mixture)
    joint_law: JointMoELaw | None = None
    choices: tuple = ()
    assumptions: tuple[str, ...] = ()
    source: str | None = None
    raw: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        check(self)

    def trained(self, law: LossLaw) -> LossLaw:
        """``law`` as this scenario trains under it: with the repetition penalty when on."""
        if self.data.repetition_penalty and self.data.unique_tokens is not None:
            return DataConstrainedLaw(law, self.data.unique_tokens, self.data.R_D_star, self.data.R_N_star)
        return law

    def served(self, law: LossLaw) -> LossLaw:
        """``law`` as the target is met under it: trained, plus the degradation of quantising
        the served weights when ``[quantisation]`` is set (bootstrap laws go through it too)."""
        trained = self.trained(law)
        return trained if self.quantisation is None else QuantisedLaw(trained, self.quantisation)

    @property
    def trained_law(self) -> LossLaw:
        """The law of the trained model: the base law, with the repetition penalty when on."""
        return self.trained(self.law)

    @property
    def loss_law(self) -> LossLaw:
        """The law the target is met under (:meth:`served` of the base law)."""
        return self.served(self.law)

    @property
    def costs(self) -> CostModel:
        timing = self.finance.timing() if self.finance is not None else Timing()
        return CostModel(self.training, self.inference, self.demand, timing, self.serving)


def fail(source, key, expected, found=None, found_text=None):
    raise ScenarioError(key, expected, found, source=source, found_text=found_text)


def check(s: Scenario) -> None:
    """Semantic checks that hold however the scenario was built (file or code)."""
    src = s.source
    if s.objective not in OBJECTIVES:
        fail(src, "objective.minimize", 'one of "cost", "flops", "loss"', s.objective)
    if s.objective == "loss":
        # any cap on training compute bounds the loss objective: a budget, the deadline
        # times the GPUs, or a cap on training (or all) dollars
        caps = (s.limits.max_training_days, s.limits.max_training_cost, s.limits.max_total_cost)
        if s.budget.is_empty() and all(c is None for c in caps):
            fail(src, "budget", 'a [budget] with training_flops, training_cost or total_cost, or a '
                  'limit that caps training (limits.max_training_days with hardware.training.gpus, '
                  'max_training_cost or max_total_cost) when minimize = "loss"',
                  found_text="found neither")
    elif s.target is None:
        fail(src, "target", "a [target] with loss or reference", found_text="found no target")
    if s.target is not None:
        E = s.law.irreducible_loss
        key = "target.reference" if s.target.reference_params is not None else "target.loss"
        if s.target.error is not None:
            if s.downstream is None:
                fail(src, "downstream", "a [downstream] mapping (epsilon, k, gamma, or file = \"downstream.toml\" "
                     "from lifeopt fit) when [target] gives an error", found_text="found none")
            if not s.target.loss > E:
                fail(src, "target.error", f"an error above {float(s.downstream.error(E)):.4g}, the error at the "
                     f"law's irreducible loss E = {E:g} (no plan reaches a lower one)", s.target.error)
        if not s.target.loss > E:
            fail(src, key, f"a loss above the irreducible loss E = {E:g} of law {s.law.name}",
                  s.target.loss)
        if not s.law.posynomial_level(s.target.loss) >= TINY:
            # a reducible loss under 1e-300 underflows: Kaplan's law at a target of 1e-98
            # nats has L^(1/α_D) = 0.0
            floor = s.law.loss_from_posynomial(TINY)
            fail(src, key, f"a loss of at least {floor:.3g} nats under law {s.law.name} (below it the "
                  f"reducible loss is under {TINY:g})", s.target.loss)
    if s.data.repetition_penalty and not isinstance(s.law, ChinchillaLaw):
        fail(src, "data.repetition_penalty",
              "false with the kaplan2020 law (the penalty of Muennighoff et al. 2023 is defined "
              "on the Chinchilla form)", True)
    if s.data.max_epochs is not None and s.data.unique_tokens is None:
        fail(src, "data.unique_tokens", "a count of unique tokens when data.max_epochs is set",
              found_text="found none")
    if s.data.repetition_penalty and s.data.unique_tokens is None:
        fail(src, "data.unique_tokens", "a count of unique tokens when repetition_penalty = true",
              found_text="found none")
    lim = s.limits
    if (lim.min_tokens_per_param is not None and lim.max_tokens_per_param is not None
            and lim.min_tokens_per_param > lim.max_tokens_per_param):
        fail(src, "limits.min_tokens_per_param",
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
                fail(src, f"hardware.{section}", f"a [hardware.{section}] section to price the plan "
                      "in dollars", found_text="found none")
            if hw.price_per_gpu_hour is None:
                fail(src, f"hardware.{section}.price_per_gpu_hour", "a price per GPU-hour to price the "
                      "plan in dollars", found_text="found none")
    if s.robust is not None and s.robust.probability is not None:
        if not s.law_samples:
            fail(src, "robust.probability", "bootstrap laws in [law] samples = \"law_samples.csv\" "
                  "(written by lifeopt fit --bootstrap N --samples FILE)", found_text="found none")
        if s.target is None or s.objective == "loss":
            fail(src, "robust.probability", "a [target] loss and a cost or flops objective (a robust "
                  "plan reaches the target under most laws)", s.robust.probability)
    if s.finance is not None and not math.isclose(s.finance.total_tokens, s.demand.tokens,
                                                  rel_tol=1e-9, abs_tol=1e-6):
        fail(src, "finance.monthly_tokens", f"monthly tokens adding up to the demand's "
              f"{s.demand.tokens:g} tokens", s.finance.total_tokens)
    if lim.max_training_days is not None and (s.training is None or s.training.gpus is None):
        fail(src, "hardware.training.gpus", "a GPU count when limits.max_training_days is set",
              found_text="found none")
