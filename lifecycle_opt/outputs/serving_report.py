"""The SERVING section of the report under the roofline serving model (docs/model.md §8):
the deployed (rounded) serving point beside the relaxed one the solver certified, against
the latency targets. It reads the plan's :class:`~lifecycle_opt.plan.serving_plan.ServingPlan`
and never recomputes it."""
from __future__ import annotations

__all__ = ["serving_section"]


from ..model.units import format_count, format_money, format_number
from ..plan.serving_plan import ServingPlan

def _gb(x: float) -> str:
    return f"{x / 1e9:.4g} GB"


def _ms(x: float) -> str:
    return f"{x * 1e3:.4g} ms"


def _usd(x) -> str:
    return "—" if x is None else format_money(x)


def _target(x) -> str:
    return "—" if x is None else f"≤ {x:.4g} ms"


def serving_section(s: ServingPlan) -> list[str]:
    """Report lines of the serving plan."""
    from tabulate import tabulate      # on first use: a JSON report needs none
    r, x, b = s.rounded, s.relaxed, s.bound
    rows = [
        ("replica size", f"{r.replica_gpus:g} GPUs", f"{x.replica_gpus:.4g} GPUs", "", ""),
        ("batch", f"{r.batch:g} sequences", f"{x.batch:.4g} sequences", "", ""),
        ("time per output token (TPOT)", _ms(r.step_seconds), _ms(x.step_seconds), _ms(b.step_seconds),
         _target(s.tpot_target_ms)),
        ("  decode: compute / memory", f"{_ms(r.compute_seconds)} / {_ms(r.memory_seconds)}",
         f"{_ms(x.compute_seconds)} / {_ms(x.memory_seconds)}", f"{_ms(b.compute_seconds)} / {_ms(b.memory_seconds)}",
         ""),
        ("  + prompts' share (chunked prefill)", _ms(r.prefill_seconds), _ms(x.prefill_seconds),
         _ms(b.prefill_seconds), ""),
        ("  + all-reduces between GPUs", _ms(r.link_seconds), _ms(x.link_seconds), _ms(b.link_seconds), ""),
        ("time to first token (TTFT)", _ms(r.ttft_seconds), _ms(x.ttft_seconds), _ms(b.ttft_seconds),
         _target(s.ttft_target_ms)),
        ("decode is", f"{r.bound}-bound", f"{x.bound}-bound", "", ""),
        ("tokens/s per replica", format_number(r.tokens_per_second_per_replica),
         format_number(x.tokens_per_second_per_replica), format_number(b.tokens_per_second_per_replica), ""),
        ("tokens/s per GPU", format_number(r.tokens_per_second_per_gpu),
         format_number(x.tokens_per_second_per_gpu), format_number(b.tokens_per_second_per_gpu), ""),
        ("weights per replica", _gb(s.weight_bytes), _gb(s.weight_bytes), "", ""),
        ("KV cache per replica", _gb(r.memory_bytes - s.weight_bytes), _gb(x.memory_bytes - s.weight_bytes), "", ""),
        ("$ per million prompt tokens", _usd(s.usd_per_million_input_tokens),
         _usd(s.usd_per_million_input_tokens), "", ""),
        ("$ per million generated tokens", _usd(s.usd_per_million_output_tokens),
         _usd(s.relaxed_usd_per_million_output_tokens), "", ""),
        ("implied MFU", f"{100 * s.implied_decode_mfu:.3g} %", f"{100 * s.relaxed_implied_decode_mfu:.3g} %", "",
         ""),
    ]
    out = ["SERVING (roofline model, continuous batching with chunked prefill: each decode step reads the "
           "weights and the KV cache or computes, whichever takes longer, then prefills its share of the "
           "prompts and all-reduces between the replica's GPUs)",
           tabulate(rows, headers=("", "deployed (whole numbers)", "relaxed optimum", "hardware bound", "target")),
           _shape_line(s), f"KV cache: {format_number(s.kv_cache_bytes_per_token)} bytes per token of context",
           _efficiency_line(s)] + _experts_lines(s)
    if s.replicas is not None:
        line = f"replicas the demand needs: {s.replicas:.4g} on average"
        if s.replicas_by_month:
            line += (f" ({min(s.replicas_by_month):.4g} to {max(s.replicas_by_month):.4g} "
                     f"month by month)")
        out.append(line)
    if s.rounding_cost_usd is not None:
        out.append(f"whole numbers cost {_usd(s.rounding_cost_usd)} over the relaxed optimum (present value)")
    if s.broken:
        out.append(f"the deployed point breaks: {', '.join(s.broken)}")
    return out + [""]


def _shape_line(s: ServingPlan) -> str:
    a = s.shape
    what = (f"{a.name} ({a.source})" if a.name != "shape family" else
            "the shape family's member (docs/model.md §8)" if s.experts is None else
            "the shape family's member of the active parameters (docs/model.md §10; the experts held beside)")
    line = (f"model shape: {what}: {format_count(a.params)} parameters, {a.layers:.4g} layers × {a.d_model:.5g} "
            f"wide, {a.heads:.4g} heads / {a.kv_heads:.4g} KV heads, MLP {a.d_ff:.5g}")
    if not s.shape_exact:
        line += ("; untied embeddings: the weights read per step count the input table, a bound "
                 f"{100 * a.vocab * a.d_model / a.params:.2g} % high")
    return line


def _experts_lines(s: ServingPlan) -> list[str]:
    """What a mixture's decode step reads, exactly, and what the problem priced it at."""
    m = s.experts
    if m is None:
        return []
    lo, hi = m.bucket
    top = "∞)" if hi == float("inf") else f"{hi:g}]"
    layout = ("experts spread over the replica's GPUs (a dispatch and a combine all-to-all per MoE layer)"
              if m.expert_parallel else "each expert tensor parallel over the replica's GPUs")
    return [f"mixture of experts: {m.experts} experts, {m.active_experts} active ({format_count(m.active_params)} "
            f"active / {format_count(m.total_params)} total parameters, all held); a decode step reads "
            f"{m.touched:.4g} of the {m.experts} experts per layer at the deployed batch (relaxed: "
            f"{m.relaxed_touched:.4g}), the exact E·(1 − (1 − k/E)^T) of its tokens; the problem priced the "
            f"batch's bucket [{lo:g}, {top} at {m.bound:.4g} (an upper bound within 5 %); {layout}"]


def _efficiency_line(s: ServingPlan) -> str:
    e = s.efficiencies
    return (f"calibrated figures ({s.efficiency_source}): compute {100 * e.compute:.3g} %, bandwidth "
            f"{100 * e.bandwidth:.3g} %, links {100 * e.link:.3g} % of peak, {1e6 * e.collective_overhead:.3g} µs per "
            f"all-reduce, KV re-read share {e.kv_reread:.3g}, {1e6 * e.prefill_overhead:.3g} µs per layer of a "
            "prefill pass; the hardware bound is efficiency 1 with no overheads, what no engine beats")
