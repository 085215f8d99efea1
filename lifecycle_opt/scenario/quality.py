"""Reading what the model is and how it is served beyond its size: ``[moe]`` (a mixture of
experts under the joint law of Ludziejewski et al. 2025; docs/model.md §10) and
``[quantisation]`` (the served weights quantised after training, Kumar et al. 2024;
docs/model.md §11). A part of :class:`~.sections.SectionReader`."""
from __future__ import annotations

__all__ = ["QUANTISATION_KEYS", "MOE_KEYS", "DOWNSTREAM_SECTION_KEYS", "QualityReader", "JOINT_LAW_KEYS",
           "JOINT_FORM"]

from ..model.downstream import DownstreamMap, DownstreamTableError, downstream_from_table
from ..model.laws import ChinchillaLaw
from ..model.moe import DEFAULT_EXPERT_SHARE, JOINT_FORM, JointMoELaw, Mixture
from ..model.presets import JOINT_PRESETS, joint_preset
from ..model.quantisation import BITS_OF_DTYPE, QUANTISATION_PRESETS, Quantisation, quantisation_preset
from .fields import Section, fraction, integer, number
from .files import read_toml
from .registry import keys_of

QUANTISATION_KEYS = keys_of("quantisation")
MOE_KEYS = keys_of("moe")
#: the [downstream] table of a scenario: the map's own table (DOWNSTREAM_KEYS, which a law
#: file from lifeopt fit holds too) and ``file`` (tests/test_scenario_keys.py: they agree)
DOWNSTREAM_SECTION_KEYS = keys_of("downstream")
_CONSTANTS = ("C_T", "gamma_D", "gamma_N", "gamma_post")
#: the constants of a joint law (Ludziejewski et al. 2025, Table 3), signed as printed
_JOINT_SIGNED = ("alpha", "delta", "gamma", "beta", "omega", "zeta")
_JOINT_CONSTANTS = ("a", "alpha", "delta", "gamma", "b", "beta", "omega", "zeta", "E_start", "E_max", "c")
#: the [law] keys a joint law adds to those of the Chinchilla form
JOINT_LAW_KEYS = ("form", "a", "delta", "gamma", "b", "omega", "zeta", "E_start", "E_max", "c",
                  "fitted_min_experts", "fitted_max_experts")


class QualityReader:
    """The ``[moe]``, ``[quantisation]``, ``[downstream]`` and ``[target] error`` methods of
    the section reader (which gives ``fail``, ``assumptions`` and ``source``)."""

    def downstream(self, sec: Section | None) -> DownstreamMap | None:
        """The mapping Err(L) = epsilon − k·exp(−gamma·L) of ``[downstream]`` (Gadre et al.
        2024): its constants, or ``file = "downstream.toml"`` (a [downstream] table written
        by ``lifeopt fit``, relative to the scenario) with any constant laid over it."""
        if sec is None:
            return None
        table = {k: v for k, v in sec.table.items() if k != "file"}
        where = "downstream"
        if sec.has("file"):
            value = sec.table["file"]
            if not isinstance(value, str):
                self.fail("downstream.file", "the path of a TOML file with a [downstream] table", value)
            path = self._folder() / value
            data = read_toml(path)
            if not isinstance(data.get("downstream"), dict):
                self.fail("downstream.file", f"a file with a [downstream] table ({path}; lifeopt fit -o writes one)",
                          found_text="found none there")
            table = {**data["downstream"], **table}
        try:
            return downstream_from_table(table, where)
        except DownstreamTableError as exc:
            self.fail(exc.key, exc.expected, found_text=exc.found_text)

    def error_target(self, sec: Section, downstream: DownstreamMap | None):
        """The loss target of ``[target] error`` under the scenario's ``[downstream]``."""
        from .schema import Target
        error = sec.get("error", fraction)
        if downstream is None:
            self.fail("downstream", "a [downstream] mapping (epsilon, k, gamma, or file = \"downstream.toml\" from "
                      "lifeopt fit) when [target] gives an error", found_text="found none")
        try:
            loss = float(downstream.loss_for_error(error))
        except ValueError as exc:
            self.fail("target.error", f"an error the mapping reaches ({exc})", error)
        return Target(loss=loss, error=error)

    def mixture(self, sec: Section | None, law_sec: Section, law):
        """(Mixture, the joint law or None, the scenario's law, the choice of experts it
        adds). With a joint dense/MoE law (``[law] preset = "ludziejewski2025"``) the law is
        its member of the first allowed E; ``[moe] experts`` may list several E to choose
        among (the dense model is compared in any case)."""
        name = law_sec.table.get("preset")
        joint = joint_preset(name) if name in JOINT_PRESETS else (self.joint_table(law_sec) if law_sec.has("form")
                                                                  else None)
        if sec is None:
            return Mixture(), joint, law, ()
        if law_sec.has("form") and not law_sec.has("fitted_max_experts"):
            self.assumptions.append(f"law.fitted_max_experts not given: {joint.fitted_experts[1]} (the range of "
                                    "Ludziejewski et al. 2025): more experts are flagged as extrapolation")
        experts = self._experts(sec)
        k = sec.get("active_experts", integer, default=1)
        for E in experts:
            if E > 1 and k > E:
                self.fail("moe.active_experts", f"at most the experts of every allowed E (here {E})", k)
        share = sec.get("expert_share", fraction, default=None)
        if share is None or share >= 1:
            if share is not None:
                self.fail("moe.expert_share", "a share below 1 (the routed experts' part of the active parameters)",
                          share)
            share = DEFAULT_EXPERT_SHARE
            self.assumptions.append(f"moe.expert_share not given: {share:.3g} of the active parameters are the "
                                    "routed experts (each expert a full MLP: 8d² of a layer's 12d²)")
        if joint is None:
            if experts != (1,):
                self.fail("law.preset", 'a joint dense/MoE law (preset = "ludziejewski2025", or form = "joint_moe" '
                          "with its constants as lifeopt fit -o writes them) to price a mixture of experts", name,
                          found_text=None if name else "found constants of a dense law")
            return Mixture(1, 1, share), None, law, ()
        for i, E in enumerate(experts):
            self._member(joint, E, "moe.experts" if len(experts) == 1 else f"moe.experts[{i}]")
        E0 = experts[0]
        return (Mixture(int(E0), int(min(k, E0)), share), joint, joint.at(E0),
                (("moe.experts", tuple(int(E) for E in experts)),))

    def joint_table(self, sec: Section) -> JointMoELaw:
        """The joint law of a ``[law]`` table with ``form = "joint_moe"``: the eleven
        constants of Ludziejewski et al. 2025's eq. 4 (a, b, c positive; alpha, delta,
        gamma, beta, omega, zeta signed as their Table 3 prints them; 0 < E_start < E_max),
        the range of runs it was fitted on, and of experts (fitted_min/max_experts)."""
        sec.text("form", (JOINT_FORM,))
        others = [k for k in ("preset", "E", "A", "B", "Nc", "Dc", "alpha_N", "alpha_D", "samples") if sec.has(k)]
        if others:
            self.fail(sec.key(others[0]), f'no {others[0]} with form = "{JOINT_FORM}" (the joint law has its own '
                      "constants; bootstrap samples are of the Chinchilla form)", sec.table[others[0]])
        missing = [k for k in _JOINT_CONSTANTS if not sec.has(k)]
        if missing:
            self.fail(sec.key(missing[0]), f"a number (form = \"{JOINT_FORM}\" needs all of {', '.join(_JOINT_CONSTANTS)})",
                      found_text="found none")
        values = {k: sec.get(k, number, positive=k not in _JOINT_SIGNED) for k in _JOINT_CONSTANTS}
        if not values["E_max"] > values["E_start"]:
            self.fail(sec.key("E_max"), f"more than E_start ({values['E_start']:g}): 1/Ê = 1/(E − 1 + (1/E_start − "
                      "1/E_max)^−1) + 1/E_max", values["E_max"])
        low = int(sec.get("fitted_min_experts", integer, default=1))
        high = int(sec.get("fitted_max_experts", integer, default=32))
        if high < low:
            self.fail(sec.key("fitted_max_experts"), f"at least fitted_min_experts ({low})", high)
        law = JointMoELaw(**values, name=sec.text("name", default="explicit joint MoE law"),
                          source=sec.text("source", default=self.source or "explicit constants"),
                          fitted=self.fitted_range(sec), fitted_experts=(low, high))
        self._member(law, 1, sec.key("alpha"))
        return law

    def _member(self, law: JointMoELaw, experts: int, key: str):
        """The Chinchilla law of ``experts`` experts, or a failure at ``key`` when its loss
        does not fall with N and D there (exponents −(α + γ·ln Ê), −(β + ζ·ln Ê) in (0, 5])."""
        import math
        log_Eh = math.log(law.transformed_experts(experts))
        exps = (-(law.alpha + law.gamma * log_Eh), -(law.beta + law.zeta * log_Eh))
        try:
            if not all(0 < e <= 5 for e in exps):
                raise ValueError
            return law.at(experts)
        except (ValueError, OverflowError):
            self.fail(key, f"a joint law whose loss falls with N and D at E = {experts} (its exponents "
                      "-(alpha + gamma·ln Ê) and -(beta + zeta·ln Ê) in (0, 5] and its constants finite)",
                      found_text=f"found {exps[0]:.4g} and {exps[1]:.4g}")

    def _experts(self, sec: Section) -> tuple[int, ...]:
        value = sec.table.get("experts", 1)
        values = value if isinstance(value, list) else [value]
        if not values:
            self.fail("moe.experts", "a number of experts, or a non-empty list of them such as [1, 8, 32]", value)
        out = []
        for i, v in enumerate(values):
            key = "moe.experts" if not isinstance(value, list) else f"moe.experts[{i}]"
            try:
                E = integer(v)
            except ValueError:
                self.fail(key, "a whole number of experts", v)
            if E < 1:
                self.fail(key, "at least one expert (1 is dense)", v)
            out.append(int(E))
        if len(set(out)) != len(out):
            self.fail("moe.experts", "each number of experts once", value)
        return tuple(out)

    def quantisation(self, sec: Section | None, law) -> tuple[Quantisation | None, tuple]:
        """(Quantisation at the served precision, the choice it adds): ``bits`` or ``dtype``
        fix the precision; ``dtypes`` lets the plan choose (the first is the scenario's
        own). The constants: a preset, or all four of C_T, gamma_D, gamma_N, gamma_post."""
        if sec is None:
            return None, ()
        if not isinstance(law, ChinchillaLaw):
            self.fail("quantisation", "a Chinchilla-form [law] (the degradation of Kumar et al. 2024 adds to "
                      "L = E + A/N^alpha + B/D^beta; Kaplan's form is not supported)", found_text="found [law] "
                      f"{law.name}")
        given = [k for k in ("bits", "dtype", "dtypes") if sec.has(k)]
        if len(given) != 1:
            self.fail("quantisation.bits", 'one of bits = 4, dtype = "int4" or dtypes = ["bf16", "fp8", "int4"] '
                      "(the served precision, or the precisions to choose among)",
                      found_text=f"found {len(given)}: {', '.join(given) or 'none'}")
        choices: tuple = ()
        if sec.has("bits"):
            bits = sec.get("bits", number)
        elif sec.has("dtype"):
            bits = BITS_OF_DTYPE[sec.text("dtype", tuple(BITS_OF_DTYPE))]
        else:
            dtypes = self._dtypes(sec)
            bits, choices = BITS_OF_DTYPE[dtypes[0]], (("quantisation.dtypes", dtypes),)
        return self._constants(sec, bits), choices

    def _dtypes(self, sec: Section) -> tuple[str, ...]:
        value = sec.table["dtypes"]
        if not isinstance(value, list) or not value:
            self.fail("quantisation.dtypes", f"a non-empty list of dtypes from {', '.join(BITS_OF_DTYPE)}", value)
        for i, d in enumerate(value):
            if d not in BITS_OF_DTYPE:
                self.fail(f"quantisation.dtypes[{i}]", f"one of {', '.join(BITS_OF_DTYPE)}", d)
        if len(set(value)) != len(value):
            self.fail("quantisation.dtypes", "each dtype once", value)
        return tuple(value)

    def _constants(self, sec: Section, bits: float) -> Quantisation:
        own = [k for k in _CONSTANTS if sec.has(k)]
        if own and sec.has("preset"):
            self.fail(f"quantisation.{own[0]}", "either a preset or the four constants, not both",
                      sec.table[own[0]])
        if own:
            missing = [k for k in _CONSTANTS if k not in own]
            if missing:
                self.fail(f"quantisation.{missing[0]}", f"all four constants {', '.join(_CONSTANTS)} (or a preset)",
                          found_text="found none")
            return Quantisation(bits=bits, **{k: sec.get(k, number) for k in _CONSTANTS},
                                source="[quantisation] constants of the scenario")
        name = sec.text("preset", tuple(QUANTISATION_PRESETS), default=None)
        if name is None:
            name = "kumar2024"
            self.assumptions.append("quantisation.preset not given: kumar2024 (Kumar et al. 2024, Table 2, "
                                    "fitted on 30-220M parameters: the trend is the finding, fit your own)")
        return quantisation_preset(name, bits)
