"""Reading the ``[serving]`` section: which serving model prices a served token — "mfu"
(2·N FLOP at an assumed utilisation, the default) or "roofline" (decode and prefill from
the GPU's compute, bandwidth and memory, docs/model.md §8) — and the roofline model's
workload, latency targets, shape and efficiencies."""
from __future__ import annotations

__all__ = ["SERVING_KEYS", "SERVING_MODELS", "read_roofline", "DEFAULT_EFFICIENCIES"]

from ..model.costs import InferenceHardware
from ..model.serving import Roofline
from ..model.units import parse_count
from .fields import Section, fraction, integer, number
from .registry import entry, keys_of
from .schema import BYTES_PER_PARAM

#: the [serving] keys: the registry's (scenario/registry.py), where a new key is added
SERVING_KEYS = keys_of("serving")
SERVING_MODELS = entry("serving.model").choices

#: planning defaults (docs/model.md §8): η_c, the share of peak FLOP/s a serving engine
#: reaches in its matrix products (Pope et al. 2022 report 76 % MFU for large-batch
#: prefill of PaLM 540B; 0.6 leaves room for a less tuned stack); η_m, the share of HBM
#: bandwidth a memory-bound decode kernel reaches; u, the share of HBM left for weights and
#: cache once activations and the runtime take theirs. Defaults for planning, not
#: measurements: set your own.
DEFAULT_EFFICIENCIES = {"compute_efficiency": 0.6, "bandwidth_efficiency": 0.8, "memory_utilisation": 0.9}
#: d_model / n_layer: Llama 2 7B has 4096/32 = 128 (docs/model.md §8)
DEFAULT_ASPECT_RATIO = 128.0


def _tokens(value) -> float:
    return parse_count(value, "token count")


def read_roofline(reader, sec: Section | None, inference: InferenceHardware | None,
                  per_request: tuple[float, float] | None) -> Roofline | None:
    """The roofline model of ``[serving]``, or None for the MFU model.

    ``per_request`` is (prompt, generated) tokens per request when ``[inference]`` gives
    requests; the context lengths default from it."""
    model = sec.text("model", SERVING_MODELS, default="mfu") if sec is not None else "mfu"
    if model == "mfu":
        extra = [k for k in sec.table if k != "model"] if sec is not None else []
        if extra:
            reader.fail(sec.key(extra[0]), 'only with serving.model = "roofline"', sec.table[extra[0]])
        return None
    hw = _hardware(reader, inference)
    S, S_max, P = _contexts(reader, sec, per_request)
    replicas = _replica_sizes(reader, sec)
    max_batch = sec.get("max_batch", number)
    if max_batch is not None and max_batch < 1:
        reader.fail("serving.max_batch", "at least one sequence per replica", sec.table["max_batch"])
    eff = {}
    for key, default in DEFAULT_EFFICIENCIES.items():
        eff[key] = sec.get(key, fraction)
        if eff[key] is None:
            eff[key] = default
            reader.assumptions.append(f"serving.{key} not given: {default:g} (a planning default)")
    gqa = sec.get("gqa_ratio", fraction)
    if gqa is None:
        gqa = 1.0
        reader.assumptions.append("serving.gqa_ratio not given: 1 (multi-head attention; Llama 2 70B "
                                  "has 8 KV heads of 64, 0.125)")
    aspect = sec.get("aspect_ratio", number, default=DEFAULT_ASPECT_RATIO)
    kv_dtype = sec.text("kv_dtype", tuple(BYTES_PER_PARAM), default="bf16")
    tpot, ttft = sec.get("tpot_ms", number), sec.get("ttft_ms", number)
    if ttft is not None and not P > 0:
        reader.fail("serving.prompt_tokens", "a positive prompt length when serving.ttft_ms is set", P)
    return Roofline(peak_flops=inference.peak_flops, bandwidth=inference.bandwidth,
                    memory_bytes=inference.memory_bytes, weight_bytes=hw, kv_bytes=BYTES_PER_PARAM[kv_dtype],
                    context_tokens=S, max_context_tokens=S_max, prompt_tokens=P,
                    tpot_seconds=None if tpot is None else tpot / 1e3,
                    ttft_seconds=None if ttft is None else ttft / 1e3, aspect_ratio=aspect, gqa_ratio=gqa,
                    replica_gpus=replicas, max_batch=max_batch, **eff)


def _hardware(reader, inference: InferenceHardware | None) -> float:
    """Bytes per weight of the serving dtype, after checking that the serving GPU is
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
    if inference.dtype not in BYTES_PER_PARAM:
        reader.fail("hardware.inference.dtype", f"one of {', '.join(BYTES_PER_PARAM)} (the bytes of a "
                    "served weight)", inference.dtype)
    return BYTES_PER_PARAM[inference.dtype]


def _contexts(reader, sec: Section, per_request) -> tuple[float, float, float]:
    """(S, S_max, P): mean context during decode, the context the cache is sized for, and
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
        reader.assumptions.append(f"serving.max_context_tokens not given: the KV cache is sized for "
                                  f"{S_max:g} tokens per sequence")
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
