"""The SERVING section of the report under the roofline serving model (docs/model.md §8):
the deployed (rounded) serving point beside the relaxed one the solver certified, against
the latency targets. It reads the plan's :class:`~lifecycle_opt.plan.serving_plan.ServingPlan`
and never recomputes it."""
from __future__ import annotations

__all__ = ["serving_section"]


from ..model.units import format_money, format_number
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
    r, x = s.rounded, s.relaxed
    rows = [
        ("replica size", f"{r.replica_gpus:g} GPUs", f"{x.replica_gpus:.4g} GPUs", ""),
        ("batch", f"{r.batch:g} sequences", f"{x.batch:.4g} sequences", ""),
        ("time per output token (TPOT)", _ms(r.step_seconds), _ms(x.step_seconds), _target(s.tpot_target_ms)),
        ("time to first token (TTFT)", _ms(r.ttft_seconds), _ms(x.ttft_seconds), _target(s.ttft_target_ms)),
        ("decode step: compute / memory time", f"{_ms(r.compute_seconds)} / {_ms(r.memory_seconds)}",
         f"{_ms(x.compute_seconds)} / {_ms(x.memory_seconds)}", ""),
        ("decode is", f"{r.bound}-bound", f"{x.bound}-bound", ""),
        ("tokens/s per replica", format_number(r.tokens_per_second_per_replica),
         format_number(x.tokens_per_second_per_replica), ""),
        ("tokens/s per GPU", format_number(r.tokens_per_second_per_gpu),
         format_number(x.tokens_per_second_per_gpu), ""),
        ("weights per replica", _gb(s.weight_bytes), _gb(s.weight_bytes), ""),
        ("KV cache per replica", _gb(r.memory_bytes - s.weight_bytes), _gb(x.memory_bytes - s.weight_bytes), ""),
        ("$ per million prompt tokens", _usd(s.usd_per_million_input_tokens),
         _usd(s.usd_per_million_input_tokens), ""),
        ("$ per million generated tokens", _usd(s.usd_per_million_output_tokens),
         _usd(s.relaxed_usd_per_million_output_tokens), ""),
        ("implied decode MFU", f"{100 * s.implied_decode_mfu:.3g} %", f"{100 * s.relaxed_implied_decode_mfu:.3g} %",
         ""),
    ]
    out = ["SERVING (roofline model: each decode step reads the weights and the KV cache from HBM, or "
           "computes, whichever takes longer)",
           tabulate(rows, headers=("", "deployed (whole numbers)", "relaxed optimum", "target")),
           f"KV cache: {format_number(s.kv_cache_bytes_per_token)} bytes per token of context"]
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
