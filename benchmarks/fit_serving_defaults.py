"""Fit the serving model's default efficiencies to published measurements.

Run: python benchmarks/fit_serving_defaults.py [--figure docs/serving_calibration.png]
Reads examples/runs/serving_measurements.csv (published TensorRT-LLM figures, with their sources)
and, when present beside the repository, ../shared/validation/serving_measurements.csv
(the project's shared sample); fits every efficiency with no prior, each row weighted alike
(every published figure counts once), and prints the values for
lifecycle_opt/model/serving.py DEFAULT_EFFICIENCIES with the fit's speed ratios per source;
``--figure`` draws every measurement against the shipped defaults' prediction.
"""
import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from lifecycle_opt.fit.calibration import PARAMETERS, calibrate, read_measurements

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "validation" / "serving_measurements.csv"


def figure(shared, published, path: str) -> None:
    """Measured against predicted (the shipped defaults), one panel per metric, the shared
    sample labelled; the band is 0.67–1.5 of the measurement."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lifecycle_opt.model.calibration import METRICS

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    for ax, metric in zip(axes, METRICS):
        values = [v for m, p, _, _ in shared + published if m.metric == metric for v in (m.measured, p)]
        lo, hi = min(values) / 1.6, max(values) * 1.6
        for rows, style in ((published, dict(s=14, color="0.55",
                                             label="published (examples/runs/serving_measurements.csv)")),
                            (shared, dict(s=46, color="C3", label="shared sample"))):
            pts = [(m.measured, p, m.id) for m, p, _, _ in rows if m.metric == metric]
            if not pts:
                continue
            x, y, ids = zip(*pts)
            ax.scatter(x, y, zorder=3, **style)
            if rows is shared:
                for xi, yi, i in pts:
                    ax.annotate(i, (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=8)
        line = np.geomspace(lo, hi, 50)
        ax.plot(line, line, color="k", lw=0.8)
        ax.fill_between(line, line * 0.67, line * 1.5, color="C0", alpha=0.12, label="within 0.67–1.5")
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), title=metric,
               xlabel=f"measured [{METRICS[metric]}]", ylabel=f"model, shipped defaults [{METRICS[metric]}]")
    axes[2].legend(fontsize=8, loc="upper left")
    fig.suptitle("The serving model against published serving measurements (docs/model.md §8)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--figure", default=None, help="write the figure of measured against predicted here")
    args = parser.parse_args()
    published = read_measurements(str(ROOT / "examples" / "runs" / "serving_measurements.csv"))
    rows = published
    shared = []
    if SHARED.exists():
        shared = read_measurements(str(SHARED))
        rows = shared + rows
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
    if args.figure:
        figure(list(calibrate(shared, fit=False).rows) if shared else [],
               list(calibrate(published, fit=False).rows), args.figure)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
