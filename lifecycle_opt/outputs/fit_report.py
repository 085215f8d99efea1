"""What a planned design of runs would recover (`lifeopt fit --simulate`), for people: the
true constants and the 5–95 % range of the fits of its noisy copies, and the same for the
compute-optimal tokens per parameter at a few budgets."""
from __future__ import annotations

__all__ = ["render_design_study"]

from tabulate import tabulate

from ..fit.simulate import DesignStudy


def render_design_study(study: DesignStudy) -> str:
    law = study.law
    rows = []
    for name in ("alpha", "beta", "E", "A", "B"):
        lo, mid, hi = study.quantiles(study.fitted[name])
        truth = study.true_value(name)
        rows.append((name, f"{truth:.4g}", f"{mid:.4g}", f"{lo:.4g} – {hi:.4g}",
                     "yes" if lo <= truth <= hi else "NO"))
    ratios = []
    for c, values in study.ratios.items():
        lo, mid, hi = study.quantiles(values)
        truth = study.true_ratio(c)
        ratios.append((f"{c:.0e}", f"{truth:.1f}", f"{mid:.1f}", f"{lo:.1f} – {hi:.1f}",
                       f"×{hi / lo:.2f}" if lo > 0 else "—"))
    out = [f"lifeopt fit --simulate: {study.runs} planned runs, losses from {law.name} with "
           f"{100 * study.noise:.3g} % noise, fitted {study.simulations} times (seed {study.seed})", "",
           "CONSTANTS the design recovers",
           tabulate(rows, headers=("", "true", "median fit", "5 – 95 % of fits", "true inside")), "",
           "COMPUTE-OPTIMAL TOKENS PER PARAMETER the fits imply",
           tabulate(ratios, headers=("FLOP", "true D/N", "median fit", "5 – 95 % of fits", "95 % / 5 %")), "",
           "A narrower range needs more runs, more spread in N and D/N, or less noise; compare designs by "
           "running this on each."]
    return "\n".join(out) + "\n"
