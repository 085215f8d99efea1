"""The GPU catalogue: dense peak FLOP/s per dtype, memory and bandwidth, with sources.

Peak figures are *dense* (NVIDIA datasheets print sparse figures for fp8/fp16 tensor
cores with "with sparsity"; dense is half of those). Units: FLOP/s, bytes, bytes/s.

References
----------
NVIDIA A100 Tensor Core GPU datasheet (2021): bf16 312 TFLOP/s dense, int8 1,248 TOPS with
sparsity → 624 dense; 40 GB HBM2 at 1,555 GB/s, 80 GB HBM2e at 2,039 GB/s (SXM).
NVIDIA H100 Tensor Core GPU datasheet (SXM5, 2023): bf16 1,979 TFLOP/s, fp8 3,958 TFLOP/s and
int8 3,958 TOPS with sparsity → 989.4 / 1,978.9 / 1,978.9 dense; 80 GB HBM3 at 3.35 TB/s.
NVIDIA H200 Tensor Core GPU datasheet (SXM, 2024): same compute as H100 SXM; 141 GB HBM3e at 4.8 TB/s.
NVIDIA DGX B200 / HGX B200 datasheet (2024), per GPU: fp8 9 PFLOP/s and bf16 4.5 PFLOP/s with
sparsity → 4.5 / 2.25 PFLOP/s dense; 180 GB HBM3e at 8 TB/s.

GPU-to-GPU links (NVLink), what a tensor-parallel all-reduce moves over: the datasheets
print the bidirectional total per GPU (A100 600 GB/s, NVLink 3; H100 and H200 900 GB/s,
NVLink 4; B200 1.8 TB/s, NVLink 5); a ring all-reduce sends and receives at once, so its
rate is one direction, half of it. The latency of one small message, 8 µs, is the figure
cli99/llm-analysis uses for A100 and H100 SXM (llm_analysis/gpu_configs, v0.2), kept for
the newer parts for want of a published one.
"""
from __future__ import annotations

__all__ = ["Gpu", "CATALOGUE", "gpu"]

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Gpu:
    """One accelerator.

    name : str
    peak_flops : dict dtype → dense peak [FLOP/s]
    memory_bytes : float — HBM capacity [bytes]
    bandwidth : float — HBM bandwidth [bytes/s]
    source : str — the datasheet the figures come from
    link_bandwidth : float — GPU-to-GPU link bandwidth, one direction [bytes/s]
    link_latency : float — latency of one message over the links [s]
    """

    name: str
    peak_flops: dict = field(hash=False)
    memory_bytes: float
    bandwidth: float
    source: str
    link_bandwidth: float = 0.0
    link_latency: float = 0.0

    def peak(self, dtype: str) -> float:
        """Dense peak [FLOP/s] for ``dtype``; KeyError names the dtypes this GPU has."""
        try:
            return self.peak_flops[dtype]
        except KeyError:
            raise KeyError(f"{self.name} has no {dtype!r} peak; known: "
                           f"{', '.join(self.peak_flops)}") from None


# int8 peaks are integer operations per second, counted as FLOP/s for the cost model
_A100_PEAK = {"bf16": 312e12, "fp16": 312e12, "int8": 624e12, "tf32": 156e12, "fp32": 19.5e12}
_H100_PEAK = {"bf16": 989.4e12, "fp16": 989.4e12, "fp8": 1978.9e12, "int8": 1978.9e12, "tf32": 494.7e12,
              "fp32": 66.9e12}
_B200_PEAK = {"bf16": 2.25e15, "fp16": 2.25e15, "fp8": 4.5e15, "tf32": 1.1e15, "fp32": 75e12}

#: one message over NVLink [s] (cli99/llm-analysis gpu_configs, A100 and H100 SXM)
_NVLINK_LATENCY = 8e-6

CATALOGUE: dict[str, Gpu] = {g.name: g for g in [
    Gpu("A100-40GB", _A100_PEAK, 40e9, 1.555e12, "NVIDIA A100 datasheet (SXM, 40 GB)", 300e9, _NVLINK_LATENCY),
    Gpu("A100-80GB", _A100_PEAK, 80e9, 2.039e12, "NVIDIA A100 datasheet (SXM, 80 GB)", 300e9, _NVLINK_LATENCY),
    Gpu("H100", _H100_PEAK, 80e9, 3.35e12, "NVIDIA H100 datasheet (SXM5), dense = sparse/2", 450e9,
        _NVLINK_LATENCY),
    Gpu("H200", _H100_PEAK, 141e9, 4.8e12, "NVIDIA H200 datasheet (SXM), dense = sparse/2", 450e9,
        _NVLINK_LATENCY),
    Gpu("B200", _B200_PEAK, 180e9, 8e12, "NVIDIA HGX B200 datasheet, per GPU, dense = sparse/2", 900e9,
        _NVLINK_LATENCY),
]}

_ALIASES = {"a100": "A100-80GB", "a100-80": "A100-80GB", "a100-80gb": "A100-80GB",
            "a100-40": "A100-40GB", "a100-40gb": "A100-40GB", "h100": "H100", "h100-sxm": "H100",
            "h200": "H200", "b200": "B200"}


def gpu(name: str) -> Gpu:
    """The catalogue entry for ``name`` (case-insensitive; "A100" means the 80 GB part).

    >>> gpu("h100").peak("bf16")
    989400000000000.0
    """
    key = _ALIASES.get(name.strip().lower())
    if key is None:
        raise KeyError(f"unknown GPU {name!r}; known: {', '.join(CATALOGUE)}")
    return CATALOGUE[key]
