"""Calibrating the roofline serving model on measured serving (``lifeopt calibrate``,
docs/model.md §8): read measurements in the columns of examples/runs/serving_measurements.csv,
predict each, and fit the engine's efficiencies to them.

The fit is a maximum a posteriori estimate in logs: it minimises Σ (w_i·log speed
ratio_i / σ)² over the rows (σ = 0.3, a row's spread about the model) plus a prior that
holds each parameter near its default (the fit on published measurements) as firmly as
fifteen rows would (``prior_rows``): one standard deviation σ/√15, a factor 1.08 for the
efficiencies, three times that in logs for the two overheads and half of it for the KV
re-read share. A few rows then refine the defaults rather than replace them — with six
of the published measurements, from engines years apart, a free fit of six parameters
predicts the other two worse — and many rows of one engine set what they inform; the
report says which parameters the rows set (the posterior spread against the prior's). The uncertainty is
the Laplace approximation: the inverse of JᵀJ at the optimum, one standard error per
parameter in its own unit.

``weights`` = "source" counts each source once (1/√n for its n rows), so that a long
table does not outweigh a single published figure; "row" weighs every row alike.
"""
from __future__ import annotations

__all__ = ["read_measurements", "calibrate", "Calibration", "PARAMETERS", "calibration_toml"]

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ..errors import ScenarioError
from ..model.architecture import Architecture
from ..model.calibration import COLUMNS, DTYPE_BYTES, METRICS, MOE_COLUMNS, Measurement, predicted, prepare, speed_ratio
from ..model.hardware import gpu
from ..model.serving_point import BOUND_EFFICIENCIES, DEFAULT_EFFICIENCIES, Efficiencies
from .runs import csv_table

#: the fitted parameters: (field of Efficiencies, key in a scenario and a calibration file,
#: unit in reports, scale from the field to the unit, transform, the prior's spread in the
#: transform's scale relative to the efficiencies': the overheads are known to a factor, the
#: KV re-read share is a share)
PARAMETERS = (("compute", "compute_efficiency", "", 1.0, "log", 1.0),
              ("bandwidth", "bandwidth_efficiency", "", 1.0, "log", 1.0),
              ("link", "link_efficiency", "", 1.0, "log", 1.0),
              ("collective_overhead", "collective_overhead_us", "µs", 1e6, "log", 3.0),
              ("kv_reread", "kv_reread", "", 1.0, "plain", 0.5),
              ("prefill_overhead", "prefill_overhead_us", "µs", 1e6, "log", 3.0))
#: how many rows the prior (the defaults) counts as: a parameter moves half-way to what
#: the rows say once this many inform it
PRIOR_ROWS = 15.0
#: the bounds of each parameter's field: efficiencies in (0, 1], overheads within 0.01 µs–1 ms
_BOUNDS = {"compute": (1e-3, 1.0), "bandwidth": (1e-3, 1.0), "link": (1e-3, 1.0),
           "collective_overhead": (1e-8, 1e-3), "kv_reread": (0.0, 1.0), "prefill_overhead": (1e-8, 1e-3)}
#: a row's spread about the model in logs: the rms log speed ratio of the defaults on the
#: published measurements is 0.18 (benchmarks/fit_serving_defaults.py); across engines and
#: their generations more
MODEL_NOISE = 0.3
_INTEGERS = ("layers", "d_model", "heads", "kv_heads", "d_ff", "vocab", "replica_gpus")


def read_measurements(path: str) -> list[Measurement]:
    """The rows of a measurements CSV; a ScenarioError naming the file, the row and the
    column of the first bad cell (nothing is fitted or written then)."""
    source, header, rows = csv_table(path, "serving measurements")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ScenarioError("header", f"the columns {', '.join(COLUMNS)}", source=source,
                            found_text=f"found no column {missing[0]!r}")
    col = {c: header.index(c) for c in COLUMNS + MOE_COLUMNS if c in header}
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ScenarioError(f"row {line}", f"{len(header)} values like the header", source=source,
                                found_text=f"found {len(row)}")
        out.append(_measurement(row, col, line, source))
    if not out:
        raise ScenarioError("file", "at least one measurement row", source=source, found_text="found none")
    return out


def _measurement(row: list[str], col: dict, line: int, source: str) -> Measurement:
    """One row as a Measurement, every cell checked."""
    def cell(name):
        return row[col[name]].strip() if name in col else ""

    def bad(name, expected):
        return ScenarioError(f"row {line}, column {name!r}", expected, cell(name), source=source)

    def positive(name, whole=False, blank=False):
        text = cell(name)
        if blank and not text:
            return None
        try:
            x = float(text)
        except ValueError:
            raise bad(name, "a whole number" if whole else "a positive number") from None
        if not (math.isfinite(x) and x > 0) or (whole and x != int(x)):
            raise bad(name, "a positive whole number" if whole else "a positive number")
        return x

    try:
        card = gpu(cell("gpu"))
    except KeyError as exc:
        raise bad("gpu", str(exc.args[0]).split("; ", 1)[1]) from None
    for name in ("weight_dtype", "kv_dtype"):
        if cell(name) not in DTYPE_BYTES:
            raise bad(name, f"one of {', '.join(DTYPE_BYTES)}")
    if cell("metric") not in METRICS:
        raise bad("metric", f"one of {', '.join(METRICS)}")
    if cell("gated_mlp") not in ("0", "1"):
        raise bad("gated_mlp", "1 (a gated, SwiGLU MLP) or 0")
    moe = _mixture(cell, bad, positive)
    n = {k: positive(k, whole=True, blank=k == "d_ff" and "expert_d_ff" in moe) for k in _INTEGERS}
    n["d_ff"] = moe.pop("expert_d_ff", n["d_ff"])
    if n["heads"] % n["kv_heads"]:
        raise bad("kv_heads", f"a divisor of heads = {n['heads']:g}")
    if cell("metric") == "ttft_ms" and cell("batch") not in ("", "1"):
        raise bad("batch", "1 or blank for a time to first token (one prompt alone)")
    arch = Architecture(n["layers"], n["d_model"], n["heads"], n["kv_heads"], n["d_ff"], n["vocab"],
                        gated_mlp=cell("gated_mlp") == "1", name=cell("id"), source=cell("source"), **moe)
    batch = positive("batch", whole=True, blank=True)
    max_batch = positive("max_batch", whole=True, blank=True)
    if batch is None and max_batch is None and cell("metric") != "ttft_ms":
        raise bad("max_batch", "the engine's largest batch when batch is blank")
    return Measurement(cell("id") or f"row {line}", cell("source"), card, cell("weight_dtype"), cell("kv_dtype"),
                       arch, int(n["replica_gpus"]), batch, max_batch, positive("input_tokens"),
                       positive("output_tokens"), cell("metric"), positive("measured"), line)


def _mixture(cell, bad, positive) -> dict:
    """The optional mixture-of-experts columns of a row: {} for a dense model (all blank),
    else experts, active_experts, shared_experts and, when given, expert_d_ff (then d_ff
    blank: each expert's width is one of the two)."""
    if not any(cell(c) for c in MOE_COLUMNS):
        return {}
    E = positive("experts", whole=True)
    if E < 2:
        raise bad("experts", "at least 2 for a mixture of experts (blank every mixture column for a dense model)")
    k = positive("active_experts", whole=True)
    if k > E:
        raise bad("active_experts", f"at most experts = {E:g}")
    out = {"experts": int(E), "active_experts": int(k), "shared_experts": 0}
    if cell("shared_experts") not in ("", "0"):
        out["shared_experts"] = int(positive("shared_experts", whole=True))
    if cell("expert_d_ff"):
        if cell("d_ff"):
            raise bad("expert_d_ff", "blank when d_ff is given (each expert's width: one of the two)")
        out["expert_d_ff"] = positive("expert_d_ff", whole=True)
    return out


@dataclass(frozen=True)
class Calibration:
    """A fit of the efficiencies to measurements.

    efficiencies: the fitted values; standard_errors: one standard error per parameter
    field [the field's unit]; prior_errors: the prior's spread there; rows: (measurement,
    predicted, speed ratio, batch) per row; prior: the efficiencies it started from."""

    efficiencies: Efficiencies
    standard_errors: dict
    prior_errors: dict
    rows: tuple
    prior: Efficiencies

    @property
    def ratios(self) -> np.ndarray:
        return np.array([r[2] for r in self.rows])

    def informed(self, field: str) -> bool:
        """Whether the rows narrowed the parameter's spread to below 70 % of the prior's."""
        return bool(self.standard_errors[field] < 0.7 * self.prior_errors[field])

    def as_dict(self) -> dict:
        """The JSON document: {"rows": [...], "parameters": {...}}."""
        rows = [{"id": m.id, "metric": m.metric, "measured": m.measured, "predicted": p, "speed_ratio": s,
                 "batch": b} for m, p, s, b in self.rows]
        params = {key: {"value": getattr(self.efficiencies, f) * scale,
                        "standard_error": self.standard_errors[f] * scale, "unit": unit,
                        "informed_by_rows": self.informed(f)}
                  for f, key, unit, scale, _, _ in PARAMETERS}
        return {"rows": rows, "parameters": params}


def _to_x(eff: Efficiencies) -> np.ndarray:
    """The parameters in the fit's scale (logs of the positive ones, held within their bounds)."""
    value = {f: min(max(getattr(eff, f), _BOUNDS[f][0]), _BOUNDS[f][1]) for f in _BOUNDS}
    return np.array([math.log(value[f]) if t == "log" else value[f] for f, _, _, _, t, _ in PARAMETERS])


def _from_x(x) -> Efficiencies:
    return Efficiencies(**{f: (math.exp(v) if t == "log" else float(v))
                           for (f, _, _, _, t, _), v in zip(PARAMETERS, x)})


def _weights(measurements, weights: str) -> np.ndarray:
    if weights == "row":
        return np.ones(len(measurements))
    counts: dict = {}
    for m in measurements:
        counts[m.source] = counts.get(m.source, 0) + 1
    return np.array([1.0 / math.sqrt(counts[m.source]) for m in measurements])


def calibrate(measurements, prior: Efficiencies = DEFAULT_EFFICIENCIES, prior_rows: float = PRIOR_ROWS,
              weights: str = "source", fit: bool = True, bound: bool = False,
              noise: float = MODEL_NOISE) -> Calibration:
    """Fit the efficiencies to ``measurements`` (``fit`` False: predict at ``prior``;
    ``bound``: predict at the hardware's bound). ``prior_rows``: how many rows the prior
    counts as (0: no prior); ``noise``: a row's spread about the model in logs."""
    w = _weights(measurements, weights)
    x0 = _to_x(prior)
    prior_scale = noise / math.sqrt(prior_rows) if prior_rows > 0 else math.inf
    spread = np.array([p[5] for p in PARAMETERS]) * prior_scale
    lo = _to_x(Efficiencies(**{f: _BOUNDS[f][0] for f in _BOUNDS}))
    hi = _to_x(Efficiencies(**{f: _BOUNDS[f][1] for f in _BOUNDS}))

    ready = [prepare(m, bound) for m in measurements]

    def residuals(x):
        eff = _from_x(x)
        out = [wi / noise * math.log(speed_ratio(p.measurement, predicted(p, eff))) for p, wi in zip(ready, w)]
        return np.array(out + (list((x - x0) / spread) if math.isfinite(prior_scale) else []))

    x = x0
    errors = {f: 0.0 for f in _BOUNDS}
    if fit and not bound:
        result = least_squares(residuals, np.clip(x0, lo, hi), bounds=(lo, hi), x_scale=1.0)
        x = result.x
        # with no prior the rows' own spread scales the covariance (noise unknown)
        spread2 = 1.0 if math.isfinite(prior_scale) else max(
            float(np.mean(result.fun ** 2)) * len(measurements) / max(len(measurements) - len(x), 1), 1e-6)
        errors = _standard_errors(result, x, spread2)
    eff = BOUND_EFFICIENCIES if bound else _from_x(x)
    rows = []
    for p in ready:
        value = predicted(p, eff)
        rows.append((p.measurement, value, speed_ratio(p.measurement, value), p.batch))
    priors = {f: (getattr(prior, f) * s if t == "log" else s) for (f, _, _, _, t, _), s in zip(PARAMETERS, spread)}
    return Calibration(eff, errors, priors, tuple(rows), prior)


def _standard_errors(result, x, spread2: float) -> dict:
    """One standard error per field: the posterior's (the inverse of JᵀJ at the optimum, the
    rows weighed by the model's noise and the prior by its spread), times ``spread2``."""
    J = result.jac
    cov = np.linalg.pinv(J.T @ J) * spread2
    out = {}
    for k, (f, _, _, _, t, _) in enumerate(PARAMETERS):
        sd = math.sqrt(max(cov[k, k], 0.0))
        out[f] = math.exp(x[k]) * sd if t == "log" else sd
    return out


def calibration_toml(cal: Calibration, source: str) -> str:
    """A calibration file for ``[serving] calibration = "..."``: the fitted values under
    [calibration] in the keys of ``[serving]``, their standard errors and the fit's summary."""
    lines = [f"# written by lifeopt calibrate from {source} ({len(cal.rows)} measurements)",
             "# use it in a scenario: [serving] calibration = \"this file\"", "[calibration]"]
    for f, key, _, scale, _, _ in PARAMETERS:
        lines.append(f"{key} = {getattr(cal.efficiencies, f) * scale:.6g}")
    lines += ["", "[calibration.uncertainty]  # one standard error, in the same units"]
    for f, key, _, scale, _, _ in PARAMETERS:
        lines.append(f"{key} = {cal.standard_errors[f] * scale:.3g}")
    r = cal.ratios
    lines += ["", "[calibration.fit]", f"measurements = {source!r}".replace("'", '"'), f"rows = {len(cal.rows)}",
              f"median_speed_ratio = {float(np.median(r)):.4g}",
              f"rms_log_speed_ratio = {float(np.sqrt(np.mean(np.log(r) ** 2))):.4g}", ""]
    return "\n".join(lines)
