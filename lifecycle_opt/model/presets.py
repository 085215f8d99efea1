"""The published laws, by name: each with its constants as printed, its source and the
range of runs it was fitted on (``lifeopt presets`` lists them).

Chinchilla-form and Kaplan laws (:mod:`.laws`), and the joint dense/MoE law of
Ludziejewski et al. 2025 (:mod:`.moe`), whose ``preset`` is the dense member (E = 1) and
whose ``joint_preset`` gives the law of any number of experts.
"""
from __future__ import annotations

__all__ = ["PRESETS", "preset", "JOINT_PRESETS", "joint_preset"]

import math
from typing import Callable

from ..errors import ScenarioError
from .laws import ChinchillaLaw, FittedRange, KaplanLaw, LossLaw
from .moe import JointMoELaw

# Chinchilla runs: the data Epoch AI reconstructed from Hoffmann et al. 2022 Fig. 4
# (repository epoch-research/analyzing-chinchilla, data/svg_extracted_data.csv) spans N 5.7e7–1.62e10 and
# C 1.4e18–1.3e22 FLOP; the paper reports ~500B tokens as its longest runs.
_CHINCHILLA_RANGE = FittedRange(
    min_params=5.7e7, max_params=1.62e10, max_tokens=5e11, max_flops=1.3e22,
    note="Hoffmann et al. 2022 runs: 70M-16B parameters, 5B-500B tokens")

_PRESETS: dict[str, Callable[[], LossLaw]] = {
    # Hoffmann et al. 2022, eq. 10 as printed.
    "hoffmann2022": lambda: ChinchillaLaw(
        E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, name="hoffmann2022",
        source="Hoffmann et al. 2022 (arXiv 2203.15556), eq. 10 as printed",
        fitted=_CHINCHILLA_RANGE),
    # The same fit before rounding: exp of a = 6.0073404, b = 6.0179186, e = 0.5267228,
    # as used in the notebook of Besiroglu et al. 2024.
    "hoffmann2022_unrounded": lambda: ChinchillaLaw(
        E=1.693374, A=406.401, B=410.723, alpha=0.33917084, beta=0.2849083,
        name="hoffmann2022_unrounded",
        source="Hoffmann et al. 2022 fit before rounding, via Besiroglu et al. 2024 (arXiv 2404.10102)",
        fitted=_CHINCHILLA_RANGE),
    # Besiroglu et al. 2024, refit of 240 points reconstructed from Hoffmann's Fig. 4.
    "besiroglu2024": lambda: ChinchillaLaw(
        E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658, name="besiroglu2024",
        source="Besiroglu et al. 2024 (arXiv 2404.10102), Huber refit of Hoffmann et al. Fig. 4",
        fitted=_CHINCHILLA_RANGE),
    # Muennighoff et al. 2023, App. B: exp of a = 6.255414, b = 7.3049974, e = 0.6254804,
    # α = β tied; C4 validation loss, GPT-2 tokenizer. Runs up to 9B parameters and 900B
    # tokens (abstract).
    "muennighoff2023": lambda: ChinchillaLaw(
        # Unrounded (exp of the fitted logs): the rounded 1.869144/520.825/1487.716 miss the
        # authors' README checks by ~3e-7.
        E=math.exp(0.6254804), A=math.exp(6.255414), B=math.exp(7.3049974),
        alpha=0.3526596, beta=0.3526596,
        name="muennighoff2023",
        source="Muennighoff et al. 2023 (arXiv 2305.16264), App. B (C4, GPT-2 tokenizer)",
        fitted=FittedRange(min_params=1e7, max_params=9e9, max_tokens=9e11, max_flops=None,
                           note="Muennighoff et al. 2023 runs: up to 9B parameters and 900B tokens")),
    # Constants in the code of Sardana et al. 2024 (repository nikhilsardana/beyond-chinchilla).
    "sardana2024": lambda: ChinchillaLaw(
        E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283, name="sardana2024",
        source="Chinchilla constants as used in the code of Sardana et al. 2024 (arXiv 2401.00448)",
        fitted=_CHINCHILLA_RANGE),
    # Kaplan et al. 2020, eq. 1.5 with Table 2: N_c = 8.8e13, D_c = 5.4e13, α_N = 0.076,
    # α_D = 0.095. Runs: 768 to 1.5e9 non-embedding parameters, 22M to 23B tokens (§2, §3).
    "kaplan2020": lambda: KaplanLaw(
        Nc=8.8e13, Dc=5.4e13, alpha_N=0.076, alpha_D=0.095,
        fitted=FittedRange(min_params=768, max_params=1.5e9, max_tokens=2.3e10, max_flops=None,
                           note="Kaplan et al. 2020 runs: 768-1.5B non-embedding parameters, "
                                "22M-23B tokens")),
}

#: Ludziejewski et al. 2025, Table 3: fitted on 280+ runs with E 1-32 experts (top-1
#: routing), up to 2.7B active and 5B total parameters, 0.5B-80B tokens of FineWeb-Edu;
#: N_act counts embeddings
JOINT_PRESETS: dict[str, Callable[[], JointMoELaw]] = {
    "ludziejewski2025": lambda: JointMoELaw(
        a=35.91, alpha=-0.1889, delta=-0.2285, gamma=0.0098, b=35.98, beta=-0.1775, omega=0.5529,
        zeta=-0.0259, E_start=2.0732, E_max=290.4521, c=1.3637, name="ludziejewski2025",
        source="Ludziejewski et al. 2025 (arXiv 2502.05172), joint MoE law, Table 3 (FineWeb-Edu)",
        fitted=FittedRange(min_params=5e7, max_params=2.7e9, max_tokens=8e10, max_flops=None,
                           note="Ludziejewski et al. 2025 runs: E 1-32, top-1, up to 2.7B active / 5B total "
                                "parameters, 0.5B-80B tokens"),
        fitted_experts=(1, 32)),
}

PRESETS: tuple[str, ...] = tuple(_PRESETS) + tuple(JOINT_PRESETS)


def joint_preset(name: str) -> JointMoELaw:
    """Return the joint dense/MoE law called ``name``.

    Parameters
    ----------
    name : str
        A key of ``JOINT_PRESETS`` ("ludziejewski2025").

    Returns
    -------
    JointMoELaw
        The law of any number of experts (docs/model.md §10).

    Raises
    ------
    ScenarioError
        Any other name (key ``law.preset``), naming the known ones.
    """
    try:
        return JOINT_PRESETS[name]()
    except (KeyError, TypeError):
        raise ScenarioError("law.preset", f"one of {', '.join(JOINT_PRESETS)} (a joint MoE law)", name) from None


def preset(name: str) -> LossLaw:
    """Return the published law called ``name``.

    Parameters
    ----------
    name : str
        One of ``PRESETS``: "hoffmann2022" (eq. 10 as printed), "hoffmann2022_unrounded",
        "besiroglu2024", "muennighoff2023", "sardana2024", "kaplan2020", or
        "ludziejewski2025" (its dense member, E = 1).

    Returns
    -------
    LossLaw
        The law with its constants as published, its source and its fitted range.

    Raises
    ------
    ScenarioError
        Any other name (key ``law.preset``), naming the known ones.

    References
    ----------
    .. [1] Hoffmann et al. 2022, arXiv:2203.15556, eq. 10.
    .. [2] Besiroglu et al. 2024, arXiv:2404.10102.
    .. [3] Muennighoff et al. 2023, arXiv:2305.16264, App. B.
    .. [4] Sardana et al. 2024, arXiv:2401.00448.
    .. [5] Kaplan et al. 2020, arXiv:2001.08361, eq. 1.5 and Table 2.
    .. [6] Ludziejewski et al. 2025, arXiv:2502.05172, Table 3.

    Examples
    --------
    The dense member of the joint law at 1e20 FLOP: 1.7B parameters on 9.7B tokens in
    Table 1 of [6]_ (docs/model.md §10):

    >>> law = preset("ludziejewski2025")
    >>> N, D = law.compute_optimal(1e20)
    >>> f"{float(N):.2g}", f"{float(D):.2g}"
    ('1.7e+09', '9.7e+09')
    """
    if name in JOINT_PRESETS:
        return joint_preset(name).at(1)           # the dense member of a joint MoE law
    try:
        return _PRESETS[name]()
    except (KeyError, TypeError):
        raise ScenarioError("law.preset", f"one of {', '.join(PRESETS)}", name) from None
