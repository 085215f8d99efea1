"""The roofline serving model's arithmetic (docs/model.md §8): exact shapes against the
published parameter counts, the shape family's exact count, every part of the decode step
and of TTFT recomputed by hand from the formulas of docs/model.md §8, the
links, continuous batching, separate dtypes, the paged KV cache, and the bound."""
import math
from dataclasses import replace

import pytest

from lifecycle_opt.model.architecture import DEFAULT_FAMILY, PRESETS, Architecture, ShapeFamily, preset
from lifecycle_opt.model.hardware import gpu
from lifecycle_opt.model.serving import Roofline
from lifecycle_opt.model.serving_point import BOUND_EFFICIENCIES, Efficiencies

H100 = gpu("H100")


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("name, params", [
    # the counts as published (model cards / safetensors totals)
    ("llama-2-7b", 6_738_415_616), ("llama-2-13b", 13_015_864_320), ("llama-2-70b", 68_976_648_192),
    ("llama-3-8b", 8_030_261_248), ("llama-3-70b", 70_553_706_496), ("llama-3.1-405b", 405_853_388_800),
    ("mistral-7b", 7_241_732_096), ("qwen-2.5-7b", 7_615_616_512), ("qwen-2.5-72b", 72_706_203_648),
])
def test_presets_have_their_published_parameter_counts(name, params):
    assert preset(name).params == params


def test_llama2_70b_preset_is_exact():
    """docs/model.md §8: 68,976,648,192 parameters, 327,680 bytes of bf16 KV cache per token."""
    a = preset("llama-2-70b")
    assert a.params == 68_976_648_192
    assert a.kv_bytes_per_token(2.0) == 327_680
    # the weights read per step: all but the untied input table (32,000 × 8192)
    assert a.weights_read == 68_976_648_192 - 32_000 * 8192
    assert preset("Llama-3.3-70B") is PRESETS["llama-3-70b"]


def test_an_unknown_preset_names_the_known_ones():
    with pytest.raises(KeyError, match="llama-2-70b"):
        preset("llama-5")


@pytest.mark.parametrize("N", [3e8, 7e9, 7e10, 1e12])
@pytest.mark.parametrize("family", [DEFAULT_FAMILY, ShapeFamily(aspect_ratio=100, kv_heads=4, ffn_ratio=4.0,
                                                                vocab=32000, gated_mlp=False, tied_embeddings=False)])
def test_the_shape_family_keeps_the_count_exact_and_its_terms_agree(family, N):
    m = family.member(N)
    assert m.params == pytest.approx(N, rel=1e-12)
    t = family.terms()
    assert float(t.kv_elements.value(N)) == pytest.approx(2 * m.layers * m.kv_heads * family.head_dim, rel=1e-12)
    assert float(t.attention_width.value(N)) == pytest.approx(m.layers * m.d_model, rel=1e-12)
    assert float(t.kv_group.value(N)) == pytest.approx(m.heads / m.kv_heads, rel=1e-12)
    # tied: the weights read are the count itself; untied: the GP counts N (a bound)
    assert float(t.weights_read.value(N)) == N
    assert m.weights_read == (pytest.approx(N) if family.tied_embeddings else pytest.approx(N - 32000 * m.d_model))


def test_architecture_rejects_impossible_shapes():
    with pytest.raises(ValueError, match="kv_heads"):
        Architecture(32, 4096, 32, 64, 11008, 32000)
    with pytest.raises(ValueError, match="layers"):
        Architecture(0, 4096, 32, 8, 11008, 32000)


# ---------------------------------------------------------------- one step, by hand
def roofline(arch=None, **kw) -> Roofline:
    base = dict(peak_flops=H100.peak("fp8"), bandwidth=H100.bandwidth, memory_bytes=H100.memory_bytes,
                weight_bytes=1.0, kv_bytes=2.0, context_tokens=3000.0, max_context_tokens=4096.0,
                prompt_tokens=2048.0, prefill_per_output=1.5, link_bandwidth=H100.link_bandwidth,
                link_latency=H100.link_latency, architecture=arch, replica_gpus=(4,),
                efficiencies=Efficiencies(0.55, 0.75, 0.6, 20e-6, 0.3, 100e-6))
    base.update(kw)
    return Roofline(**base)


def by_hand(r: Roofline, a: Architecture, B: float, G: float) -> dict:
    """docs/model.md §8 written out again from the architecture's numbers."""
    e = r.efficiencies
    read = a.params - (0 if a.tied_embeddings else a.vocab * a.d_model)
    kv = 2 * a.layers * a.kv_heads * a.d_model / a.heads * r.kv_bytes
    group = a.heads / a.kv_heads
    S, P, rho = r.context_tokens, r.prompt_tokens, r.prefill_per_output
    dec = 2 * read + 4 * a.layers * a.d_model * S
    pre = 2 * read + 2 * a.layers * a.d_model * P
    compute = B * dec / (G * r.peak_flops * e.compute)
    memory = (read * r.weight_bytes + B * S * kv * (1 + e.kv_reread * (group - 1))) / (G * r.bandwidth * e.bandwidth)
    prefill = B * rho * pre / (G * r.peak_flops * e.compute)

    def links(tokens):
        if G == 1:
            return 0.0
        one = r.link_latency / e.link + e.collective_overhead + 2 * (G - 1) / G * tokens * a.d_model * 2 / (
            r.link_bandwidth * e.link)
        return 2 * a.layers * one
    first = (max(P * pre / (G * r.peak_flops * e.compute), read * r.weight_bytes / (G * r.bandwidth * e.bandwidth))
             + links(P) + a.layers * e.prefill_overhead)
    held = S + r.kv_block_tokens / 2
    return {"compute": compute, "memory": memory, "prefill": prefill, "links": links(B * (1 + rho)),
            "step": max(compute, memory) + prefill + links(B * (1 + rho)), "ttft": first,
            "memory_bytes": a.params * r.weight_bytes + B * held * kv}


@pytest.mark.parametrize("name, B, G", [("llama-2-70b", 64, 4), ("llama-3-8b", 300, 1), ("qwen-2.5-7b", 7, 2),
                                         ("llama-2-13b", 1, 8)])
def test_every_part_of_a_step_matches_the_formulas(name, B, G):
    a = preset(name)
    r = roofline(a, replica_gpus=(G,))
    p, ref = r.point(a.params, B, G), by_hand(r, a, B, G)
    for got, key in ((p.compute_seconds, "compute"), (p.memory_seconds, "memory"), (p.prefill_seconds, "prefill"),
                     (p.link_seconds, "links"), (p.step_seconds, "step"), (p.ttft_seconds, "ttft"),
                     (p.memory_bytes, "memory_bytes")):
        assert got == pytest.approx(ref[key], rel=1e-12), key
    assert p.decode_gpu_seconds_per_token == pytest.approx(G * ref["step"] / B, rel=1e-12)


def test_the_family_member_is_served_as_an_exact_architecture_of_its_shape():
    """At N, the family's posynomials give what the member's exact shape gives (tied)."""
    N = 3e10
    m = DEFAULT_FAMILY.member(N)
    p = roofline(None, replica_gpus=(2,)).point(N, 50, 2)
    ref = by_hand(roofline(m, replica_gpus=(2,)), m, 50, 2)
    assert p.step_seconds == pytest.approx(ref["step"], rel=1e-12)
    assert p.ttft_seconds == pytest.approx(ref["ttft"], rel=1e-12)


def test_one_gpu_has_no_links_and_ttft_is_at_least_one_read_of_the_weights():
    a = preset("llama-3-8b")
    r = roofline(a, replica_gpus=(1,), prompt_tokens=16.0, efficiencies=BOUND_EFFICIENCIES)
    p = r.point(a.params, 1, 1)
    assert p.link_seconds == 0.0
    # a 16-token prompt is bandwidth-bound: TTFT is the weights' read, not the compute
    assert p.ttft_seconds == pytest.approx(a.weights_read * 1.0 / H100.bandwidth, rel=1e-12)


def test_continuous_batching_adds_the_prompts_share_to_every_step():
    a = preset("llama-2-70b")
    without, with_ = roofline(a, prefill_per_output=0.0), roofline(a, prefill_per_output=4.0)
    p0, p1 = without.point(a.params, 32, 4), with_.point(a.params, 32, 4)
    share = 32 * 4.0 * (2 * a.weights_read + 2 * a.layers * a.d_model * 2048) / (4 * H100.peak("fp8") * 0.55)
    assert p1.prefill_seconds == pytest.approx(share, rel=1e-12) and p0.prefill_seconds == 0
    assert p1.step_seconds > p0.step_seconds + share        # the share, and more activations over the links


def test_weights_and_cache_keep_their_own_dtypes():
    a = preset("llama-2-70b")
    int4 = roofline(a, weight_bytes=0.5, kv_bytes=2.0)
    fp8_kv = roofline(a, weight_bytes=2.0, kv_bytes=1.0)
    assert int4.point(a.params, 8, 4).memory_bytes == pytest.approx(a.params * 0.5 + 8 * 3008 * 327_680, rel=1e-12)
    assert fp8_kv.kv_bytes_per_token(a.params) == 163_840


def test_the_paged_cache_holds_the_mean_context_and_one_sequence_bounds_the_longest():
    a = preset("llama-2-70b")
    r = roofline(a, weight_bytes=2.0, kv_bytes=2.0, context_tokens=1000.0, max_context_tokens=100_000.0,
                 kv_block_tokens=16.0, memory_utilisation=0.9, max_batch=None)
    # 8 × 80 GB × 0.9 − 138 GB of weights, at (1000 + 8) tokens of 327,680 bytes a sequence
    B = math.floor((8 * 80e9 * 0.9 - a.params * 2) / (1008 * 327_680))
    assert r.memory_batch(a.params, 8) == B
    # one sequence of 100,000 tokens (whole blocks) must fit: on 1 GPU the weights alone do not
    assert r.memory_batch(a.params, 1) == 0
    assert r.longest_context_tokens == 100_000


def test_the_bound_is_never_slower_than_any_engine():
    a = preset("llama-2-70b")
    slow, best = roofline(a), roofline(a, efficiencies=BOUND_EFFICIENCIES)
    for B, G in ((1, 4), (64, 4), (500, 4)):
        s, b = slow.at_size(G).point(a.params, B, G), best.at_size(G).point(a.params, B, G)
        assert b.step_seconds < s.step_seconds and b.ttft_seconds < s.ttft_seconds


def test_links_need_one_size():
    r = roofline(preset("llama-3-8b"), replica_gpus=(1, 2))
    with pytest.raises(ValueError, match="per replica size"):
        r.parts()
    assert r.at_size(2).parts().allreduces.terms
