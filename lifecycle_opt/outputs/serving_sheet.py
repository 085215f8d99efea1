"""The roofline serving model in a plan's workbook (docs/model.md §8): its inputs on the
Inputs sheet and its arithmetic as live formulas on the Calculations sheet — the shape,
the KV cache, the decode step's compute and memory times, TPOT and TTFT, the GPU-seconds
of a prompt and of a generated token, and from them the serving compute and GPU-hours.

The batch and replica size are optimiser results (grey): change an input and the sheet
shows what serving this plan at that point costs. Cached values are the Solution's.
"""
from __future__ import annotations

__all__ = ["serving_inputs", "serving_cells", "serving_price_cells"]

MILLION = 1e6

from ..model.constants import SECONDS_PER_HOUR
from ..model.serving import ATTENTION_FLOPS, KV_VECTORS, PARAMS_PER_LAYER_WIDTH2
from ..scenario.schema import Scenario


def serving_inputs(v, put, scenario: Scenario) -> None:
    """Inputs of the roofline model (put(name, label, value, unit, key, source, fmt))."""
    r, i = scenario.serving, scenario.inference
    v.blank()
    v.section("Roofline serving model (docs/model.md §8)")
    put("infer_bandwidth", "HBM bandwidth per GPU", r.bandwidth, "bytes/s", "hardware.inference.gpu",
        "GPU catalogue (lifeopt gpus) or bandwidth", fmt="sci")
    put("infer_memory", "HBM per GPU", r.memory_bytes, "bytes", "hardware.inference.gpu",
        "GPU catalogue or memory", fmt="sci")
    put("weight_bytes", f"bytes per weight ({i.dtype})", r.weight_bytes, "bytes", "hardware.inference.dtype")
    put("kv_bytes", "bytes per cached value", r.kv_bytes, "bytes", "serving.kv_dtype")
    put("compute_efficiency", "compute efficiency η_c", r.compute_efficiency, "fraction",
        "serving.compute_efficiency", fmt="pct")
    put("bandwidth_efficiency", "bandwidth efficiency η_m", r.bandwidth_efficiency, "fraction",
        "serving.bandwidth_efficiency", fmt="pct")
    put("memory_utilisation", "usable share of HBM", r.memory_utilisation, "fraction",
        "serving.memory_utilisation", fmt="pct")
    put("aspect_ratio", "aspect ratio d_model / n_layer", r.aspect_ratio, "–", "serving.aspect_ratio")
    put("gqa_ratio", "KV heads / attention heads", r.gqa_ratio, "–", "serving.gqa_ratio")
    put("context_tokens", "mean context while decoding S", r.context_tokens, "tokens", "serving.context_tokens")
    put("max_context_tokens", "context the cache is sized for S_max", r.max_context_tokens, "tokens",
        "serving.max_context_tokens")
    put("prompt_tokens", "prompt length P", r.prompt_tokens, "tokens", "serving.prompt_tokens")
    put("params_per_width2", "parameters per n_layer·d_model²", PARAMS_PER_LAYER_WIDTH2, "–", "",
        "Kaplan et al. 2020, eq. 2.1")
    put("attention_flops", "attention FLOP per n_layer·d_model per token of context", ATTENTION_FLOPS, "FLOP", "",
        "Chowdhery et al. 2022 (PaLM), app. B")
    put("kv_vectors", "cached vectors per layer per token (K and V)", KV_VECTORS, "–", "", "definition")


def serving_cells(c, scenario: Scenario, sol, both) -> None:
    """The roofline rows of the Calculations sheet, ending with ``infer_flops`` and
    ``infer_gpu_hours`` (column B: the plan's deployed point; C: the baseline's). Cached
    values come from the model's own functions (:class:`~lifecycle_opt.model.serving.Roofline`)."""
    s, m = sol.serving, scenario.serving
    points = (s.rounded, s.baseline)
    pick = lambda f: tuple(None if p is None else f(p) for p in points)   # noqa: E731
    at_n = lambda f: tuple(float(f(n)) for n in (sol.params, sol.baseline.params))   # noqa: E731
    width = lambda r: f"(({r('params_N')}*aspect_ratio/params_per_width2)^(2/3)/aspect_ratio)"  # noqa: E731
    c.add("serving_width", "n_layer · d_model", "–", lambda r: f"={width(r)}",
          at_n(lambda n: m.n_layer(n) * m.d_model(n)),
          "(N·r/12)^(2/3) / r (Kaplan et al. 2020, eq. 2.1)", fmt="num")
    c.add("kv_per_token", "KV cache per token of context", "bytes",
          lambda r: f"=kv_vectors*{r('serving_width')}*gqa_ratio*kv_bytes", at_n(m.kv_bytes_per_token),
          "2 · n_layer·d_model · g · bytes per value")
    c.add("serving_batch", "batch (sequences per replica)", "sequences", None, pick(lambda p: p.batch),
          "optimiser result (whole number)", style="result", fmt="num")
    c.add("serving_gpus", "replica size", "GPUs", None, pick(lambda p: p.replica_gpus),
          "optimiser result (an allowed size)", style="result", fmt="num")
    c.add("decode_flops", "FLOP per generated token", "FLOP",
          lambda r: f"=flop_per_param_token_infer*{r('params_N')}+attention_flops*{r('serving_width')}"
                    f"*context_tokens", at_n(m.decode_flops), "2N + 4 · n_layer·d_model · S")
    c.add("prefill_flops", "FLOP per prompt token", "FLOP",
          lambda r: f"=flop_per_param_token_infer*{r('params_N')}+attention_flops/2*{r('serving_width')}"
                    f"*prompt_tokens", at_n(lambda n: m.prefill_flops_terms().value(n)),
          "2N + 2 · n_layer·d_model · P")
    # times in milliseconds (as the scenario's serving.tpot_ms), GPU time per token in
    # microseconds: plain numbers, never an exponent, with four decimals to spare
    ms = lambda f: pick(lambda p: 1e3 * f(p))          # noqa: E731 — seconds → ms
    c.add("step_compute", "decode step, compute time", "ms",
          lambda r: f"={r('serving_batch')}*{r('decode_flops')}/({r('serving_gpus')}*infer_peak*compute_efficiency)*1000",
          ms(lambda p: p.compute_seconds), "B · FLOP per token / (G · peak · η_c), s → ms", fmt="num")
    c.add("step_memory", "decode step, memory time", "ms",
          lambda r: (f"=({r('params_N')}*weight_bytes+{r('serving_batch')}*context_tokens*{r('kv_per_token')})"
                     f"/({r('serving_gpus')}*infer_bandwidth*bandwidth_efficiency)*1000"),
          ms(lambda p: p.memory_seconds), "(N · bytes per weight + B · S · KV) / (G · bandwidth · η_m), s → ms",
          fmt="num")
    c.add("tpot", "time per output token (TPOT)", "ms",
          lambda r: f"=MAX({r('step_compute')},{r('step_memory')})", ms(lambda p: p.step_seconds),
          "the longer of the two", fmt="num")
    c.add("ttft", "time to first token (TTFT)", "ms",
          lambda r: f"=prompt_tokens*{r('prefill_flops')}/({r('serving_gpus')}*infer_peak*compute_efficiency)*1000",
          ms(lambda p: p.ttft_seconds), "P · FLOP per prompt token / (G · peak · η_c), s → ms", fmt="num")
    c.add("replica_memory", "weights and KV cache per replica", "bytes",
          lambda r: (f"={r('params_N')}*weight_bytes+{r('serving_batch')}*max_context_tokens"
                     f"*{r('kv_per_token')}"), pick(lambda p: p.memory_bytes),
          "N · bytes per weight + B · S_max · KV ≤ G · HBM · usable share")
    c.add("decode_gpu_us", "GPU time per generated token", "µs",
          lambda r: f"={r('serving_gpus')}*{r('tpot')}*1000/{r('serving_batch')}",
          pick(lambda p: 1e6 * p.decode_gpu_seconds_per_token), "G · TPOT / B, ms → µs", fmt="num")
    c.add("prefill_gpu_us", "GPU time per prompt token", "µs",
          lambda r: f"={r('prefill_flops')}/(infer_peak*compute_efficiency)*1000000",
          at_n(lambda n: 1e6 * m.prefill_gpu_seconds(n)), "FLOP per prompt token / (peak · η_c), s → µs",
          fmt="num")
    c.add("infer_flops", "inference compute", "FLOP",
          lambda r: f"={r('tokens_in')}*{r('prefill_flops')}+{r('tokens_out')}*{r('decode_flops')}",
          both(lambda k: k.inference_flops), "prompt tokens · FLOP each + generated tokens · FLOP each")
    c.add("infer_gpu_hours", "inference GPU-hours", "GPU-hours",
          lambda r: (f"=({r('tokens_in')}*{r('prefill_gpu_us')}+{r('tokens_out')}*{r('decode_gpu_us')})"
                     f"/1000000/seconds_per_hour"), both(lambda k: k.inference_gpu_hours),
          "(prompt tokens · GPU-µs each + generated tokens · GPU-µs each) / 10^6 / 3600")


def serving_price_cells(c, scenario: Scenario, sol) -> None:
    """Dollars per million prompt and generated tokens, at today's price."""
    m, s = scenario.serving, sol.serving
    usd = scenario.inference.price_per_gpu_hour / SECONDS_PER_HOUR * MILLION     # per GPU-second, ×10^6
    prompt = tuple(usd * float(m.prefill_gpu_seconds(n)) for n in (sol.params, sol.baseline.params))
    generated = tuple(None if p is None else usd * p.decode_gpu_seconds_per_token for p in (s.rounded, s.baseline))
    # a million tokens of µs each take that many GPU-seconds
    c.add("usd_per_million_in", "$ per million prompt tokens", "$/million tokens",
          lambda r: f"={r('prefill_gpu_us')}*{r('infer_price')}/seconds_per_hour", prompt,
          "GPU-µs per token · price / 3600", fmt="money")
    c.add("usd_per_million_out", "$ per million generated tokens", "$/million tokens",
          lambda r: f"={r('decode_gpu_us')}*{r('infer_price')}/seconds_per_hour", generated,
          "GPU-µs per token · price / 3600", fmt="money")
