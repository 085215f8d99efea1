"""Generate the synthetic run files the README's and `lifeopt fit --help`'s examples use, so
that every example runs on a fresh clone (no download):

* examples/runs/isoflop_runs.csv — 108 training runs at the nine IsoFLOP budgets of
  Hoffmann et al. 2022 (Figure 3: 6e18 to 3e21 FLOP), 12 model sizes each, log-spaced over
  a factor 8 either side of the compute-optimal size; losses from besiroglu2024 (Besiroglu
  et al. 2024: E 1.8172, A 482.01, B 2085.43, alpha 0.3478, beta 0.3658) with 0.5 %
  multiplicative noise (seed 0). Columns params, tokens, flops (C = 6·N·D), loss.
* examples/runs/ladder_design.csv — a planned ladder without losses (for
  `lifeopt fit --simulate`): 8 sizes from 50M to 5B parameters × 8 tokens-per-parameter
  ratios from 2 to 400, the "8 × 8 test ladder" of the README (tests/test_parametric.py).

Run: python examples/runs/make_synthetic.py
"""
import csv
from pathlib import Path

import numpy as np

from lifecycle_opt.model.presets import preset

#: Hoffmann et al. 2022, Figure 3 (left): the IsoFLOP budgets [FLOP]
BUDGETS = (6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21)


def isoflop_runs(law, rng):
    for C in BUDGETS:
        # the compute-optimal size at C: N_opt = G (C/6)^(beta/(alpha+beta)), G from the law
        a, b = law.alpha, law.beta
        G = (a * law.A / (b * law.B)) ** (1 / (a + b))
        n_opt = G * (C / 6) ** (b / (a + b))
        for n in np.geomspace(n_opt / 8, n_opt * 8, 12):
            d = C / (6 * n)
            loss = float(law.loss(n, d)) * float(np.exp(rng.normal(0, 0.005)))
            yield f"{n:.6g}", f"{d:.6g}", f"{C:.6g}", f"{loss:.6f}"


def main():
    law = preset("besiroglu2024")
    here = Path(__file__).parent
    with (here / "isoflop_runs.csv").open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["params", "tokens", "flops", "loss"])
        w.writerows(isoflop_runs(law, np.random.default_rng(0)))
    with (here / "ladder_design.csv").open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["params", "tokens"])
        for ratio in np.geomspace(2, 400, 8):
            for n in np.geomspace(5e7, 5e9, 8):
                w.writerow([f"{n:.6g}", f"{n * ratio:.6g}"])
    print(f"wrote {here / 'isoflop_runs.csv'} and {here / 'ladder_design.csv'}")


if __name__ == "__main__":
    main()
