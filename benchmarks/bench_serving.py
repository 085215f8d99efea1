"""Solve time with and without the roofline serving model, end to end and warm.

Run: python benchmarks/bench_serving.py
Prints, for examples/serving_slo.toml (the roofline model: variables N, D, B, G, t) and the
same scenario under the MFU model (variables N, D; decode MFU set to the roofline
plan's implied figure, prefill MFU to its compute efficiency): the cold `lifeopt solve` time of each, the warm solve
time of each (mean of repeated solves), with and without the repetition penalty (the
cutting-plane path of cvxpy), and the closed-form serving points' cost per call.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "serving_slo.toml"


def _without_serving(text: str, decode_mfu: float) -> str:
    """The example under the MFU model: its [serving] table dropped, MFUs for serving set."""
    head, _, rest = text.partition("[serving]")
    tail = rest[rest.index("\n["):] if "\n[" in rest else ""
    return head.replace('price_per_gpu_hour = 2.50\n\n',
                        f'price_per_gpu_hour = 2.50\nprefill_mfu = 0.6\ndecode_mfu = {decode_mfu:.4f}\n\n') + tail


def _with_penalty(text: str) -> str:
    """The example with a small corpus under the repetition penalty (the cutting-plane path)."""
    return (text.replace('unique_tokens = "30T"', 'unique_tokens = "3T"')
            .replace("max_epochs = 4", "max_epochs = 40")
            .replace("repetition_penalty = false", "repetition_penalty = true"))


def variants():
    """(label, scenario text) of the four scenarios timed."""
    from lifecycle_opt import load_scenario, solve
    roof = EXAMPLE.read_text()
    implied = solve(load_scenario(EXAMPLE)).serving.implied_decode_mfu
    mfu = _without_serving(roof, implied)
    return [("roofline serving model", roof), ("MFU serving model", mfu),
            ("roofline serving model, repetition penalty", _with_penalty(roof)),
            ("MFU serving model, repetition penalty", _with_penalty(mfu))]


def cold(path: Path) -> float:
    lifeopt = os.path.join(os.path.dirname(sys.executable), "lifeopt")
    t = time.perf_counter()
    subprocess.run([lifeopt, "solve", str(path)], check=True, capture_output=True)
    return time.perf_counter() - t


def main():
    from lifecycle_opt import load_scenario, solve
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in variants():
            path = Path(tmp) / "s.toml"
            path.write_text(text)
            s = load_scenario(path)
            assert (s.serving is None) == label.startswith("MFU")
            cli = min(cold(path) for _ in range(2))
            solve(s)
            n = 5
            t = time.perf_counter()
            for _ in range(n):
                solve(s)
            warm = (time.perf_counter() - t) / n
            print(f"{label:44s} lifeopt solve {cli:5.2f} s   warm solve {1e3 * warm:6.0f} ms")
    r = load_scenario(EXAMPLE).serving
    n = 2000
    t = time.perf_counter()
    for k in range(n):
        r.relaxed_point(1e10 + k * 1e7)
        r.rounded_point(1e10 + k * 1e7)
    print(f"closed-form relaxed + rounded serving points: {1e6 * (time.perf_counter() - t) / n:.0f} µs per model size")


if __name__ == "__main__":
    main()
