"""Generate examples/runs/moe_runs.csv: final losses of dense and mixture-of-experts runs on a
layout like Ludziejewski et al. 2025's (arXiv 2502.05172, §4: E 1-32 experts, top-1
routing, up to 2.7B active and 5B total parameters, 0.5B-80B tokens), drawn from their
joint law, so that `lifeopt fit` on runs with an experts column shows what it recovers.

Law: the preset ludziejewski2025 (their Table 3: a 35.91, alpha -0.1889, delta -0.2285,
gamma 0.0098, b 35.98, beta -0.1775, omega 0.5529, zeta -0.0259, E_start 2.0732, E_max
290.4521, c 1.3637). Runs: E in 1, 2, 4, 8, 16, 32; active parameters from 50M to 2.7B (7
sizes, log-spaced), each size kept where the total parameters stay within 5B (each expert
a full MLP, 2/3 of the active parameters: lifecycle_opt.model.moe.Mixture); 5 token counts
from 0.5B to 80B, log-spaced; losses with 1 % multiplicative noise (seed 0). The params
column holds the active parameters (embeddings included), as the law counts them.

Run: python examples/runs/make_moe.py
"""
import csv
from pathlib import Path

import numpy as np

from lifecycle_opt.model.moe import Mixture
from lifecycle_opt.model.presets import joint_preset


def layout():
    """(experts, active parameters, tokens) of every run."""
    runs = []
    for E in (1, 2, 4, 8, 16, 32):
        per_active = Mixture(E, 1).total_per_active
        for n in np.geomspace(5e7, 2.7e9, 7):
            if n * per_active > 5e9 * (1 + 1e-9):
                continue
            runs += [(E, float(n), float(d)) for d in np.geomspace(5e8, 8e10, 5)]
    return runs


def main():
    law = joint_preset("ludziejewski2025")
    rng = np.random.default_rng(0)
    out = Path(__file__).with_name("moe_runs.csv")
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["experts", "params", "tokens", "loss"])
        for E, n, d in layout():
            loss = float(law.at(E).loss(n, d)) * float(np.exp(rng.normal(0, 0.01)))
            w.writerow([E, f"{n:.6g}", f"{d:.6g}", f"{loss:.6f}"])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
