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
    """The quality to reach (``[target]``).

    Parameters
    ----------
    loss : float
        The validation loss to reach [nats/token], above the law's irreducible loss E.
    reference_params, reference_tokens : float, optional
        The plan "as good as" which the target was given [parameters, tokens], or None
        when the loss was given directly.
    error : float, optional
        The benchmark error to reach [fraction] (``[target] error``), or None; ``loss`` is
        then the one the scenario's ``[downstream]`` mapping gives for it (docs/model.md §11).

    Examples
    --------
    >>> Target(loss=1.94).error is None
    True
    """

    loss: float
    reference_params: float | None = None
    reference_tokens: float | None = None
    error: float | None = None


@dataclass(frozen=True)
class DataLimits:
    """The unique corpus and how often it may be repeated (``[data]``).

    Parameters
    ----------
    unique_tokens : float, optional
        U, the deduplicated corpus [tokens]; None for unlimited fresh data.
    max_epochs : float, optional
        The most passes over the corpus, D/U ≤ max_epochs [–].
    repetition_penalty : bool, default False
        Credit repeated tokens and parameters beyond what U feeds by the decay of
        Muennighoff et al. 2023 (docs/model.md §2.3).
    R_D_star, R_N_star : float
        The decay constants R_D* and R_N* [–] (App. A of [1]_ by default).

    References
    ----------
    .. [1] Muennighoff et al. 2023, "Scaling Data-Constrained Language Models",
       arXiv:2305.16264.
    """

    unique_tokens: float | None = None
    max_epochs: float | None = None
    repetition_penalty: bool = False
    R_D_star: float = MUENNIGHOFF_R_D_STAR
    R_N_star: float = MUENNIGHOFF_R_N_STAR


@dataclass(frozen=True)
class Budget:
    """Budgets for ``minimize = "loss"`` (``[budget]``); None where not set.

    Parameters
    ----------
    training_flops : float, optional
        Training compute C = 6·N·D at most [FLOP].
    training_cost : float, optional
        Training dollars at most [$].
    total_cost : float, optional
        Lifecycle dollars (training and serving) at most [$].
    """

    training_flops: float | None = None
    training_cost: float | None = None
    total_cost: float | None = None

    def is_empty(self) -> bool:
        """Tell whether no budget is set.

        Returns
        -------
        bool
            True when all three budgets are None.
        """
        return self.training_flops is None and self.training_cost is None and self.total_cost is None


@dataclass(frozen=True)
class Limits:
    """Limits on the plan (``[limits]``), each in its own unit; None where not set.

    Parameters
    ----------
    max_params : float, optional
        Total parameters at most [parameters].
    max_training_days : float, optional
        Training wall-clock time at most [days] (with the training GPUs).
    max_training_cost, max_total_cost : float, optional
        Training, or lifecycle, dollars at most [$].
    min_tokens_per_param, max_tokens_per_param : float, optional
        Bounds on D/N [tokens/parameter].
    serving_memory : float, optional
        The memory that must hold the served weights [bytes].
    serving_gpus : int, optional
        The number of serving GPUs that must hold the weights [GPUs].
    bytes_per_param : float, optional
        Bytes per served weight for the two limits above [bytes/parameter].
    gpu_memory : float, optional
        The memory of one serving GPU, for ``serving_gpus`` [bytes].
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
    """A plan that must reach the target under the law's uncertainty (``[robust]``).

    Parameters
    ----------
    probability : float, optional
        The share of the bootstrap laws (``[law] samples``) under which the plan must reach
        the target loss [0–1]; None to only report the distribution of the plan.
    distribution_samples : int, default 200
        How many bootstrap laws the distribution of the optimal plan is computed over
        (evenly spaced through the file) [laws].
    """

    probability: float | None = None
    distribution_samples: int = 200


@dataclass(frozen=True)
class Scenario:
    """One planning question, in base units, checked whenever it is built (:func:`check`).

    Parameters
    ----------
    name : str
        The scenario's name, printed by reports.
    law : ChinchillaLaw or KaplanLaw
        The base loss law; :attr:`loss_law` is the law the target is met under (with the
        repetition penalty and quantisation applied).
    objective : {"flops", "cost", "loss"}, default "flops"
        Minimise lifecycle FLOP [FLOP], lifecycle dollars [$, present value with
        ``finance``] or the loss [nats/token] (under ``budget`` or a training limit).
    target : Target, optional
        The quality to reach; required unless ``objective`` is "loss".
    demand : Demand
        The tokens served over the deployed life [tokens] (none by default).
    data, budget, limits : DataLimits, Budget, Limits
        The corpus, the budgets and the limits (none by default).
    training, inference : TrainingHardware or InferenceHardware, optional
        The hardware, or None when only FLOP are asked for.
    finance : Finance, optional
        Months, discounting, price decline and owned GPUs; with it the cost objective is
        the present value of spending and ``demand`` holds its totals (docs/model.md §3).
    law_samples : tuple of ChinchillaLaw
        Bootstrap laws (``lifeopt fit --samples``) describing the law's uncertainty.
    robust : Robust, optional
        What to do with them; None without samples.
    serving : Roofline, optional
        The roofline serving model (docs/model.md §8), or None for the MFU model.
    quantisation : Quantisation, optional
        The served weights' post-training quantisation (docs/model.md §11).
    downstream : DownstreamMap, optional
        The mapping from loss to a benchmark's error (``[downstream]``, docs/model.md §11).
    moe : Mixture
        The mixture of experts (``Mixture()``: dense; docs/model.md §10).
    joint_law : JointMoELaw, optional
        The joint dense/MoE law ``law`` is the member of, or None.
    choices : tuple
        ``((setting, allowed values), ...)``: the discrete choices the plan makes among
        (``[moe] experts``, ``[quantisation] dtypes``); the scenario is one combination.
    assumptions : tuple of str
        Defaults applied, printed by the report.
    source : str, optional
        The file the scenario came from, for error messages.
    raw : dict, optional
        The keys it was read from (not compared).

    Raises
    ------
    ScenarioError
        The parts contradict each other (:func:`check`).

    See Also
    --------
    lifecycle_opt.scenario.reader.scenario_from_dict : the same keys as a file, from a dict.

    Examples
    --------
    Build one in a notebook with :func:`~lifecycle_opt.scenario.reader.scenario_from_dict`
    (the same keys as the file) or directly:

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
        """Return ``law`` as this scenario trains under it.

        Parameters
        ----------
        law : LossLaw
            A base law (the scenario's, or a bootstrap law).

        Returns
        -------
        LossLaw
            ``law`` with the repetition penalty of ``data`` when it is on, else ``law``.
        """
        if self.data.repetition_penalty and self.data.unique_tokens is not None:
            return DataConstrainedLaw(law, self.data.unique_tokens, self.data.R_D_star, self.data.R_N_star)
        return law

    def served(self, law: LossLaw) -> LossLaw:
        """Return ``law`` as the target is met under it.

        Parameters
        ----------
        law : LossLaw
            A base law (the scenario's, or a bootstrap law).

        Returns
        -------
        LossLaw
            :meth:`trained` of ``law``, plus the degradation of quantising the served
            weights when ``[quantisation]`` is set (docs/model.md §11).
        """
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
        """The cost model of the plan: hardware, demand, timing factors and serving model."""
        timing = self.finance.timing() if self.finance is not None else Timing()
        return CostModel(self.training, self.inference, self.demand, timing, self.serving)


def fail(source, key, expected, found=None, found_text=None):
    """Raise the ScenarioError of a bad value.

    Parameters
    ----------
    source : str or None
        The file, named first in the message.
    key : str
        The dotted key ("limits.max_params").
    expected : str
        What was expected.
    found : object, optional
        The value found (quoted in the message).
    found_text : str, optional
        Said instead of the value ("found none").

    Raises
    ------
    ScenarioError
        Always.
    """
    raise ScenarioError(key, expected, found, source=source, found_text=found_text)


def check(s: Scenario) -> None:
    """Check the rules that tie a scenario's parts together (built from a file or in code).

    Parameters
    ----------
    s : Scenario
        The scenario; a ScenarioError names the key of the first rule it breaks."""
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
        _check_target(s)
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


def _check_target(s: Scenario) -> None:
    """The target's rules: above the law's irreducible loss (and an error target with its
    downstream mapping), and a reducible loss that does not underflow."""
    src = s.source
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
