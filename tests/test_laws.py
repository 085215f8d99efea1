"""Loss laws: published numbers, closed forms and convexity.

Each expected number names where it comes from.
"""
import math

import numpy as np
import pytest

from lifecycle_opt.errors import ScenarioError

from lifecycle_opt.model.laws import ChinchillaLaw, DataConstrainedLaw, KaplanLaw, MUENNIGHOFF_R_D_STAR
from lifecycle_opt.model.presets import PRESETS, preset

CHINCHILLA_FORM = [p for p in PRESETS if isinstance(preset(p), ChinchillaLaw)]


def test_sardana_constants_loss_at_70b_1t():
    # Sardana et al. 2024 (arXiv 2401.00448) code constants: L(70e9, 1e12) = 1.94727.
    law = preset("sardana2024")
    assert float(law.loss(70e9, 1e12)) == pytest.approx(1.94727, abs=5e-6)


def test_sardana_compute_optimal_at_equal_loss():
    # Sardana et al. 2024: the equal-loss Chinchilla plan at L = 1.947 is (3.408e10, 1.810e12).
    N, D = preset("sardana2024").compute_optimal_at_loss(1.947)
    assert N == pytest.approx(3.408e10, rel=5e-4)
    assert D == pytest.approx(1.810e12, rel=5e-4)


@pytest.mark.parametrize("N, D, expected", [
    # huggingface/datablations README, Muennighoff et al. 2023, D_C = 25e9.
    (6.34e9, 242e9, 2.2256440889984477),
    (8.67e9, 178e9, 2.2269634075087867),
])
def test_muennighoff_readme_checks(N, D, expected):
    law = DataConstrainedLaw(preset("muennighoff2023"), unique_tokens=25e9)
    assert float(law.loss(N, D)) == pytest.approx(expected, rel=1e-12)


def test_effective_tokens_at_4_and_16_epochs():
    # Muennighoff et al. 2023 (docs/model.md §2.3): D'/U = 3.726 at 4 epochs, 10.58 at 16.
    U = 1e11
    law = DataConstrainedLaw(preset("muennighoff2023"), unique_tokens=U)
    ratio = law.effective_tokens(np.array([4 * U, 16 * U, 1e6 * U])) / U
    assert ratio[0] == pytest.approx(3.726, abs=5e-4)
    assert ratio[1] == pytest.approx(10.58, abs=5e-3)
    assert ratio[2] <= 1 + MUENNIGHOFF_R_D_STAR


def test_hoffmann_rounding_at_gopher_budget():
    # docs/model.md §2.1: at 5.76e23 FLOP the printed constants give 32.2B, the
    # unrounded ones 40.4B (the paper's "40B").
    n_printed, _ = preset("hoffmann2022").compute_optimal(5.76e23)
    n_unrounded, _ = preset("hoffmann2022_unrounded").compute_optimal(5.76e23)
    assert n_printed == pytest.approx(32.2e9, rel=2e-3)
    assert n_unrounded == pytest.approx(40.4e9, rel=2e-3)


@pytest.mark.parametrize("name", CHINCHILLA_FORM)
def test_compute_optimal_is_the_minimum_on_the_budget(name):
    # Identity: on the line 6ND = C, the closed-form N minimises the loss.
    law = preset(name)
    C = 1e23
    N, D = law.compute_optimal(C)
    assert 6 * N * D == pytest.approx(C, rel=1e-12)
    grid = N * np.exp(np.linspace(-0.2, 0.2, 41))
    losses = law.loss(grid, C / (6 * grid))
    assert np.argmin(losses) == 20


@pytest.mark.parametrize("name", CHINCHILLA_FORM + ["kaplan2020"])
def test_compute_optimal_at_loss_reaches_the_loss(name):
    law = preset(name)
    target = law.irreducible_loss + 0.3 if hasattr(law, "E") else 2.5
    N, D = law.compute_optimal_at_loss(target)
    assert float(law.loss(N, D)) == pytest.approx(target, rel=1e-12)
    # and is the compute-optimal plan of the budget it spends
    N2, D2 = law.compute_optimal(6 * N * D)
    assert N2 == pytest.approx(N, rel=1e-9) and D2 == pytest.approx(D, rel=1e-9)


@pytest.mark.parametrize("name", list(PRESETS))
def test_gradient_matches_finite_differences(name):
    law = preset(name)
    laws = [law] if not isinstance(law, ChinchillaLaw) else [law, DataConstrainedLaw(law, 3e10)]
    for lw in laws:
        for N, D in [(1e9, 2e10), (3e10, 9e11), (7e9, 5e11)]:
            L, gN, gD = lw.loss_grad(N, D)
            h = 1e-6
            fN = (lw.loss(N * (1 + h), D) - lw.loss(N * (1 - h), D)) / (2 * h * N)
            fD = (lw.loss(N, D * (1 + h)) - lw.loss(N, D * (1 - h))) / (2 * h * D)
            assert float(gN) == pytest.approx(float(fN), rel=1e-5)
            assert float(gD) == pytest.approx(float(fD), rel=1e-5)


@pytest.mark.parametrize("name", CHINCHILLA_FORM)
@pytest.mark.parametrize("unique", [None, 1e9, 25e9, 1e12])
def test_midpoint_convexity_in_log_space(name, unique):
    # docs/model.md §4: the loss, penalties included, is convex in (log N, log D).
    # Evidence, not proof: no midpoint may lie above the chord.
    law = preset(name)
    if unique is not None:
        law = DataConstrainedLaw(law, unique)
    rng = np.random.default_rng(0)
    a = np.column_stack([rng.uniform(math.log(1e7), math.log(1e12), 20000),
                         rng.uniform(math.log(1e8), math.log(1e14), 20000)])
    b = np.column_stack([rng.uniform(math.log(1e7), math.log(1e12), 20000),
                         rng.uniform(math.log(1e8), math.log(1e14), 20000)])
    m = (a + b) / 2
    f = lambda p: law.loss(np.exp(p[:, 0]), np.exp(p[:, 1]))
    chord = (f(a) + f(b)) / 2
    assert np.all(f(m) <= chord + 1e-12 * np.abs(chord))


def test_kaplan_is_its_own_form():
    law = preset("kaplan2020")
    assert isinstance(law, KaplanLaw)
    # eq. 1.5 with D → ∞ reduces to (N_c/N)^α_N (Kaplan et al. 2020, eq. 1.1)
    assert float(law.loss(1e9, 1e30)) == pytest.approx((8.8e13 / 1e9) ** 0.076, rel=1e-9)


def test_unknown_preset_names_the_known_ones():
    # a ScenarioError naming the key (issue 32: the API raised a bare KeyError)
    with pytest.raises(ScenarioError, match="hoffmann2022") as info:
        preset("chinchilla")
    assert info.value.key == "law.preset"
