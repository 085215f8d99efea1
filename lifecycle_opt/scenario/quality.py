"""Reading what quality the served model must have beyond a loss: ``[quantisation]`` (the
served weights quantised after training, Kumar et al. 2024; docs/model.md §10). A part
of :class:`~.sections.SectionReader`."""
from __future__ import annotations

__all__ = ["QUANTISATION_KEYS", "QualityReader"]

from ..model.laws import ChinchillaLaw
from ..model.quantisation import BITS_OF_DTYPE, QUANTISATION_PRESETS, Quantisation, quantisation_preset
from .fields import Section, number

QUANTISATION_KEYS = ("bits", "dtype", "dtypes", "preset", "C_T", "gamma_D", "gamma_N", "gamma_post")
_CONSTANTS = ("C_T", "gamma_D", "gamma_N", "gamma_post")


class QualityReader:
    """The ``[quantisation]`` method of the section reader (which gives ``fail`` and
    ``assumptions``)."""

    def quantisation(self, sec: Section | None, law) -> tuple[Quantisation | None, tuple[str, ...]]:
        """(Quantisation at the served precision, the precisions to choose among): ``bits``
        or ``dtype`` fix the precision; ``dtypes`` lets the plan choose (the first is the
        scenario's own). The constants: a preset, or all four of C_T, gamma_D, gamma_N,
        gamma_post."""
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
        choices: tuple[str, ...] = ()
        if sec.has("bits"):
            bits = sec.get("bits", number)
        elif sec.has("dtype"):
            bits = BITS_OF_DTYPE[sec.text("dtype", tuple(BITS_OF_DTYPE))]
        else:
            choices = self._dtypes(sec)
            bits = BITS_OF_DTYPE[choices[0]]
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
