"""Reading the ``[serving]`` section: which serving model prices a served token — "mfu"
(2·N FLOP at an assumed utilisation, the default) or "roofline" (decode and prefill from
the GPU's compute, bandwidth, memory and links, docs/model.md §8) — and the roofline
model's workload, latency targets, model shape (``[serving.architecture]``: a published
preset or an exact shape; ``[serving.shape_family]`` for a plan whose N is free), dtypes
and the engine's efficiencies (the fitted defaults, a ``calibration`` file written by
``lifeopt calibrate``, or keys given here, in that order of precedence, last wins)."""
from __future__ import annotations

__all__ = ["SERVING_KEYS", "SERVING_MODELS", "EFFICIENCY_KEYS", "read_roofline", "efficiencies_from",
           "read_calibration", "with_mixture"]

from dataclasses import replace
from pathlib import Path

from ..model.architecture import DEFAULT_FAMILY, PRESET_NAMES, Architecture, ShapeFamily, preset
from ..model.costs import Demand, InferenceHardware
from ..model.serving import Roofline
from ..model.serving_point import DEFAULT_EFFICIENCIES, Efficiencies
from ..model.units import parse_count
from .fields import Section, fraction, integer, number
from .files import read_toml
from .registry import entry, keys_of
from .schema import BYTES_PER_PARAM, fail

#: the [serving] keys that set the engine's efficiencies: key → (field of Efficiencies,
#: parser, scale from the key's unit to the field's)
EFFICIENCY_KEYS = {"compute_efficiency": ("compute", fraction, 1.0),
                   "bandwidth_efficiency": ("bandwidth", fraction, 1.0),
                   "link_efficiency": ("link", fraction, 1.0),
                   "collective_overhead_us": ("collective_overhead", number, 1e-6),
                   "kv_reread": ("kv_reread", number, 1.0),
                   "prefill_overhead_us": ("prefill_overhead", number, 1e-6)}
#: the keys of [serving] and its tables: the registry's (scenario/registry.py), where a new
#: key is added
SERVING_KEYS = keys_of("serving")
SERVING_MODELS = entry("serving.model").choices
ARCHITECTURE_KEYS = keys_of("serving.architecture")
FAMILY_KEYS = keys_of("serving.shape_family")
#: the share of HBM left for weights and cache once activations and the runtime take theirs
#: (vLLM's gpu_memory_utilization and TensorRT-LLM's kv_cache_free_gpu_mem_fraction default to 0.9)
DEFAULT_MEMORY_UTILISATION = 0.9
#: tokens per block of the paged KV cache (vLLM's default block_size, Kwon et al. 2023)
DEFAULT_KV_BLOCK = 16.0


def _tokens(value) -> float:
    return parse_count(value, "token count")


def read_roofline(reader, sec: Section | None, inference: InferenceHardware | None,
                  per_request: tuple[float, float] | None, demand: Demand) -> Roofline | None:
    """The roofline model of ``[serving]``, or None for the MFU model.

    ``per_request`` is (prompt, generated) tokens per request when ``[inference]`` gives
    requests; the context lengths default from it. ``demand`` sets the prompt tokens
    prefilled per generated token."""
    model = sec.text("model", SERVING_MODELS, default="mfu") if sec is not None else "mfu"
    if model == "mfu":
        if sec is not None:
            _known_keys(sec)
        extra = [k for k in sec.table if k != "model"] if sec is not None else []
        if extra:
            reader.fail(sec.key(extra[0]), 'only with serving.model = "roofline"', sec.table[extra[0]])
        return None
    weight_bytes, kv_bytes = _hardware(reader, sec, inference)
    S, S_max, P = _contexts(reader, sec, per_request)
    replicas = _replica_sizes(reader, sec)
    max_batch = sec.get("max_batch", number)
    if max_batch is not None and max_batch < 1:
        reader.fail("serving.max_batch", "at least one sequence per replica", sec.table["max_batch"])
    if any(g > 1 for g in replicas) and not inference.link_bandwidth:
        reader.fail("hardware.inference.link_bandwidth", 'the GPU-to-GPU link bandwidth, one direction (a '
                    'catalogue gpu or link_bandwidth = "450GB/s"), for replicas of more than one GPU (or '
                    'serving.replica_gpus = [1])', found_text="found none")
    latency = inference.link_latency
    if latency is None:
        latency = 8e-6
        if any(g > 1 for g in replicas):
            reader.assumptions.append("hardware.inference.link_latency_us not given: 8 µs per message")
    tpot, ttft = sec.get("tpot_ms", number), sec.get("ttft_ms", number)
    if ttft is not None and not P > 0:
        reader.fail("serving.prompt_tokens", "a positive prompt length when serving.ttft_ms is set", P)
    u = sec.get("memory_utilisation", fraction)
    if u is None:
        u = DEFAULT_MEMORY_UTILISATION
        reader.assumptions.append(f"serving.memory_utilisation not given: {u:g}")
    rho = demand.input_tokens / demand.output_tokens if demand.output_tokens > 0 else 0.0
    architecture, family = _shape(reader, sec)
    return Roofline(peak_flops=inference.peak_flops, bandwidth=inference.bandwidth,
                    memory_bytes=inference.memory_bytes, weight_bytes=weight_bytes, kv_bytes=kv_bytes,
                    context_tokens=S, max_context_tokens=S_max, prompt_tokens=P, prefill_per_output=rho,
                    link_bandwidth=inference.link_bandwidth or 0.0, link_latency=latency,
                    architecture=architecture, family=family,
                    kv_block_tokens=sec.get("kv_block_tokens", integer, default=DEFAULT_KV_BLOCK),
                    tpot_seconds=None if tpot is None else tpot / 1e3,
                    ttft_seconds=None if ttft is None else ttft / 1e3, replica_gpus=replicas,
                    max_batch=max_batch, memory_utilisation=u, expert_parallel=sec.flag("expert_parallel", False),
                    **_efficiencies(reader, sec))


def with_mixture(reader, serving: Roofline | None, moe, choices: tuple, moe_sec: Section | None):
    """(the roofline serving the scenario's mixture of experts, the scenario's Mixture): the
    shape family's counterpart of ``[moe]`` (docs/model.md §10), or an exact mixture's own
    E, k and exact expert share, which ``[moe]`` must then match (the law's N is the
    architecture's active parameters)."""
    if serving is None:
        return None, moe
    a, many = serving.architecture, dict(choices).get("moe.experts", (moe.experts,))
    if a is not None and a.is_moe:
        if len(many) > 1 or (moe.experts, moe.active_experts) != (a.experts, a.active_experts):
            reader.fail("moe.experts", f"experts = {a.experts} and active_experts = {a.active_experts}, those of "
                        f"the architecture {a.name} (the joint law prices its active parameters)",
                        list(many) if len(many) > 1 else moe.experts)
        if moe_sec is not None and moe_sec.has("expert_share"):
            reader.fail("moe.expert_share", f"none with the exact architecture {a.name} (its share is exact, "
                        f"{a.mixture.expert_share:.4g})", moe_sec.table["expert_share"])
        moe = a.mixture
        reader.assumptions[:] = [x for x in reader.assumptions if not x.startswith("moe.expert_share not given")]
        reader.assumptions.append(f"moe.expert_share: {moe.expert_share:.4g}, exact from the architecture {a.name}")
    elif a is not None and max(many) > 1:
        reader.fail("serving.architecture", "a mixture of experts (experts, active_experts) for [moe] experts "
                    "above 1, or the shape family (no architecture)", found_text=f"found the dense {a.name}")
    if serving.expert_parallel and max(many) == 1 and moe.is_dense:
        reader.fail("serving.expert_parallel", "only for a mixture of experts ([moe] experts above 1)", True)
    return replace(serving, mixture=moe), moe


def _known_keys(sec: Section) -> None:
    """UnknownKeyError for a key [serving]'s tables do not have, whatever the model (a typo
    is named as such before anything else)."""
    for name, keys in (("architecture", ARCHITECTURE_KEYS), ("shape_family", FAMILY_KEYS)):
        if isinstance(sec.table.get(name), dict):
            sec.sub(name, keys)


def _hardware(reader, sec: Section, inference: InferenceHardware | None) -> tuple[float, float]:
    """Bytes per weight and per cached value, after checking that the serving GPU is
    described well enough for the roofline model."""
    if inference is None:
        reader.fail("hardware.inference", 'a [hardware.inference] section (gpu, dtype, price) for '
                    'serving.model = "roofline"', found_text="found none")
    if inference.memory_bytes is None:
        reader.fail("hardware.inference.memory", 'the HBM of the serving GPU (a catalogue gpu or memory '
                    '= "80GB") for serving.model = "roofline"', found_text="found none")
    if inference.bandwidth is None:
        reader.fail("hardware.inference.bandwidth", 'the HBM bandwidth of the serving GPU (a catalogue '
                    'gpu or bandwidth = "3.35TB/s") for serving.model = "roofline"', found_text="found none")
    weights = sec.text("weight_dtype", tuple(BYTES_PER_PARAM))
    if weights is None:
        if inference.dtype not in BYTES_PER_PARAM:
            reader.fail("hardware.inference.dtype", f"one of {', '.join(BYTES_PER_PARAM)} (or serving."
                        "weight_dtype for the bytes of a served weight)", inference.dtype)
        weights = inference.dtype
    kv = sec.text("kv_dtype", tuple(BYTES_PER_PARAM))
    if kv is None:
        kv = "bf16"
        reader.assumptions.append("serving.kv_dtype not given: a 16-bit (bf16) KV cache")
    return BYTES_PER_PARAM[weights], BYTES_PER_PARAM[kv]


def _contexts(reader, sec: Section, per_request) -> tuple[float, float, float]:
    """(S, S_max, P): mean context during decode, the longest context of one sequence, and
    the prompt length [tokens]; defaults from the tokens per request."""
    S = sec.get("context_tokens", _tokens)
    if S is None:
        if per_request is None:
            reader.fail("serving.context_tokens", "the mean context per sequence during decode (or "
                        "inference.requests with input_tokens and output_tokens to derive it)",
                        found_text="found none")
        S = per_request[0] + per_request[1] / 2
        reader.assumptions.append(f"serving.context_tokens not given: {S:g}, the prompt plus half "
                                  "the generated tokens of a request")
    S_max = sec.get("max_context_tokens", _tokens)
    if S_max is None:
        S_max = max(S, sum(per_request)) if per_request is not None else S
        reader.assumptions.append(f"serving.max_context_tokens not given: one sequence may reach "
                                  f"{S_max:g} tokens")
    elif S_max < S:
        reader.fail("serving.max_context_tokens", f"at least serving.context_tokens = {S:g}",
                    sec.table["max_context_tokens"])
    P = sec.get("prompt_tokens", _tokens, positive=False)
    if P is None:
        P = per_request[0] if per_request is not None else S
        if per_request is None:
            reader.assumptions.append(f"serving.prompt_tokens not given: prompts of {P:g} tokens "
                                      "(serving.context_tokens)")
    elif P < 0:
        reader.fail("serving.prompt_tokens", "zero or more tokens", sec.table["prompt_tokens"])
    return S, S_max, P


def _replica_sizes(reader, sec: Section) -> tuple[int, ...]:
    value = sec.table.get("replica_gpus", [1, 2, 4, 8])
    if not isinstance(value, list) or not value:
        reader.fail("serving.replica_gpus", "a non-empty list of GPU counts such as [1, 2, 4, 8]", value)
    sizes = []
    for i, v in enumerate(value):
        try:
            g = integer(v)
        except ValueError:
            reader.fail(f"serving.replica_gpus[{i}]", "a whole number of GPUs", v)
        if g < 1:
            reader.fail(f"serving.replica_gpus[{i}]", "at least one GPU", v)
        sizes.append(int(g))
    if "replica_gpus" not in sec.table:
        reader.assumptions.append("serving.replica_gpus not given: replicas of 1, 2, 4 or 8 GPUs")
    return tuple(sorted(set(sizes)))


def _shape(reader, sec: Section) -> tuple[Architecture | None, ShapeFamily]:
    """The exact architecture of ``[serving.architecture]`` (a preset name, or a table with a
    preset or the shape's keys), or None; and the shape family (``[serving.shape_family]``)."""
    fam = sec.sub("shape_family", FAMILY_KEYS)
    family = DEFAULT_FAMILY
    if fam is not None:
        given = {k: fam.get(k, number) for k in ("aspect_ratio", "head_dim", "kv_heads", "ffn_ratio", "vocab")}
        flags = {k: fam.flag(k) for k in ("gated_mlp", "tied_embeddings")}
        family = replace(family, **{k: v for k, v in {**given, **flags}.items() if v is not None})
    if "architecture" not in sec.table:
        return None, family
    value = sec.table["architecture"]
    if isinstance(value, str):
        return _preset(reader, "serving.architecture", value), family
    arch = sec.sub("architecture", ARCHITECTURE_KEYS)
    if arch.has("preset"):
        others = [k for k in arch.table if k != "preset"]
        if others:
            reader.fail(arch.key(others[0]), "either preset or the shape's keys, not both", arch.table[others[0]])
        return _preset(reader, arch.key("preset"), arch.text("preset")), family
    fields, moe = {}, _mixture_keys(reader, arch)
    for k in ("layers", "d_model", "heads", "kv_heads", "d_ff", "vocab"):
        if k == "d_ff" and moe["experts"] > 1 and arch.has("expert_d_ff"):
            fields[k] = moe.pop("expert_d_ff")
            continue
        if not arch.has(k):
            reader.fail(arch.key(k), "a whole number (an exact architecture needs layers, d_model, heads, kv_heads, "
                        'd_ff and vocab; or give preset = "llama-3-70b")', found_text="found none")
        fields[k] = arch.get(k, integer)
    if fields["kv_heads"] > fields["heads"] or fields["heads"] % fields["kv_heads"]:
        reader.fail(arch.key("kv_heads"), f"a divisor of heads = {fields['heads']:g}", arch.table["kv_heads"])
    flags = {k: arch.flag(k, default) for k, default in (("gated_mlp", True), ("tied_embeddings", False),
                                                          ("qkv_bias", False))}
    moe.pop("expert_d_ff", None)
    return Architecture(**fields, **flags, **moe, name="custom",
                        source=f"[serving.architecture] of {reader.source}"), family


def _mixture_keys(reader, arch: Section) -> dict:
    """experts, active_experts, shared_experts (and expert_d_ff) of an exact architecture."""
    out = {k: int(arch.get(k, integer, default=d, positive=k != "shared_experts"))
           for k, d in (("experts", 1), ("active_experts", 1), ("shared_experts", 0))}
    if out["experts"] == 1:
        extra = [k for k in ("active_experts", "expert_d_ff", "shared_experts") if arch.has(k)]
        if extra and not (extra == ["active_experts"] and out["active_experts"] == 1):
            reader.fail(arch.key(extra[0]), "only for a mixture of experts (experts above 1)", arch.table[extra[0]])
    elif out["active_experts"] > out["experts"]:
        reader.fail(arch.key("active_experts"), f"at most experts = {out['experts']}", out["active_experts"])
    elif arch.has("expert_d_ff") and arch.has("d_ff"):
        reader.fail(arch.key("expert_d_ff"), "either d_ff or expert_d_ff, the width of each expert (a mixture's "
                    "every MLP is its experts)", arch.table["expert_d_ff"])
    if arch.has("expert_d_ff"):
        out["expert_d_ff"] = arch.get("expert_d_ff", integer)
    if out["shared_experts"] < 0:
        reader.fail(arch.key("shared_experts"), "zero or more experts", out["shared_experts"])
    return out


def _preset(reader, key: str, name) -> Architecture:
    if not isinstance(name, str):
        reader.fail(key, "the name of an architecture preset (lifeopt architectures)", name)
    try:
        return preset(name)
    except KeyError:
        reader.fail(key, f"one of {', '.join(PRESET_NAMES)}", name)


class _FileReader:
    """What a Section needs of a reader, for a file read on its own."""

    def __init__(self, source: str):
        self.source, self.assumptions = source, []

    def fail(self, key, expected, found=None, found_text=None):
        fail(self.source, key, expected, found, found_text)


def _calibration_section(reader, path: Path) -> Section:
    """The [calibration] table of a file written by ``lifeopt calibrate``."""
    data = read_toml(path)
    table = data.get("calibration")
    if not isinstance(table, dict):
        reader.fail("calibration", f"a file with a [calibration] table written by lifeopt calibrate ({path})",
                    found_text="found none")
    return Section(reader, "calibration", table, tuple(EFFICIENCY_KEYS) + ("uncertainty", "fit"))


def read_calibration(path: str) -> Efficiencies:
    """The efficiencies of a calibration file (the fitted defaults where it is silent)."""
    reader = _FileReader(str(path))
    return efficiencies_from(_calibration_section(reader, Path(path)), DEFAULT_EFFICIENCIES)


def _efficiencies(reader, sec: Section) -> dict:
    """{efficiencies, efficiency_source}: the fitted defaults, then a calibration file's
    values, then this section's keys."""
    eff, source = DEFAULT_EFFICIENCIES, "defaults fitted to published measurements"
    if sec.has("calibration"):
        value = sec.table["calibration"]
        if not isinstance(value, str):
            reader.fail("serving.calibration", "the path of a TOML file written by lifeopt calibrate", value)
        path = Path(reader.source).parent / value if reader.source else Path(value)
        if not path.is_file():
            reader.fail("serving.calibration", "a calibration file written by lifeopt calibrate", value,
                        found_text=f"found no file {path}")
        eff = efficiencies_from(_calibration_section(_FileReader(str(path)), path), eff)
        source = f"calibrated on your measurements ({value})"
    given = [k for k in EFFICIENCY_KEYS if sec.has(k)]
    if given:
        source += f"; set in [serving]: {', '.join(given)}"
    elif not sec.has("calibration"):
        reader.assumptions.append("serving efficiencies not given: the defaults fitted to published measurements "
                                  "(lifeopt calibrate fits your own)")
    return {"efficiencies": efficiencies_from(sec, eff), "efficiency_source": source}


def efficiencies_from(sec: Section, base: Efficiencies) -> Efficiencies:
    """``base`` with the efficiency keys ``sec`` gives (see :data:`EFFICIENCY_KEYS`)."""
    changes = {}
    for key, (field, parse, scale) in EFFICIENCY_KEYS.items():
        value = sec.get(key, parse, positive=parse is fraction)
        if value is None:
            continue
        if value < 0 or (field == "kv_reread" and value > 1):
            sec.reader.fail(sec.key(key), "a fraction in [0, 1]" if field == "kv_reread" else "zero or more",
                            sec.table[key])
        changes[field] = value * scale
    return replace(base, **changes)
