"""Serving a mixture of experts under the roofline model (model/architecture.py,
model/serving.py, model/moe.py; docs/model.md §10): the published counts of Mixtral and
Qwen1.5-MoE, the bytes a decode step reads against a hand count from the configs, the
batch buckets' bound against the exact E·(1 − (1 − k/E)^T), expert parallelism's
all-to-alls, a mixture between its dense twins, the choice of E under a replica's memory,
certified plans (exact architecture and shape family), the batch path against the exact
solver, the calibration file's columns and the scenario's errors."""
import copy
import math
from dataclasses import replace

import numpy as np
import pytest

from lifecycle_opt import solve
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.execution.sweeps import sweep
from lifecycle_opt.fit.calibration import read_measurements
from lifecycle_opt.model.architecture import Architecture, ShapeFamily, preset
from lifecycle_opt.model.calibration import predict
from lifecycle_opt.model.moe import BUCKET_TOLERANCE, Mixture
from lifecycle_opt.model.serving import Roofline
from lifecycle_opt.model.serving_point import BOUND_EFFICIENCIES, DEFAULT_EFFICIENCIES
from lifecycle_opt.scenario.reader import scenario_from_dict

# ---- Mixtral 8x7B by hand, from mistralai/Mixtral-8x7B-v0.1's config.json: hidden_size
# 4096, 32 layers, 32 heads, 8 KV heads (head_dim 128), intermediate_size 14336,
# num_local_experts 8, num_experts_per_tok 2, vocab_size 32000, untied embeddings
D_MODEL, LAYERS, KV_DIM, FF, EXPERTS, TOP_K, VOCAB = 4096, 32, 8 * 128, 14336, 8, 2, 32000
ATTENTION = 2 * D_MODEL * D_MODEL + 2 * D_MODEL * KV_DIM          # q, o and k, v projections
EXPERT = 3 * D_MODEL * FF                                          # a SwiGLU expert: w1, w2, w3
ROUTER, NORMS = EXPERTS * D_MODEL, 2 * D_MODEL
#: every weight but the routed experts that a decode step reads: attention, router, norms
#: of each layer, the LM head and the final norm (the input table: only its tokens' rows)
NON_EXPERT_READ = LAYERS * (ATTENTION + ROUTER + NORMS) + VOCAB * D_MODEL + D_MODEL
TOTAL = LAYERS * (ATTENTION + EXPERTS * EXPERT + ROUTER + NORMS) + 2 * VOCAB * D_MODEL + D_MODEL
BF16 = 2.0


def _roofline(architecture=None, family=ShapeFamily(), mixture=Mixture(), G=1, rho=0.0, **kw):
    """An H100 roofline at efficiency 1, no KV cache read (S = 0): a step's memory time is
    then its weights' bytes over the bandwidth."""
    base = dict(peak_flops=989.4e12, bandwidth=3.35e12, memory_bytes=80e9, weight_bytes=BF16, kv_bytes=2.0,
                context_tokens=0.0, max_context_tokens=1.0, prompt_tokens=0.0, prefill_per_output=rho,
                link_bandwidth=450e9, link_latency=8e-6, architecture=architecture, family=family,
                mixture=mixture, replica_gpus=(G,), efficiencies=BOUND_EFFICIENCIES)
    return Roofline(**{**base, **kw})


def test_the_presets_hold_their_published_parameters():
    # Jiang et al. 2024 (arXiv 2401.04088) and the model cards: Mixtral 8x7B 46.7B total,
    # 12.9B active; 8x22B 141B, 39B; Qwen1.5-MoE-A2.7B 14.3B, 2.7B (Qwen blog, 2024-03-28)
    for name, total, active in (("mixtral-8x7b", 46.7e9, 12.9e9), ("mixtral-8x22b", 141e9, 39e9),
                                ("qwen1.5-moe-a2.7b", 14.3e9, 2.7e9)):
        a = preset(name)
        assert a.params == pytest.approx(total, abs=0.05e9 if total < 100e9 else 0.5e9), name
        assert a.active_params == pytest.approx(active, abs=0.05e9 if active < 20e9 else 0.5e9), name
        # the exact expert share makes the mixture's total per active the architecture's
        assert a.mixture.total_per_active * a.active_params == pytest.approx(a.params, rel=1e-12)
    a = preset("mixtral-8x7b")
    assert a.params == TOTAL == 46_702_792_704
    active = TOTAL - LAYERS * (EXPERTS - TOP_K) * EXPERT
    assert a.active_params == active == 12_879_925_248
    assert a.mixture.expert_share == pytest.approx(TOP_K * LAYERS * EXPERT / active)   # 0.875, docs/model.md


def test_mixtral_decode_reads_at_batch_1_and_512_by_hand():
    a = preset("mixtral-8x7b")
    r = _roofline(architecture=a)
    # B = 1: one token routed to 2 experts per layer; B = 512: every expert (1 − (6/8)^512 = 1 − 4e-65)
    by_hand = {1: BF16 * (NON_EXPERT_READ + LAYERS * TOP_K * EXPERT),
               512: BF16 * (NON_EXPERT_READ + LAYERS * EXPERTS * EXPERT)}
    assert by_hand[1] == pytest.approx(25.50e9, rel=1e-3) and by_hand[512] == pytest.approx(93.14e9, rel=1e-3)
    assert by_hand[512] == BF16 * (TOTAL - VOCAB * D_MODEL)           # all but the input table
    for B, expected in by_hand.items():
        read = r.point(a.active_params, B, 1).memory_seconds * r.bandwidth
        assert read == pytest.approx(expected, rel=1e-12), B
    # the arithmetic is the active weights' whatever the batch: 2 FLOP per active weight read
    assert r.decode_flops(a.active_params) == pytest.approx(2 * (a.active_params - VOCAB * D_MODEL), rel=1e-12)
    # between them, the expected distinct experts of 8 tokens: 8·(1 − (3/4)^8) = 7.199 per layer
    read = r.point(a.active_params, 8, 1).memory_seconds * r.bandwidth
    assert read == pytest.approx(BF16 * (NON_EXPERT_READ + LAYERS * 8 * (1 - 0.75 ** 8) * EXPERT), rel=1e-12)


def _bucket_of(buckets, B):
    hits = [b for b in buckets if b[0] <= B <= b[1]]
    assert len(hits) == 1, (B, hits)
    return hits[0]


@pytest.mark.parametrize("E, k, per_sequence", [(8, 2, 1.0), (8, 2, 5.0), (60, 4, 1.0), (32, 1, 1.0),
                                                (256, 8, 1.0), (128, 8, 1.25)])
def test_the_bucket_bound_is_above_the_exact_experts_and_within_the_tolerance(E, k, per_sequence):
    m = Mixture(E, k)
    buckets = m.batch_buckets(per_sequence)
    exact = lambda B: E * (1 - (1 - k / E) ** (B * per_sequence))   # noqa: E731 (domain.md §9, written out)
    worst = 0.0
    for B in range(1, 5001):                  # every whole batch falls in exactly one bucket
        lo, hi = _bucket_of(buckets, B)
        bound = E if math.isinf(hi) else exact(hi)
        assert bound >= exact(B) * (1 - 1e-12)
        worst = max(worst, bound / exact(B) - 1)
        if B == hi:
            assert bound == pytest.approx(exact(B), rel=1e-12)          # exact at the bucket's top
    assert worst <= BUCKET_TOLERANCE + 1e-12
    # the buckets grow geometrically in the experts touched: about ln(E/k)/ln(1.05) of them
    assert len(buckets) <= math.log(E / k) / math.log(1 + BUCKET_TOLERANCE) + 2
    # real batches within a bucket too (the relaxation prices them alike)
    for lo, hi in buckets[:-1]:
        B = np.linspace(lo, hi, 7)
        assert np.all(exact(hi) <= (1 + BUCKET_TOLERANCE) * exact(B) * (1 + 1e-12))


def test_a_cells_step_bounds_the_exact_step_within_the_tolerance():
    a = preset("mixtral-8x7b")
    r = _roofline(architecture=a, G=2, context_tokens=500.0)
    for cell in r.cells():
        lo, hi = cell.batch_bucket
        for B in sorted({lo, hi if math.isfinite(hi) else lo + 100, (lo + (hi if math.isfinite(hi) else lo)) / 2}):
            exact = r.point(a.active_params, B, 2)
            priced = cell.parts().at(a.active_params, B, 2)
            bound = cell.memory_time_terms().value(a.active_params, B=B, G=2)
            assert priced.touched == cell.touched_bound
            assert exact.memory_seconds <= bound <= (1 + BUCKET_TOLERANCE) * exact.memory_seconds, (lo, hi, B)


def test_expert_parallelism_moves_tokens_by_all_to_all():
    # G = 4: tensor parallel inside the experts, 2 all-reduces a layer of the B tokens'
    # activations (ring: 2·(G−1)/G of them); expert parallel, attention's all-reduce and a
    # dispatch and a combine a layer, (G−1)/G of the tokens' k copies leaving their GPU,
    # 1/G of them through each GPU's links (docs/model.md §10)
    a, G, B = preset("mixtral-8x7b"), 4, 64
    act = B * D_MODEL * 2.0                      # bytes of the step's activations, 16-bit
    ring = 2 * (G - 1) / G * act
    tensor = _roofline(architecture=a, G=G).point(a.active_params, B, G).link_seconds
    assert tensor == pytest.approx(2 * LAYERS * (8e-6 + ring / 450e9), rel=1e-12)
    spread = _roofline(architecture=a, G=G, expert_parallel=True).point(a.active_params, B, G).link_seconds
    all_to_all = TOP_K * act * (G - 1) / G / G
    assert spread == pytest.approx(LAYERS * (8e-6 + ring / 450e9) + 2 * LAYERS * (8e-6 + all_to_all / 450e9),
                                   rel=1e-12)
    # on one GPU nothing moves
    assert _roofline(architecture=a, expert_parallel=True).point(a.active_params, B, 1).link_seconds == 0.0


def test_a_mixture_is_slower_than_its_active_twin_and_faster_than_its_total_twin():
    # entering a mixture as a dense model of its active parameters makes it too fast, of its
    # total too slow (issue 28; domain.md §8): at small batch it reads few experts. The
    # twins share Mixtral's attention and layers, their MLP as wide as 2 or 8 experts
    a = preset("mixtral-8x7b")
    active_twin = Architecture(LAYERS, D_MODEL, 32, 8, TOP_K * FF, VOCAB)
    total_twin = Architecture(LAYERS, D_MODEL, 32, 8, EXPERTS * FF, VOCAB)
    assert active_twin.params == pytest.approx(a.active_params, rel=1e-4)
    assert total_twin.params == pytest.approx(a.params, rel=1e-4)
    rooflines = [_roofline(architecture=x, G=2, context_tokens=1000.0, efficiencies=DEFAULT_EFFICIENCIES)
                 for x in (active_twin, a, total_twin)]
    for B in (1, 4, 16):
        fast, moe, slow = (r.point(r.architecture.active_params, B, 2).step_seconds for r in rooflines)
        assert fast < moe < slow, B
    # at large batch the mixture reads every expert: as slow to read as its total twin
    # (its router's 8·d weights a layer aside; its arithmetic the active one's)
    fast, moe, slow = (r.point(r.architecture.active_params, 256, 2) for r in rooflines)
    assert moe.memory_seconds == pytest.approx(slow.memory_seconds, rel=1e-3)
    assert moe.compute_seconds == pytest.approx(fast.compute_seconds, rel=1e-3)
    # the shape family's mixture counterpart: its total N·total_per_active (docs/model.md §10)
    moe_family = _roofline(mixture=Mixture(8, 2, 0.8), G=2, efficiencies=DEFAULT_EFFICIENCIES)
    N = 10e9
    assert moe_family.params_terms().value(N) == pytest.approx(N * Mixture(8, 2, 0.8).total_per_active, rel=1e-12)
    dense = replace(moe_family, mixture=Mixture())
    # (at B = 1 it reads its k experts: its N active weights, as the dense model of N)
    assert moe_family.point(N, 1, 2).memory_seconds == pytest.approx(dense.point(N, 1, 2).memory_seconds, rel=1e-12)
    for B in (1, 4, 16):
        t = moe_family.point(N, B, 2)
        assert dense.point(N, B, 2).memory_seconds < t.memory_seconds or B == 1, B
        assert t.compute_seconds == pytest.approx(dense.point(N, B, 2).compute_seconds, rel=1e-12)


# ---- plans

def _serving_scenario(**serving) -> dict:
    return {"name": "moe serving", "law": {"preset": "ludziejewski2025"},
            "target": {"reference": {"params": "2.7B", "tokens": "100B"}},
            "moe": {"experts": 8, "active_experts": 1, "expert_share": 0.6},
            "inference": {"requests": 1e10, "input_tokens": 800, "output_tokens": 200, "deployment_days": 365},
            "hardware": {"training": {"gpu": "H100", "dtype": "bf16", "mfu": 0.4, "price_per_gpu_hour": 2.5,
                                      "gpus": 256},
                         "inference": {"gpu": "H100", "dtype": "bf16", "price_per_gpu_hour": 2.5}},
            "serving": {"model": "roofline", "context_tokens": 900, "max_context_tokens": 4096, "tpot_ms": 30,
                        "replica_gpus": [1, 2], **serving},
            "objective": {"minimize": "cost"}}


def _mixtral(**serving) -> dict:
    raw = _serving_scenario(architecture="mixtral-8x7b", replica_gpus=[2], context_tokens=200, **serving)
    raw["target"] = {"loss": 2.0}
    raw["moe"] = {"experts": 8, "active_experts": 2}
    raw["inference"]["input_tokens"] = 20
    return raw


def _check_served(sol):
    """The certificate (two solvers agree, KKT), and the deployed point's experts: the
    exact count, below its bucket's bound by at most the tolerance."""
    assert sol.certificate.status == "optimal" and sol.certificate.methods_agree
    assert sol.certificate.kkt_residual <= 1e-9
    s = sol.serving
    m = s.experts
    assert m is not None and m.touched <= m.bound * (1 + 1e-12) and m.bound <= (1 + BUCKET_TOLERANCE) * m.touched
    assert m.bucket[0] <= s.rounded.batch <= m.bucket[1]
    assert not s.broken
    return s


def test_an_exact_mixtures_plan_is_certified_and_reads_its_experts_exactly():
    for tpot, batch in ((11.0, 1.0), (16.0, 2.0), (40.0, None)):
        sol = solve(scenario_from_dict(_mixtral(tpot_ms=tpot)))
        s = _check_served(sol)
        assert sol.params == pytest.approx(preset("mixtral-8x7b").active_params, rel=1e-9)
        m = s.experts
        # ρ = 20/200 prompt tokens per generated one: a step's B·1.1 tokens
        assert m.touched == pytest.approx(8 * (1 - 0.75 ** (1.1 * s.rounded.batch)), rel=1e-12)
        if batch is not None:            # a tight target: a small batch, few experts read
            assert s.rounded.batch == batch and m.touched < 8
        assert s.rounded.step_seconds * 1e3 <= tpot * (1 + 1e-9)
        d = sol.as_dict()["serving"]["mixture"]
        assert d["touched_per_layer"] == m.touched and d["experts"] == 8 and d["active_experts"] == 2


def test_the_rounded_point_is_the_cheapest_whole_batch_within_the_tolerance():
    # brute force over every whole batch and size by the exact count of experts: the cell
    # the plan deploys is the cheapest by its bound, so within the bound's 5 % of the exact best
    sol = solve(scenario_from_dict(_serving_scenario(tpot_ms=12)))
    s = _check_served(sol)
    r = scenario_from_dict(_serving_scenario(tpot_ms=12)).serving
    best = math.inf
    for G in (1, 2):
        for B in range(1, 3000):
            p = r.point(sol.params, B, G)
            if p.step_seconds <= 0.012 and p.memory_bytes <= G * 80e9 * 0.9:
                best = min(best, p.decode_gpu_seconds_per_token)
    got = s.rounded.decode_gpu_seconds_per_token
    assert best <= got * (1 + 1e-12) and got <= best * (1 + BUCKET_TOLERANCE)


def test_the_batch_path_agrees_with_the_exact_solver_on_a_mixture():
    raw = _serving_scenario()
    axes = {"serving.tpot_ms": [12.0, 30.0]}
    rows = list(sweep(scenario_from_dict(raw), axes))
    for row in rows:
        one = copy.deepcopy(raw)
        one["serving"]["tpot_ms"] = row["serving.tpot_ms"]
        exact = solve(scenario_from_dict(one)).as_row()
        assert row["status"] == "optimal" and row["kkt_residual"] <= 1e-9, row["message"]
        for key in ("params", "tokens", "objective_value", "total_cost_pv_usd", "serving_tpot_ms",
                    "serving_tokens_per_second_per_gpu", "baseline_params"):
            assert row[key] == pytest.approx(exact[key], rel=1e-7), (axes, key)
        assert (row["serving_replica_gpus"], row["serving_batch"]) == (exact["serving_replica_gpus"],
                                                                      exact["serving_batch"])


@pytest.fixture(scope="module")
def memory_choices():
    """The choice of E on one GPU of 5 GB and of 80 GB (top-1, s = 0.6)."""
    out = {}
    for memory in ("5GB", "80GB"):
        raw = _serving_scenario(replica_gpus=[1], tpot_ms=50)
        raw["moe"]["experts"] = [1, 2, 4, 8, 16, 32]
        raw["hardware"]["inference"].update(memory=memory, price_per_gpu_hour=0.8)
        out[memory] = solve(scenario_from_dict(raw))
    return out


def test_under_a_replicas_memory_more_experts_stop_paying(memory_choices):
    # Ludziejewski et al. 2025 §5 (memory-constrained): more experts lower the cost of a
    # quality until their total parameters fill the memory; a small replica holds few
    chosen = {m: next(a.settings["moe.experts"] for a in sol.alternatives if a.chosen)
              for m, sol in memory_choices.items()}
    assert chosen["5GB"] < chosen["80GB"] == 32
    small = {a.settings["moe.experts"]: a for a in memory_choices["5GB"].alternatives}
    # past the chosen E each doubling costs more: the weights leave the cache ever less room
    values = [small[E].objective_value for E in (1, 2, 4, 8, 16, 32) if E >= chosen["5GB"]]
    assert values == sorted(values)
    big = memory_choices["80GB"].alternatives
    assert [a.objective_value for a in big] == sorted((a.objective_value for a in big), reverse=True)
    # the report shows every E's cost, the chosen one, and what its step reads
    text = memory_choices["5GB"].report()
    assert "CHOICE of moe.experts" in text and f"{chosen['5GB']} experts, 1 active" in text


def test_the_calibration_file_takes_a_mixtures_columns(tmp_path):
    header = ("id,source,gpu,weight_dtype,kv_dtype,layers,d_model,heads,kv_heads,d_ff,vocab,gated_mlp,"
              "replica_gpus,batch,max_batch,input_tokens,output_tokens,metric,measured,experts,active_experts,"
              "expert_d_ff,shared_experts")
    rows = ["mx,test,H100,bf16,bf16,32,4096,32,8,14336,32000,1,2,1,,128,128,tpot_ms,10,8,2,,",
            "mx2,test,H100,bf16,bf16,32,4096,32,8,,32000,1,2,1,,128,128,tpot_ms,10,8,2,14336,",
            "dense,test,H100,bf16,bf16,32,4096,32,8,14336,32000,1,1,1,,128,128,tpot_ms,10,,,,"]
    path = tmp_path / "m.csv"
    path.write_text("\n".join([header] + rows) + "\n")
    mx, mx2, dense = read_measurements(str(path))
    assert mx.architecture.params == mx2.architecture.params == TOTAL
    assert mx.architecture.active_params == preset("mixtral-8x7b").active_params
    assert not dense.architecture.is_moe
    # a mixture's TPOT at B = 1 reads its 2 experts, as the roofline's point says
    ms, _ = predict(mx, DEFAULT_EFFICIENCIES)
    # (B = 1: no other sequence's prompt in the step, ρ = 0; context 128 + 128/2)
    r = Roofline(peak_flops=989.4e12, bandwidth=3.35e12, memory_bytes=80e9, weight_bytes=2.0, kv_bytes=2.0,
                 context_tokens=192.0, max_context_tokens=256.0, prompt_tokens=128.0, prefill_per_output=0.0,
                 link_bandwidth=450e9, link_latency=8e-6, architecture=preset("mixtral-8x7b"), replica_gpus=(2,),
                 efficiencies=DEFAULT_EFFICIENCIES)
    assert ms == pytest.approx(r.point(r.architecture.active_params, 1, 2).step_seconds * 1e3, rel=1e-12)
    # a dense row: no mixture columns at all is the same as blank ones
    old = tmp_path / "old.csv"
    old.write_text(",".join(header.split(",")[:19]) + "\n" + ",".join(rows[2].split(",")[:19]) + "\n")
    assert read_measurements(str(old))[0].architecture == dense.architecture


@pytest.mark.parametrize("row, column", [
    ("x,test,H100,bf16,bf16,32,4096,32,8,14336,32000,1,2,1,,128,128,tpot_ms,10,1,1,,", "experts"),
    ("x,test,H100,bf16,bf16,32,4096,32,8,14336,32000,1,2,1,,128,128,tpot_ms,10,8,3.5,,", "active_experts"),
    ("x,test,H100,bf16,bf16,32,4096,32,8,14336,32000,1,2,1,,128,128,tpot_ms,10,8,2,14336,", "expert_d_ff")])
def test_the_calibration_file_names_a_bad_mixture_cell(tmp_path, row, column):
    header = ("id,source,gpu,weight_dtype,kv_dtype,layers,d_model,heads,kv_heads,d_ff,vocab,gated_mlp,"
              "replica_gpus,batch,max_batch,input_tokens,output_tokens,metric,measured,experts,active_experts,"
              "expert_d_ff,shared_experts")
    path = tmp_path / "m.csv"
    path.write_text(header + "\n" + row + "\n")
    with pytest.raises(ScenarioError, match=column):
        read_measurements(str(path))


@pytest.mark.parametrize("change, key", [
    (lambda r: r["moe"].update(experts=4), "moe.experts"),
    (lambda r: r["moe"].update(expert_share=0.5), "moe.expert_share"),
    (lambda r: r["serving"].update(architecture={"layers": 32, "d_model": 4096, "heads": 32, "kv_heads": 8,
                                                 "d_ff": 14336, "vocab": 32000, "expert_d_ff": 14336}),
     "serving.architecture.expert_d_ff"),
    (lambda r: r["serving"].update(architecture={"layers": 32, "d_model": 4096, "heads": 32, "kv_heads": 8,
                                                 "d_ff": 14336, "vocab": 32000, "experts": 8,
                                                 "active_experts": 2, "expert_d_ff": 14336}),
     "serving.architecture.expert_d_ff"),
    (lambda r: r["serving"].update(architecture="llama-3-8b"), "serving.architecture"),
])
def test_a_mixtures_serving_keys_are_checked(change, key):
    raw = _mixtral()
    change(raw)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw)
    assert info.value.key == key


def test_expert_parallel_is_refused_for_a_dense_model_and_read_for_a_mixture():
    raw = _mixtral(expert_parallel=True)
    assert scenario_from_dict(raw).serving.expert_parallel
    dense = _serving_scenario(expert_parallel=True)
    del dense["moe"]
    dense["law"] = {"preset": "hoffmann2022"}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(dense)
    assert info.value.key == "serving.expert_parallel"


def test_an_exact_mixture_given_by_its_keys_is_the_preset():
    raw = _mixtral()
    raw["serving"]["architecture"] = {"layers": 32, "d_model": 4096, "heads": 32, "kv_heads": 8, "vocab": 32000,
                                      "experts": 8, "active_experts": 2, "expert_d_ff": 14336}
    a = scenario_from_dict(raw).serving.architecture
    m = preset("mixtral-8x7b")
    assert (a.params, a.active_params, a.mixture) == (m.params, m.active_params, m.mixture)
    assert isinstance(a, Architecture)


def test_the_workbook_of_an_expert_parallel_mixture_recalculates_to_the_plan(libreoffice, tmp_path):
    # the shape family's mixture on 2-GPU replicas, experts spread over the GPUs: every
    # formula of the workbook (weights held and read, the experts a step touches, the
    # all-to-alls) recalculated by LibreOffice to the plan's numbers (Mixtral's tensor
    # parallel workbook: tests/test_workbook.py, examples/mixtral_serving.toml)
    import openpyxl

    from books import formula_cells
    from lifecycle_opt.outputs.plan_book import plan_book
    from lifecycle_opt.outputs.workbook import write_xlsx
    from lifecycle_opt.plan.choices import chosen_scenario
    from spreadsheet import strip_cached_values

    scenario = scenario_from_dict(_serving_scenario(replica_gpus=[2], expert_parallel=True))
    sol = solve(scenario)
    assert sol.serving.rounded.replica_gpus == 2 and sol.serving.experts.expert_parallel
    path = write_xlsx(plan_book(chosen_scenario(scenario, sol), sol), tmp_path / "ep.xlsx")
    (tmp_path / "stripped").mkdir()
    theirs = libreoffice.recalculate([strip_cached_values(path, tmp_path / "stripped" / "ep.xlsx")])[0]
    ours, recalculated = (openpyxl.load_workbook(p, data_only=True) for p in (path, theirs))
    checked = 0
    for sheet, cell in formula_cells(path):
        a, b = ours[sheet][cell].value, recalculated[sheet][cell].value
        if isinstance(a, (int, float)):
            assert b == pytest.approx(a, rel=1e-9, abs=1e-15), (sheet, cell)
            checked += 1
    assert checked > 50
    names = [c.value for c in openpyxl.load_workbook(path)["Calculations"]["A"]]
    assert "experts a step touches per MoE layer" in names and "one expert in every MoE layer" in names
