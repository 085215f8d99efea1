"""What the roofline serving model predicts for a published or measured serving run: one
row of a measurements file (the columns of examples/runs/serving_measurements.csv) as a
:class:`Measurement`, its :class:`~.serving.Roofline`, and the figure it reports (docs/
model.md §8). ``lifeopt calibrate`` fits the engine's efficiencies to such rows
(:mod:`lifecycle_opt.fit.calibration`).

A row gives the GPU, the dtypes of the weights and of the KV cache, the exact shape (a
mixture of experts' in the optional columns :data:`MOE_COLUMNS`), the
tensor-parallel size, the batch (blank: the engine's choice, up to ``max_batch`` and the
memory), the prompt and generated tokens per request, and one figure:

* ``ttft_ms``: one prompt alone (the model's TTFT);
* ``tpot_ms``: the decode step of a sequence among ``batch`` (the others' prompts
  interleaved, ρ·(B − 1)/B per step: a measured TPOT leaves out the sequence's own prompt);
* ``output_tokens_per_second_per_gpu``: generated tokens per second per GPU, every prompt
  prefilled in the time (B/(t·G) with ρ = prompt/generated tokens).

The arithmetic is in the weights' dtype where the GPU has tensor cores for it (fp8, int8),
else in bf16 (weight-only int4: AWQ, GPTQ).
"""
from __future__ import annotations

__all__ = ["Measurement", "METRICS", "COLUMNS", "MOE_COLUMNS", "DTYPE_BYTES", "Prepared", "roofline_for", "prepare", "predicted",
           "predict", "speed_ratio", "compute_dtype"]

from dataclasses import dataclass, replace

from .architecture import Architecture
from .hardware import Gpu
from .serving import Parts, Roofline, serving_point
from .serving_point import BOUND_EFFICIENCIES, Efficiencies

#: the figures a row may report, and their units
METRICS = {"tpot_ms": "ms", "ttft_ms": "ms", "output_tokens_per_second_per_gpu": "tokens/s per GPU"}
#: the columns of a measurements file, in order
COLUMNS = ("id", "source", "gpu", "weight_dtype", "kv_dtype", "layers", "d_model", "heads", "kv_heads", "d_ff",
           "vocab", "gated_mlp", "replica_gpus", "batch", "max_batch", "input_tokens", "output_tokens", "metric",
           "measured")
#: optional columns of a mixture of experts (blank or absent for a dense model): experts E,
#: active_experts k, expert_d_ff (each expert's width: d_ff or this, one of the two) and
#: shared_experts, as ``[serving.architecture]`` takes them (docs/model.md §10)
MOE_COLUMNS = ("experts", "active_experts", "expert_d_ff", "shared_experts")
#: bytes of a weight or a cached value per dtype
DTYPE_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}
#: memory share for weights and cache in a prediction (the engines' default 0.9); the bound takes it all
MEMORY_UTILISATION = 0.9


@dataclass(frozen=True)
class Measurement:
    """One measured serving figure with the configuration it was measured on.

    id, source [–]; gpu: the catalogue entry; weight_dtype, kv_dtype; architecture: the exact
    shape; replica_gpus [GPUs]; batch [sequences] or None (the engine's choice, up to
    max_batch [sequences] or None and the memory); input_tokens, output_tokens [tokens per
    request]; metric (one of :data:`METRICS`) and measured [its unit]; line: the row's line
    in its file."""

    id: str
    source: str
    gpu: Gpu
    weight_dtype: str
    kv_dtype: str
    architecture: Architecture
    replica_gpus: int
    batch: float | None
    max_batch: float | None
    input_tokens: float
    output_tokens: float
    metric: str
    measured: float
    line: int = 0


def compute_dtype(weight_dtype: str, gpu: Gpu) -> str:
    """The arithmetic dtype of weights in ``weight_dtype`` on ``gpu``."""
    if weight_dtype in ("fp8", "int8", "fp16", "bf16") and weight_dtype in gpu.peak_flops:
        return weight_dtype
    return "bf16" if "bf16" in gpu.peak_flops else "fp16"


def roofline_for(m: Measurement, efficiencies: Efficiencies, bound: bool = False) -> Roofline:
    """The roofline of measurement ``m`` at ``efficiencies`` (``bound``: the hardware's best,
    efficiency 1 and the whole memory)."""
    P, O = m.input_tokens, m.output_tokens
    rho = P / O if O > 0 else 0.0
    if m.metric == "tpot_ms" and m.batch is not None:
        rho *= (m.batch - 1.0) / m.batch            # the others' prompts, not its own
    return Roofline(peak_flops=m.gpu.peak(compute_dtype(m.weight_dtype, m.gpu)), bandwidth=m.gpu.bandwidth,
                    memory_bytes=m.gpu.memory_bytes, weight_bytes=DTYPE_BYTES[m.weight_dtype],
                    kv_bytes=DTYPE_BYTES[m.kv_dtype], context_tokens=P + O / 2, max_context_tokens=P + O,
                    prompt_tokens=P, prefill_per_output=rho, link_bandwidth=m.gpu.link_bandwidth,
                    link_latency=m.gpu.link_latency, architecture=m.architecture, replica_gpus=(m.replica_gpus,),
                    max_batch=m.max_batch, efficiencies=BOUND_EFFICIENCIES if bound else efficiencies,
                    memory_utilisation=1.0 if bound else MEMORY_UTILISATION)


@dataclass(frozen=True)
class Prepared:
    """A measurement's serving parts at efficiency 1 at the point it was measured at (the
    batch and the size do not depend on the efficiencies), ready to be priced at any."""

    measurement: Measurement
    parts: Parts
    batch: float
    link_latency: float


def prepare(m: Measurement, bound: bool = False) -> Prepared:
    """The parts of measurement ``m`` at its batch (blank: the largest the memory holds)."""
    r = roofline_for(m, BOUND_EFFICIENCIES, bound)
    N, G = m.architecture.active_params, float(m.replica_gpus)
    B = 1.0 if m.metric == "ttft_ms" else (m.batch if m.batch is not None else r.memory_batch(N, G))
    if B < 1:
        raise ValueError(f"{m.id}: the weights leave no room for one sequence on {m.replica_gpus} GPUs")
    # (a mixture's step reads the experts its batch touches, exactly)
    return Prepared(m, replace(r.parts().at(N, B, G), touched=r.touched(B)), B, r.link_latency)


def predicted(p: Prepared, efficiencies: Efficiencies) -> float:
    """The model's figure for a prepared measurement at ``efficiencies``, in its metric's unit."""
    m = p.measurement
    point = serving_point(p.parts, efficiencies, p.link_latency, p.batch, m.replica_gpus, 0.0)
    if m.metric == "ttft_ms":
        return point.ttft_seconds * 1e3
    if m.metric == "tpot_ms":
        return point.step_seconds * 1e3
    return point.tokens_per_second_per_gpu


def predict(m: Measurement, efficiencies: Efficiencies, bound: bool = False) -> tuple[float, float]:
    """(the model's figure in the metric's unit, the batch it was served at); ``bound``: the
    hardware's best (efficiency 1, no overheads, the whole memory)."""
    p = prepare(m, bound)
    return predicted(p, BOUND_EFFICIENCIES if bound else efficiencies), p.batch


def speed_ratio(m: Measurement, predicted: float) -> float:
    """The model's speed over the measured speed: measured ÷ predicted for times,
    predicted ÷ measured for throughput (> 1: the model is faster than the measurement)."""
    if m.metric == "output_tokens_per_second_per_gpu":
        return predicted / m.measured
    return m.measured / predicted
