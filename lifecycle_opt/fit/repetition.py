"""Fit the data-constrained law of Muennighoff et al. 2023 (eq. 14–15) to runs, the model
as it is written, on every run:

    L = E + A/N'^α + B/D'^β,  D' = U_D + U_D·R_D*·(1 − e^(−R_D/R_D*)),
    N' = U_N + U_N·R_N*·(1 − e^(−R_N/R_N*)),  U_N = min(N, N_opt(U_D)),

so a run that saw its data at most once is still penalised when its model has more
parameters than its unique data can feed (eq. 15); only its R_D is zero.

Stages, as the paper (App. A: the base law first, then R_D* and R_N* with it fixed), then
all together:

1. the base law: fixed from a file (``Constraints.base``; what Muennighoff et al. did, with
   their base law from Chinchilla's C4 points), else a start for it fitted by
   :func:`.parametric.fit_law` (every 5th point of its grid) on the runs that saw their
   data at most once;
2. R_D*, R_N* with the base fixed, on every run, from a 5 × 5 grid of 1 to 100 each (or the
   user's starts), all at once by the batched L-BFGS (gradient by central differences);
3. unless the base is fixed, every free constant together, from the best optima of stage
   2; then the best few are polished by scipy's least_squares, whose "huber" loss is the
   Huber loss of Hoffmann et al. (f_scale δ; a run's weight scales its term), and the best
   is kept.

Uncertainty: a bootstrap refits every resample of the runs at once; profiles along R_D*
and R_N* (:mod:`.identify`) say whether the runs pin them down. A profile that finds a
lower objective than the fit moves the fit there.
"""
from __future__ import annotations

__all__ = ["RepetitionFit", "fit_repetition", "repetition_bootstrap", "repetition_profiles",
           "repetition_log_loss", "REPETITION_NAMES", "DEFAULT_R_STARTS"]

import math
from dataclasses import dataclass, replace

import numpy as np

from ..model.laws import MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR, ChinchillaLaw, params_fed_by, repetition_params, repetition_tokens
from ..model.frontier import frontier_scale
from .constraints import THETA_NAMES, Constraints, Layout
from .identify import Profile, profile_grid, region_threshold
from .lbfgs import batched_lbfgs
from .parametric import Bootstrap, FitObjective, FitResult, fit_law, start_grid
from .runs import Runs

#: θ of the repetition fit: the base law's (a, b, e, α, β), then log R_D*, log R_N*
REPETITION_NAMES = THETA_NAMES + ("log_R_D_star", "log_R_N_star")
_EXTRA = REPETITION_NAMES[5:]
#: the starting values of R_D* and R_N* (each), as the old grid of Muennighoff et al. spans
DEFAULT_R_STARTS = np.array([[d, n] for d in (1.0, 3.0, 10.0, 30.0, 100.0) for n in (1.0, 3.0, 10.0, 30.0, 100.0)])
#: the range of R_D*, R_N* searched, in logs: beyond 1e4 the penalty is nil, below 1e-2
#: every repetition is worthless; the objective is flat outside
_LOG_BOUNDS = (math.log(1e-2), math.log(1e4))


def repetition_log_loss(theta, N, D, U, grad: bool = False):
    """log L [log nats] of the data-constrained law at each row of θ (m, 7) for the runs
    N, D, U (n,) [count]: (m, n); with ``grad``, also ∂log L/∂θ (m, n, 7).

    N' and D' are the law's own (:func:`~..model.laws.repetition_tokens` and
    :func:`~..model.laws.repetition_params`, Muennighoff et al. 2023, eq. 14–15); the base
    law is summed in log form. The gradient follows the chain θ → (G, K = N_opt(U_D)) →
    (N', D') → log L, with log K = (1 + β/α)·log G + (β/α)·log U_D and
    log G = (log α + a − log β − b)/(α + β)."""
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    a, b, e, al, be, rd, rn = (theta[:, k:k + 1] for k in range(7))
    N, D, U = (np.asarray(v, dtype=float)[None, :] for v in (N, D, U))
    sD, sN = np.exp(rd), np.exp(rn)
    D_eff, eD, U_D, repeated = repetition_tokens(D, U, sD)                       # eq. 14
    log_G = (np.log(al) + a - np.log(be) - b) / (al + be)
    N_eff, eN, _ = repetition_params(N, U_D, repeated, sN, np.exp(log_G), be / al)  # eq. 15
    log_N, log_D = np.log(N_eff), np.log(D_eff)
    w1, w2, w3 = np.exp(a - al * log_N), np.exp(b - be * log_D), np.exp(e)   # A/N'^α, B/D'^β, E
    total = w1 + w2 + w3
    log_L = np.log(total)
    if not grad:
        return log_L
    p1, p2, p3 = w1 / total, w2 / total, w3 / total
    log_UD = np.log(U_D)
    K = params_fed_by(U_D, frontier_scale(np.exp(a), np.exp(b), al, be), be / al)   # N_opt(U_D)
    excess = N > K
    xN = np.where(excess, N / K - 1.0, 0.0) / sN
    xD = (D / U_D - 1.0) / sD
    dlogN_dlogK = np.where(excess, (1.0 + sN * (1.0 - eN) - (N / K) * eN) * K / N_eff, 0.0)
    c1 = -al * p1 * dlogN_dlogK                                      # ∂log L/∂log K
    g = np.empty(log_L.shape + (7,))
    g[..., 0] = p1 + c1 / al
    g[..., 1] = p2 - c1 / al
    g[..., 2] = p3
    g[..., 3] = -p1 * log_N + c1 * (1.0 / al ** 2 - log_G / al - (be / al ** 2) * (log_G + log_UD))
    g[..., 4] = -p2 * log_D + c1 * (log_UD - 1.0 / be) / al
    g[..., 5] = -be * p2 * U_D * sD * ((1.0 - eD) - xD * eD) / D_eff
    g[..., 6] = np.where(excess, -al * p1 * K * sN * ((1.0 - eN) - xN * eN) / N_eff, 0.0)
    return log_L, g


def _loss_terms(r: np.ndarray, objective: FitObjective) -> tuple[np.ndarray, np.ndarray]:
    """(loss(r), loss'(r)) per run, the losses of :func:`.parametric.huber_objective`."""
    if objective.loss == "huber":
        c = np.clip(r, -objective.delta, objective.delta)
        return c * (r - 0.5 * c), c
    if objective.loss == "mse":
        return 0.5 * r * r, r
    return np.abs(r), np.sign(r)


def _unique(runs: Runs) -> np.ndarray:
    return np.full(len(runs), np.inf) if runs.unique is None else runs.unique


def _objective(runs: Runs, objective: FitObjective, counts=None):
    """fun(θ (m, 7), rows, grad=True) → the summed loss of every row (inf outside the
    bounds) and its gradient (m, 7); ``counts`` (problems, runs) weigh each problem's runs
    (a bootstrap), the runs' own weights weigh every problem."""
    N, D, U, y = runs.params, runs.tokens, _unique(runs), np.log(runs.loss)

    def fun(theta, rows, grad=True):
        # beyond the range searched the objective is that at its edge: flat, so a search that
        # leans on a bound (an R* the runs do not pin down) stops there instead of stalling
        clipped = theta.copy()
        clipped[:, 5:] = np.clip(theta[:, 5:], *_LOG_BOUNDS)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            out = repetition_log_loss(clipped, N, D, U, grad)
            h, dh = _loss_terms((out[0] if grad else out) - y, objective)
            w = None if counts is None else counts[rows]
            if runs.weights is not None:
                w = runs.weights[None, :] if w is None else w * runs.weights
            if w is not None:
                h, dh = h * w, dh * w
            f = h.sum(1)
            f = np.where((theta[:, 3] <= 0) | (theta[:, 4] <= 0) | ~np.isfinite(f), np.inf, f)
            if not grad:
                return f
            g = np.einsum("mn,mnk->mk", dh, out[1])
            g[:, 5:] = np.where(clipped[:, 5:] != theta[:, 5:], 0.0, g[:, 5:])
        return f, np.where(np.isfinite(g), g, 0.0)
    return fun


def _value(runs: Runs, objective: FitObjective):
    """value(θ (m, 7)) → the summed loss of every row."""
    fun = _objective(runs, objective)
    return lambda theta: fun(np.atleast_2d(theta), None, False)


@dataclass(frozen=True)
class RepetitionFit:
    """The data-constrained law fitted to ``runs`` (every run).

    theta : (a, b, e, α, β, log R_D*, log R_N*); objective : the summed loss at theta
    residuals : log L_fit − log L per run; starts : the starting points of R_D*, R_N* tried,
    converged : how many reached the best objective of stage 2 (within 1e-5 relative)
    thetas : bootstrap fits (S, 7), or None; seed : the bootstrap's seed
    profiles : the profiles along R_D* and R_N* (:func:`repetition_profiles`), or ()
    """

    theta: np.ndarray
    objective: float
    residuals: np.ndarray
    runs: Runs
    constraints: Constraints = Constraints()
    fit_objective: FitObjective = FitObjective()
    starts: int = 0
    converged: int = 0
    thetas: np.ndarray | None = None
    boot_objectives: np.ndarray | None = None
    seed: int | None = None
    profiles: tuple = ()

    @property
    def R_D_star(self) -> float:
        return math.exp(self.theta[5])

    @property
    def R_N_star(self) -> float:
        return math.exp(self.theta[6])

    @property
    def base(self) -> ChinchillaLaw:
        """The base law: fixed from a file, or fitted together with R_D*, R_N*."""
        if self.constraints.base is not None:
            return self.constraints.base
        a, b, e, al, be = (float(v) for v in self.theta[:5])
        held = self.constraints.describe()
        return ChinchillaLaw(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=al, beta=be,
                             name=f"fit of {self.runs.source.split('/')[-1]}",
                             source=f"lifeopt fit of {self.runs.source} ({len(self.runs)} runs; base law of the "
                                    f"data-constrained law of Muennighoff et al. 2023 eq. 14-15 fitted with R_D*, "
                                    f"R_N*; {self.fit_objective.describe()}" + (f"; {held}" if held else "") + ")",
                             fitted=self.runs.fitted_range(f"fit of {len(self.runs)} runs"))

    def objective_at(self, R_D_star: float, R_N_star: float) -> float:
        """The objective with the fit's base law and these constants (e.g. the published ones)."""
        theta = np.append(self.theta[:5], np.log([R_D_star, R_N_star]))[None, :]
        return float(_value(self.runs, self.fit_objective)(theta)[0])

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float] | None:
        """Percentile bootstrap interval of R_D_star, R_N_star or a base constant."""
        if self.thetas is None:
            return None
        t = self.thetas
        values = {"R_D_star": np.exp(t[:, 5]), "R_N_star": np.exp(t[:, 6]), "E": np.exp(t[:, 2]),
                  "A": np.exp(t[:, 0]), "B": np.exp(t[:, 1]), "alpha": t[:, 3], "beta": t[:, 4]}[name]
        lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def law_result(self) -> FitResult:
        """The base law as a :class:`FitResult` (the reports and law files read those)."""
        held = "the base law fixed" if self.constraints.base is not None else "fitted with the base law"
        method = (f"R_D*, R_N* of Muennighoff et al. 2023 (eq. 14-15) on every run, {held}; "
                  f"{self.fit_objective.describe()} on log-loss residuals, summed; L-BFGS from {self.starts} "
                  f"starts of R_D*, R_N*, scipy least_squares polish")
        law = self.base
        if self.constraints.base is not None:       # the law planned with: its R* come from these runs
            law = replace(law, source=f"{law.source}; the base of R_D*, R_N* fitted to {self.runs.source}",
                          fitted=self.runs.fitted_range(f"R_D*, R_N* fitted on {len(self.runs)} runs"))
        return FitResult(law, np.asarray(self.theta[:5]), self.objective, self.residuals, self.starts,
                         self.converged, self.runs, local_optima=np.asarray(self.theta[None, :5]),
                         fit_objective=self.fit_objective, constraints=self.constraints, method=method)

    def base_bootstrap(self) -> Bootstrap | None:
        """The bootstrap's base laws as a :class:`Bootstrap` (None without one, or with the
        base fixed)."""
        if self.thetas is None or not self.constraints.free_base:
            return None
        return Bootstrap(self.thetas[:, :5], self.boot_objectives, self.seed or 0)

    @property
    def warnings(self) -> list[str]:
        return [w for w in (p.warning() for p in self.profiles) if w]

    def as_dict(self) -> dict:
        names = ("R_D_star", "R_N_star") + (("E", "A", "B", "alpha", "beta") if self.constraints.free_base else ())
        return {"R_D_star": self.R_D_star, "R_N_star": self.R_N_star, "objective": self.objective,
                "runs": len(self.runs), "repeated_runs": int(self.runs.repeated.sum()),
                "model": "Muennighoff et al. 2023 eq. 14-15 on every run",
                "base": "fixed" if self.constraints.base is not None else "fitted jointly",
                "residuals_rms": float(np.sqrt(np.mean(self.residuals ** 2))),
                "objective_at_published": self.objective_at(MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR),
                "intervals_95": None if self.thetas is None else {k: list(self.interval(k)) for k in names},
                "profiles": {p.name: p.as_dict() for p in self.profiles},
                "warnings": self.warnings}


# ------------------------------------------------------------------ the fit
def _base_start(runs: Runs, objective: FitObjective, constraints: Constraints, starts, workers) -> np.ndarray:
    """θ of the base law to start from (stage 1): the fixed base, or the Chinchilla form
    fitted to the runs that saw their data at most once (all runs when fewer than 5 did)."""
    if constraints.base is not None:
        return constraints.layout().offset
    fresh = runs.subset(~runs.repeated)
    # only a start for stage 3: every 5th point of the usual grid finds its basin
    return fit_law(fresh if len(fresh) >= 5 else runs, starts=start_grid()[::5] if starts is None else starts,
                   objective=objective, constraints=constraints, workers=workers).theta


def _best_distinct(theta: np.ndarray, f: np.ndarray, limit: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for i in np.argsort(np.where(np.isfinite(f), f, np.inf)):
        if not np.isfinite(f[i]):
            break
        if all(np.max(np.abs(theta[i] - t)) > 1e-3 for t in out):
            out.append(theta[i])
        if len(out) >= limit:
            break
    return out


def _polish(layout: Layout, runs: Runs, objective: FitObjective, theta: np.ndarray) -> np.ndarray:
    """θ after scipy's least_squares from ``theta`` over the free constants (the Huber or
    squared loss as its robust loss, each run's weight on its term; bounds on log R*);
    minimize (L-BFGS-B) for the absolute loss. Kept only where it lowers the objective."""
    from scipy.optimize import least_squares, minimize

    value = _value(runs, objective)
    N, D, U, y = runs.params, runs.tokens, _unique(runs), np.log(runs.loss)
    M = layout.matrix
    w = np.ones(len(runs)) if runs.weights is None else runs.weights
    u0 = layout.reduce(theta)[0]
    rho_cols = [i for i, n in enumerate(layout.free) if n in _EXTRA]
    lower, upper = np.full(u0.size, -np.inf), np.full(u0.size, np.inf)
    lower[rho_cols], upper[rho_cols] = _LOG_BOUNDS
    u0 = np.clip(u0, lower + 1e-9, upper - 1e-9)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if objective.loss == "mae":
            fun = layout.wrap(_objective(runs, objective))
            res = minimize(lambda u: tuple(np.asarray(v)[0] for v in fun(u[None, :], np.arange(1))), u0,
                           jac=True, method="L-BFGS-B", bounds=list(zip(lower, upper)),
                           options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000})
            u = res.x
        else:
            res = least_squares(lambda u: (repetition_log_loss(layout.expand(u), N, D, U) - y)[0], u0,
                                jac=lambda u: repetition_log_loss(layout.expand(u), N, D, U, True)[1][0] @ M.T,
                                bounds=(lower, upper), method="trf", x_scale="jac",
                                loss=_weighted_loss(w, objective), xtol=1e-15, ftol=1e-15, gtol=1e-15,
                                max_nfev=2000)
            u = res.x
    polished = layout.expand(u)[0]
    better = value(polished)[0] <= value(theta)[0]
    return polished if better else np.asarray(theta, dtype=float)


def _weighted_loss(w: np.ndarray, objective: FitObjective):
    """least_squares' robust loss ρ(z), z = r², with cost ½·Σρ = Σ w·loss(r): the Huber
    loss (r²/2 within δ, δ(|r| − δ/2) beyond) or the squared one, weighted per run."""
    d2 = objective.delta ** 2

    def rho(z):
        out = np.empty((3, z.size))
        if objective.loss == "mse":
            out[0], out[1], out[2] = w * z, w, 0.0
            return out
        inside = z <= d2
        sz = np.sqrt(np.where(inside, d2, z))
        out[0] = np.where(inside, z, 2 * objective.delta * sz - d2) * w
        out[1] = np.where(inside, 1.0, objective.delta / sz) * w
        out[2] = np.where(inside, 0.0, -0.5 * objective.delta / sz ** 3) * w
        return out
    return rho


def fit_repetition(runs: Runs, *, objective: FitObjective = FitObjective(),
                   constraints: Constraints = Constraints(), starts=None, r_starts=None,
                   workers: int | None = None, profile: bool = True) -> RepetitionFit:
    """Fit the data-constrained law to every run of ``runs`` (see the module docstring).

    ``constraints`` fix the base law (``base``), tie α = β or fix E; ``starts`` (m, 5) is a
    start grid for the base (as :func:`.parametric.fit_law`), ``r_starts`` (m, 2) one of
    (R_D*, R_N*) [–]; ``profile`` adds the profiles along R_D* and R_N*."""
    layout = constraints.layout(_EXTRA)
    fun = _objective(runs, objective)
    base = _base_start(runs, objective, constraints, starts, workers)
    grid = np.log(np.atleast_2d(DEFAULT_R_STARTS if r_starts is None else np.asarray(r_starts, dtype=float)))
    # stage 2: R_D*, R_N* under the base law of stage 1
    fixed = Layout(REPETITION_NAMES, dict(zip(THETA_NAMES, base)))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        u, f, _ = batched_lbfgs(fixed.wrap(fun), grid, max_iter=1000)
    thetas = fixed.expand(u)
    candidates = _best_distinct(thetas, f, limit=3)
    converged = int(np.sum(f <= np.min(f) * (1 + 1e-5)))
    if constraints.free_base:                        # stage 3: every free constant together
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            u, f, _ = batched_lbfgs(layout.wrap(fun), layout.reduce(np.array(candidates)), max_iter=500)
        candidates = _best_distinct(layout.expand(u), f, limit=3)
    polished = [_polish(layout, runs, objective, t) for t in candidates]
    scores = [fun(t[None, :], None, False)[0] for t in polished]
    fit = replace(_result(polished[int(np.argmin(scores))], runs, objective, constraints, len(grid)),
                  converged=converged)
    return repetition_profiles(fit) if profile else fit


def _clip(theta: np.ndarray) -> np.ndarray:
    """θ with log R_D*, log R_N* inside the range searched (the objective is flat beyond)."""
    theta = np.array(theta, dtype=float)
    theta[..., 5:] = np.clip(theta[..., 5:], *_LOG_BOUNDS)
    return theta


def _result(theta, runs, objective, constraints, starts) -> RepetitionFit:
    theta = _clip(theta)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        residuals = repetition_log_loss(theta, runs.params, runs.tokens, _unique(runs))[0] - np.log(runs.loss)
    f = float(_value(runs, objective)(theta)[0])
    return RepetitionFit(theta, f, residuals, runs, constraints, objective, starts)


# ------------------------------------------------------------------ uncertainty
def repetition_profiles(fit: RepetitionFit, grid=None, *, _retries: int = 1) -> RepetitionFit:
    """The fit with its profiles along R_D* and R_N* (every other free constant refitted at
    each value of ``grid``, default :func:`.identify.profile_grid`). A profile point below
    the fit's objective means the fit missed a better optimum: the fit moves there."""
    values = profile_grid() if grid is None else np.asarray(grid, dtype=float)
    layout = fit.constraints.layout(_EXTRA)
    fun = _objective(fit.runs, fit.fit_objective)
    weight = float(len(fit.runs) if fit.runs.weights is None else fit.runs.weights.sum())
    threshold = region_threshold(fit.objective, fit.residuals, fit.fit_objective.loss, fit.fit_objective.delta,
                                 weight)
    profiles, lowest = [], (fit.objective, None)
    for name, column in (("R_D_star", "log_R_D_star"), ("R_N_star", "log_R_N_star")):
        fixed, offsets = layout.with_fixed(column, np.log(values))
        u0 = np.tile(fixed.reduce(fit.theta), (len(values), 1))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            u, f, _ = batched_lbfgs(fixed.wrap(fun, offsets), u0, max_iter=3000)
        f = np.where(np.isfinite(f), f, np.inf)
        profiles.append(Profile(name, math.exp(fit.theta[REPETITION_NAMES.index(column)]), values, f,
                                fit.objective, threshold))
        k = int(np.argmin(f))
        if f[k] < lowest[0] * (1 - 1e-9) - 1e-300:
            lowest = (f[k], fixed.expand(u[k], offsets[k:k + 1])[0])
    if lowest[1] is not None and _retries > 0:
        better = _polish(layout, fit.runs, fit.fit_objective, lowest[1])
        moved = replace(_result(better, fit.runs, fit.fit_objective, fit.constraints, fit.starts),
                        converged=fit.converged)
        if moved.objective < fit.objective:
            return repetition_profiles(moved, values, _retries=_retries - 1)
    return replace(fit, profiles=tuple(profiles))


def repetition_bootstrap(fit: RepetitionFit, samples: int = 1000, *, seed: int = 0) -> RepetitionFit:
    """The fit with bootstrap refits on its runs resampled with replacement, every resample
    started from the fit and all moved together."""
    rng = np.random.default_rng(seed)
    n = len(fit.runs)
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(samples)]).astype(float)
    layout = fit.constraints.layout(_EXTRA)
    u0 = np.tile(layout.reduce(fit.theta), (samples, 1))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        u, f, _ = batched_lbfgs(layout.wrap(_objective(fit.runs, fit.fit_objective, counts)), u0,
                                gtol=1e-10, ftol=1e-13, fscale=0.0, patience=3, max_iter=3000)
    return replace(fit, thetas=_clip(layout.expand(u)), boot_objectives=f, seed=seed)
