"""Fit the joint dense/MoE law of Ludziejewski et al. 2025 (arXiv 2502.05172, eq. 4) to runs
with an ``experts`` column (E per run; N the active parameters):

    L(N, D, E) = a·Ê^δ·N^(α + γ·ln Ê) + b·Ê^ω·D^(β + ζ·ln Ê) + c,
    1/Ê = 1/(E − 1 + (1/E_start − 1/E_max)^−1) + 1/E_max,

in the style of the Chinchilla fit (:mod:`.parametric`): the summed Huber loss (δ = 1e-3)
of the log-loss residuals r = LSE(t₁, t₂, log c) − log L, with t₁ = log a + δ·u + (α + γ·u)·log N,
t₂ = log b + ω·u + (β + ζ·u)·log D and u = ln Ê, minimised by the batched L-BFGS from a grid
of starts. Every constant enters the exponents linearly for a fixed transform, so the
analytic gradient is as cheap as the Chinchilla form's.

The grid: the 4,500 starts of Hoffmann et al. 2022 for (log a, log b, log c, −α, −β), each
with no expert dependence (δ = γ = ω = ζ = 0: the dense law every E shares), and every
fifth of them also with δ, ω ∈ {−0.5, 0.5} (the expert terms scaling either way): 8,100.
The best twentieth goes on with progress judged relatively (the first pass stops on
scipy's absolute rule, early on this flat objective), and the best four distinct optima
are polished by scipy's least_squares, which minimises exactly this Huber loss
(loss="huber", f_scale=δ) with a Jacobian and finds a noise-free law to 1e-13 (by
L-BFGS-B for absolute errors or run weights).

**E_start and E_max** are held at the paper's values (2.0732, 290.4521) by default:
Ludziejewski et al. fit them once on runs of E up to 32, and E_max ≈ 290 lies far beyond
any E such runs hold — between E = 1 and 32 it moves Ê by at most 10 %, so runs of
ordinary noise cannot place it (its bootstrap interval spans decades) and a free E_max
trades off against δ and ω. ``fit_transform=True`` fits them too (as log E_start and
log(E_max − E_start), so that E_max > E_start); it needs at least four distinct E.

The bootstrap is the plain fit's: runs resampled with replacement as counts per run, all
resamples refitted at once from the full fit's best optima.
"""
from __future__ import annotations

__all__ = ["JointFit", "fit_joint", "joint_objective", "joint_grid", "log_transformed", "JOINT_CONSTANTS",
           "PAPER_TRANSFORM", "theta_of", "law_of", "JointBootstrap", "bootstrap_joint", "joint_toml",
           "joint_residuals"]

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ScenarioError
from ..model.moe import JOINT_FORM, JointMoELaw
from ..model.presets import joint_preset
from .lbfgs import batched_lbfgs
from .machine import check_workers, default_workers, memory_budget, run_parts
from .objective import FitObjective, polish_lbfgsb, start_grid
from .runs import Runs
from .terms import unresolved

#: the constants of the joint law, in the order of Ludziejewski et al.'s Table 3
JOINT_CONSTANTS = ("a", "alpha", "delta", "gamma", "b", "beta", "omega", "zeta", "E_start", "E_max", "c")
#: E_start and E_max of Ludziejewski et al. 2025, Table 3 (the preset ludziejewski2025)
PAPER_TRANSFORM = (joint_preset("ludziejewski2025").E_start, joint_preset("ludziejewski2025").E_max)
#: a start is in the best basin when its batched pass ended within 1e-5 of the best the
#: pass reached, relatively, or this absolutely (the pass stops on scipy's default 2.2e-9
#: relative to max(|f|, 1): a noise-free fit's 1e-30 is not its scale; the polish of the
#: best then goes further than any start)
_BASIN_SLACK = 1e-8
#: the fewest starts the second, relative pass of the fit refines
REFINED = 100
#: how many of the best distinct optima of the batched pass are polished
POLISHED = 4
#: the columns of θ: log a, log b, log c, α, β, δ, γ, ω, ζ, then log E_start, log(E_max − E_start)
_THETA = ("la", "lb", "lc", "alpha", "beta", "delta", "gamma", "omega", "zeta", "ls", "lm")


def log_transformed(E, E_start, E_max, grad: bool = False):
    """u = ln Ê(E) (arrays broadcast); with ``grad``, also du/d log E_start and
    du/d log(E_max − E_start)."""
    K = 1.0 / (1.0 / E_start - 1.0 / E_max)
    inner = E - 1.0 + K
    q = 1.0 / inner + 1.0 / E_max
    u = -np.log(q)
    if not grad:
        return u
    du_dK = 1.0 / (q * inner * inner)
    gap = E_max - E_start
    du_dEs = du_dK * E_max * E_max / (gap * gap)
    du_dEm = -du_dK * E_start * E_start / (gap * gap) + 1.0 / (q * E_max * E_max)
    # E_start = e^ls moves E_max = E_start + e^lm with it; e^lm moves E_max alone
    return u, (du_dEs + du_dEm) * E_start, du_dEm * gap


def joint_objective(theta, x, z, y, E, weights=None, delta: float = 1e-3, grad: bool = True, loss: str = "huber",
                    transform=PAPER_TRANSFORM):
    """Σ_i w_i·huber(r_i) of the joint law and its gradient for every row of ``theta``
    (S, 9), or (S, 11) when ``transform`` is None (E_start, E_max fitted). x, z, y: log N,
    log D, log L; E: experts (n,); weights (S, n) or None. Returns f (S,) [, g (S, k)]."""
    theta = np.atleast_2d(theta)
    la, lb, lc, al, be, de, ga, om, ze = (theta[:, k:k + 1] for k in range(9))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if transform is None:
            Es = np.exp(theta[:, 9:10])
            u, du_s, du_m = log_transformed(E[None, :], Es, Es + np.exp(theta[:, 10:11]), grad=True)
        else:
            u = log_transformed(E, *transform)[None, :]
        w1 = np.exp(la + de * u + (al + ga * u) * x)
        w2 = np.exp(lb + om * u + (be + ze * u) * z)
        w3 = np.exp(lc)
        s = w1 + w2 + w3
        r = np.log(s) - y
        h, c = _loss_terms(r, loss, delta)
        if weights is not None:
            h *= weights
            c *= weights
        f = h.sum(1)
        if not grad:
            return f
        c /= s
        w1 *= c
        w2 *= c
        w1u, w2u = w1 * u, w2 * u
        cols = [w1.sum(1), w2.sum(1), w3[:, 0] * c.sum(1), w1 @ x, w2 @ z, w1u.sum(1), w1u @ x, w2u.sum(1),
                w2u @ z]
        if transform is None:
            dt = w1 * (de + ga * x) + w2 * (om + ze * z)
            cols += [(dt * du_s).sum(1), (dt * du_m).sum(1)]
        return f, np.stack(cols, axis=1)


def _loss_terms(r, loss: str, delta: float):
    """(loss of each residual, its derivative) for "huber", "mse" or "mae"."""
    if loss == "huber":
        c = np.clip(r, -delta, delta)
        return c * (r - 0.5 * c), c
    if loss == "mse":
        return 0.5 * r * r, r.copy()
    return np.abs(r), np.sign(r)


def joint_grid(fit_transform: bool = False) -> np.ndarray:
    """The starts (module docstring): (S, 9), or (S, 11) with the transform's starts
    (E_start 1.5 or 3, E_max 64 or 1000) when it is fitted."""
    base = start_grid()
    dense = np.zeros((len(base), 9))
    dense[:, [0, 1, 2]] = base[:, [0, 1, 2]]
    dense[:, [3, 4]] = -base[:, [3, 4]]
    rows = [dense]
    for d, o in ((-0.5, -0.5), (-0.5, 0.5), (0.5, -0.5), (0.5, 0.5)):
        tilted = dense[::5].copy()
        tilted[:, 5], tilted[:, 7] = d, o
        rows.append(tilted)
    grid = np.vstack(rows)
    if not fit_transform:
        return grid
    pairs = [(math.log(es), math.log(em - es)) for es in (1.5, 3.0) for em in (64.0, 1000.0)]
    return np.vstack([np.hstack([grid[i::len(pairs)], np.tile(p, (len(grid[i::len(pairs)]), 1))])
                      for i, p in enumerate(pairs)])


def theta_of(law: JointMoELaw, fit_transform: bool = False) -> np.ndarray:
    """θ of a joint law (the inverse of :func:`law_of`)."""
    t = [math.log(law.a), math.log(law.b), math.log(law.c), law.alpha, law.beta, law.delta, law.gamma, law.omega,
         law.zeta]
    if fit_transform:
        t += [math.log(law.E_start), math.log(law.E_max - law.E_start)]
    return np.array(t)


def law_of(theta, transform, name: str, source: str, fitted=None, experts=(1, 32)) -> JointMoELaw:
    """The JointMoELaw of θ; ``transform`` (E_start, E_max) when held, else from θ."""
    t = [float(v) for v in theta]
    if transform is None:
        Es = math.exp(t[9])
        transform = (Es, Es + math.exp(t[10]))
    return JointMoELaw(a=math.exp(t[0]), alpha=t[3], delta=t[5], gamma=t[6], b=math.exp(t[1]), beta=t[4],
                       omega=t[7], zeta=t[8], E_start=float(transform[0]), E_max=float(transform[1]),
                       c=math.exp(t[2]), name=name, source=source, fitted=fitted,
                       fitted_experts=(int(experts[0]), int(experts[1])))


@dataclass(frozen=True)
class JointFit:
    """A fitted joint dense/MoE law.

    law : the JointMoELaw; theta : its θ (module docstring); objective : the summed loss
    residuals : log L_fit − log L per run; runs : the runs (with experts)
    starts, converged_starts : the grid size and how many starts reached the best basin
    fit_transform : whether E_start and E_max were fitted (else held at the paper's)
    """

    law: JointMoELaw
    theta: np.ndarray
    objective: float
    residuals: np.ndarray
    runs: Runs
    starts: int
    converged_starts: int
    fit_objective: FitObjective = FitObjective()
    fit_transform: bool = False
    local_optima: np.ndarray = field(repr=False, default=None)

    @property
    def transform(self):
        """(E_start, E_max) when held, None when fitted (the θ layout)."""
        return None if self.fit_transform else (self.law.E_start, self.law.E_max)

    @property
    def free_constants(self) -> tuple[str, ...]:
        """The constants the fit moved (E_start and E_max only when fitted)."""
        return tuple(k for k in JOINT_CONSTANTS if self.fit_transform or k not in ("E_start", "E_max"))

    @property
    def experts(self) -> tuple[int, ...]:
        """The distinct numbers of experts of the runs."""
        return tuple(int(e) for e in np.unique(self.runs.experts))

    def compute_optimal(self, flops: float, experts: float) -> tuple[float, float, float]:
        """(N_act, D, loss) of the compute-optimal plan at ``flops`` [FLOP] with ``experts``."""
        law = self.law.at(experts)
        n, d = law.compute_optimal(flops)
        return float(n), float(d), float(law.loss(n, d))

    def method(self) -> str:
        held = ("E_start and E_max fitted" if self.fit_transform
                else f"E_start = {self.law.E_start:g} and E_max = {self.law.E_max:g} held (Ludziejewski et al.)")
        return (f"{self.fit_objective.describe()} on log-loss, summed; L-BFGS from {self.starts:,} starts; "
                f"joint MoE law of Ludziejewski et al. 2025; {held}")


def _features(runs: Runs):
    return np.log(runs.params), np.log(runs.tokens), np.log(runs.loss), np.asarray(runs.experts, dtype=float)


def _free_fun(x, z, y, E, objective: FitObjective, transform, run_weights=None, weights=None):
    """The objective in the signature of :func:`.lbfgs.batched_lbfgs`."""
    def fun(theta, rows, grad=True):
        w = None if weights is None else weights[rows]
        if run_weights is not None:
            w = run_weights[None, :] if w is None else w * run_weights
        return joint_objective(theta, x, z, y, E, w, objective.delta, grad, objective.loss, transform)
    return fun


def joint_pass(args):
    """The batched L-BFGS from ``starts`` (top level, so that processes can run it), in
    blocks of starts sized to the memory budget."""
    starts, x, z, y, E, weights, options = args
    options = dict(options)
    objective, transform = options.pop("objective"), options.pop("transform")
    run_weights, budget = options.pop("run_weights"), options.pop("budget")
    block = max(1, int(budget // (20 * 8 * max(1, len(x)))))
    thetas, fs = [], []
    for lo in range(0, len(starts), block):
        part = slice(lo, lo + block)
        fun = _free_fun(x, z, y, E, objective, transform, run_weights, None if weights is None else weights[part])
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            theta, f, _ = batched_lbfgs(fun, np.asarray(starts[part], dtype=float), **options)
        thetas.append(theta)
        fs.append(np.where(np.isfinite(f), f, np.inf))
    return np.concatenate(thetas), np.concatenate(fs)


def run_joint(starts, x, z, y, E, weights, workers: int, progress=None, **options):
    """:func:`joint_pass` over every start, in parts across ``workers`` processes."""
    check_workers(workers)
    options["budget"] = memory_budget(workers)
    count = 1 if len(starts) < 1000 else 4 * workers
    parts = np.array_split(np.arange(len(starts)), count)
    jobs = [(starts[p], x, z, y, E, None if weights is None else weights[p], options) for p in parts]
    ends = np.cumsum([len(p) for p in parts])
    report = None if progress is None else (lambda i: progress(int(ends[i - 1]), len(starts)))
    done = run_parts(joint_pass, jobs, workers if count > 1 else 1, report)
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def fit_joint(runs: Runs, *, objective: FitObjective = FitObjective(), fit_transform: bool = False,
              starts: np.ndarray | None = None, workers: int | None = None, name: str | None = None,
              progress=None) -> JointFit:
    """Fit the joint law to ``runs`` (module docstring); ScenarioError when the runs cannot
    identify it (too few runs or distinct E, losses too close, a law whose loss rises)."""
    _check_runs(runs, fit_transform)
    x, z, y, E = _features(runs)
    transform = None if fit_transform else PAPER_TRANSFORM
    grid = joint_grid(fit_transform) if starts is None else np.atleast_2d(np.asarray(starts, dtype=float))
    workers = workers if workers is not None else default_workers()
    options = {"objective": objective, "transform": transform, "run_weights": runs.weights}
    u, f = run_joint(grid, x, z, y, E, None, workers, progress, **options)
    # the pass stops on scipy's absolute rule, early on this flatter objective: the best
    # twentieth goes on with progress judged relatively, so that the basins are ranked
    # (and counted) where they end, not where the rule stopped them
    best = np.argsort(f)[:max(REFINED, len(f) // 20)]
    u[best], f[best] = run_joint(u[best], x, z, y, E, None, workers, None, fscale=0.0, patience=3, **options)
    fun = _free_fun(x, z, y, E, objective, transform, runs.weights)
    candidates = _distinct(u[np.argsort(f)], POLISHED)
    if objective.loss in ("huber", "mse") and runs.weights is None:
        polished = [_least_squares(t, x, z, y, E, objective, transform, fun) for t in candidates]
    else:
        polished = [polish_lbfgsb(t, fun) for t in candidates]
    best_u, best_f = min(polished, key=lambda p: p[1])
    law = law_of(best_u, transform, name or f"joint fit of {runs.source}",
                 f"lifeopt fit of {runs.source} ({len(runs)} runs)", runs.fitted_range(f"fit of {len(runs)} runs"),
                 (int(E.min()), int(E.max())))
    result = JointFit(law, best_u, best_f, joint_residuals(best_u, x, z, y, E, transform), runs, len(grid),
                      int(np.sum(f <= f.min() * (1 + 1e-5) + _BASIN_SLACK)), objective, fit_transform,
                      np.array([p[0] for p in sorted(polished, key=lambda p: p[1])]))
    _check_law(result)
    return result


def _exponents(theta, x, z, E, transform):
    """(t₁, t₂, log c, u, du/d log E_start, du/d log(E_max − E_start)) per run at one θ;
    the derivatives are None when the transform is held."""
    t = np.asarray(theta, dtype=float)
    if transform is None:                        # numpy scalars: a degenerate transform is inf, not an error
        Es = np.exp(t[9])
        u, du_s, du_m = log_transformed(E, Es, Es + np.exp(t[10]), grad=True)
    else:
        u, du_s, du_m = log_transformed(E, *transform), None, None
    t1 = t[0] + t[5] * u + (t[3] + t[6] * u) * x
    t2 = t[1] + t[7] * u + (t[4] + t[8] * u) * z
    return t1, t2, t[2], u, du_s, du_m


def joint_residuals(theta, x, z, y, E, transform) -> np.ndarray:
    """log L_fit − log L per run at θ."""
    t1, t2, lc, *_ = _exponents(theta, x, z, E, transform)
    return np.logaddexp(np.logaddexp(t1, t2), lc) - y


def _residual_jacobian(theta, x, z, y, E, transform) -> np.ndarray:
    """(runs, k): d r_i / dθ, with p_k = term_k / L the share of each term in the loss."""
    t = np.asarray(theta, dtype=float)
    t1, t2, lc, u, du_s, du_m = _exponents(t, x, z, E, transform)
    lse = np.logaddexp(np.logaddexp(t1, t2), lc)
    p1, p2, p3 = np.exp(t1 - lse), np.exp(t2 - lse), np.exp(lc - lse)
    cols = [p1, p2, p3, p1 * x, p2 * z, p1 * u, p1 * u * x, p2 * u, p2 * u * z]
    if transform is None:
        dt = p1 * (t[5] + t[6] * x) + p2 * (t[7] + t[8] * z)
        cols += [dt * du_s, dt * du_m]
    return np.stack(cols, axis=1)


def _least_squares(u, x, z, y, E, objective, transform, fun):
    """(θ, summed loss) after scipy's least_squares from ``u`` on the residuals (loss
    "huber" with f_scale δ is this very Huber loss; "linear" the squared one), or ``u``
    itself where that does not lower the objective."""
    from scipy.optimize import least_squares

    f = float(fun(np.asarray(u)[None, :], np.arange(1), False)[0])
    try:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            res = least_squares(joint_residuals, u, jac=_residual_jacobian, args=(x, z, y, E, transform),
                                loss="huber" if objective.loss == "huber" else "linear", f_scale=objective.delta,
                                xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000, x_scale="jac")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return np.asarray(u), f
    new_f = float(fun(res.x[None, :], np.arange(1), False)[0])
    return (res.x, new_f) if np.isfinite(new_f) and new_f <= f else (np.asarray(u), f)


def _distinct(thetas: np.ndarray, limit: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for t in thetas:
        if all(np.max(np.abs(t - v)) > 1e-3 for v in out):
            out.append(t)
        if len(out) >= limit:
            break
    return out


def _check_runs(runs: Runs, fit_transform: bool) -> None:
    """ScenarioError when the runs cannot carry a joint fit."""
    if runs.experts is None:
        raise ScenarioError("file", "an experts column (the number of experts E of each run; 1 is dense)",
                            source=runs.source, found_text="found none")
    distinct = np.unique(runs.experts).size
    need = 4 if fit_transform else 2
    if distinct < need:
        raise ScenarioError("experts", f"runs of at least {need} different numbers of experts to fit the joint law"
                            + (" with E_start and E_max" if fit_transform else "") + " (for one E, leave out the "
                            "experts column: the plain fit is that E's law)", source=runs.source,
                            found_text=f"found {distinct}")
    free = 11 if fit_transform else 9
    if len(runs) <= free:
        raise ScenarioError("file", f"more runs than the {free} constants of the joint law", source=runs.source,
                            found_text=f"found {len(runs)}")
    close = unresolved(np.log(runs.loss))
    if close:
        raise ScenarioError("file", "runs whose losses differ enough to fit a law", source=runs.source,
                            found_text=f"found {close}")


def _check_law(result: JointFit) -> None:
    """ScenarioError when the fitted law's loss does not fall with N and D at every E of
    the runs (the law of each E is a Chinchilla form with positive exponents), or its
    constants overflow."""
    law = result.law
    for E in result.experts:
        member = law.at(E)
        bad = [n for n, v in (("N", member.alpha), ("D", member.beta)) if not (0 < v <= 5)]
        if bad or not all(math.isfinite(v) and v > 0 for v in (member.A, member.B, member.E)):
            raise ScenarioError("file", "runs whose loss falls as N and D grow at every number of experts (the "
                                "joint law's exponents negative, at most 5 in size)", source=result.runs.source,
                                found_text=f"found at E = {E}: alpha = {member.alpha:.4g}, beta = {member.beta:.4g}: "
                                           f"not identified (runs from different setups?)")


# ------------------------------------------------------------------ bootstrap
@dataclass(frozen=True)
class JointBootstrap:
    """Refits of the joint law on resampled runs: ``thetas`` (S, k) in the layout of the
    fit (``transform`` (E_start, E_max) when held, None when fitted); percentile intervals."""

    thetas: np.ndarray
    objectives: np.ndarray
    seed: int
    transform: tuple | None = None

    @property
    def constants(self) -> dict[str, np.ndarray]:
        t = self.thetas
        if self.transform is None:
            Es = np.exp(t[:, 9])
            Em = Es + np.exp(t[:, 10])
        else:
            Es, Em = (np.full(len(t), v) for v in self.transform)
        return {"a": np.exp(t[:, 0]), "alpha": t[:, 3], "delta": t[:, 5], "gamma": t[:, 6], "b": np.exp(t[:, 1]),
                "beta": t[:, 4], "omega": t[:, 7], "zeta": t[:, 8], "E_start": Es, "E_max": Em, "c": np.exp(t[:, 2])}

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        lo, hi = np.quantile(self.constants[name], [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def allocation(self, flops: float, experts: float, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile intervals of N_act, D and the loss of the compute-optimal plan at
        ``flops`` [FLOP] with ``experts``, over the refitted laws."""
        values = []
        for t in self.thetas:
            law = law_of(t, self.transform, "bootstrap", "bootstrap").at(experts)
            n, d = law.compute_optimal(flops)
            values.append((float(n), float(d), float(law.loss(n, d))))
        q = [(1 - level) / 2, (1 + level) / 2]
        v = np.array(values)
        return {k: tuple(float(x) for x in np.quantile(v[:, i], q)) for i, k in enumerate(("params", "tokens", "loss"))}


def bootstrap_joint(result: JointFit, samples: int = 1000, *, seed: int = 0, workers: int | None = None,
                    progress=None) -> JointBootstrap:
    """Refit the joint law on ``samples`` resamples of the runs (with replacement), all as
    one batch started from the full fit's best three distinct optima (as
    :func:`.parametric.bootstrap`)."""
    from .parametric import check_bootstrap

    runs = result.runs
    n = len(runs)
    check_bootstrap(samples, n)
    x, z, y, E = _features(runs)
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(samples)]).astype(float)
    starts = result.local_optima[:3] if result.local_optima is not None else result.theta[None, :]
    k = len(starts)
    u0 = np.repeat(starts, samples, axis=0)
    u, f = run_joint(u0, x, z, y, E, np.tile(counts, (k, 1)), workers if workers is not None else default_workers(),
                     progress, gtol=1e-11, ftol=1e-13, fscale=0.0, patience=3, objective=result.fit_objective,
                     transform=result.transform, run_weights=runs.weights)
    f = f.reshape(k, samples)
    best = np.argmin(f, axis=0)
    theta = u.reshape(k, samples, -1)[best, np.arange(samples)]
    return JointBootstrap(theta, f[best, np.arange(samples)], seed, result.transform)


# ------------------------------------------------------------------ the law file
def joint_toml(result: JointFit, boot: JointBootstrap | None = None) -> str:
    """The fit as a scenario ``[law]`` table with ``form = "joint_moe"``: a scenario reads
    it (``[law] file = "law.toml"``) and prices ``[moe] experts`` under it."""
    from .parametric import _toml_str

    law, fr = result.law, result.law.fitted
    lo, hi = law.fitted_experts
    lines = [f"# Joint dense/MoE law (Ludziejewski et al. 2025, eq. 4) fitted by lifeopt fit to {len(result.runs)} "
             f"runs of {_toml_str(result.runs.source)[1:-1]} (E = {lo}-{hi}; N the active parameters).",
             f"# Summed {result.fit_objective.describe()} objective {result.objective:.6g}; {result.converged_starts} "
             f"of {result.starts} starts reached the best basin."]
    if boot is not None:
        lines.append(f"# 95% bootstrap intervals ({len(boot.thetas)} resamples, seed {boot.seed}):")
        lines += [f"#   {k:<7} {boot.interval(k)[0]:.6g} – {boot.interval(k)[1]:.6g}" for k in result.free_constants]
    lines += ["[law]", f'form = "{JOINT_FORM}"', f"name = {_toml_str(law.name)}", f"source = {_toml_str(law.source)}",
              f"method = {_toml_str(result.method())}"]
    lines += [f"{k} = {float(getattr(law, k))!r}" for k in JOINT_CONSTANTS]
    lines += [f"fitted_min_params = {fr.min_params!r}", f"fitted_max_params = {fr.max_params!r}",
              f"fitted_max_tokens = {fr.max_tokens!r}", f"fitted_max_flops = {fr.max_flops!r}",
              f"fitted_min_experts = {lo}", f"fitted_max_experts = {hi}"]
    return "\n".join(lines) + "\n"
