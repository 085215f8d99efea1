"""Fit your own scaling law to your own training runs, with honest uncertainty.

**Approach 3** (Hoffmann et al. 2022, §3.3 and App. D.2; as replicated by Besiroglu et al.
2024, arXiv 2404.10102): with a = log A, b = log B, e = log E, minimise over
θ = (a, b, e, α, β) the *sum* (Besiroglu et al. found that Hoffmann et al. averaged,
which stops the optimiser early) of Huber losses, δ = 1e-3, of the log-loss residuals

    r_i = LSE(a − α·log N_i, b − β·log D_i, e) − log L_i,

by L-BFGS from the full grid of starting points α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1},
a, b ∈ {0, 5, …, 25} (4,500 starts). Every start runs at once: the objective and its
analytic gradient are evaluated for all starts in one numpy expression, and a batched
L-BFGS (two-loop recursion and Armijo backtracking, per start) moves them together. The
best few are then polished with scipy's L-BFGS-B.

**Bootstrap**: refits on runs resampled with replacement; each resample is a vector of
counts per run (a weighted objective), so all resamples are again solved as one batch,
started from the best optima of the full fit.

Approach 2 (IsoFLOP profiles) lives in :mod:`.isoflop`.

The objective, its gradient and the start grid live in :mod:`.objective`: Huber, or
"mse" (r²/2) and "mae" (|r|) of the same log residuals (:class:`FitObjective`). A final polish of the best optimum by full-memory BFGS or by Newton's
method is available (:mod:`.polish`).
"""
from __future__ import annotations

__all__ = ["FitResult", "fit_law", "huber_objective", "huber_residuals", "start_grid", "batched_lbfgs",
           "bootstrap", "check_bootstrap", "MIN_HUBER_DELTA", "MAX_HUBER_DELTA", "Bootstrap", "MAX_FIT_RUNS", "MAX_BOOTSTRAP_WORK", "law_toml", "write_samples", "HUBER_DELTA", "FitObjective", "FIT_LOSSES",
           "method_of"]

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.laws import ChinchillaLaw
from ..model.frontier import compute_optimal_plan
from .constraints import Constraints
from .lbfgs import batched_lbfgs
from .machine import FIT_MEMORY, check_workers, default_workers as _default_workers, memory_budget, run_parts
from ..scenario.samples import SAMPLE_COLUMNS
from .runs import Runs
from .terms import unidentified_terms, unresolved
from .objective import (FIT_LOSSES, HUBER_DELTA, MAX_HUBER_DELTA, MIN_HUBER_DELTA, FitObjective,
                        features as _features, free_objective as _free_objective, huber_objective, huber_residuals,
                        polish_lbfgsb as _polish, start_grid)


# ------------------------------------------------------------------ the fit
@dataclass(frozen=True)
class FitResult:
    """A fitted Chinchilla-form law.

    law : the ChinchillaLaw with the fitted constants and range
    theta : (a, b, e, α, β) with A = e^a, B = e^b, E = e^e
    objective : the summed Huber loss at theta
    residuals : log L_fit − log L per run
    starts, converged_starts : the grid size and how many starts reached the best objective
      within 1e-9 relative
    runs : the runs fitted
    fit_objective : what was summed (see FitObjective)
    final_polish : (method, objective before, objective after) of a final BFGS or Newton
        polish of the best optimum, or None
    constraints : the constants held fixed or tied (see Constraints)
    method : the method in words when not the summed loss of ``fit_objective`` (a
        likelihood fit), else None
    """

    law: ChinchillaLaw
    theta: np.ndarray
    objective: float
    residuals: np.ndarray
    starts: int
    converged_starts: int
    runs: Runs
    local_optima: np.ndarray = field(repr=False, default=None)
    fit_objective: FitObjective = FitObjective()
    final_polish: tuple | None = None
    constraints: Constraints = Constraints()
    method: str | None = None

    def implied_tokens_per_param(self, budgets=(1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26)):
        """[(C, N_opt, D_opt, D/N)] of the compute-optimal plan at each budget [FLOP]."""
        out = []
        for c in budgets:
            n, d = self.law.compute_optimal(c)
            out.append((float(c), float(n), float(d), float(d / n)))
        return out


def _law_from_theta(theta, runs: Runs, name: str, method: str) -> ChinchillaLaw:
    a, b, e, al, be = (float(v) for v in theta)
    return ChinchillaLaw(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=al, beta=be, name=name,
                         source=f"lifeopt fit of {runs.source} ({len(runs)} runs; {method})",
                         fitted=runs.fitted_range(f"fit of {len(runs)} runs"))


METHOD = "Huber δ=1e-3 on log-loss, summed; L-BFGS from 4,500 starts (Hoffmann et al. 2022 Approach 3)"


def method_text(objective: FitObjective, polish: str | None = None,
                constraints: Constraints = Constraints()) -> str:
    """The fit's method in words (METHOD for the default objective)."""
    text = METHOD.replace("Huber δ=1e-3", objective.describe())
    held = constraints.describe()
    return text + (f"; final {polish} polish" if polish else "") + (f"; {held}" if held else "")


#: the memory the batched fit may hold at once, shared by its processes [bytes]
#: (at most a quarter of the machine's: :func:`.machine.memory_budget`)
MEMORY_BUDGET = FIT_MEMORY
#: the most runs a fit takes: 4,500 starts × 3,000 runs took 3.3 minutes on two shared cores
#: (1,000 runs 74 s, 4,000 runs 260 s: time grows with the runs; benchmarks/bench_fit.py)
MAX_FIT_RUNS = 3_000
#: the most run-resamples a bootstrap refits (resamples × runs): 1,000 resamples of the
#: largest fit, about as long as that fit
MAX_BOOTSTRAP_WORK = 3_000_000


def _batch_pass(args):
    """Run the batched L-BFGS from ``starts`` (free constants; with per-start run
    ``weights`` or None) with scipy's default tolerances: a pass that only has to find the
    basins, whose winners are polished. Top level so that processes can run it."""
    starts, x, z, y, weights, tolerances = args
    tolerances = dict(tolerances)
    objective = tolerances.pop("objective", FitObjective())
    layout = tolerances.pop("layout", Constraints().layout())
    run_weights = tolerances.pop("run_weights", None)
    budget = tolerances.pop("budget", MEMORY_BUDGET)
    starts = np.asarray(starts, dtype=float)
    # starts × runs × 8 bytes, about 16 arrays of that size alive at once: blocks of
    # starts sized to the budget, so many runs cost time, not memory
    block = max(1, int(budget // (16 * 8 * max(1, len(x)))))
    thetas, fs = [], []
    for lo in range(0, len(starts), block):
        part = slice(lo, lo + block)
        fun = _free_objective(x, z, y, objective, layout, run_weights, None if weights is None else weights[part])
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            theta, f, _ = batched_lbfgs(fun, starts[part], **tolerances)
        thetas.append(theta)
        fs.append(f)
    return np.concatenate(thetas), np.concatenate(fs)


def _run_batches(starts, x, z, y, weights, workers: int, progress=None, **tolerances):
    """:func:`_batch_pass` over every start, in parts across ``workers`` processes that
    share the memory budget; ``progress(done, total)`` in starts after each part."""
    check_workers(workers)
    tolerances["budget"] = memory_budget(workers, MEMORY_BUDGET)
    count = 1 if len(starts) < 1000 else 4 * workers
    parts = np.array_split(np.arange(len(starts)), count)
    jobs = [(starts[p], x, z, y, None if weights is None else weights[p], tolerances) for p in parts]
    ends = np.cumsum([len(p) for p in parts])
    report = None if progress is None else (lambda i: progress(int(ends[i - 1]), len(starts)))
    done = run_parts(_batch_pass, jobs, workers if count > 1 else 1, report)
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def fit_law(runs: Runs, *, starts: np.ndarray | None = None, name: str | None = None,
            workers: int | None = None, objective: FitObjective = FitObjective(),
            polish: str | None = None, constraints: Constraints = Constraints(), progress=None) -> FitResult:
    """Fit L = E + A/N^α + B/D^β to ``runs`` (Approach 3; see the module docstring).

    Every start of the grid (``starts`` (m, 5) of (a, b, e, α, β), default
    :func:`start_grid`) runs a batched L-BFGS (on ``workers`` processes, default: the
    machine's cores, at most 8); the best distinct optima are polished by scipy's
    L-BFGS-B with tight tolerances and the best is kept. ``objective`` chooses the loss of
    the log residuals; ``polish`` ("bfgs" or "newton") polishes the best optimum once more
    (:func:`.polish.final_polish`); ``constraints`` ties α = β or fixes E; the runs'
    weights (``runs.weights``), when given, multiply each run's term; ``progress(done,
    total)`` hears of the starts done. ScenarioError when the runs do not identify the
    law (:func:`_check_identified`)."""
    from ..errors import ScenarioError
    from .polish import final_polish

    if len(runs) > MAX_FIT_RUNS:
        raise ScenarioError("file", f"at most {MAX_FIT_RUNS:,} runs to fit (final losses, one per run; "
                            f"for training curves use --approach all)", source=runs.source,
                            found_text=f"found {len(runs):,}: fit a sample of them")
    x, z, y = _features(runs)
    close = unresolved(y)
    if close:
        raise ScenarioError("file", "runs whose losses differ enough to fit a law", source=runs.source,
                            found_text=f"found {close}")
    layout = constraints.layout()
    grid = layout.starts(start_grid() if starts is None else np.atleast_2d(np.asarray(starts, dtype=float)))
    u, f = _run_batches(grid, x, z, y, None, workers if workers is not None else _default_workers(), progress,
                        objective=objective, layout=layout, run_weights=runs.weights)
    f = np.where(np.isfinite(f), f, np.inf)
    fun = _free_objective(x, z, y, objective, layout, runs.weights)
    polished = [_polish(t, fun) for t in _distinct(u[np.argsort(f)], limit=8)]
    best_u, best_f = min(polished, key=lambda p: p[1])
    converged = int(np.sum(f <= best_f * (1 + 1e-5)))
    record = None
    if polish:
        new_u, new_f = final_polish(best_u, lambda t: fun(t[None, :], np.arange(1)), polish)
        record = (polish, best_f, new_f)
        if new_f <= best_f:
            best_u, best_f = new_u, new_f
    best_theta = layout.expand(best_u)[0]
    _check_identified(best_theta, runs)
    law = _law_from_theta(best_theta, runs, name or f"fit of {Path(runs.source).name}",
                          method_text(objective, polish, constraints))
    _check_terms(best_theta, best_f, runs, law, objective, layout)
    residuals = huber_residuals(best_theta, x, z, y)
    return FitResult(law, best_theta, best_f, residuals, len(grid), converged, runs,
                     local_optima=layout.expand([p[0] for p in sorted(polished, key=lambda p: p[1])]),
                     fit_objective=objective, final_polish=record, constraints=constraints)


#: the largest exponent a scenario accepts (scenario/sections.py reads alpha, beta ≤ 5)
MAX_EXPONENT = 5.0
#: the largest log-constant whose exponential is a float (e^709.78 is the largest double)
_LOG_MAX = math.log(np.finfo(float).max)


def _check_identified(theta, runs: Runs) -> None:
    """ScenarioError when the best fit is not a law a plan can use: an exponent ≤ 0 (the
    loss rises with N or D), or constants the runs do not pin down (equal losses, an
    exponent beyond what a scenario accepts, constants that overflow)."""
    from ..errors import ScenarioError

    a, b, e, al, be = (float(v) for v in theta)
    found = f"the best fit has alpha = {al:.4g}, beta = {be:.4g}"
    if al <= 0 or be <= 0:
        raise ScenarioError("file", "runs whose loss falls as N and D grow (a decreasing power law)",
                            source=runs.source, found_text=f"found {found}: the loss rises with "
                            f"{'N' if al <= 0 else 'D'} (runs in mixed units or from different setups?)")
    wild = [name for name, bad in (("A and alpha", al > MAX_EXPONENT or a > _LOG_MAX),
                                   ("B and beta", be > MAX_EXPONENT or b > _LOG_MAX),
                                   ("E", e > _LOG_MAX)) if bad]
    if wild:
        raise ScenarioError("file", "runs whose loss varies with N and D enough to pin down E, A, B, alpha "
                            "and beta", source=runs.source,
                            found_text=f"found {found} (losses from {runs.loss.min():.4g} to "
                                       f"{runs.loss.max():.4g}): {' nor '.join(wild)} not identified (an exponent "
                                       f"over {MAX_EXPONENT:g} or a constant that overflows); add runs that "
                                       f"differ in size and tokens")


def _check_terms(theta, best: float, runs: Runs, law: ChinchillaLaw, objective: FitObjective, layout) -> None:
    """ScenarioError naming the constants the runs do not identify (:mod:`.terms`), or
    when the law's compute-optimal plans overflow (exponents too small to split compute)."""
    from ..errors import ScenarioError

    x, z, y = _features(runs)
    missing = unidentified_terms(theta, best, x, z, y, objective, layout, runs.weights)
    found = f"alpha = {law.alpha:.4g}, beta = {law.beta:.4g}: not a law to plan with"
    if missing:
        raise ScenarioError("file", "runs that identify the law's constants (sizes and tokens spread wide enough "
                            "that each term moves the loss by more than its noise)", source=runs.source,
                            found_text=f"found {'; and '.join(missing)}: not identified ({found})")
    try:
        with np.errstate(all="raise"):
            plans = np.array([law.compute_optimal(c) for c in (1e18, 1e30)], dtype=float)
    except (ArithmeticError, FloatingPointError):
        plans = np.array([np.nan])
    if not np.all(np.isfinite(plans)):
        raise ScenarioError("file", "runs that identify the law's constants", source=runs.source,
                            found_text=f"found a law whose compute-optimal plans overflow ({found})")


def _distinct(thetas: np.ndarray, limit: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for t in thetas:
        if all(np.max(np.abs(t - u)) > 1e-3 for u in out):
            out.append(t)
        if len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------ bootstrap
@dataclass(frozen=True)
class Bootstrap:
    """Refits on resampled runs: ``thetas`` (S, 5) and the laws; percentile intervals."""

    thetas: np.ndarray
    objectives: np.ndarray
    seed: int

    @property
    def constants(self) -> dict[str, np.ndarray]:
        a, b, e, al, be = self.thetas.T
        return {"E": np.exp(e), "A": np.exp(a), "B": np.exp(b), "alpha": al, "beta": be}

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        lo, hi = np.quantile(self.constants[name], [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def laws(self, base: ChinchillaLaw) -> list[ChinchillaLaw]:
        c = self.constants
        return [ChinchillaLaw(E=float(c["E"][i]), A=float(c["A"][i]), B=float(c["B"][i]),
                              alpha=float(c["alpha"][i]), beta=float(c["beta"][i]),
                              name=f"{base.name} (bootstrap {i})", source=base.source, fitted=base.fitted)
                for i in range(len(self.thetas))]

    def optimal_allocation(self, flops: float, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile intervals of N_opt, D_opt and D/N at training compute ``flops``."""
        c = self.constants
        n, d = compute_optimal_plan(flops, c["A"], c["B"], c["alpha"], c["beta"])
        q = [(1 - level) / 2, (1 + level) / 2]
        return {"params": tuple(np.quantile(n, q)), "tokens": tuple(np.quantile(d, q)),
                "tokens_per_param": tuple(np.quantile(d / n, q))}


def check_bootstrap(samples: int, runs: int) -> None:
    """ScenarioError, before any work, when ``samples`` resamples of ``runs`` runs exceed
    MAX_BOOTSTRAP_WORK (each resample holds a count per run, and each is a refit)."""
    from ..errors import ScenarioError

    if samples * runs > MAX_BOOTSTRAP_WORK:
        raise ScenarioError("--bootstrap", f"at most {max(1, MAX_BOOTSTRAP_WORK // runs):,} resamples of {runs:,} runs "
                            f"(resamples × runs ≤ {MAX_BOOTSTRAP_WORK:,}: about as long as a fit of {MAX_FIT_RUNS:,} runs)", samples)


def bootstrap(result: FitResult, samples: int = 1000, *, seed: int = 0,
              workers: int | None = None, counts: np.ndarray | None = None, progress=None) -> Bootstrap:
    """Refit on ``samples`` resamples of the runs (with replacement), all as one batch,
    each started from the full fit's best three distinct optima. ``counts`` (resamples ×
    runs) gives the resamples directly, e.g. whole training curves resampled together."""
    runs = result.runs
    x, z, y = _features(runs)
    rng = np.random.default_rng(seed)
    n = len(runs)
    check_bootstrap(samples if counts is None else len(counts), n)
    if counts is None:
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(samples)])
    counts = np.asarray(counts, dtype=float)
    samples = len(counts)
    layout = result.constraints.layout()
    starts = layout.reduce(result.local_optima[:3] if result.local_optima is not None else result.theta)
    k = len(starts)
    u0 = np.repeat(starts, samples, axis=0)              # start j for every resample, then j + 1
    weights = np.tile(counts, (k, 1))
    # started at (or near) an optimum, scipy's absolute-looking rule would stop at once:
    # judge progress relative to the objective itself, and polish to a small gradient
    u, f = _run_batches(u0, x, z, y, weights, workers if workers is not None else _default_workers(), progress,
                        gtol=1e-11, ftol=1e-13, fscale=0.0, patience=3, objective=result.fit_objective,
                        layout=layout, run_weights=runs.weights)
    f = np.where(np.isfinite(f), f, np.inf).reshape(k, samples)
    theta = layout.expand(u).reshape(k, samples, 5)
    best = np.argmin(f, axis=0)
    return Bootstrap(theta[best, np.arange(samples)], f[best, np.arange(samples)], seed)


# ------------------------------------------------------------------ files
def law_toml(result: FitResult, *, samples_file: str | None = None, boot: Bootstrap | None = None) -> str:
    """The fit as a scenario ``[law]`` table (`lifeopt solve` reads it, or a scenario points
    at it with ``[law] file = "law.toml"``)."""
    law, fr = result.law, result.law.fitted
    # a comment holds no escapes: the file name, printable, on its one line
    where = _toml_str(result.runs.source)[1:-1]
    lines = [f"# Scaling law fitted by lifeopt fit to {len(result.runs)} runs of {where}.",
             f"# Summed Huber objective {result.objective:.6g}; {result.converged_starts} of "
             f"{result.starts} starts reached the best basin."]
    if boot is not None:
        lines.append(f"# 95% bootstrap intervals ({len(boot.thetas)} resamples, seed {boot.seed}):")
        for name in ("E", "A", "B", "alpha", "beta"):
            lo, hi = boot.interval(name)
            lines.append(f"#   {name:<5} {lo:.6g} – {hi:.6g}")
    lines += ["[law]", f"name = {_toml_str(law.name)}", f"source = {_toml_str(law.source)}",
              f"method = {_toml_str('Approach 3: ' + method_of(result))}",
              f"E = {law.E!r}", f"A = {law.A!r}", f"B = {law.B!r}", f"alpha = {law.alpha!r}",
              f"beta = {law.beta!r}",
              f"fitted_min_params = {fr.min_params!r}", f"fitted_max_params = {fr.max_params!r}",
              f"fitted_max_tokens = {fr.max_tokens!r}", f"fitted_max_flops = {fr.max_flops!r}"]
    if samples_file is not None:
        lines.append(f"samples = {_toml_str(samples_file)}")
    return "\n".join(lines) + "\n"


def method_of(result: FitResult) -> str:
    """The method of a fit in words (a likelihood or repetition fit says its own)."""
    if result.method:
        return result.method
    return method_text(result.fit_objective, result.final_polish[0] if result.final_polish else None,
                       result.constraints)


def _toml_str(text: str) -> str:
    """``text`` as a TOML basic string: backslash, quote and every control character
    escaped, so that a file name holding a newline cannot start a line of its own."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def write_samples(boot: Bootstrap) -> str:
    """The bootstrap laws as CSV text (one law per row: E, A, B, alpha, beta)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SAMPLE_COLUMNS)
    c = boot.constants
    for i in range(len(boot.thetas)):
        w.writerow([repr(float(c[k][i])) for k in SAMPLE_COLUMNS])
    return buf.getvalue()


