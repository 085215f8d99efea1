"""Fit the serving model's default efficiencies to published measurements.

Run: python benchmarks/fit_serving_defaults.py
Reads docs/serving_measurements.csv (published TensorRT-LLM figures, with their sources)
and, when present beside the repository, ../shared/validation/serving_measurements.csv
(the project's shared sample); fits every efficiency with no prior, each row weighted alike
(every published figure counts once), and prints the values for
lifecycle_opt/model/serving.py DEFAULT_EFFICIENCIES with the fit's speed ratios per source.
"""
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from lifecycle_opt.fit.calibration import PARAMETERS, calibrate, read_measurements

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "validation" / "serving_measurements.csv"


def main():
    rows = read_measurements(str(ROOT / "docs" / "serving_measurements.csv"))
    if SHARED.exists():
        rows = read_measurements(str(SHARED)) + rows
    else:
        print(f"({SHARED} not found: fitting on the shipped measurements alone)")
    cal = calibrate(rows, prior_rows=0, weights="row")
    print(f"{len(rows)} measurements")
    for field, key, unit, scale, _, _ in PARAMETERS:
        print(f"  {key:24s} {getattr(cal.efficiencies, field) * scale:10.4g} {unit}"
              f"  ± {cal.standard_errors[field] * scale:.2g}")
    groups = defaultdict(list)
    for m, _, ratio, _ in cal.rows:
        groups[m.source].append(math.log(ratio))
    print("speed ratio (model ÷ measured speed) by source: geometric mean, spread (×), rows")
    for source, logs in groups.items():
        print(f"  {math.exp(np.mean(logs)):5.2f} {math.exp(np.std(logs)):5.2f} {len(logs):4d}  {source}")
    r = cal.ratios
    print(f"all: median {np.median(r):.3f}, within 0.67–1.5: {np.mean((r >= 0.67) & (r <= 1.5)):.0%}, "
          f"rms log {np.sqrt(np.mean(np.log(r) ** 2)):.3f}")


if __name__ == "__main__":
    main()
