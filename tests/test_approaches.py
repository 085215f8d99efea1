"""The three Chinchilla approaches on one set of training curves (Hoffmann et al. 2022, Table 2)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt.fit.approaches import Curves, compare_approaches, read_curves
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError
from lifecycle_opt.model.laws import ChinchillaLaw
from lifecycle_opt.model.presets import preset

# a ≠ 0.5: N_opt ∝ C^0.559
STEEP = ChinchillaLaw(E=1.8, A=400.0, B=2000.0, alpha=0.3, beta=0.38, name="a = 0.559")


def ladder(law, distort=0.0, schedule=False):
    """20 sizes (50M–10B) × 4 runs ending at 10, 40, 160, 640 tokens per parameter, 16 points
    each. ``distort`` inflates the loss read before the end of a run's schedule by
    distort·(1 − D/end), as reading a long cosine schedule early does."""
    run, P, T, L, S = [], [], [], [], []
    r = 0
    for n in np.geomspace(5e7, 1e10, 20):
        for k in (10, 40, 160, 640):
            end = n * k
            d = np.geomspace(0.5 * n, end, 16)
            run += [r] * 16
            P += [n] * 16
            T += list(d)
            L += list(np.asarray(law.loss(n, d)) * (1 + distort * (1 - d / end)))
            S += [end if schedule else np.nan] * 16
            r += 1
    return Curves(np.array(run), np.array(P), np.array(T), np.array(L), np.array(S),
                  tuple(f"r{i}" for i in range(r)), "synthetic")


def exponents(law):
    s = law.alpha + law.beta
    return law.beta / s, law.alpha / s


@pytest.mark.parametrize("law", [preset("besiroglu2024"), STEEP], ids=lambda l: l.name)
def test_each_approach_recovers_the_known_exponents_and_they_agree(law):
    a, b = exponents(law)
    cmp = compare_approaches(ladder(law), resamples=30, seed=1)
    assert [e.name[0] for e in cmp.estimates] == ["1", "2", "3"]
    tolerance = {"1": 0.015, "2": 0.01, "3": 1e-3}     # envelope: 20 discrete sizes; IsoFLOP: parabolas
    for e in cmp.estimates:
        assert e.a == pytest.approx(a, abs=tolerance[e.name[0]]), e.name
        assert e.b == pytest.approx(b, abs=tolerance[e.name[0]]), e.name
        assert e.a + e.b == pytest.approx(1.0, abs=1e-9)   # D = C / 6N
    assert cmp.agree is True and cmp.verdict.startswith("agree")


def test_curves_read_before_their_schedule_ends_make_the_approaches_disagree():
    law = preset("besiroglu2024")
    cmp = compare_approaches(ladder(law, distort=0.15, schedule=True), resamples=30, seed=1)
    assert cmp.agree is False and cmp.verdict.startswith("DISAGREE")
    parametric = cmp.estimates[-1]
    assert parametric.a == pytest.approx(exponents(law)[0], abs=0.02)   # fitted on tuned points only
    envelope = cmp.estimates[0]
    assert envelope.a < exponents(law)[0] - 0.03
    assert any("learning-rate schedule" in n for n in envelope.notes)


def test_shipped_ladder_reads_and_agrees():
    curves = read_curves("examples/runs/ladder_curves.csv")
    assert curves.runs == 80
    cmp = compare_approaches(curves, resamples=30, seed=0)
    a, _ = exponents(preset("besiroglu2024"))
    assert all(abs(e.a - a) < 0.02 for e in cmp.estimates)
    assert cmp.agree is True


def test_read_curves_errors(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("params,tokens,loss\n1e8,1e9,3.0\n")
    with pytest.raises(ScenarioError, match="run column"):
        read_curves(f)
    f.write_text("run,params,tokens,loss\na,1e8,1e9,3.0\na,2e8,2e9,2.9\nb,1e8,1e9,3\nc,1e8,1e9,3\n")
    with pytest.raises(ScenarioError, match="one parameter count per run"):
        read_curves(f)


def test_cli_approach_all(tmp_path):
    out = CliRunner().invoke(cli, ["fit", "examples/runs/ladder_curves.csv", "--approach", "all",
                                   "--bootstrap", "20", "--format", "json", "-o", str(tmp_path / "law.toml")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output[out.output.index("{"):])
    assert [a["name"][0] for a in doc["approaches"]] == ["1", "2", "3"]
    assert all(len(a["a_95"]) == 2 for a in doc["approaches"])
    assert "[law]" in (tmp_path / "law.toml").read_text()
    table = CliRunner().invoke(cli, ["fit", "examples/runs/ladder_curves.csv", "--approach", "all"])
    assert table.exit_code == 0 and "Table 2" in table.output and "VERDICT" in table.output
    bad = CliRunner().invoke(cli, ["fit", "examples/runs/ladder_curves.csv", "--approach", "all",
                                   "--samples", str(tmp_path / "s.csv")])
    assert bad.exit_code == 2
