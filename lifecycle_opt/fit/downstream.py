"""Fit the downstream mapping Err(L) = ε − k·exp(−γ·L) of Gadre et al. 2024 (arXiv
2403.08540; :mod:`..model.downstream`) to runs with a benchmark-error column, with its
uncertainty, and write and read it as a ``[downstream]`` TOML table.

The fit is least squares on the error, as Gadre et al. fit it (scipy's curve_fit). For a
given γ the model is linear in ε and k, so γ is found first by variable projection (the
best linear fit at each γ of a log grid from 0.01 to 100 per nat), then all three are
polished together by scipy's least_squares (k, γ > 0). Standard errors come from the
Jacobian, σ̂²·(JᵀWJ)⁻¹ with σ̂² = Σw·r²/(n − 3); a bootstrap refits resampled runs for
percentile intervals.
"""
from __future__ import annotations

__all__ = ["DownstreamFit", "fit_downstream", "downstream_bootstrap", "downstream_toml", "read_downstream",
           "MIN_DOWNSTREAM_RUNS"]

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import ScenarioError
from ..model.downstream import DownstreamMap, DownstreamTableError, downstream_from_table, error_from_loss
from ..scenario.reading import UnreadableFile, read_bounded

#: the fewest evaluated runs a fit of three constants takes
MIN_DOWNSTREAM_RUNS = 4
_NAMES = ("epsilon", "k", "gamma")
_GAMMAS = np.geomspace(0.01, 100.0, 161)


@dataclass(frozen=True)
class DownstreamFit:
    """Err(L) fitted to (loss, error) pairs.

    mapping : the fitted DownstreamMap; covariance : of (ε, k, γ) from the Jacobian
    loss, error : the runs fitted [nats], [fraction]; residuals : fitted − observed error
    samples : bootstrap fits (S, 3) of (ε, k, γ), or None; seed : the bootstrap's seed
    """

    mapping: DownstreamMap
    covariance: np.ndarray
    loss: np.ndarray
    error: np.ndarray
    residuals: np.ndarray
    samples: np.ndarray | None = None
    seed: int | None = None

    @property
    def standard_errors(self) -> dict[str, float]:
        se = np.sqrt(np.maximum(np.diag(self.covariance), 0.0))
        return dict(zip(_NAMES, (float(v) for v in se)))

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Percentile bootstrap interval, or value ± z·SE without a bootstrap."""
        i = _NAMES.index(name)
        if self.samples is not None:
            lo, hi = np.quantile(self.samples[:, i], [(1 - level) / 2, (1 + level) / 2])
            return float(lo), float(hi)
        from scipy.stats import norm
        value, half = getattr(self.mapping, name), norm.ppf((1 + level) / 2) * self.standard_errors[name]
        return float(value - half), float(value + half)

    def as_dict(self) -> dict:
        m = self.mapping
        return {**{n: getattr(m, n) for n in _NAMES},
                "standard_errors": self.standard_errors,
                "intervals_95": {n: list(self.interval(n)) for n in _NAMES},
                "interval_method": "bootstrap" if self.samples is not None else "standard errors",
                "runs": int(self.loss.size), "residuals_rms": float(np.sqrt(np.mean(self.residuals ** 2))),
                "fitted_loss_range": list(m.fitted_loss_range) if m.fitted_loss_range else None,
                "source": m.source, "model": "Err(L) = epsilon - k*exp(-gamma*L), Gadre et al. 2024"}


def _linear(loss, error, w, gamma):
    """(ε, k, weighted RSS) of the best fit at each γ (vectorised over ``gamma`` (g,))."""
    X = np.exp(-np.outer(gamma, loss))                      # (g, n): Err = ε − k·X
    sw = w.sum()
    mx, my = X @ w / sw, (error * w).sum() / sw
    cov = ((X - mx[:, None]) * w) @ (error - my)
    var = ((X - mx[:, None]) ** 2 * w).sum(1)
    slope = np.where(var > 0, cov / np.where(var > 0, var, 1.0), 0.0)  # Err = my + slope·(X − mx)
    k = -slope
    eps = my + k * mx
    rss = (((eps[:, None] - k[:, None] * X) - error) ** 2 * w).sum(1)
    return eps, k, rss


def _solve(loss, error, w, start=None) -> np.ndarray:
    """(ε, k, γ) minimising Σ w·(Err(L) − error)², from ``start`` or variable projection."""
    from scipy.optimize import least_squares

    if start is None:
        eps, k, rss = _linear(loss, error, w, _GAMMAS)
        rss = np.where(k > 0, rss, np.inf)
        i = int(np.argmin(rss))
        start = np.array([eps[i], k[i], _GAMMAS[i]])
    sw = np.sqrt(w)
    p0 = np.array([start[0], math.log(max(start[1], 1e-12)), math.log(max(start[2], 1e-12))])
    res = least_squares(lambda p: sw * (error_from_loss(loss, p[0], math.exp(p[1]), math.exp(p[2])) - error),
                        p0, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=5000)
    return np.array([res.x[0], math.exp(res.x[1]), math.exp(res.x[2])])


def _covariance(loss, error, w, p) -> np.ndarray:
    """σ̂²·(JᵀWJ)⁻¹ of (ε, k, γ) at p."""
    eps, k, gamma = p
    e = np.exp(-gamma * loss)
    J = np.stack([np.ones_like(loss), -e, k * loss * e], axis=1)
    r = error_from_loss(loss, eps, k, gamma) - error
    dof = max(loss.size - 3, 1)
    return float((w * r * r).sum() / dof) * np.linalg.pinv((J.T * w) @ J)


def fit_downstream(loss, error, *, weights=None, source: str = "runs") -> DownstreamFit:
    """Fit Err(L) = ε − k·exp(−γ·L) to losses [nats] and errors [fraction] (runs with a nan
    error are left out). ScenarioError when fewer than MIN_DOWNSTREAM_RUNS runs remain or
    the error does not fall with the loss."""
    loss, error = np.asarray(loss, dtype=float), np.asarray(error, dtype=float)
    keep = np.isfinite(error)
    w = np.ones(loss.size) if weights is None else np.asarray(weights, dtype=float)
    loss, error, w = loss[keep], error[keep], w[keep]
    if loss.size < MIN_DOWNSTREAM_RUNS:
        raise ScenarioError("error column", f"at least {MIN_DOWNSTREAM_RUNS} runs with a benchmark error to fit "
                            "Err(L) = epsilon - k*exp(-gamma*L)", source=source, found_text=f"found {loss.size}")
    p = _solve(loss, error, w)
    found = f"found a best fit with epsilon = {p[0]:.4g}, k = {p[1]:.4g}, gamma = {p[2]:.4g}"
    rise = p[1] * (math.exp(-p[2] * loss.min()) - math.exp(-p[2] * loss.max())) if np.all(np.isfinite(p)) else 0.0
    if not (np.all(np.isfinite(p)) and p[0] > 0 and p[1] > 0 and p[2] > 0) or np.ptp(loss) == 0 or rise < 1e-6:
        raise ScenarioError("error column", "errors that fall as the loss falls (Err(L) = epsilon - "
                            "k*exp(-gamma*L) with k, gamma > 0)", source=source, found_text=found)
    if not _GAMMAS[0] < p[2] < _GAMMAS[-1]:
        raise ScenarioError("error column", f"errors whose curve in the loss the runs pin down (gamma between "
                            f"{_GAMMAS[0]:g} and {_GAMMAS[-1]:g} per nat; runs over a wider range of loss would)",
                            source=source, found_text=found)
    mapping = DownstreamMap(float(p[0]), float(p[1]), float(p[2]),
                            f"lifeopt fit of {source} ({loss.size} runs; least squares on the error, "
                            f"Gadre et al. 2024 arXiv 2403.08540)", (float(loss.min()), float(loss.max())))
    return DownstreamFit(mapping, _covariance(loss, error, w, p), loss, error,
                         mapping.error(loss) - error)


def downstream_bootstrap(fit: DownstreamFit, samples: int = 1000, *, seed: int = 0) -> DownstreamFit:
    """The fit with refits on its runs resampled with replacement, each started from the fit."""
    rng = np.random.default_rng(seed)
    n = fit.loss.size
    start = np.array([fit.mapping.epsilon, fit.mapping.k, fit.mapping.gamma])
    out = np.empty((samples, 3))
    for s in range(samples):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        used = counts > 0
        out[s] = _solve(fit.loss[used], fit.error[used], counts[used], start)
    return replace(fit, samples=out, seed=seed)


# ------------------------------------------------------------------ files
def downstream_toml(fit: DownstreamFit, runs_source: str) -> str:
    """The mapping as a ``[downstream]`` TOML table, with its intervals as comments: a file
    a scenario's ``[downstream] file = "..."`` reads (see :func:`read_downstream`)."""
    from .parametric import _toml_str

    m = fit.mapping
    where = _toml_str(runs_source)[1:-1]
    lines = [f"# Downstream error fitted by lifeopt fit to {fit.loss.size} runs of {where}:",
             "# Err(L) = epsilon - k*exp(-gamma*L) (Gadre et al. 2024, arXiv 2403.08540), L in nats.",
             f"# 95% intervals ({'bootstrap, %d resamples' % len(fit.samples) if fit.samples is not None else 'standard errors'}):"]
    lines += [f"#   {n:<7} {lo:.6g} – {hi:.6g}" for n in _NAMES for lo, hi in [fit.interval(n)]]
    lines += ["[downstream]", f"epsilon = {m.epsilon!r}", f"k = {m.k!r}", f"gamma = {m.gamma!r}",
              f"source = {_toml_str(m.source)}",
              f"fitted_min_loss = {m.fitted_loss_range[0]!r}", f"fitted_max_loss = {m.fitted_loss_range[1]!r}"]
    return "\n".join(lines) + "\n"


def read_downstream(path: str | Path, key: str = "downstream.file") -> DownstreamMap:
    """The mapping of the ``[downstream]`` table of the TOML file at ``path``;
    ScenarioError naming ``key`` and the file for anything else."""
    import tomllib

    source = str(path)
    try:
        data = tomllib.loads(read_bounded(path, 1_000_000).decode("utf-8-sig"))
    except UnreadableFile as exc:
        raise ScenarioError(key, "a readable TOML file with a [downstream] table (lifeopt fit -o)", source=source,
                            found_text=f"found {exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(key, "a TOML file with a [downstream] table", source=source,
                            found_text=f"found {str(exc).splitlines()[0]}") from None
    table = data.get("downstream")
    if not isinstance(table, dict):
        raise ScenarioError(key, "a file with a [downstream] table (runs with an error column fitted by "
                            "lifeopt fit -o)", source=source, found_text="found none")
    try:
        return downstream_from_table(table)
    except DownstreamTableError as exc:
        raise ScenarioError(exc.key, exc.expected, source=source, found_text=exc.found_text) from None
