"""The roofline serving model in a plan's workbook (docs/model.md §8): its inputs on the
Inputs sheet and its arithmetic as live formulas on the Calculations sheet — the model's
shape (an exact architecture, or the shape family's member of N parameters), the KV
cache, the decode step's parts (compute, memory, the prompts' share, the all-reduces),
TPOT and TTFT, the GPU-seconds of a prompt and of a generated token, and from them the
serving compute and GPU-hours.

The batch and replica size are optimiser results (grey): change an input and the sheet
shows what serving this plan at that point costs. Cached values are the model's own
(:class:`~lifecycle_opt.model.serving.Roofline`); the baseline (column C) is served as the
shape family's member of its size. A mixture of experts (docs/model.md §10) holds every
expert, multiplies its active weights, and a step reads its non-expert weights and each
distinct expert its batch touches, E·(1 − (1 − k/E)^(B·(1 + ρ))), exactly as the plan
reports the deployed point.
"""
from __future__ import annotations

__all__ = ["serving_inputs", "serving_cells", "serving_price_cells"]

MILLION = 1e6

from ..model.architecture import ALLREDUCES_PER_LAYER, KV_VECTORS
from ..model.constants import SECONDS_PER_HOUR
from ..model.serving import ACTIVATION_BYTES, ALL_TO_ALLS, ATTENTION_FLOPS
from ..scenario.schema import Scenario

_FLAG = {True: 1.0, False: 0.0}
#: past 60·E/k tokens (1 − k/E)^T < e^−60: E·(1 − it) is E to the last bit, and a spreadsheet
#: raising a fraction to thousands underflows to an error rather than to 0
_EXPONENT_CAP = "60*moe_experts/moe_active"


def serving_inputs(v, put, scenario: Scenario) -> None:
    """Inputs of the roofline model (put(name, label, value, unit, key, source, fmt))."""
    r, i = scenario.serving, scenario.inference
    e, src = r.efficiencies, r.efficiency_source
    v.blank()
    v.section("Roofline serving model (docs/model.md §8)")
    put("infer_bandwidth", "HBM bandwidth per GPU", r.bandwidth, "bytes/s", "hardware.inference.gpu",
        "GPU catalogue (lifeopt gpus) or bandwidth", fmt="sci")
    put("infer_memory", "HBM per GPU", r.memory_bytes, "bytes", "hardware.inference.gpu",
        "GPU catalogue or memory", fmt="sci")
    put("link_bandwidth", "GPU-to-GPU link bandwidth, one direction", r.link_bandwidth, "bytes/s",
        "hardware.inference.link_bandwidth", "GPU catalogue or link_bandwidth", fmt="sci")
    put("link_latency_us", "latency of a message over the links", r.link_latency * 1e6, "µs",
        "hardware.inference.link_latency_us", "GPU catalogue or link_latency_us")
    put("weight_bytes", f"bytes per weight (compute in {i.dtype})", r.weight_bytes, "bytes", "serving.weight_dtype")
    put("kv_bytes", "bytes per cached value", r.kv_bytes, "bytes", "serving.kv_dtype")
    put("activation_bytes", "bytes per activation an all-reduce moves", ACTIVATION_BYTES, "bytes", "",
        "16-bit activations")
    put("compute_efficiency", "compute efficiency η_c", e.compute, "fraction", "serving.compute_efficiency", src,
        fmt="pct")
    put("bandwidth_efficiency", "bandwidth efficiency η_m", e.bandwidth, "fraction",
        "serving.bandwidth_efficiency", src, fmt="pct")
    put("link_efficiency", "link efficiency η_l", e.link, "fraction", "serving.link_efficiency", src, fmt="pct")
    put("collective_overhead_us", "overhead per all-reduce λ_o", e.collective_overhead * 1e6, "µs",
        "serving.collective_overhead_us", src)
    put("kv_reread", "KV re-read share ξ", e.kv_reread, "fraction", "serving.kv_reread", src)
    put("prefill_overhead_us", "overhead per layer of a prefill pass τ", e.prefill_overhead * 1e6, "µs",
        "serving.prefill_overhead_us", src)
    put("memory_utilisation", "usable share of HBM", r.memory_utilisation, "fraction",
        "serving.memory_utilisation", fmt="pct")
    put("context_tokens", "mean context while decoding S", r.context_tokens, "tokens", "serving.context_tokens")
    put("max_context_tokens", "longest context of a sequence", r.max_context_tokens, "tokens",
        "serving.max_context_tokens")
    put("prompt_tokens", "prompt length P", r.prompt_tokens, "tokens", "serving.prompt_tokens")
    put("kv_block_tokens", "tokens per block of the paged KV cache", r.kv_block_tokens, "tokens",
        "serving.kv_block_tokens")
    put("attention_flops", "attention FLOP per layers·d_model per token of context", ATTENTION_FLOPS, "FLOP", "",
        "Chowdhery et al. 2022 (PaLM), app. B")
    put("kv_vectors", "cached vectors per layer per token (K and V)", KV_VECTORS, "–", "", "definition")
    put("allreduces_per_layer", "all-reduces per layer per forward pass", ALLREDUCES_PER_LAYER, "–", "",
        "Shoeybi et al. 2019 (Megatron-LM), §3")
    _shape_inputs(put, r)


def _shape_inputs(put, r) -> None:
    f = r.family
    for name, label, value in (("fam_aspect", "shape family: d_model / layers", f.aspect_ratio),
                               ("fam_head_dim", "shape family: head dimension", f.head_dim),
                               ("fam_kv_heads", "shape family: KV heads", f.kv_heads),
                               ("fam_ffn_ratio", "shape family: nominal d_ff / d_model", f.ffn_ratio),
                               ("fam_vocab", "shape family: vocabulary", f.vocab),
                               ("fam_gated", "shape family: gated MLP (1) or plain (0)", _FLAG[f.gated_mlp])):
        put(name, label, value, "–", "serving.shape_family", "docs/model.md §8")
    m = r.moe
    if not m.is_dense:
        for name, label, value, key in (
                ("moe_experts", "mixture: experts E", m.experts, "moe.experts"),
                ("moe_active", "mixture: experts a token is routed to k", m.active_experts, "moe.active_experts"),
                ("moe_share", "mixture: share s of the active parameters in the k experts", m.expert_share,
                 "moe.expert_share"),
                ("expert_parallel", "experts spread over the GPUs (1) or tensor parallel (0)",
                 _FLAG[r.expert_parallel], "serving.expert_parallel"),
                ("all_to_alls", "all-to-alls per MoE layer under expert parallelism", ALL_TO_ALLS, "")):
            put(name, label, float(value), "–", key, "docs/model.md §10")
    a = r.architecture
    if a is None:
        return
    for name, value in (("layers", a.layers), ("d_model", a.d_model), ("heads", a.heads), ("kv_heads", a.kv_heads),
                        ("d_ff", a.d_ff), ("vocab", a.vocab), ("gated", _FLAG[a.gated_mlp]),
                        ("tied", _FLAG[a.tied_embeddings]), ("qkv_bias", _FLAG[a.qkv_bias])):
        put(f"arch_{name}", f"architecture ({a.name}): {name}", float(value), "–", "serving.architecture",
            a.source)
    if a.is_moe:
        put("arch_shared", f"architecture ({a.name}): shared experts", float(a.shared_experts), "–",
            "serving.architecture", a.source)


def _shape_cells(c, scenario: Scenario, sol) -> None:
    """The shape of each column's model: the architecture's (the plan, when exact) or the
    shape family's member of N parameters (its d_model from N, d_ff taking the rest)."""
    m = scenario.serving
    exact = m.architecture is not None
    rooflines = (m, m.free())
    at_n = lambda f: tuple(float(f(rf, n)) for rf, n in zip(rooflines, (sol.params, sol.baseline.params)))  # noqa: E731
    arch = lambda r: exact and r("params_N").startswith("B")     # noqa: E731 — column B, exact shape
    kappa = "(2+IF(fam_gated=1,3,2)*fam_ffn_ratio)"
    c.add("shape_d_model", "d_model", "–",
          lambda r: "=arch_d_model" if arch(r) else f"=({r('params_N')}*fam_aspect/{kappa})^(1/3)",
          at_n(lambda rf, n: rf.shape.activation_width.value(n)), "exact, or (N·r/κ)^(1/3) of the family", fmt="num")
    c.add("shape_layers", "layers", "–",
          lambda r: "=arch_layers" if arch(r) else f"={r('shape_d_model')}/fam_aspect",
          at_n(lambda rf, n: rf.shape.layers.value(n)), "exact, or d_model / r", fmt="num")
    c.add("shape_kv_dim", "key (and value) width of a layer", "–",
          lambda r: "=arch_kv_heads*arch_d_model/arch_heads" if arch(r) else "=fam_kv_heads*fam_head_dim",
          at_n(lambda rf, n: rf.shape.kv_elements.value(n) / (KV_VECTORS * rf.shape.layers.value(n))),
          "KV heads · head dimension", fmt="num")
    c.add("shape_group", "query heads per KV head", "–",
          lambda r: "=arch_heads/arch_kv_heads" if arch(r) else f"={r('shape_d_model')}/(fam_head_dim*fam_kv_heads)",
          at_n(lambda rf, n: rf.shape.kv_group.value(n)), "heads / KV heads", fmt="num")
    moe = not m.moe.is_dense
    expert = "IF(arch_gated=1,3,2)*arch_d_model*arch_d_ff"            # one expert (or the MLP) of a layer
    mlp = f"(arch_experts+arch_shared)*{expert}+arch_experts*arch_d_model" if exact and m.architecture.is_moe \
        else expert
    mlp = mlp.replace("arch_experts", "moe_experts")
    layer = (f"arch_layers*(2*arch_d_model^2+2*arch_d_model*C_KV+{mlp}"
             "+2*arch_d_model+IF(arch_qkv_bias=1,arch_d_model+2*C_KV,0))")
    held = f"{layer}+IF(arch_tied=1,1,2)*arch_vocab*arch_d_model+arch_d_model"
    family_held = "*(1+moe_share*(moe_experts/moe_active-1))" if moe else ""
    c.add("params_held", "weights held", "parameters",
          lambda r: "=" + held.replace("C_KV", r("shape_kv_dim")) if arch(r) else f"={r('params_N')}{family_held}",
          at_n(lambda rf, n: rf.params_terms().value(n)), "layers · (attention + MLP + norms) + embeddings"
          + ("; a mixture: every expert (family: N · (1 + s · (E/k − 1)))" if moe else ""))
    skipped = f"-arch_layers*(moe_experts-moe_active)*{expert}" if exact and m.architecture.is_moe else ""
    c.add("weights_read", "weights a token multiplies (read per step, dense)", "parameters",
          lambda r: (f"={r('params_held')}{skipped}-IF(arch_tied=1,0,arch_vocab*arch_d_model)" if arch(r)
                     else f"={r('params_N')}"),
          at_n(lambda rf, n: rf.shape.weights_read.value(n)), "all but an untied input table (family: N)"
          + ("; a mixture's active ones" if moe else ""))
    if moe:
        c.add("expert_read", "one expert in every MoE layer", "parameters",
              lambda r: f"=arch_layers*{expert}" if arch(r) else f"={r('params_N')}*moe_share/moe_active",
              at_n(lambda rf, n: rf.shape.expert_read.value(n)), "layers · one expert (family: N · s / k)")


def serving_cells(c, scenario: Scenario, sol, both) -> None:
    """The roofline rows of the Calculations sheet, ending with ``infer_flops`` and
    ``infer_gpu_hours`` (column B: the plan's deployed point; C: the baseline's)."""
    s, m = sol.serving, scenario.serving
    points = (s.rounded, s.baseline)
    rooflines = (m, m.free())
    pick = lambda f: tuple(None if p is None else f(p) for p in points)   # noqa: E731
    at_n = lambda f: tuple(float(f(rf, n)) for rf, n in zip(rooflines, (sol.params, sol.baseline.params)))  # noqa: E731
    _shape_cells(c, scenario, sol)
    c.add("kv_per_token", "KV cache per token of context", "bytes",
          lambda r: f"=kv_vectors*{r('shape_layers')}*{r('shape_kv_dim')}*kv_bytes",
          at_n(lambda rf, n: rf.kv_bytes_per_token(n)), "2 · layers · key width · bytes per value")
    c.add("serving_batch", "batch (sequences per replica)", "sequences", None, pick(lambda p: p.batch),
          "optimiser result (whole number)", style="result", fmt="num")
    c.add("serving_gpus", "replica size", "GPUs", None, pick(lambda p: p.replica_gpus),
          "optimiser result (an allowed size)", style="result", fmt="num")
    c.add("decode_flops", "FLOP per generated token", "FLOP",
          lambda r: f"=2*{r('weights_read')}+attention_flops*{r('shape_layers')}*{r('shape_d_model')}*context_tokens",
          at_n(lambda rf, n: rf.decode_flops(n)), "2 per weight read + 4 · layers · d_model · S")
    c.add("prefill_flops", "FLOP per prompt token", "FLOP",
          lambda r: (f"=2*{r('weights_read')}+attention_flops/2*{r('shape_layers')}*{r('shape_d_model')}"
                     f"*prompt_tokens"), at_n(lambda rf, n: rf.prefill_flops(n)),
          "2 per weight read + 2 · layers · d_model · P")
    c.add("prompts_per_output", "prompt tokens prefilled per generated token ρ", "–",
          lambda r: f"=IF({r('tokens_out')}>0,{r('tokens_in')}/{r('tokens_out')},0)",
          (m.prefill_per_output,) * 2, "prompt tokens / generated tokens", fmt="num")
    if not m.moe.is_dense:
        c.add("experts_touched", "experts a step touches per MoE layer", "experts",
              lambda r: (f"=moe_experts*(1-(1-moe_active/moe_experts)^MIN({r('serving_batch')}"
                         f"*(1+{r('prompts_per_output')}),{_EXPONENT_CAP}))"),
              pick(lambda p: float(m.touched(p.batch))), "E · (1 − (1 − k/E)^(B · (1 + ρ)))", fmt="num")
    _step_cells(c, pick, not m.moe.is_dense)
    # GPU time per token in microseconds: plain numbers, never an exponent
    c.add("decode_gpu_us", "GPU time per generated token (prompts' share included)", "µs",
          lambda r: f"={r('serving_gpus')}*{r('tpot')}*1000/{r('serving_batch')}",
          pick(lambda p: 1e6 * p.decode_gpu_seconds_per_token), "G · TPOT / B, ms → µs", fmt="num")
    c.add("prefill_gpu_us", "GPU time per prompt token", "µs",
          lambda r: f"={r('prefill_flops')}/(infer_peak*compute_efficiency)*1000000",
          at_n(lambda rf, n: 1e6 * rf.prefill_gpu_seconds(n)), "FLOP per prompt token / (peak · η_c), s → µs",
          fmt="num")
    c.add("infer_flops", "inference compute", "FLOP",
          lambda r: f"={r('tokens_in')}*{r('prefill_flops')}+{r('tokens_out')}*{r('decode_flops')}",
          both(lambda k: k.inference_flops), "prompt tokens · FLOP each + generated tokens · FLOP each")
    c.add("infer_gpu_hours", "inference GPU-hours", "GPU-hours",
          lambda r: (f"=IF({r('tokens_out')}>0,{r('tokens_out')}*{r('decode_gpu_us')},"
                     f"{r('tokens_in')}*{r('prefill_gpu_us')})/1000000/seconds_per_hour"),
          both(lambda k: k.inference_gpu_hours),
          "generated tokens · GPU-µs each (prompts included; prompts alone: their GPU-µs) / 10^6 / 3600")


def _step_cells(c, pick, moe: bool = False) -> None:
    """The decode step's parts, TPOT, TTFT and the memory a replica holds; times in
    milliseconds (as the scenario's serving.tpot_ms): plain numbers, never an exponent. A
    mixture's step reads its shared weights and the experts its batch touches, a prompt
    alone those of its tokens; under expert parallelism a layer's all-reduce and all-to-alls."""
    per_gpu = lambda r: f"{r('serving_gpus')}"        # noqa: E731
    ms = lambda f: pick(lambda p: 1e3 * f(p))         # noqa: E731 — seconds → ms
    G = per_gpu
    # collectives a layer and the activations' share each moves (tensor or expert parallel)
    count = "IF(expert_parallel=1,1+all_to_alls,allreduces_per_layer)" if moe else "allreduces_per_layer"
    share = lambda r: (f"IF(expert_parallel=1,2*({G(r)}-1)/{G(r)}+all_to_alls*moe_active*({G(r)}-1)/{G(r)}^2,"  # noqa: E731
                       f"allreduces_per_layer*2*({G(r)}-1)/{G(r)})")
    # latencies and overheads are inputs in µs: 1000 of them a millisecond
    links = lambda r, tokens: (                       # noqa: E731
        f"IF({per_gpu(r)}>1,{count}*{r('shape_layers')}*((link_latency_us/link_efficiency"
        f"+collective_overhead_us)/1000+{r('shape_d_model')}*{share(r)}/{count}*activation_bytes"
        f"/(link_bandwidth*link_efficiency)*{tokens}*1000),0)") if moe else (
        f"IF({per_gpu(r)}>1,allreduces_per_layer*{r('shape_layers')}*((link_latency_us/link_efficiency"
        f"+collective_overhead_us)/1000+{r('shape_d_model')}*2*({per_gpu(r)}-1)/{per_gpu(r)}*activation_bytes"
        f"/(link_bandwidth*link_efficiency)*{tokens}*1000),0)")
    # the weights a step reads (a mixture's: shared ones and the experts touched)
    read = lambda r, touched: (f"({r('weights_read')}+{r('expert_read')}*({touched}-moe_active))"   # noqa: E731
                               if moe else r("weights_read"))
    prompt_touched = f"moe_experts*(1-(1-moe_active/moe_experts)^MIN(prompt_tokens,{_EXPONENT_CAP}))"
    c.add("step_compute", "decode step: compute", "ms",
          lambda r: (f"={r('serving_batch')}*{r('decode_flops')}/({per_gpu(r)}*infer_peak*compute_efficiency)"
                     f"*1000"),
          ms(lambda p: p.compute_seconds), "B · FLOP per token / (G · peak · η_c), s → ms", fmt="num")
    c.add("step_memory", "decode step: memory", "ms",
          lambda r: (f"=({read(r, r('experts_touched') if moe else '')}*weight_bytes+{r('serving_batch')}"
                     f"*context_tokens*{r('kv_per_token')}"
                     f"*(1-kv_reread+kv_reread*{r('shape_group')}))/({per_gpu(r)}*infer_bandwidth"
                     f"*bandwidth_efficiency)*1000"),
          ms(lambda p: p.memory_seconds),
          "(weights + B · S · KV · (1 + ξ·(group − 1))) / (G · bandwidth · η_m), s → ms", fmt="num")
    c.add("step_prefill", "decode step: the prompts' share", "ms",
          lambda r: (f"={r('serving_batch')}*{r('prompts_per_output')}*{r('prefill_flops')}/({per_gpu(r)}"
                     f"*infer_peak*compute_efficiency)*1000"),
          ms(lambda p: p.prefill_seconds), "B · ρ · FLOP per prompt token / (G · peak · η_c), s → ms", fmt="num")
    c.add("step_links", "decode step: all-reduces", "ms",
          lambda r: "=" + links(r, f"{r('serving_batch')}*(1+{r('prompts_per_output')})"),
          ms(lambda p: p.link_seconds), "2 · layers · (latency/η_l + λ_o + ring share of B·(1+ρ) tokens)",
          fmt="num")
    c.add("tpot", "time per output token (TPOT)", "ms",
          lambda r: f"=MAX({r('step_compute')},{r('step_memory')})+{r('step_prefill')}+{r('step_links')}",
          ms(lambda p: p.step_seconds), "the longer of compute and memory, + prompts' share + all-reduces",
          fmt="num")
    c.add("ttft", "time to first token (TTFT)", "ms",
          lambda r: (f"=MAX(prompt_tokens*{r('prefill_flops')}/({per_gpu(r)}*infer_peak*compute_efficiency),"
                     f"{read(r, prompt_touched)}*weight_bytes/({per_gpu(r)}*infer_bandwidth*bandwidth_efficiency))*1000+"
                     f"{links(r, 'prompt_tokens')}+{r('shape_layers')}*prefill_overhead_us/1000"),
          ms(lambda p: p.ttft_seconds), "the longer of the prompt's compute and a read of the weights, "
          "+ its all-reduces + τ per layer, s → ms", fmt="num")
    c.add("replica_memory", "weights and KV cache per replica", "bytes",
          lambda r: (f"={r('params_held')}*weight_bytes+{r('serving_batch')}*(context_tokens+kv_block_tokens/2)"
                     f"*{r('kv_per_token')}"), pick(lambda p: p.memory_bytes),
          "weights + B · (S + half a block) · KV ≤ G · HBM · usable share")


def serving_price_cells(c, scenario: Scenario, sol) -> None:
    """Dollars per million prompt tokens (their share of the steps) and generated tokens (the rest)."""
    m, s = scenario.serving, sol.serving
    usd = scenario.inference.price_per_gpu_hour / SECONDS_PER_HOUR * MILLION     # per GPU-second, ×10^6
    prompt = tuple(float(r.prefill_gpu_seconds(n)) for r, n in ((m, sol.params), (m.free(), sol.baseline.params)))
    generated = tuple(None if p is None else usd * (p.decode_gpu_seconds_per_token - m.prefill_per_output * q)
                      for p, q in zip((s.rounded, s.baseline), prompt))
    # a million tokens of µs each take that many GPU-seconds
    c.add("usd_per_million_in", "$ per million prompt tokens", "$/million tokens",
          lambda r: f"={r('prefill_gpu_us')}*{r('infer_price')}/seconds_per_hour",
          tuple(usd * q for q in prompt), "GPU-µs per token · price / 3600", fmt="money")
    c.add("usd_per_million_out", "$ per million generated tokens", "$/million tokens",
          lambda r: (f"=({r('decode_gpu_us')}-{r('prompts_per_output')}*{r('prefill_gpu_us')})"
                     f"*{r('infer_price')}/seconds_per_hour"), generated,
          "(GPU-µs per token − ρ · a prompt token's) · price / 3600", fmt="money")
