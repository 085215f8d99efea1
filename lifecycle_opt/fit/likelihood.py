"""The likelihood fit of Besiroglu et al. 2024 ("Chinchilla Scaling: A replication attempt",
arXiv 2404.10102): the log-loss of run i is the law's plus an error of fitted scale σ,

    log L_i = LSE(a − α·log N_i, b − β·log D_i, e) + σ·t_i,

and E, A, B, α, β, σ maximise the likelihood of the runs. Two error models:

* ``"huber"`` — t has the density exp(−huber_δ(t))/Z_δ, δ = 1e-3, Z_δ = √(2π)·(1 − 2·Φ̄(δ))
  + 2·e^(−δ²/2)/δ: the model of Besiroglu et al.'s maximum-likelihood fit, whose constants
  they publish (A 482.01, B 2085.43, E 1.82, α 0.3478, β 0.3658 on Epoch's 240 points).
  With δ that small it is a Laplace likelihood: its optimum is the least-absolute-deviation
  fit, from which it is polished.
* ``"normal"`` — t ~ Normal(0, 1): least squares on log-loss, σ² the mean squared residual.

Standard errors come from the information matrix at the optimum: the observed information
(the Hessian of −log-likelihood, central differences of its analytic gradient) for normal
errors; the expected (Fisher) information for the Huber model, whose second derivative is
zero beyond δ: I = E[ψ²]/σ²·JᵀWJ for the constants (J the gradient of the predicted
log-loss per run, W the run weights) and E[(ψ(t)·t − 1)²]·Σw for log σ, ψ = huber′. A, B,
E get theirs by the delta method (SE_A = A·SE_a). Goodness of fit: the log-likelihood,
AIC = 2k − 2 log L, BIC = k·log n − 2 log L, and against a reference law (its σ refitted)
the likelihood-ratio statistic 2·(log L − log L_ref) with a χ² p-value (Wilks) and the Wald
χ² of the constants' difference, as Besiroglu et al. test Hoffmann et al.'s constants.
"""
from __future__ import annotations

__all__ = ["LikelihoodFit", "fit_likelihood", "log_likelihood", "profile_sigma", "huber_normaliser",
           "method_of_likelihood", "ERROR_MODELS", "LIKELIHOOD_DELTA"]

import math
from dataclasses import dataclass

import numpy as np

from ..model.laws import ChinchillaLaw
from .constraints import THETA_NAMES, Constraints
from .parametric import FitObjective, FitResult, _features, fit_law, huber_objective, huber_residuals
from .polish import _hessian
from .runs import Runs

#: the error models of the likelihood fit
ERROR_MODELS = ("huber", "normal")
#: the Huber density's threshold in units of σ (Besiroglu et al. 2024, their notebook's huber_logpdf)
LIKELIHOOD_DELTA = 1e-3


def huber_normaliser(delta: float = LIKELIHOOD_DELTA) -> float:
    """Z_δ = ∫ exp(−huber_δ(t)) dt = √(2π)·(1 − 2·Φ̄(δ)) + 2·e^(−δ²/2)/δ [–]."""
    from scipy.stats import norm
    return math.sqrt(2 * math.pi) * (1 - 2 * norm.sf(delta)) + 2 * math.exp(-0.5 * delta ** 2) / delta


def _neg_log_density(r, sigma, errors: str, delta: float = LIKELIHOOD_DELTA):
    """−log f(r) per residual for errors of scale σ."""
    t = np.asarray(r) / sigma
    if errors == "normal":
        return 0.5 * t * t + 0.5 * math.log(2 * math.pi) + math.log(sigma)
    c = np.clip(t, -delta, delta)
    return c * (t - 0.5 * c) + math.log(huber_normaliser(delta)) + math.log(sigma)


def log_likelihood(residuals, sigma: float, errors: str, weights=None) -> float:
    """Σ w·log f(r) of log-loss residuals under errors of scale ``sigma``."""
    nll = _neg_log_density(residuals, sigma, errors)
    return -float(np.sum(nll if weights is None else nll * weights))


def profile_sigma(residuals, errors: str, weights=None) -> tuple[float, float]:
    """(σ̂, log-likelihood) of the residuals with the scale at its maximum-likelihood value:
    the root-mean-square residual for normal errors, a one-dimensional search for Huber."""
    from scipy.optimize import minimize_scalar

    r = np.asarray(residuals, dtype=float)
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=float)
    if errors == "normal":
        sigma = math.sqrt(float(np.sum(w * r * r) / np.sum(w)))
        return sigma, log_likelihood(r, sigma, errors, w)
    # Laplace-like: σ ≈ δ·mean|r| where most |r| > δσ; search a decade either side of it
    guess = math.log(max(LIKELIHOOD_DELTA * float(np.sum(w * np.abs(r)) / np.sum(w)), 1e-300))
    res = minimize_scalar(lambda s: -log_likelihood(r, math.exp(s), errors, w),
                          bounds=(guess - 3.0, guess + 3.0), method="bounded", options={"xatol": 1e-12})
    return math.exp(res.x), -float(res.fun)


def _fisher_factors(errors: str, delta: float = LIKELIHOOD_DELTA) -> tuple[float, float]:
    """(E[ψ(t)²], E[(ψ(t)·t − 1)²]) for t of the error density: the information per run of
    a location and of log σ. (1, 2) for normal errors."""
    if errors == "normal":
        return 1.0, 2.0
    from scipy.integrate import quad

    Z = huber_normaliser(delta)
    inner = lambda f: quad(lambda t: f(t) * math.exp(-0.5 * t * t), 0.0, delta)[0]                 # noqa: E731
    outer = lambda f: quad(lambda t: f(t) * math.exp(-delta * (t - 0.5 * delta)), delta, math.inf)[0]  # noqa: E731
    psi2 = 2 * (inner(lambda t: t * t) + outer(lambda t: delta * delta)) / Z
    score = 2 * (inner(lambda t: (t * t - 1) ** 2) + outer(lambda t: (delta * t - 1) ** 2)) / Z
    return psi2, score


@dataclass(frozen=True)
class LikelihoodFit:
    """A maximum-likelihood fit: ``result`` holds the law, θ and residuals (its objective is
    −log-likelihood); ``sigma`` the error scale [log nats]; ``covariance`` of (free
    constants of θ, log σ) from the ``information`` ("observed" or "expected") matrix."""

    result: FitResult
    errors: str
    sigma: float
    log_likelihood: float
    covariance: np.ndarray
    free: tuple[str, ...]
    information: str

    @property
    def n(self) -> float:
        """The runs' summed weight (their count without weights)."""
        w = self.result.runs.weights
        return float(len(self.result.runs) if w is None else w.sum())

    @property
    def parameters(self) -> int:
        """k: the free constants and σ."""
        return len(self.free)

    @property
    def aic(self) -> float:
        return 2 * self.parameters - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        return self.parameters * math.log(self.n) - 2 * self.log_likelihood

    def theta_covariance(self) -> np.ndarray:
        """Covariance of θ = (a, b, e, α, β) (zero rows for fixed constants)."""
        M = self.result.constraints.layout().matrix
        return M.T @ self.covariance[:-1, :-1] @ M

    @property
    def standard_errors(self) -> dict[str, float | None]:
        """SE of E, A, B, alpha, beta [their units] and sigma (None where held fixed)."""
        se = np.sqrt(np.maximum(np.diag(self.theta_covariance()), 0.0))
        law, layout = self.result.law, self.result.constraints.layout()
        held = set(layout.fixed)
        out = {}
        for name, col, scale in (("E", 2, law.E), ("A", 0, law.A), ("B", 1, law.B), ("alpha", 3, 1.0),
                                 ("beta", 4, 1.0)):
            out[name] = None if THETA_NAMES[col] in held else float(scale * se[col])
        out["sigma"] = float(self.sigma * math.sqrt(max(self.covariance[-1, -1], 0.0)))
        return out

    def compare(self, law: ChinchillaLaw) -> dict:
        """``law`` against the fit on the same runs (its σ refitted): its log-likelihood,
        the likelihood-ratio statistic and the Wald χ² of the free constants, with p-values."""
        from scipy.stats import chi2

        runs = self.result.runs
        x, z, y = _features(runs)
        ref = np.array([math.log(law.A), math.log(law.B), math.log(law.E), law.alpha, law.beta])
        sigma, ll = profile_sigma(huber_residuals(ref, x, z, y), self.errors, runs.weights)
        layout = self.result.constraints.layout()
        d = (layout.reduce(self.result.theta) - layout.reduce(ref))[0]
        wald = float(d @ np.linalg.solve(self.covariance[:-1, :-1], d))
        lr = 2.0 * (self.log_likelihood - ll)
        df = len(self.free) - 1                  # the constants; σ is fitted on both sides
        return {"law": law.name, "log_likelihood": ll, "sigma": sigma, "lr_statistic": lr, "df": df,
                "lr_p_value": float(chi2.sf(lr, df)), "wald_chi2": wald, "wald_p_value": float(chi2.sf(wald, df))}

    def as_dict(self) -> dict:
        return {"errors": self.errors, "sigma": self.sigma, "log_likelihood": self.log_likelihood,
                "parameters": self.parameters, "runs": self.n, "aic": self.aic, "bic": self.bic,
                "information": self.information, "standard_errors": self.standard_errors}


def fit_likelihood(runs: Runs, *, errors: str = "huber", starts=None, workers: int | None = None,
                   constraints: Constraints = Constraints()) -> LikelihoodFit:
    """Maximise the likelihood of ``runs`` under ``errors`` ("huber" or "normal"; see the
    module docstring). The constants start from the least-absolute-deviation fit (Huber)
    or are the least-squares fit (normal), by :func:`.parametric.fit_law` from ``starts``
    (default: the optima of the Huber fit from its full grid)."""
    if errors not in ERROR_MODELS:
        raise ValueError(f"unknown error model {errors!r}; one of {', '.join(ERROR_MODELS)}")
    if starts is None:       # the Huber fit's grid finds the basins; its optima start this fit
        starts = fit_law(runs, workers=workers, constraints=constraints).local_optima
    base = fit_law(runs, starts=starts, workers=workers, constraints=constraints,
                   objective=FitObjective("mse" if errors == "normal" else "mae"))
    x, z, y = _features(runs)
    layout = constraints.layout()
    w = runs.weights
    nll = _nll_function(x, z, y, w, errors, layout)
    u = layout.reduce(base.theta)[0]
    sigma, ll = profile_sigma(base.residuals, errors, w)
    if errors == "huber":                        # the exact likelihood's maximum by the LAD fit
        u, sigma, ll = _polish_huber(x, z, y, w, layout, u, sigma, ll)
    theta = layout.expand(u)[0]
    point = np.append(u, math.log(sigma))
    if errors == "normal":
        info, kind = _hessian(lambda p: nll(p)[1], point, step=1e-5), "observed"
    else:
        info, kind = _expected_information(theta, x, z, w, sigma, layout, errors), "expected"
    method = method_of_likelihood(errors, constraints)
    result = FitResult(_law(base, theta, method), theta, -ll, huber_residuals(theta, x, z, y), base.starts,
                       base.converged_starts, runs, local_optima=theta[None, :], fit_objective=base.fit_objective,
                       constraints=constraints, method=method)
    return LikelihoodFit(result, errors, sigma, ll, np.linalg.pinv(info), layout.free + ("log_sigma",), kind)


def _nll_function(x, z, y, w, errors: str, layout):
    """p = (free constants, log σ) → (−log-likelihood, its gradient): the summed loss of
    :func:`.parametric.huber_objective` at threshold δσ over σ² (Huber; huber_δ(r/σ) =
    huber_δσ(r)/σ²) or the squared loss over σ² (normal), plus n·(log σ + log Z)."""
    n = float(len(y) if w is None else np.sum(w))
    wt = None if w is None else np.asarray(w, dtype=float)[None, :]
    log_z = 0.5 * math.log(2 * math.pi) if errors == "normal" else math.log(huber_normaliser())

    def nll(p):
        s = float(p[-1])
        sigma = math.exp(s)
        loss = "mse" if errors == "normal" else "huber"
        theta = layout.expand(p[:-1])
        f, g = huber_objective(theta, x, z, y, wt, LIKELIHOOD_DELTA * sigma, loss=loss)
        r = huber_residuals(theta[0], x, z, y)
        t = np.abs(r) / sigma
        # d/ds Σ w·ρ(r/σ) = −Σ w·ψ(t)·t, ψ(t)·t = t² (normal, or inside δ) else δ·t
        psi_t = t * t if errors == "normal" else np.where(t <= LIKELIHOOD_DELTA, t * t, LIKELIHOOD_DELTA * t)
        ds = -float(np.sum(psi_t if w is None else w * psi_t)) + n
        value = float(f[0]) / sigma ** 2 + n * (s + log_z)
        return value, np.append((g @ layout.matrix.T)[0] / sigma ** 2, ds)
    return nll


def _polish_huber(x, z, y, w, layout, u, sigma: float, ll: float):
    """(u, σ, log L) at the maximum of the Huber likelihood near the least-absolute-deviation
    fit ``u``. There as many residuals as free constants are about zero (a vertex); at the
    maximum they sit inside the density's quadratic zone |r| ≤ δσ and the rest keep their
    signs, so the maximum solves Σ_zone w·r·J + δσ·Σ_rest w·sign(r)·J = 0: Newton's method
    on that active set (Gauss-Newton Hessian Σ_zone w·J·Jᵀ), σ refitted between rounds. Kept
    only where the active set holds and the likelihood rises."""
    ww = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    best = (u, sigma, ll)
    k = len(u)
    for _ in range(4):
        theta = layout.expand(u)[0]
        r = huber_residuals(theta, x, z, y)
        zone = np.argsort(np.abs(r))[:k]
        rest = np.setdiff1d(np.arange(len(r)), zone)
        signs = np.sign(r[rest])
        for _ in range(30):
            r = huber_residuals(layout.expand(u)[0], x, z, y)
            J = _prediction_gradient(layout.expand(u)[0], x, z) @ layout.matrix.T
            g = (J[zone].T * ww[zone]) @ r[zone] + LIKELIHOOD_DELTA * sigma * (J[rest].T * ww[rest]) @ signs
            try:
                step = -np.linalg.solve((J[zone].T * ww[zone]) @ J[zone], g)
            except np.linalg.LinAlgError:
                return best
            u = u + step
            if np.max(np.abs(step)) < 1e-15:
                break
        r = huber_residuals(layout.expand(u)[0], x, z, y)
        sigma, ll_new = profile_sigma(r, "huber", w)
        held = np.all(np.abs(r[zone]) <= LIKELIHOOD_DELTA * sigma) and np.all(np.sign(r[rest]) == signs)
        if not (held and ll_new >= best[2]):
            break
        best = (u, sigma, ll_new)
    return best


def _prediction_gradient(theta, x, z) -> np.ndarray:
    """∂ LSE(a − α·log N, b − β·log D, e)/∂θ per run (n, 5)."""
    a, b, e, al, be = theta
    t1, t2 = np.exp(a - al * x), np.exp(b - be * z)
    s = t1 + t2 + math.exp(e)
    return np.stack([t1 / s, t2 / s, np.full_like(x, math.exp(e)) / s, -x * t1 / s, -z * t2 / s], axis=1)


def _expected_information(theta, x, z, w, sigma, layout, errors) -> np.ndarray:
    """The Fisher information of (free constants, log σ) (module docstring)."""
    J = _prediction_gradient(theta, x, z) @ layout.matrix.T
    ww = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    psi2, score = _fisher_factors(errors)
    k = J.shape[1]
    info = np.zeros((k + 1, k + 1))
    info[:k, :k] = psi2 / sigma ** 2 * (J.T * ww) @ J
    info[k, k] = score * ww.sum()
    return info


def method_of_likelihood(errors: str, constraints: Constraints = Constraints()) -> str:
    """The likelihood fit's method in words."""
    held = constraints.describe()
    return (f"maximum likelihood, {errors} errors on log-loss with a fitted scale (Besiroglu et al. 2024)"
            + (f"; {held}" if held else ""))


def _law(base: FitResult, theta, method: str) -> ChinchillaLaw:
    a, b, e, al, be = (float(v) for v in theta)
    runs = base.runs
    return ChinchillaLaw(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=al, beta=be, name=base.law.name,
                         source=f"lifeopt fit of {runs.source} ({len(runs)} runs; {method})", fitted=base.law.fitted)
