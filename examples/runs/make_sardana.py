"""Generate examples/runs/sardana2024_runs.csv: the 47 training runs of Sardana et al. 2024
("Beyond Chinchilla-Optimal: Accounting for Inference in Language Model Scaling Laws",
arXiv 2401.00448) with their final loss and the average error of their downstream
evaluations, for `lifeopt fit` to fit the law and the downstream mapping of Gadre et al.
2024 (Err(L) = epsilon - k*exp(-gamma*L)).

Source: trainingresults.csv of the repository nikhilsardana/beyond-chinchilla (Apache
License 2.0, https://www.apache.org/licenses/LICENSE-2.0), commit 190f70e. Derived, with
these modifications: the columns kept are Model Name (as run), Parameters (params), Tokens
(tokens) and Smoothed Loss (loss, the training loss smoothed over the last batches, nats);
error is 1 - eval_gauntlet/core_average (the average of the MosaicML Eval Gauntlet's core
categories, as a fraction). The values are copied unchanged.

Run: python examples/runs/make_sardana.py path/to/trainingresults.csv
"""
import csv
import sys
from pathlib import Path


def main(source: str):
    out = Path(__file__).with_name("sardana2024_runs.csv")
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["run", "params", "tokens", "loss", "error"])
        for r in rows:
            error = 1.0 - float(r["eval_gauntlet/core_average"])
            w.writerow([r["Model Name"], r["Parameters"], r["Tokens"], r["Smoothed Loss"], repr(error)])
    print(f"wrote {out} ({len(rows)} runs)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/runs/make_sardana.py path/to/trainingresults.csv")
    main(sys.argv[1])
