"""Faults of the model's surfaces (issue 32): plans that cannot be served, values at the
ends of the double range, a flat loss under the roofline serving model, and numbers as a
notebook passes them. Each case was an exit 70 (our own bug), a wrong answer or a lie of
the certificate; each is now a plan, an invalid row with its reason, or one line and
exit 2 (input) or 1 (no plan)."""
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

import lifecycle_opt
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.scenario.reader import scenario_from_dict

from conftest import EXAMPLES

SLO = EXAMPLES / "serving_slo.toml"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line(result, code):
    assert result.exit_code == code, result.output
    text = result.output.strip()
    assert text.startswith("error: ") and "\n" not in text and "internal error" not in text, text
    return text


def with_text(tmp_path, source, pattern, replacement, name="s.toml"):
    text = re.sub(pattern, replacement, source.read_text(), flags=re.M)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("params", ["1T", "300B"])
def test_evaluating_a_plan_no_replica_can_serve_says_so(params):
    out = run("evaluate", SLO, "--params", params, "--tokens", "15T")
    assert out.exit_code == 0, out.output
    assert "no allowed replica serves it" in out.output
    data = json.loads(run("evaluate", SLO, "--params", params, "--tokens", "15T", "--format", "json").output)
    (v,) = [v for v in data["violated"] if v["name"] == "memory_capacity"]
    # the weights alone need N·2 bytes over 90 % of 80 GB a GPU: more than the 8 allowed
    assert v["needed"] > 8


def test_a_baseline_that_cannot_be_served_is_reported_not_a_crash(tmp_path):
    # one sequence may reach 2e6 tokens: the plan (31B: 63 GB of weights and 2e6 · 219 kB of
    # cache, 500 GB) fits 8 GPUs (8 · 80 GB · 0.9 = 576 GB), the compute-optimal plan of equal
    # loss (94B: 187 GB and 2e6 · 316 kB, 818 GB) no allowed replica
    path = with_text(tmp_path, SLO, r"^max_context_tokens = .*$", "max_context_tokens = 2e6")
    out = run("solve", path)
    assert out.exit_code == 0, out.output
    assert "the compute-optimal plan cannot be served" in out.output
    data = json.loads(run("solve", path, "--format", "json").output)
    assert data["baseline"]["total_flops"] is None and data["savings"]["flops"] is None
    assert run("compare", path, SLO).exit_code == 0


def test_a_flat_loss_under_the_roofline_model_is_explained_not_certified(tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text('name = "flat"\n[law]\npreset = "muennighoff2023"\n[objective]\nminimize = "loss"\n'
                    '[budget]\ntraining_flops = 1e24\n[data]\nunique_tokens = "1B"\nrepetition_penalty = true\n'
                    '[inference]\nrequests = 1e9\ninput_tokens = 800\noutput_tokens = 200\n'
                    '[hardware.training]\ngpu = "H100"\nmfu = 0.4\nprice_per_gpu_hour = 2.5\n'
                    '[hardware.inference]\ngpu = "H100"\ndtype = "bf16"\nprice_per_gpu_hour = 2.5\n'
                    '[serving]\nmodel = "roofline"\ncontext_tokens = 900\nmax_context_tokens = 4096\n')
    text = one_line(run("solve", path), 1)
    assert "the loss is flat" in text and 'minimize = "cost"' in text


def test_a_looser_epochs_limit_never_makes_a_plan_infeasible(tmp_path):
    small = EXAMPLES / "small_corpus.toml"
    plans = []
    for epochs in ("1e297", "1e300"):
        out = run("solve", with_text(tmp_path, small, r"^max_epochs = .*$", f"max_epochs = {epochs}"),
                  "--format", "json")
        assert out.exit_code == 0, out.output
        plans.append(json.loads(out.output))
    assert plans[0]["params"] == pytest.approx(plans[1]["params"], rel=1e-9)


def test_a_long_prompt_is_a_plan_or_an_explained_infeasibility(tmp_path):
    out = run("solve", with_text(tmp_path, SLO, r"^ttft_ms = .*$", "ttft_ms = 500\nprompt_tokens = 1e300"))
    assert out.exit_code in (0, 1, 2) and "nan" not in out.output and "internal error" not in out.output


def test_quantities_at_the_top_of_the_double_range(tmp_path):
    chat = EXAMPLES / "chat_assistant.toml"
    huge_corpus = with_text(tmp_path, chat, r"^unique_tokens = .*$", "unique_tokens = 1e308", "corpus.toml")
    assert run("solve", huge_corpus).exit_code == 0
    assert run("evaluate", huge_corpus, "--params", "8B", "--tokens", "1T").exit_code == 0
    assert run("sweep", huge_corpus, "--vary", "inference.tokens=1e11,1e12", "--format", "csv").exit_code == 0
    # a serving price of 1e305 $/GPU-hour: the costs overflow a double, said on one line
    text = (chat.read_text().replace('dtype = "fp8"\nprefill_mfu', 'dtype = "fp8"\nprefill_mfu', 1))
    i = text.index("[hardware.inference]")
    text = text[:i] + text[i:].replace("price_per_gpu_hour = 2.50", "price_per_gpu_hour = 1e305", 1)
    price = tmp_path / "price.toml"
    price.write_text(text)
    assert "overflow" in one_line(run("solve", price), 2)
    # a sweep point at 1e308 tokens under the repetition penalty: an invalid row with its reason
    penalised = with_text(tmp_path, chat, r"^repetition_penalty = .*$", "repetition_penalty = true", "pen.toml")
    penalised.write_text(penalised.read_text().replace('preset = "hoffmann2022"', 'preset = "muennighoff2023"'))
    out = run("sweep", penalised, "--vary", "inference.tokens=1e12,1e308", "--format", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [r["status"] for r in rows] == ["optimal", "invalid"] and "overflow" in rows[1]["message"]
    # an integer of 400 digits on the command line
    out = run("sweep", chat, "--vary", "inference.tokens=1" + "0" * 400, "--format", "json")
    assert out.exit_code in (0, 2) and "internal error" not in out.output
    # a plan of 1e300 parameters on 1e300 tokens: its costs overflow, said against --params
    assert "params: expected a plan whose costs fit" in one_line(
        run("evaluate", chat, "--params", "1e300", "--tokens", "1e300"), 2)


def test_standard_output_by_name():
    out = run("solve", EXAMPLES / "chat_assistant.toml", "--format", "json", "-o", "/dev/stdout")
    assert out.exit_code == 0 and json.loads(out.stdout)["params"] > 0


def test_numbers_as_a_notebook_passes_them():
    s = scenario_from_dict({"law": {"preset": "hoffmann2022"}, "target": {"loss": np.float32(2.0)},
                            "inference": {"tokens": np.int64(10 ** 12)},
                            "hardware": {"training": {"gpu": "H100", "mfu": "40%"}}})
    assert (s.target.loss, s.demand.tokens, s.training.mfu) == (2.0, 1e12, 0.4)
    with pytest.raises(ScenarioError) as info:
        lifecycle_opt.preset("nope")
    assert info.value.key == "law.preset" and "hoffmann2022" in str(info.value)


def test_control_characters_from_a_file_never_reach_the_terminal(tmp_path):
    path = tmp_path / "escape.toml"
    path.write_text('name = "a\\u001b[31mred\\u0000b"\n[law]\npreset = "hoffmann2022"\n[target]\nloss = 2.0\n')
    out = run("solve", path)
    assert out.exit_code == 0 and "\x1b" not in out.output and "\x00" not in out.output
    assert "a\\x1b[31mred\\x00b" in out.output.splitlines()[0]
    bad = tmp_path / "nul.toml"
    bad.write_text('[law]\npreset = "hoff\\u0000"\n[target]\nloss = 2.0\n')
    text = one_line(run("solve", bad), 2)
    assert "\x00" not in text and "law.preset" in text


@pytest.mark.parametrize("what", ["samples", "runs"])
def test_an_error_about_a_file_quotes_nothing_of_it(tmp_path, what):
    """A path given by mistake (/proc/self/environ, /etc/shadow): the error names the file
    and what was expected, and prints none of its contents."""
    secret = tmp_path / "secret"
    secret.write_text("PASSWORD=hunter2,TOKEN=abc\nmore=1,2,3\n")
    if what == "samples":
        path = tmp_path / "s.toml"
        path.write_text(f'[law]\npreset = "hoffmann2022"\nsamples = "{secret}"\n[target]\nloss = 2.0\n')
        text = one_line(run("solve", path), 2)
    else:
        text = one_line(run("fit", secret), 2)
    assert "hunter2" not in text and "PASSWORD" not in text and "TOKEN" not in text, text
    assert str(secret) in text, text


#: the fuzz's case: a 2,500-parameter plan (a toy law) served under the roofline model
UNBOUNDED_BATCH = {
    "law": {"E": 2.0, "A": 100.0, "B": 1.0, "alpha": 0.5, "beta": 0.6254804}, "target": {"loss": 4.0},
    "inference": {"tokens": 1e7}, "objective": {"minimize": "cost"},
    "limits": {"max_params": 1e6, "max_total_cost": 100.0},
    "hardware": {"training": {"gpu": "H100", "mfu": 1.0, "price_per_gpu_hour": 1.0, "gpus": 1},
                 # an HBM no KV cache fills (a catalogue H100's 80 GB holds ~8e6 such sequences)
                 "inference": {"peak_flops": 9.89e14, "memory": 1e24, "bandwidth": 3.35e12,
                               "price_per_gpu_hour": 1.0}},
    "serving": {"model": "roofline", "context_tokens": 1.0, "replica_gpus": [1]}}


#: ... and one whose solvers stopped short of the edge (9e7 sequences), each where its
#: steps saved too little, with a KKT residual of 3e-7
UNBOUNDED_SHORT_OF_THE_EDGE = {
    "law": {"E": 2.2667217697174737, "B": 1.0894844898005034, "alpha": 1.044402485964892, "A": 1.0,
            "beta": 0.8913728133157985}, "target": {"loss": 2.267051774910372},
    "inference": {"requests": 184.80842664873106, "input_tokens": 1.0, "output_tokens": 1.0},
    "objective": {"minimize": "cost"},
    "hardware": {"training": {"gpu": "A100-80GB", "mfu": 0.01, "price_per_gpu_hour": 0.1, "gpus": 1},
                 "inference": {"price_per_gpu_hour": 0.1, "gpu": "H100"}},
    "serving": {"model": "roofline", "context_tokens": 1.0}}


def test_a_batch_the_memory_bounds_is_certified_below_the_edge():
    """The fuzz's second case on a catalogue H100: the paged KV cache at the mean context
    (docs/model.md §8) fills its 80 GB near 7e6 sequences, well inside the box: the memory
    binds, so the plan is certified (no refusal), its batch what the memory holds."""
    plan = lifecycle_opt.solve(UNBOUNDED_SHORT_OF_THE_EDGE)
    assert plan.certificate.status == "optimal"
    assert 1e6 < plan.serving.relaxed.batch < 1e8 * 0.5
    assert any(b.name == "memory_capacity" for b in plan.binding), [b.name for b in plan.binding]


def test_a_batch_nothing_bounds_is_refused_naming_max_batch():
    """Found by the fuzz (issue 32, roofline serving): a KV cache of one token and no latency
    target leave a small model's batch unbounded; the plan reached the search box's 1e8
    sequences, where no multiplier exists, and the solver said "please report" (exit 1).
    Now an input error naming the key that bounds it; with it, a certified plan."""
    with pytest.raises(ScenarioError) as info:
        lifecycle_opt.solve(UNBOUNDED_BATCH)
    assert info.value.key == "serving.max_batch"
    assert str(info.value).startswith("serving.max_batch: expected a cap on the sequences a replica batches")
    assert str(info.value).endswith("found an optimum at a batch of 1e+08 sequences per replica")
    capped = {**UNBOUNDED_BATCH, "serving": {**UNBOUNDED_BATCH["serving"], "max_batch": 4096}}
    plan = lifecycle_opt.solve(capped)
    assert plan.certificate.status == "optimal" and plan.serving.relaxed.batch == pytest.approx(4096, rel=1e-6)


def test_a_plan_no_replica_serves_has_no_regret_and_a_report():
    """Found by the fuzz: a plan too large for any allowed replica, whose optimum of equal
    loss exists, has no lifecycle cost; its report formatted the regret's None (exit 70)."""
    raw = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "inference": {"tokens": 0.0},
           "hardware": {"training": {"gpu": "H100", "mfu": 0.4, "price_per_gpu_hour": 2.0, "gpus": 8},
                        "inference": {"gpu": "H100", "price_per_gpu_hour": 2.0}},
           "objective": {"minimize": "cost"}, "serving": {"model": "roofline", "context_tokens": 1.0}}
    e = lifecycle_opt.evaluate(raw, params="1T", tokens="100M")
    assert e.optimum is not None and e.regret is None and e.regret_fraction is None
    assert "memory_capacity" in [v.name for v in e.violated]
    assert "no regret: this plan has no lifecycle cost (no allowed replica serves it)" in e.report()
