"""From the dict of a scenario file to a :class:`~.schema.Scenario`, one section at a time:
``[law]`` (a preset, constants, a law file, bootstrap samples), ``[target]``,
``[inference]``, ``[data]``, ``[hardware.*]``, ``[objective]``, ``[budget]``,
``[limits]``, ``[finance]`` and ``[robust]``. Each default that shapes the answer is
recorded in ``Scenario.assumptions`` so that the report can print it."""
from __future__ import annotations

__all__ = ["SectionReader", "LAW_KEYS"]

import difflib
import math
from dataclasses import replace
from pathlib import Path

from ..errors import ScenarioError
from ..model import hardware as hw_catalogue
from ..model.constants import DAYS_PER_MONTH
from ..model.costs import Demand, InferenceHardware, TrainingHardware
from ..model.laws import MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR, ChinchillaLaw, FittedRange, KaplanLaw
from ..model.moe import JOINT_FORM
from ..model.presets import PRESETS, preset
from ..model.units import (parse_bandwidth, parse_bytes, parse_count, parse_flop_rate, parse_flops,
                           parse_money)
from .files import read_toml
from .finance_section import FINANCE_KEYS, FinanceReader
from .quality import DOWNSTREAM_SECTION_KEYS, JOINT_LAW_KEYS, MOE_KEYS, QUANTISATION_KEYS, QualityReader
from .fields import Section, fraction, in_days, integer, number
from .registry import keys_of
from .samples import read_samples
from .schema import (BYTES_PER_PARAM, OBJECTIVES, Budget, DataLimits, Limits, Robust, Scenario, Target,
                     fail)
from .serving import SERVING_KEYS, SERVING_MODELS, read_roofline, with_mixture


#: the keys each table allows: the registry's (scenario/registry.py), the one list of keys
LAW_KEYS = keys_of("law")
_TOP_KEYS = keys_of("")


class SectionReader(FinanceReader, QualityReader):
    """Turns the dict of a scenario file into a Scenario, failing on the first bad value."""

    def __init__(self, source: str | None):
        self.source = source
        self.assumptions: list[str] = []

    def fail(self, key, expected, found=None, found_text=None):
        fail(self.source, key, expected, found, found_text)

    def scenario(self, data: dict, default_name: str) -> Scenario:
        top = Section(self, "", data, _TOP_KEYS)
        name = top.text("name", default=default_name)
        top.text("description")
        if not top.has("law"):
            self.fail("law", 'a [law] section (preset = "hoffmann2022" or explicit constants)',
                      found_text="found none")
        law_sec, law_dir = self.law_file(top.sub("law", LAW_KEYS))
        law = self.law(law_sec)
        samples = self.samples(law_sec, law, law_dir)
        robust = self.robust(top.sub("robust", keys_of("robust")), samples)
        data_limits = self.data(top.sub("data", keys_of("data")), law)
        downstream = self.downstream(top.sub("downstream", DOWNSTREAM_SECTION_KEYS))
        target = self.target(top.sub("target", keys_of("target")), law, downstream)
        fin = top.sub("finance", FINANCE_KEYS)
        monthly = self.monthly_demand(fin)
        infer_sec = top.sub("inference", keys_of("inference"))
        demand = self.demand(infer_sec, fin, monthly)
        serving_sec = top.sub("serving", SERVING_KEYS)
        roofline = serving_sec is not None and serving_sec.text("model", SERVING_MODELS) == "roofline"
        hw = top.sub("hardware", keys_of("hardware"))
        training = self.training(hw.sub("training", keys_of("hardware.training"))) if hw else None
        inference = self.inference(hw.sub("inference", keys_of("hardware.inference")) if hw else None,
                                   roofline)
        finance = None
        if fin is not None:
            finance, training, inference = self.finance(fin, demand, monthly, training, inference)
        budget = self.budget(top.sub("budget", keys_of("budget")))
        limits = self.limits(top.sub("limits", keys_of("limits")), inference)
        objective = self.objective(top.sub("objective", keys_of("objective")), training, inference, demand)
        serving = read_roofline(self, serving_sec, inference, self._per_request(infer_sec), demand)
        weights_only = "limits.serving_memory" if limits.serving_memory is not None else (
            "limits.serving_gpus" if limits.serving_gpus is not None else None)
        if serving is not None and weights_only is not None:
            self.fail(weights_only, 'no weights-only serving limit with serving.model = "roofline" '
                      '(its memory limit holds weights and KV cache: serving.replica_gpus)',
                      found_text="found one")
        quantisation, dtype_choice = self.quantisation(top.sub("quantisation", QUANTISATION_KEYS), law)
        if serving is not None and quantisation is not None and not dtype_choice:
            serving = self._served_weights(serving_sec, serving, quantisation.bits)
        moe_sec = top.sub("moe", MOE_KEYS)
        moe, joint, law, expert_choice = self.mixture(moe_sec, law_sec, law)
        serving, moe = with_mixture(self, serving, moe, expert_choice, moe_sec)
        return Scenario(serving=serving, name=name, law=law, objective=objective, target=target, demand=demand,
                        quantisation=quantisation, moe=moe, joint_law=joint, choices=expert_choice + dtype_choice,
                        downstream=downstream,
                        data=data_limits, budget=budget, limits=limits, training=training,
                        inference=inference, finance=finance, law_samples=samples, robust=robust,
                        assumptions=tuple(self.assumptions),
                        source=self.source, raw=data)

    def _served_weights(self, sec: Section, serving, bits: float):
        """The roofline's bytes per weight at the quantised precision: the weights the
        degradation is charged for are the weights the decode step reads (one precision,
        docs/model.md §11); a ``serving.weight_dtype`` of other bytes contradicts it."""
        if sec.has("weight_dtype") and serving.weight_bytes != bits / 8.0:
            self.fail(sec.key("weight_dtype"), f"the served precision of [quantisation] ({bits:g} bits, "
                      f"{bits / 8.0:g} bytes a weight), or leave it out", sec.table["weight_dtype"])
        return replace(serving, weight_bytes=bits / 8.0)

    # ---- [law]
    def _folder(self) -> Path:
        return Path(self.source).parent if self.source else Path(".")

    def law_file(self, sec: Section) -> tuple[Section, Path]:
        """[law] file = "law.toml": that file's [law] table (relative to this file), with any
        other keys given here laid over it; and the folder its own paths are relative to."""
        if not sec.has("file"):
            return sec, self._folder()
        value = sec.table["file"]
        if not isinstance(value, str):
            self.fail("law.file", "the path of a TOML file with a [law] table", value)
        path = self._folder() / value
        data = read_toml(path)
        if not isinstance(data.get("law"), dict):
            self.fail("law.file", f"a file with a [law] table ({path})", found_text="found none there")
        merged = {**data["law"], **{k: v for k, v in sec.table.items() if k != "file"}}
        if "file" in data["law"]:
            self.fail("law.file", "a [law] table without a further file key", value)
        return Section(self, "law", merged, LAW_KEYS), path.parent

    def samples(self, sec: Section, law, folder: Path) -> tuple:
        if not sec.has("samples"):
            return ()
        if not isinstance(law, ChinchillaLaw):
            self.fail("law.samples", "bootstrap laws of the Chinchilla form", law.name)
        value = sec.table["samples"]
        if not isinstance(value, str):
            self.fail("law.samples", "the path of a CSV of bootstrap laws", value)
        rows = read_samples(folder / value)
        return tuple(ChinchillaLaw(E=E, A=A, B=B, alpha=al, beta=be, name=f"{law.name} [bootstrap {i}]",
                                   source=law.source, fitted=law.fitted)
                     for i, (E, A, B, al, be) in enumerate(rows))

    def robust(self, sec: Section | None, samples: tuple):
        if sec is None:
            return Robust() if samples else None
        probability = sec.get("probability", fraction)
        count = sec.get("distribution_samples", integer, default=200.0)
        return Robust(probability, int(count))

    def law(self, sec: Section):
        joint_keys = [k for k in JOINT_LAW_KEYS if sec.has(k)]
        if sec.has("form"):                      # a joint dense/MoE law: its dense member (as the preset)
            return self.joint_table(sec).at(1)
        if joint_keys:
            self.fail(sec.key(joint_keys[0]), f'form = "{JOINT_FORM}" with it (a constant of the joint MoE law)',
                      sec.table[joint_keys[0]])
        consts = [k for k in ("E", "A", "B", "alpha", "beta") if sec.has(k)]
        kaplan = [k for k in ("Nc", "Dc", "alpha_N", "alpha_D") if sec.has(k)]
        if sec.has("preset"):
            if consts or kaplan:
                self.fail(sec.key((consts + kaplan)[0]), "either preset or explicit constants, not both",
                          sec.table[(consts + kaplan)[0]])
            described = [k for k in ("name", "source", "method", "fitted_min_params", "fitted_max_params",
                                     "fitted_max_tokens", "fitted_max_flops") if sec.has(k)]
            if described:
                # a preset carries its own name, source and fitted range: these would do nothing
                self.fail(sec.key(described[0]), "no name, source, method or fitted range with a preset (it "
                          "carries its own; they describe explicit constants)", sec.table[described[0]])
            name = sec.text("preset")
            try:
                return preset(name)
            except ScenarioError:
                close = difflib.get_close_matches(name, PRESETS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail("law.preset", f"one of {', '.join(PRESETS)}", found_text=f"found {name!r}{hint}")
        fitted = self.fitted_range(sec)
        source = sec.text("source", default=self.source or "explicit constants")
        sec.text("method")
        if kaplan:
            missing = [k for k in ("Nc", "Dc", "alpha_N", "alpha_D") if not sec.has(k)]
            if missing or consts:
                self.fail(sec.key(missing[0] if missing else consts[0]),
                          "the four Kaplan constants Nc, Dc, alpha_N, alpha_D and nothing else",
                          found_text="found an incomplete or mixed set")
            return KaplanLaw(Nc=sec.get("Nc", parse_count), Dc=sec.get("Dc", parse_count),
                             alpha_N=sec.get("alpha_N", number), alpha_D=sec.get("alpha_D", number),
                             name=sec.text("name", default="explicit Kaplan law"), source=source,
                             fitted=fitted)
        missing = [k for k in ("E", "A", "B", "alpha", "beta") if not sec.has(k)]
        if missing:
            self.fail(sec.key(missing[0]),
                      'a number (explicit laws need E, A, B, alpha and beta; or give preset = "...")',
                      found_text="found none")
        return ChinchillaLaw(E=sec.get("E", number), A=sec.get("A", number), B=sec.get("B", number),
                             alpha=sec.get("alpha", number, upper=5.0),
                             beta=sec.get("beta", number, upper=5.0),
                             name=sec.text("name", default="explicit law"), source=source,
                             fitted=fitted)

    def fitted_range(self, sec: Section) -> FittedRange | None:
        """The range of runs a [law] table says it was fitted on, or None."""
        if not any(sec.has(k) for k in ("fitted_min_params", "fitted_max_params", "fitted_max_tokens",
                                        "fitted_max_flops")):
            return None
        return FittedRange(min_params=sec.get("fitted_min_params", parse_count),
                           max_params=sec.get("fitted_max_params", parse_count),
                           max_tokens=sec.get("fitted_max_tokens", parse_count),
                           max_flops=sec.get("fitted_max_flops", parse_flops),
                           note=f"fit ({sec.text('method', default='user')})")

    # ---- [data]
    def data(self, sec: Section | None, law) -> DataLimits:
        if sec is None:
            return DataLimits()
        unique = sec.get("unique_tokens", parse_count)
        epochs = sec.get("max_epochs", number)
        default_penalty = unique is not None and isinstance(law, ChinchillaLaw)
        penalty = sec.flag("repetition_penalty", default=None)
        if penalty is None:
            penalty = default_penalty
            if penalty:
                self.assumptions.append("data.repetition_penalty not given: the repetition penalty of "
                                        "Muennighoff et al. 2023 is applied")
        return DataLimits(unique, epochs, penalty,
                          sec.get("R_D_star", number, default=MUENNIGHOFF_R_D_STAR),
                          sec.get("R_N_star", number, default=MUENNIGHOFF_R_N_STAR))

    # ---- [target]
    def target(self, sec: Section | None, law, downstream) -> Target | None:
        if sec is None:
            return None
        given = [k for k in ("loss", "reference", "error") if sec.has(k)]
        if len(given) != 1:
            self.fail("target", "exactly one of loss, reference or error",
                      found_text=f"found {' and '.join(given)}" if given else "found none")
        if sec.has("loss"):
            return Target(loss=sec.get("loss", number))
        if sec.has("error"):
            return self.error_target(sec, downstream)
        ref = sec.sub("reference", keys_of("target.reference"))
        if not (ref.has("params") and ref.has("tokens")):
            self.fail("target.reference", 'a table { params = "70B", tokens = "1.4T" }', ref.table)
        N = ref.get("params", lambda v: parse_count(v, "parameter count"))
        D = ref.get("tokens", lambda v: parse_count(v, "token count"))
        # "as good as N trained on D fresh tokens under this law" — the base law, no repetition
        return Target(loss=float(law.loss(N, D)), reference_params=N, reference_tokens=D)

    # ---- [inference]
    def demand(self, sec: Section | None, fin: Section | None,
               monthly: list[float] | None) -> Demand:
        if monthly is not None:
            # the demand comes month by month from [finance]; [inference] may only split it
            if sec is not None:
                for k in ("tokens", "requests", "input_tokens", "output_tokens", "deployment_days"):
                    if sec.has(k):
                        self.fail(sec.key(k), "no total demand in [inference] when finance.monthly_tokens "
                                  "gives it month by month", sec.table[k])
            total = float(sum(monthly))
            frac = self._output_fraction(sec, total)
            return Demand(input_tokens=total * (1 - frac), output_tokens=total * frac,
                          deployment_days=len(monthly) * DAYS_PER_MONTH)
        if sec is None:
            self.assumptions.append("no [inference] section: no serving demand (training only)")
            return Demand()
        if fin is not None and sec.has("deployment_days"):
            self.fail("inference.deployment_days", "finance.deployment_months instead when a [finance] "
                      "section is given", sec.table["deployment_days"])
        days = sec.get("deployment_days", in_days)
        if sec.has("tokens"):
            for k in ("requests", "input_tokens", "output_tokens"):
                if sec.has(k):
                    self.fail(sec.key(k), "either tokens or requests × (input_tokens + output_tokens), "
                              "not both", sec.table[k])
            tokens = sec.get("tokens", lambda v: parse_count(v, "token count"), positive=False)
            if tokens < 0:
                self.fail("inference.tokens", "zero or more tokens", sec.table["tokens"])
            frac = self._output_fraction(sec, tokens)
            return Demand(input_tokens=tokens * (1 - frac), output_tokens=tokens * frac,
                          deployment_days=days)
        if sec.has("output_fraction"):
            self.fail("inference.output_fraction", "only with inference.tokens", sec.table["output_fraction"])
        if not sec.has("requests"):
            self.fail("inference", "tokens, or requests with input_tokens and output_tokens",
                      found_text="found neither")
        requests = sec.get("requests", lambda v: parse_count(v, "request count"))
        inp = sec.get("input_tokens", lambda v: parse_count(v, "token count"), positive=False, default=0.0)
        out = sec.get("output_tokens", lambda v: parse_count(v, "token count"), positive=False, default=0.0)
        if inp < 0 or out < 0 or inp + out <= 0:
            self.fail("inference.output_tokens", "input_tokens and output_tokens per request, "
                      "non-negative and not both zero", found_text=f"found {inp:g} and {out:g}")
        return Demand(input_tokens=requests * inp, output_tokens=requests * out, deployment_days=days)

    def _per_request(self, sec: Section | None) -> tuple[float, float] | None:
        """(prompt, generated) tokens per request when [inference] gives requests, else None."""
        if sec is None or not sec.has("requests"):
            return None
        count = lambda v: parse_count(v, "token count")      # noqa: E731
        return (sec.get("input_tokens", count, positive=False, default=0.0),
                sec.get("output_tokens", count, positive=False, default=0.0))

    def _output_fraction(self, sec: Section | None, tokens: float) -> float:
        frac = sec.get("output_fraction", fraction, default=None) if sec is not None else None
        if frac is None:
            frac = 0.2
            if tokens > 0:
                self.assumptions.append("inference.output_fraction not given: 20% of served tokens "
                                        "are generated (decode), 80% are prompt (prefill)")
        return frac

    # ---- [hardware.*]
    def _gpu(self, sec: Section, default_dtype: str):
        dtype = sec.text("dtype", default=default_dtype)
        if sec.has("gpu") and sec.has("peak_flops"):
            self.fail(sec.key("peak_flops"), "either gpu or peak_flops, not both", sec.table["peak_flops"])
        if sec.has("gpu"):
            name = sec.text("gpu")
            try:
                card = hw_catalogue.gpu(name)
            except KeyError:
                self.fail(sec.key("gpu"), f"one of {', '.join(hw_catalogue.CATALOGUE)}", name)
            try:
                return card.name, dtype, card.peak(dtype), card.memory_bytes
            except KeyError:
                self.fail(sec.key("dtype"), f"one of {', '.join(card.peak_flops)} for {card.name}", dtype)
        if not sec.has("peak_flops"):
            self.fail(sec.key("gpu"), f"a GPU ({', '.join(hw_catalogue.CATALOGUE)}) or peak_flops",
                      found_text="found neither")
        return "custom", dtype, sec.get("peak_flops", parse_flop_rate), None

    def training(self, sec: Section | None) -> TrainingHardware | None:
        if sec is None:
            return None
        name, dtype, peak, _ = self._gpu(sec, "bf16")
        if not sec.has("mfu"):
            self.fail(sec.key("mfu"), "the model FLOPs utilisation of training, e.g. 0.4",
                      found_text="found none")
        gpus = sec.get("gpus", integer)
        return TrainingHardware(name, dtype, peak, sec.get("mfu", fraction),
                                sec.get("price_per_gpu_hour", parse_money),
                                int(gpus) if gpus is not None else None)

    def inference(self, sec: Section | None, roofline: bool = False) -> InferenceHardware | None:
        if sec is None:
            return None
        name, dtype, peak, memory = self._gpu(sec, "bf16")
        bandwidth = hw_catalogue.gpu(name).bandwidth if name != "custom" else None
        if sec.has("bandwidth"):
            bandwidth = sec.get("bandwidth", parse_bandwidth)
        if sec.has("memory"):
            memory = sec.get("memory", parse_bytes)
        if roofline:
            # the roofline model derives utilisation from the hardware: an MFU would do nothing
            for k in ("mfu", "prefill_mfu", "decode_mfu"):
                if sec.has(k):
                    self.fail(sec.key(k), 'no assumed utilisation with serving.model = "roofline" (set '
                              'serving.compute_efficiency and bandwidth_efficiency instead)', sec.table[k])
            card = hw_catalogue.gpu(name) if name != "custom" else None
            link = sec.get("link_bandwidth", parse_bandwidth, default=card.link_bandwidth if card else None)
            latency = sec.get("link_latency_us", number, positive=False, default=None)
            if latency is not None and latency < 0:
                self.fail(sec.key("link_latency_us"), "zero or more microseconds", sec.table["link_latency_us"])
            latency = latency * 1e-6 if latency is not None else (card.link_latency if card else None)
            return InferenceHardware(name, dtype, peak, math.nan, math.nan,
                                     sec.get("price_per_gpu_hour", parse_money), memory, bandwidth, link, latency)
        for k in ("bandwidth", "link_bandwidth", "link_latency_us"):
            if sec.has(k):
                self.fail(sec.key(k), 'only with serving.model = "roofline" (the MFU model does not use it)',
                          sec.table[k])
        if sec.has("mfu"):
            for k in ("prefill_mfu", "decode_mfu"):
                if sec.has(k):
                    self.fail(sec.key(k), "either mfu (blended) or prefill_mfu and decode_mfu, not both",
                              sec.table[k])
            prefill = decode = sec.get("mfu", fraction)
        else:
            for k in ("prefill_mfu", "decode_mfu"):
                if not sec.has(k):
                    self.fail(sec.key(k), "a utilisation in (0, 1] (or a blended mfu)", found_text="found none")
            prefill, decode = sec.get("prefill_mfu", fraction), sec.get("decode_mfu", fraction)
        return InferenceHardware(name, dtype, peak, prefill, decode,
                                 sec.get("price_per_gpu_hour", parse_money), memory)

    # ---- [objective], [budget], [limits]
    def objective(self, sec, training, inference, demand) -> str:
        if sec is not None and sec.has("minimize"):
            return sec.text("minimize", OBJECTIVES)
        priced = training is not None and training.price_per_gpu_hour is not None and (
            demand.tokens == 0 or (inference is not None and inference.price_per_gpu_hour is not None))
        choice = "cost" if priced else "flops"
        self.assumptions.append(f"objective.minimize not given: minimising lifecycle {choice}")
        return choice

    def budget(self, sec) -> Budget:
        if sec is None:
            return Budget()
        return Budget(sec.get("training_flops", parse_flops), sec.get("training_cost", parse_money),
                      sec.get("total_cost", parse_money))

    def limits(self, sec, inference) -> Limits:
        if sec is None:
            return Limits()
        if sec.has("serving_memory") and sec.has("serving_gpus"):
            self.fail("limits.serving_gpus", "either serving_memory or serving_gpus, not both",
                      sec.table["serving_gpus"])
        memory = sec.get("serving_memory", parse_bytes)
        gpus = sec.get("serving_gpus", integer)
        gpu_memory = per = None
        if gpus is not None:
            if inference is None or inference.memory_bytes is None:
                self.fail("hardware.inference.memory", "the memory of the serving GPU (a catalogue gpu "
                          "or memory = \"80GB\") when limits.serving_gpus is set", found_text="found none")
            gpu_memory = inference.memory_bytes
        if memory is not None or gpus is not None:
            dtype = inference.dtype if inference is not None else "bf16"
            per = sec.get("bytes_per_param", number, default=None)
            if per is None:
                per = BYTES_PER_PARAM.get(dtype, 2.0)
                self.assumptions.append(f"serving memory holds the weights only, {per:g} bytes per "
                                        f"parameter ({dtype}); KV cache and activations not included")
        elif sec.has("bytes_per_param"):
            self.fail("limits.bytes_per_param", "only with serving_memory or serving_gpus",
                      sec.table["bytes_per_param"])
        return Limits(max_params=sec.get("max_params", lambda v: parse_count(v, "parameter count")),
                      max_training_days=sec.get("max_training_days", in_days),
                      max_training_cost=sec.get("max_training_cost", parse_money),
                      max_total_cost=sec.get("max_total_cost", parse_money),
                      min_tokens_per_param=sec.get("min_tokens_per_param", number),
                      max_tokens_per_param=sec.get("max_tokens_per_param", number),
                      serving_memory=memory, serving_gpus=None if gpus is None else int(gpus),
                      bytes_per_param=per, gpu_memory=gpu_memory)
