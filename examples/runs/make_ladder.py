"""Generate examples/runs/ladder_curves.csv: training curves of a ladder of models whose
losses follow a stated law, so that `lifeopt fit --approach all` shows what agreement of
the three Chinchilla approaches looks like.

Law: besiroglu2024 (Besiroglu et al. 2024), E 1.8172, A 482.01, B 2085.43, alpha 0.3478,
beta 0.3658, so a = beta/(alpha+beta) = 0.513 and b = 0.487. 20 sizes from 50M to 10B
parameters; for each, 4 runs whose cosine schedules end at 10, 40, 160 and 640 tokens per
parameter; 16 points per run, log-spaced from 0.5 tokens per parameter to the end of the
schedule; losses with 0.3 % multiplicative noise (seed 0), as if each point came from a run
tuned to that length (the ideal Approach 1 assumes), so the file has no schedule column.

Run: python examples/runs/make_ladder.py
"""
import csv
from pathlib import Path

import numpy as np

from lifecycle_opt.model.presets import preset


def main():
    law = preset("besiroglu2024")
    rng = np.random.default_rng(0)
    out = Path(__file__).with_name("ladder_curves.csv")
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["run", "params", "tokens", "loss"])
        for n in np.geomspace(5e7, 1e10, 20):
            for k in (10, 40, 160, 640):
                end = n * k
                for d in np.geomspace(0.5 * n, end, 16):
                    loss = float(law.loss(n, d)) * float(np.exp(rng.normal(0, 0.003)))
                    w.writerow([f"{n / 1e6:.0f}M-x{k}", f"{n:.6g}", f"{d:.6g}", f"{loss:.6f}"])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
