"""The three approaches of Hoffmann et al. 2022 (their Table 2) on one set of training curves.

Input: training curves — for each run, the loss at several token counts (a run id,
parameters N, tokens seen D, loss; optionally the token length of the run's learning-rate
schedule). Each approach estimates the exponents of N_opt ∝ C^a and D_opt ∝ C^b:

1. **Envelope** (§3.1): on a log grid of compute budgets, the lowest loss any run reached at
   that compute (C = 6·N·D along each curve, interpolated in log space) gives N_opt(C) and
   D_opt(C) = C / 6N_opt; power laws are fitted to those minima.
2. **IsoFLOP profiles** (§3.2): on the same grid, every run whose curve spans the budget
   gives a loss at that budget; a parabola in log N through them gives N_opt(C).
3. **Parametric fit** (§3.3): L = E + A/N^α + B/D^β fitted to the curve points (the Huber
   fit of :mod:`lifecycle_opt.fit.parametric`); a = β/(α+β), b = α/(α+β).

Intervals come from a bootstrap over runs (whole curves resampled with replacement). When
the 95 % intervals of two approaches do not overlap, the verdict says the law is not yet
good enough to bet a large budget on.

Reading a curve at a token count its learning-rate schedule was not set for overstates the
loss there (Hoffmann et al. §3.1 and App. A tune the cosine cycle to the run length); with
a schedule column, envelope points read more than 25 % short of their run's schedule are
counted and warned about.
"""
from __future__ import annotations

__all__ = ["Curves", "read_curves", "ApproachEstimate", "Comparison", "compare_approaches",
           "envelope_exponents", "isoflop_exponents", "parametric_exponents"]

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ScenarioError
from .parametric import bootstrap, fit_law
from .runs import Runs, column_index, csv_table, normalise_header, number_text, parse_loss, positive_cell
from ..model.constants import TRAIN_FLOPS_PER_PARAM_TOKEN
from ..model.frontier import compute_optimal_split
from ..model.units import parse_count, parse_flops

_RUN_NAMES = ("run", "runid", "id", "name", "model", "modelname")
_SCHEDULE_NAMES = ("schedule", "scheduletokens", "lrschedule", "lrscheduletokens", "cosinetokens",
                   "cyclelength", "schedulelength")
#: compute budgets where the approaches report tokens per parameter [FLOP]
REPORT_BUDGETS = (1e21, 1e23, 1e25)


@dataclass(frozen=True)
class Curves:
    """Training curves: per point, the run index, N, D (tokens seen), loss, and the run's
    schedule length in tokens (NaN when unknown)."""

    run: np.ndarray
    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    schedule: np.ndarray
    names: tuple[str, ...]
    source: str = "curves"

    @property
    def runs(self) -> int:
        return len(self.names)

    def subset(self, run_counts: np.ndarray) -> "Curves":
        """The curves with run i repeated run_counts[i] times (a bootstrap resample)."""
        keep, run = [], []
        for new, i in enumerate(np.repeat(np.arange(self.runs), run_counts)):
            rows = np.flatnonzero(self.run == i)
            keep.append(rows)
            run.append(np.full(rows.size, new))
        keep = np.concatenate(keep)
        return Curves(np.concatenate(run), self.params[keep], self.tokens[keep], self.loss[keep],
                      self.schedule[keep], tuple(f"r{k}" for k in range(int(run_counts.sum()))), self.source)


def read_curves(path: str | Path, columns: dict[str, str] | None = None) -> Curves:
    """Read training curves from a CSV: a run column (run, run_id, name, model), params,
    tokens (seen so far) or flops, loss, and optionally a schedule length in tokens."""
    source, header, rows = csv_table(path, "training curves")
    norm = [normalise_header(h) for h in header]
    index = column_index(header, columns or {}, source)
    run_col = next((i for i, n in enumerate(norm) if n in _RUN_NAMES), None)
    if run_col is None:
        raise ScenarioError("header", f"a run column ({', '.join(_RUN_NAMES[:4])}) naming the run each "
                            "point belongs to", source=source, found_text=f"found {', '.join(header)}")
    sched_col = next((i for i, n in enumerate(norm) if n in _SCHEDULE_NAMES), None)
    names: dict[str, int] = {}
    run, params, tokens, loss, schedule = [], [], [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue

        def cell(col, parse, what):
            return positive_cell(row, col, parse, what, line, header, source)

        name = row[run_col].strip() if run_col < len(row) else ""
        if not name:
            raise ScenarioError(f"row {line}, column {header[run_col]!r}", "a run name", "", source=source)
        n = cell(index["params"], lambda v: parse_count(number_text(v), "parameter count"), "parameter count")
        if "tokens" in index:
            d = cell(index["tokens"], lambda v: parse_count(number_text(v), "token count"), "token count")
        else:
            d = cell(index["flops"], lambda v: parse_flops(number_text(v)), "compute") / (TRAIN_FLOPS_PER_PARAM_TOKEN * n)
        run.append(names.setdefault(name, len(names)))
        params.append(n)
        tokens.append(d)
        loss.append(cell(index["loss"], parse_loss, "loss"))
        schedule.append(cell(sched_col, lambda v: parse_count(number_text(v), "token count"), "token count")
                        if sched_col is not None else math.nan)
    curves = Curves(np.array(run), np.array(params), np.array(tokens), np.array(loss), np.array(schedule),
                    tuple(names), source)
    for i, name in enumerate(curves.names):
        if np.ptp(curves.params[curves.run == i]) > 0:
            raise ScenarioError(f"run {name!r}", "one parameter count per run", source=source,
                                found_text="found several")
    if curves.runs < 3:
        raise ScenarioError("file", "training curves of at least 3 runs", source=source,
                            found_text=f"found {curves.runs}")
    return curves


# ------------------------------------------------------------------ the approaches
@dataclass(frozen=True)
class ApproachEstimate:
    """One approach's estimate: exponents a, b with prefactors (N_opt = kN·C^a,
    D_opt = kD·C^b), the budgets it used, and notes."""

    name: str
    a: float
    b: float
    kN: float
    kD: float
    budgets: int
    notes: tuple[str, ...] = ()

    def tokens_per_param(self, flops: float) -> float:
        return (self.kD * flops ** self.b) / (self.kN * flops ** self.a)


def _curve_losses(curves: Curves, budgets: np.ndarray):
    """Loss of every run at every budget it spans, interpolated in log-log; NaN elsewhere.
    Returns (losses (runs, budgets), N per run, read tokens/schedule ratio (runs, budgets))."""
    out = np.full((curves.runs, budgets.size), np.nan)
    ratio = np.full((curves.runs, budgets.size), np.nan)
    N = np.empty(curves.runs)
    logb = np.log(budgets)
    for i in range(curves.runs):
        rows = np.flatnonzero(curves.run == i)
        order = rows[np.argsort(curves.tokens[rows])]
        N[i] = curves.params[order[0]]
        logc = np.log(TRAIN_FLOPS_PER_PARAM_TOKEN * N[i] * curves.tokens[order])
        if logc.size < 2:
            continue
        inside = (logb >= logc[0]) & (logb <= logc[-1])
        out[i, inside] = np.exp(np.interp(logb[inside], logc, np.log(curves.loss[order])))
        sched = curves.schedule[order[0]]
        ratio[i, inside] = budgets[inside] / (TRAIN_FLOPS_PER_PARAM_TOKEN * N[i]) / sched
    return out, N, ratio


def _budget_grid(curves: Curves, count: int = 60) -> np.ndarray:
    c = TRAIN_FLOPS_PER_PARAM_TOKEN * curves.params * curves.tokens
    return np.geomspace(c.min(), c.max(), count)


def _power_laws(name, budgets, n_opt, notes=()) -> ApproachEstimate | None:
    ok = np.isfinite(n_opt)
    if ok.sum() < 3 or np.ptp(np.log(budgets[ok])) == 0:
        return None
    C, N = budgets[ok], n_opt[ok]
    D = C / (TRAIN_FLOPS_PER_PARAM_TOKEN * N)
    a, ln = np.polyfit(np.log(C), np.log(N), 1)
    b, ld = np.polyfit(np.log(C), np.log(D), 1)
    return ApproachEstimate(name, float(a), float(b), float(math.exp(ln)), float(math.exp(ld)), int(ok.sum()),
                            tuple(notes))


def envelope_exponents(curves: Curves) -> ApproachEstimate | None:
    """Approach 1: the lowest loss at each budget, and which run reached it. Budgets whose
    winner is the smallest or largest model are left out (the minimum is not bracketed)."""
    budgets = _budget_grid(curves)
    losses, N, ratio = _curve_losses(curves, budgets)
    n_opt = np.full(budgets.size, np.nan)
    short = 0
    for j in range(budgets.size):
        have = np.isfinite(losses[:, j])
        if have.sum() < 3:
            continue
        i = int(np.nanargmin(losses[:, j]))
        sizes = N[have]
        if N[i] in (sizes.min(), sizes.max()):
            continue
        n_opt[j] = N[i]
        if np.isfinite(ratio[i, j]) and ratio[i, j] < 0.75:
            short += 1
    notes = []
    if short:
        notes.append(f"{short} envelope points are read more than 25 % before the end of their run's "
                     f"learning-rate schedule: the loss there is overstated (Hoffmann et al. tune the "
                     f"schedule to the token count)")
    return _power_laws("1: envelope of training curves", budgets, n_opt, notes)


def isoflop_exponents(curves: Curves) -> ApproachEstimate | None:
    """Approach 2: at each budget, a parabola in log N through the runs that span it."""
    budgets = _budget_grid(curves)
    losses, N, _ = _curve_losses(curves, budgets)
    n_opt = np.full(budgets.size, np.nan)
    for j in range(budgets.size):
        have = np.isfinite(losses[:, j])
        # one point per model size: the best of its runs (runs of one size may differ in
        # schedule length; a bootstrap resample repeats runs)
        u_all, l_all = np.log(N[have]), losses[have, j]
        u = np.unique(u_all)
        if u.size < 4:
            continue
        best = np.array([l_all[u_all == v].min() for v in u])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # near-collinear sizes in a resample
            p2, p1, _ = np.polyfit(u, best, 2)
        if p2 <= 0:
            continue
        vertex = -p1 / (2 * p2)
        if u.min() < vertex < u.max():
            n_opt[j] = math.exp(vertex)
    return _power_laws("2: IsoFLOP profiles", budgets, n_opt)


def parametric_exponents(curves: Curves, *, workers: int | None = None, points_per_run: int = 6):
    """Approach 3: the Huber fit of L = E + A/N^α + B/D^β. With schedule lengths, only the
    points read within 25 % of the end of their run's schedule count (Hoffmann et al. fit
    final losses); without, up to ``points_per_run`` log-spaced points of each curve.
    Returns (estimate, FitResult, indices of the points fitted)."""
    keep = []
    for i in range(curves.runs):
        rows = np.flatnonzero(curves.run == i)
        rows = rows[np.argsort(curves.tokens[rows])]
        sched = curves.schedule[rows[0]]
        if np.isfinite(sched):
            tuned = rows[curves.tokens[rows] >= 0.75 * sched]
            rows = tuned if tuned.size else rows[-1:]
        pick = np.unique(np.linspace(0, rows.size - 1, min(points_per_run, rows.size)).round().astype(int))
        keep.append(rows[pick])
    keep = np.concatenate(keep)
    runs = Runs(curves.params[keep], curves.tokens[keep], curves.loss[keep], curves.source)
    result = fit_law(runs, workers=workers)
    law = result.law
    a, b, k_N, k_D = compute_optimal_split(law.A, law.B, law.alpha, law.beta)
    est = ApproachEstimate("3: parametric fit", a, b, k_N, k_D, 0)
    return est, result, keep


@dataclass(frozen=True)
class Comparison:
    """Table 2 for the user's runs: each approach's estimate and 95 % bootstrap intervals of
    a and b (None without a bootstrap), and the verdict."""

    estimates: tuple[ApproachEstimate, ...]
    a_intervals: tuple[tuple[float, float] | None, ...]
    b_intervals: tuple[tuple[float, float] | None, ...]
    agree: bool | None
    verdict: str
    runs: int
    resamples: int
    fit: object = field(default=None, repr=False, compare=False)   # Approach 3's FitResult

    def as_dict(self) -> dict:
        return {"runs": self.runs, "resamples": self.resamples, "agree": self.agree, "verdict": self.verdict,
                "approaches": [{"name": e.name, "a": e.a, "b": e.b, "a_95": ai, "b_95": bi,
                                "budgets_used": e.budgets, "notes": list(e.notes),
                                "tokens_per_param": {f"{c:.0e}": e.tokens_per_param(c) for c in REPORT_BUDGETS}}
                               for e, ai, bi in zip(self.estimates, self.a_intervals, self.b_intervals)]}


def compare_approaches(curves: Curves, *, resamples: int = 200, seed: int = 0,
                       workers: int | None = None) -> Comparison:
    """Approaches 1, 2 and 3 on ``curves``, with bootstrap intervals over runs."""
    estimates, a_int, b_int = [], [], []
    env, iso = envelope_exponents(curves), isoflop_exponents(curves)
    par, result, keep = parametric_exponents(curves, workers=workers)
    rng = np.random.default_rng(seed)
    counts = [np.bincount(rng.integers(0, curves.runs, curves.runs), minlength=curves.runs)
              for _ in range(resamples)]
    # Approach 3's resamples: run counts become weights on the fitted points, solved as one batch
    par_boot = None
    if resamples:
        point_run = curves.run[keep]
        weights = np.stack([c[point_run] for c in counts]).astype(float)
        par_boot = bootstrap(result, resamples, seed=seed, workers=workers, counts=weights)
    for est, kind in ((env, "env"), (iso, "iso"), (par, "par")):
        if est is None:
            continue
        estimates.append(est)
        if not resamples:
            a_int.append(None)
            b_int.append(None)
            continue
        if kind == "par":
            c = par_boot.constants
            a_s, b_s = c["beta"] / (c["alpha"] + c["beta"]), c["alpha"] / (c["alpha"] + c["beta"])
        else:
            fn = envelope_exponents if kind == "env" else isoflop_exponents
            got = [fn(curves.subset(cnt)) for cnt in counts]
            a_s = np.array([g.a for g in got if g is not None])
            b_s = np.array([g.b for g in got if g is not None])
        a_int.append(tuple(float(x) for x in np.quantile(a_s, [0.025, 0.975])))
        b_int.append(tuple(float(x) for x in np.quantile(b_s, [0.025, 0.975])))
    agree, verdict = _verdict(estimates, a_int, b_int)
    return Comparison(tuple(estimates), tuple(a_int), tuple(b_int), agree, verdict, curves.runs, resamples,
                      fit=result)


#: how far apart two intervals may lie and still count as agreeing: each approach carries a
#: method bias of this order even on noise-free curves (discrete sizes, parabola fits)
AGREEMENT_MARGIN = 0.01


def _verdict(estimates, a_int, b_int):
    if len(estimates) < 2:
        return None, "only one approach is supported by these runs: nothing to compare"
    if any(i is None for i in a_int):
        spread = max(e.a for e in estimates) - min(e.a for e in estimates)
        return None, f"no bootstrap: the estimates of a span {spread:.3f}; run with --bootstrap for a verdict"
    clashes = []
    for i in range(len(estimates)):
        for j in range(i + 1, len(estimates)):
            for label, ints in (("a", a_int), ("b", b_int)):
                (lo1, hi1), (lo2, hi2) = ints[i], ints[j]
                if hi1 + AGREEMENT_MARGIN < lo2 or hi2 + AGREEMENT_MARGIN < lo1:
                    clashes.append(f"approach {estimates[i].name.split(':')[0]} and "
                                   f"{estimates[j].name.split(':')[0]} on {label}")
    if clashes:
        return False, ("DISAGREE: the 95 % intervals lie apart (" + "; ".join(clashes) + "). The law is "
                       "not yet good enough to bet a large budget on: check the runs (schedules, early "
                       "stops, the range of sizes) before planning with it")
    return True, f"agree: every pair of 95 % intervals overlaps (within {AGREEMENT_MARGIN} in the exponents)"
