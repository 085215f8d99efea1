"""What ``lifeopt calibrate`` prints: each measurement beside the model's prediction and
the speed ratio (the model's speed over the measured speed), then the efficiencies with
their standard errors (docs/model.md §8), as a table or as JSON."""
from __future__ import annotations

__all__ = ["calibration_table", "calibration_json"]

import json
import math

import numpy as np
from tabulate import tabulate

from ..fit.calibration import PARAMETERS, Calibration
from ..model.calibration import METRICS


def calibration_json(cal: Calibration) -> str:
    """``{"rows": [{"id", "metric", "measured", "predicted", "speed_ratio", "batch"}, …],
    "parameters": {key: {"value", "standard_error", "unit", "informed_by_rows"}}}``."""
    return json.dumps(cal.as_dict(), indent=2, allow_nan=False) + "\n"


def calibration_table(cal: Calibration, what: str) -> str:
    """The rows, a summary of their speed ratios, and the efficiencies."""
    rows = [(m.id, m.metric, f"{m.measured:.5g}", f"{p:.5g}", f"{s:.3f}", f"{b:g}", METRICS[m.metric])
            for m, p, s, b in cal.rows]
    r = cal.ratios
    within = int(np.sum((r >= 0.67) & (r <= 1.5)))
    lines = [f"serving model against {len(r)} measurements, at {what}",
             tabulate(rows, headers=("id", "metric", "measured", "predicted", "speed ratio", "batch", "unit")),
             "",
             f"speed ratio (the model's speed over the measured; > 1: the model is faster): median "
             f"{np.median(r):.3f}, geometric mean {math.exp(np.mean(np.log(r))):.3f}, range {r.min():.3f}–{r.max():.3f}, "
             f"{within} of {len(r)} within 0.67–1.5", ""]
    fitted = any(v > 0 for v in cal.standard_errors.values())
    params = []
    for field, key, unit, scale, _, _ in PARAMETERS:
        value = getattr(cal.efficiencies, field) * scale
        if fitted:
            note = "set by these rows" if cal.informed(field) else "near the prior (the rows say little)"
            params.append((key, f"{value:.4g}", f"± {cal.standard_errors[field] * scale:.2g}", unit, note))
        else:
            params.append((key, f"{value:.4g}", "", unit, ""))
    lines += ["efficiencies" + (" (value ± one standard error; prior: the shipped defaults or --calibration)"
                                if fitted else ""),
              tabulate(params, headers=("parameter", "value", "uncertainty", "unit", "")), ""]
    return "\n".join(lines) + "\n"
