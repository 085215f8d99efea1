"""Whether a fit's runs pin a constant down: the profile of the objective along it.

The profile of a constant is the fit's objective with that constant held at each value of a
grid and every other free constant fitted again. Where the profile stays near its minimum
over a wide range, the runs cannot tell those values apart: a fitted value there is one
of many equally good ones (Muennighoff et al. 2023's own runs score a lower objective at
R_D* ≈ 94, R_N* ≈ 1.7 than at their published 15.4 and 5.3).

"Near" is judged on the scale of a likelihood-ratio test (Wilks 1938): with the error scale
profiled out, a summed loss f of n residuals turns into a log-likelihood ratio
2·ΔlogL = c·n·log(f/f̂), c = 1 for squared errors (normal errors) and c = 2 for absolute
errors (Laplace errors); a Huber loss counts as absolute when most residuals lie beyond its
threshold, else as squared. The 95 % region is where that statistic stays below
χ²₁(0.95) = 3.841. This is approximate (the model is fitted, not true, and the runs are not
independent draws), so the report shows the profile itself beside the verdict.
"""
from __future__ import annotations

__all__ = ["Profile", "region_threshold", "CHI2_1_95", "profile_grid"]

from dataclasses import dataclass

import numpy as np

#: χ² with one degree of freedom, 95 % quantile (scipy.stats.chi2.ppf(0.95, 1))
CHI2_1_95 = 3.841458820694124
#: a constant whose 95 % profile region spans more than this factor is poorly identified
WIDE_FACTOR = 10.0


def profile_grid(low: float = 10 ** -0.5, high: float = 10 ** 3.5, per_decade: int = 3) -> np.ndarray:
    """Log-spaced values [same unit as the constant] at which a profile is computed."""
    count = int(round(np.log10(high / low) * per_decade)) + 1
    return np.geomspace(low, high, count)


def region_threshold(best: float, residuals: np.ndarray, loss: str, delta: float, weight: float) -> float:
    """The objective below which a value lies in the 95 % profile region: f̂·exp(χ²/(c·n)),
    n = ``weight`` (the summed run weights), c as in the module docstring."""
    if loss == "mse":
        c = 1.0
    elif loss == "mae":
        c = 2.0
    else:
        c = 2.0 if np.median(np.abs(residuals)) > delta else 1.0
    return max(best, 1e-300) * float(np.exp(CHI2_1_95 / (c * max(weight, 1.0))))


@dataclass(frozen=True)
class Profile:
    """The objective along one constant.

    name : the constant ("R_D_star", ...); fitted : its fitted value
    values : the grid [unit of the constant]; objective : the profile at each value
    best : the objective at the fit; threshold : the 95 % region's ceiling (region_threshold)
    """

    name: str
    fitted: float
    values: np.ndarray
    objective: np.ndarray
    best: float
    threshold: float

    @property
    def region(self) -> tuple[float, float]:
        """(lowest, highest) value whose profile lies under the threshold (the fitted value
        included) [unit of the constant]."""
        inside = np.append(self.values[self.objective <= self.threshold], self.fitted)
        return float(inside.min()), float(inside.max())

    @property
    def open_ended(self) -> bool:
        """Whether the region reaches an end of the grid: no bound on that side."""
        lo, hi = self.region
        return bool(lo <= self.values[0] or hi >= self.values[-1])

    @property
    def identified(self) -> bool:
        """The runs pin the constant down: its 95 % region is bounded and within a factor
        WIDE_FACTOR."""
        lo, hi = self.region
        return bool(not self.open_ended and hi / lo <= WIDE_FACTOR)

    def warning(self) -> str | None:
        """A sentence for the report when the constant is not identified, else None."""
        if self.identified:
            return None
        lo, hi = self.region
        ends = (f"from {lo:.3g} to {hi:.3g}" + (" and beyond (the edge of the range profiled)"
                                                if self.open_ended else ""))
        return (f"{self.name} is not pinned down by these runs: the objective stays within the 95 % "
                f"likelihood-ratio threshold of its minimum {ends}; the fitted {self.fitted:.4g} is one of "
                f"many values that fit about as well (see the profile; more runs with repetition in the "
                f"range where the constant acts would help)")

    def as_dict(self) -> dict:
        lo, hi = self.region
        return {"fitted": float(self.fitted), "identified": self.identified, "region_95": [lo, hi],
                "open_ended": self.open_ended, "threshold": float(self.threshold), "best": float(self.best),
                "values": [float(v) for v in self.values], "objective": [float(f) for f in self.objective]}
