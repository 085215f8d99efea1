"""Every key of a scenario file, once: its table, kind of value, unit, default, example and
what it changes (:class:`~.keys.Key`). The section reader takes its allowed keys from here
(:func:`keys_of`), and docs/scenario_keys.md, ``lifeopt schema`` (:func:`json_schema`) and
``lifeopt check`` (:func:`problems`) are generated from it, so a key is listed in one place.

To add a key: add its :class:`~.keys.Key` under its table (a new table: a
:class:`~.keys.Table` entry too), read it in the section reader, and regenerate the
reference (``python docs/make_scenario_keys.py``; tests/test_scenario_keys.py checks it is
current).
"""
from __future__ import annotations

__all__ = ["REGISTRY", "keys_of", "entry", "tables", "json_schema", "problems"]

import difflib
from typing import Any

from ..errors import ScenarioError
from ..model.hardware import CATALOGUE
from ..model.quantisation import BITS_OF_DTYPE, QUANTISATION_PRESETS
from ..model.presets import PRESETS
from ..model.laws import MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR
from ..model.moe import DEFAULT_EXPERT_SHARE, JOINT_FORM
from ..model.architecture import DEFAULT_FAMILY as _FAMILY, PRESET_NAMES
from ..model.serving_point import DEFAULT_EFFICIENCIES as _EFF
from .keys import Key, Table
from .schema import BYTES_PER_PARAM, OBJECTIVES

_GPUS = tuple(CATALOGUE)
#: the dtypes a GPU computes in (the catalogue's) or holds weights in: a catalogue GPU takes
#: those it has a peak for, which the reader checks (so the list is open)
_DTYPES = tuple(sorted({d for card in CATALOGUE.values() for d in card.peak_flops} | set(BYTES_PER_PARAM)))
_DTYPES_SERVED = tuple(BITS_OF_DTYPE)
_ZERO_OK = {"positive": False}

#: the tables and keys of a scenario file, in the order the reference shows them
REGISTRY: tuple[Key | Table, ...] = (
    Key("name", "text", "The scenario's name, in reports, figures and workbooks.", default="the file's name",
        example='"chat assistant"'),
    Key("description", "text", "Free text about the scenario (not used).", example='"two years of serving"'),
    Table("scenario", "In a file for `lifeopt compare` and `plot`, an array of tables ([[scenario]]), each laid "
                      "over the file's top-level tables (its keys win)."),
    # ---- [law]
    Table("law", "The scaling law L(N, D) = E + A/N^alpha + B/D^beta: a preset, constants, or a law file."),
    Key("law.preset", "choice", "A published law (`lifeopt presets` lists them with sources).", choices=tuple(PRESETS),
        example='"hoffmann2022"'),
    Key("law.E", "number", "Irreducible loss of an explicit Chinchilla-form law.", "nats", example="1.69"),
    Key("law.A", "number", "Parameter term's coefficient.", example="406.4"),
    Key("law.B", "number", "Data term's coefficient.", example="410.7"),
    Key("law.alpha", "number", "Parameter exponent (at most 5).", example="0.34"),
    Key("law.beta", "number", "Data exponent (at most 5).", example="0.28"),
    Key("law.Nc", "count", "Kaplan et al. 2020's N_c (with Dc, alpha_N, alpha_D: their form).", "parameters",
        example="8.8e13"),
    Key("law.Dc", "count", "Kaplan et al. 2020's D_c.", "tokens", example="5.4e13"),
    Key("law.alpha_N", "number", "Kaplan et al. 2020's alpha_N.", example="0.076"),
    Key("law.alpha_D", "number", "Kaplan et al. 2020's alpha_D.", example="0.095"),
    Key("law.name", "text", "The law's name in reports.", default='"explicit law"', example='"our fit"'),
    Key("law.source", "text", "Where the constants come from, in reports.", default="the file",
        example='"runs of 2026-03"'),
    Key("law.method", "text", "How the law was fitted (written by `lifeopt fit`).", example='"Approach 3"'),
    Key("law.fitted_min_params", "count", "Smallest model the law was fitted on: plans below it are flagged.",
        "parameters", example='"70M"'),
    Key("law.fitted_max_params", "count", "Largest model the law was fitted on: plans beyond it are flagged.",
        "parameters", example='"16B"'),
    Key("law.fitted_max_tokens", "count", "Longest run the law was fitted on.", "tokens", example='"500B"'),
    Key("law.fitted_max_flops", "FLOP", "Largest training compute the law was fitted on.", "FLOP",
        example="3e23"),
    Key("law.file", "path", "A TOML file with a [law] table (`lifeopt fit -o`), relative to this file; keys "
                            "given here are laid over it.", example='"law.toml"'),
    Key("law.samples", "path", "A CSV of bootstrap laws (`lifeopt fit --samples`): the plan is reported under "
                               "the law's uncertainty.", example='"law_samples.csv"'),
    # the joint dense/MoE law by its constants (Ludziejewski et al. 2025, eq. 4 and Table 3;
    # `lifeopt fit` of runs with an experts column writes them): alpha and beta are shared
    Key("law.form", "choice", 'The form of a law given by its constants: "joint_moe" for the joint dense/MoE law '
                              "of Ludziejewski et al. 2025 (with a, b, c, alpha, beta, delta, gamma, omega, zeta, "
                              "E_start, E_max).", choices=(JOINT_FORM,), default="the Chinchilla form",
        example=f'"{JOINT_FORM}"'),
    Key("law.a", "number", "Joint law: the parameter term's coefficient.", example="35.91"),
    Key("law.b", "number", "Joint law: the data term's coefficient.", example="35.98"),
    Key("law.c", "number", "Joint law: the irreducible loss.", "nats", example="1.3637"),
    Key("law.delta", "number", "Joint law: the experts' power on the parameter term (signed).", example="-0.2285",
        positive=False),
    Key("law.gamma", "number", "Joint law: ln Ê's change of the parameter exponent (signed).", example="0.0098",
        positive=False),
    Key("law.omega", "number", "Joint law: the experts' power on the data term (signed).", example="0.5529",
        positive=False),
    Key("law.zeta", "number", "Joint law: ln Ê's change of the data exponent (signed).", example="-0.0259",
        positive=False),
    Key("law.E_start", "number", "Joint law: where the transformed expert count starts to bend.", "experts",
        example="2.0732"),
    Key("law.E_max", "number", "Joint law: the expert count the transform saturates at (above E_start).", "experts",
        example="290.4521"),
    Key("law.fitted_min_experts", "integer", "Joint law: fewest experts of the runs fitted.", "experts",
        default="1", example="1"),
    Key("law.fitted_max_experts", "integer", "Joint law: most experts of the runs fitted: plans beyond are flagged.",
        "experts", default="32", example="32"),
    # ---- [target]
    Table("target", "The quality to reach (exactly one of loss, reference, error); required unless "
                    'minimize = "loss".'),
    Key("target.loss", "number", "The loss to reach, served (after any quantisation).", "nats", example="1.947"),
    Table("target.reference", "As good as a reference plan under this law: params and tokens."),
    Key("target.reference.params", "count", "The reference plan's parameters.", "parameters", example='"70B"'),
    Key("target.reference.tokens", "count", "The reference plan's training tokens (fresh).", "tokens",
        example='"1.4T"'),
    Key("target.error", "fraction", "A benchmark error to reach, through the [downstream] map (Gadre et al. "
                                    "2024).", "fraction", example="0.75"),
    # ---- [inference]
    Table("inference", "The serving demand over the deployed life (or month by month in [finance])."),
    Key("inference.tokens", "count", "Tokens served in total (prompt and generated).", "tokens", default="0",
        example='"2T"', **_ZERO_OK),
    Key("inference.requests", "count", "Requests served in total (with input_tokens and output_tokens).",
        "requests", example="1e11"),
    Key("inference.input_tokens", "count", "Prompt tokens per request (prefill).", "tokens", default="0",
        example="800", **_ZERO_OK),
    Key("inference.output_tokens", "count", "Generated tokens per request (decode).", "tokens", default="0",
        example="200", **_ZERO_OK),
    Key("inference.output_fraction", "fraction", "Share of served tokens that are generated (with tokens).",
        "fraction", default="0.2", example="0.25"),
    Key("inference.deployment_days", "days", "How long the demand is served: tokens per day and serving GPUs "
                                             "(finance.deployment_months with [finance]).", "days",
        example="730"),
    # ---- [data]
    Table("data", "The unique corpus and how often it may be repeated."),
    Key("data.unique_tokens", "count", "Unique tokens available: D beyond them repeats data.", "tokens",
        default="unlimited", example='"3T"'),
    Key("data.max_epochs", "number", "Most passes over the unique tokens.", "epochs", example="16"),
    Key("data.repetition_penalty", "bool", "Value repeated tokens (and the parameters they can feed) by "
                                           "Muennighoff et al. 2023's law.",
        default="true with unique_tokens and a Chinchilla-form law", example="true"),
    Key("data.R_D_star", "number", "The penalty's R_D* (repetitions past which data is worth little).",
        default=f"{MUENNIGHOFF_R_D_STAR} (Muennighoff et al. 2023)", example="15.4"),
    Key("data.R_N_star", "number", "The penalty's R_N* (excess parameters).",
        default=f"{MUENNIGHOFF_R_N_STAR} (Muennighoff et al. 2023)", example="5.31"),
    # ---- [hardware]
    Table("hardware", "The GPUs that train and serve."),
    Table("hardware.training", "The training GPUs."),
    Key("hardware.training.gpu", "choice", "A catalogue GPU (`lifeopt gpus`): its peak in the dtype.",
        choices=_GPUS, open=True, example='"H100"'),
    Key("hardware.training.peak_flops", "FLOP/s", "Dense peak of a GPU not in the catalogue.", "FLOP/s",
        example='"989 TFLOPS"'),
    Key("hardware.training.dtype", "choice", "Arithmetic of training (the catalogue's peak for it).",
        choices=_DTYPES, open=True, default='"bf16"', example='"bf16"'),
    Key("hardware.training.mfu", "fraction", "Model FLOPs utilisation of training (required).", "fraction",
        example="0.4"),
    Key("hardware.training.price_per_gpu_hour", "money", "Rental price of a training GPU-hour.", "$",
        example="2.50"),
    Key("hardware.training.gpus", "integer", "GPUs training together: days of training (and with "
                                             "limits.max_training_days, a compute cap).", "GPUs", example="2048"),
    Table("hardware.inference", "The serving GPUs."),
    Key("hardware.inference.gpu", "choice", "A catalogue GPU (`lifeopt gpus`).", choices=_GPUS, open=True,
        example='"H100"'),
    Key("hardware.inference.peak_flops", "FLOP/s", "Dense peak of a GPU not in the catalogue.", "FLOP/s",
        example="9.89e14"),
    Key("hardware.inference.memory", "bytes", "HBM of a serving GPU (catalogue GPUs know theirs).", "bytes",
        example='"80GB"'),
    Key("hardware.inference.bandwidth", "bytes/s", "HBM bandwidth (roofline serving model only).", "bytes/s",
        example='"3.35TB/s"'),
    Key("hardware.inference.dtype", "choice", "Arithmetic of serving, and its bytes per weight unless "
                                              "serving.weight_dtype says otherwise.", choices=_DTYPES,
        open=True, default='"bf16"', example='"fp8"'),
    Key("hardware.inference.link_bandwidth", "bytes/s", "GPU-to-GPU link bandwidth, one direction (roofline "
                                                        "model; catalogue GPUs know their NVLink).", "bytes/s",
        default="the catalogue's", example='"450GB/s"'),
    Key("hardware.inference.link_latency_us", "number", "Latency of one message over the links (roofline model).",
        "µs", default="the catalogue's, else 8", example="8"),
    Key("hardware.inference.mfu", "fraction", "One utilisation for prefill and decode (MFU serving model).",
        "fraction", example="0.3"),
    Key("hardware.inference.prefill_mfu", "fraction", "Utilisation of prefill (with decode_mfu).", "fraction",
        example="0.5"),
    Key("hardware.inference.decode_mfu", "fraction", "Utilisation of decode (with prefill_mfu).", "fraction",
        example="0.05"),
    Key("hardware.inference.price_per_gpu_hour", "money", "Rental price of a serving GPU-hour.", "$",
        example="2.50"),
    # ---- [objective], [budget], [limits]
    Table("objective", "What the plan minimises."),
    Key("objective.minimize", "choice", "Lifecycle dollars (present value with [finance]), lifecycle FLOP, or "
                                        "the loss under a [budget] or training cap.", choices=OBJECTIVES,
        default='"cost" when prices are given, else "flops"', example='"cost"'),
    Table("budget", 'Caps for minimize = "loss".'),
    Key("budget.training_flops", "FLOP", "Training compute.", "FLOP", example="1e24"),
    Key("budget.training_cost", "money", "Training dollars (nominal).", "$", example='"$5M"'),
    Key("budget.total_cost", "money", "Training and serving dollars (nominal).", "$", example='"$20M"'),
    Table("limits", "Limits every plan must meet; the binding ones come with shadow prices."),
    Key("limits.max_params", "count", "Most parameters (total, for a mixture of experts).", "parameters",
        example='"70B"'),
    Key("limits.max_training_days", "days", "Training deadline (needs hardware.training.gpus).", "days",
        example="90"),
    Key("limits.max_training_cost", "money", "Most training dollars (nominal).", "$", example='"$20M"'),
    Key("limits.max_total_cost", "money", "Most lifecycle dollars (nominal).", "$", example='"$50M"'),
    Key("limits.min_tokens_per_param", "number", "Fewest training tokens per parameter.", "tokens/parameter",
        example="20"),
    Key("limits.max_tokens_per_param", "number", "Most training tokens per parameter.", "tokens/parameter",
        example="2000"),
    Key("limits.serving_gpus", "integer", "The weights fit this many serving GPUs (their memory).", "GPUs",
        example="2"),
    Key("limits.serving_memory", "bytes", "The weights fit this much memory.", "bytes", example='"160GB"'),
    Key("limits.bytes_per_param", "number", "Bytes a weight takes (with serving_gpus or serving_memory).",
        "bytes/parameter", default="the serving dtype's", example="2"),
    # ---- [finance]
    Table("finance", "Months, discounting, price decline and owned GPUs: the cost objective becomes the "
                     "present value of spending."),
    Key("finance.start", "month", "Month 0, when training starts (labels the cash flow).",
        default="months numbered M0, M1, ...", example='"2027-01"'),
    Key("finance.training_months", "integer", "Months of training: the training GPU-hours are spread over them.",
        "months", default="1", example="3"),
    Key("finance.deployment_months", "integer", "Months of serving after training.", "months", example="24"),
    Key("finance.monthly_tokens", "count", "Tokens served in the first month (with monthly_growth), or a list, "
                                           "one entry a month.", "tokens", many="or list", example='"2.5T"',
        **_ZERO_OK),
    Key("finance.monthly_growth", "signed rate", "Growth of the monthly demand (with a single monthly_tokens).",
        "per month", default="0", example='"4%"'),
    Key("finance.discount_rate", "rate", "Yearly discount rate, applied monthly.", "per year", default="0",
        example='"10%"'),
    Key("finance.price_decline", "rate", "Yearly decline of rented GPU-hour prices.", "per year", default="0",
        example='"20%"'),
    Key("finance.ownership", "choice", "Rent GPU-hours, or own the GPUs (capex and energy).",
        choices=("rent", "own"), default='"rent"', example='"own"'),
    Key("finance.training_gpu_capex", "money", "Price of an owned training GPU.", "$", example='"$30,000"'),
    Key("finance.inference_gpu_capex", "money", "Price of an owned serving GPU.", "$", example='"$30,000"'),
    Key("finance.amortisation_months", "number", "Months an owned GPU's price is spread over.", "months",
        example="48"),
    Key("finance.training_gpu_power", "watts", "Power of a training GPU.", "W", example='"700W"'),
    Key("finance.inference_gpu_power", "watts", "Power of a serving GPU.", "W", example='"700W"'),
    Key("finance.pue", "number", "Power usage effectiveness of the data centre (at least 1).",
        default="1 with a GPU power", example="1.2"),
    Key("finance.energy_price", "money", "Price of a kWh.", "$/kWh", example="0.08"),
    # ---- [robust]
    Table("robust", "A plan under the law's bootstrap laws ([law] samples)."),
    Key("robust.probability", "fraction", "Share of the bootstrap laws under which the plan must reach the "
                                          "target.", "fraction", example="0.9"),
    Key("robust.distribution_samples", "integer", "Bootstrap laws the distribution of the optimum is computed "
                                                  "over.", default="200", example="100"),
    # ---- [serving]
    Table("serving", "How a served token is priced: at an assumed MFU, or by the roofline model with the batch "
                     "and replica size optimised under latency targets (docs/model.md §8)."),
    Key("serving.model", "choice", "The serving model.", choices=("mfu", "roofline"), default='"mfu"',
        example='"roofline"'),
    Key("serving.context_tokens", "count", "Mean context per sequence while decoding (the paged KV cache holds "
                                           "it).", "tokens", default="the prompt plus half the answer",
        example="900"),
    Key("serving.max_context_tokens", "count", "The longest context one sequence may reach: weights and one such "
                                               "sequence fit a replica.", "tokens", default="a whole request",
        example="4096"),
    Key("serving.prompt_tokens", "count", "Prompt length for the time to first token.", "tokens",
        default="inference.input_tokens", example="800", **_ZERO_OK),
    Key("serving.tpot_ms", "number", "Time per output token target (the prompts' share of a step included: "
                                     "continuous batching).", "ms", example="30"),
    Key("serving.ttft_ms", "number", "Time to first token target.", "ms", example="500"),
    Key("serving.weight_dtype", "choice", "Bytes of a served weight (int4 for AWQ or GPTQ weights, computed in "
                                          "hardware.inference.dtype).", choices=tuple(BYTES_PER_PARAM),
        default="hardware.inference.dtype", example='"int4"'),
    Key("serving.kv_dtype", "choice", "Bytes of a KV-cache entry.", choices=tuple(BYTES_PER_PARAM),
        default='"bf16"', example='"fp8"'),
    Key("serving.replica_gpus", "integer", "Allowed tensor-parallel replica sizes (each its own certified "
                                           "problem).", "GPUs", many="list", default="[1, 2, 4, 8]",
        example="[1, 2, 4, 8]"),
    Key("serving.max_batch", "number", "Most sequences a replica holds.", "sequences", example="256"),
    Key("serving.expert_parallel", "bool", "A mixture's experts spread over the replica's GPUs (a dispatch and a "
                                           "combine all-to-all per MoE layer) rather than tensor parallel inside "
                                           "each expert (vLLM's default).", default="false", example="true"),
    Key("serving.memory_utilisation", "fraction", "Share of HBM for weights and KV cache.", "fraction",
        default="0.9 (vLLM's and TensorRT-LLM's)", example="0.9"),
    Key("serving.kv_block_tokens", "integer", "Tokens per block of the paged KV cache.", "tokens",
        default="16 (vLLM's block)", example="16"),
    Key("serving.calibration", "path", "A file written by `lifeopt calibrate`, relative to this file: its fitted "
                                       "efficiencies (keys given here override it).", example='"calibration.toml"'),
    Key("serving.compute_efficiency", "fraction", "Share of peak FLOP/s reached in the matrix products (η_c).",
        "fraction", default=f"{_EFF.compute:g} (fitted to published measurements)", example="0.6"),
    Key("serving.bandwidth_efficiency", "fraction", "Share of HBM bandwidth a decode step reaches (η_m).",
        "fraction", default=f"{_EFF.bandwidth:g} (fitted)", example="0.8"),
    Key("serving.link_efficiency", "fraction", "Share of the link bandwidth an all-reduce reaches (η_l).",
        "fraction", default=f"{_EFF.link:g} (fitted)", example="0.5"),
    Key("serving.collective_overhead_us", "number", "Overhead of one all-reduce beyond its latency (λ_o).", "µs",
        default=f"{_EFF.collective_overhead * 1e6:g} (fitted)", example="40"),
    Key("serving.kv_reread", "number", "Share of the KV cache a decode kernel reads again per query head of a "
                                       "group (ξ, 0 to 1).", default=f"{_EFF.kv_reread:g} (fitted)", example="0.1"),
    Key("serving.prefill_overhead_us", "number", "Overhead per layer of a prefill pass (τ).", "µs",
        default=f"{_EFF.prefill_overhead * 1e6:g} (fitted)", example="100"),
    Table("serving.architecture", "The model's exact shape (its N is then the architecture's count, a mixture's "
                                  "active one): a preset, or layers, d_model, heads, kv_heads, d_ff and vocab "
                                  "(and experts, active_experts for a mixture). A preset's name alone "
                                  'may stand for the table: architecture = "llama-3-70b".',
          shorthand=PRESET_NAMES),
    Key("serving.architecture.preset", "choice", "A published open model (`lifeopt architectures` lists them "
                                                 "with their counts).", choices=PRESET_NAMES,
        example='"llama-3-70b"'),
    Key("serving.architecture.layers", "integer", "Decoder layers.", example="80"),
    Key("serving.architecture.d_model", "integer", "Width of the residual stream.", example="8192"),
    Key("serving.architecture.heads", "integer", "Query heads.", example="64"),
    Key("serving.architecture.kv_heads", "integer", "Key and value heads (a divisor of heads: grouped-query "
                                                    "attention).", example="8"),
    Key("serving.architecture.d_ff", "integer", "Width of the MLP (a mixture's: of each expert).", example="28672"),
    Key("serving.architecture.experts", "integer", "Experts per layer (E; 1 is dense): every layer's MLP is E "
                                                   "experts and a router of E·d_model weights.", "experts",
        default="1", example="8"),
    Key("serving.architecture.active_experts", "integer", "Experts each token is routed to (k).", "experts",
        default="1", example="2"),
    Key("serving.architecture.expert_d_ff", "integer", "Width of each expert (a mixture's d_ff: give one of the "
                                                       "two).", default="d_ff", example="14336"),
    Key("serving.architecture.shared_experts", "integer", "Experts every token passes through (Qwen-MoE, "
                                                          "DeepSeek), of the experts' width.", "experts",
        default="0", example="4"),
    Key("serving.architecture.vocab", "integer", "Vocabulary size (embeddings and the LM head).", example="128256"),
    Key("serving.architecture.gated_mlp", "bool", "Three MLP matrices (SwiGLU) rather than two.", default="true",
        example="true"),
    Key("serving.architecture.tied_embeddings", "bool", "The LM head is the embedding table.", default="false",
        example="false"),
    Key("serving.architecture.qkv_bias", "bool", "Biases on the query, key and value projections (Qwen).",
        default="false", example="false"),
    Table("serving.shape_family", "The shapes of a plan whose N is free, each with exactly N parameters "
                                  "(docs/model.md §8); the Llama 3 recipe unless changed here."),
    Key("serving.shape_family.aspect_ratio", "number", "d_model / layers.", default=f"{_FAMILY.aspect_ratio:g}",
        example="128"),
    Key("serving.shape_family.head_dim", "number", "Width of a head.", default=f"{_FAMILY.head_dim:g}",
        example="128"),
    Key("serving.shape_family.kv_heads", "number", "Key and value heads.", default=f"{_FAMILY.kv_heads:g}",
        example="8"),
    Key("serving.shape_family.ffn_ratio", "number", "Nominal d_ff / d_model (d_ff takes the parameters left).",
        default=f"{_FAMILY.ffn_ratio:g}", example="3.5"),
    Key("serving.shape_family.vocab", "number", "Vocabulary size.", default=f"{_FAMILY.vocab:g}", example="32000"),
    Key("serving.shape_family.gated_mlp", "bool", "Three MLP matrices (SwiGLU) rather than two.",
        default=str(_FAMILY.gated_mlp).lower(), example="true"),
    Key("serving.shape_family.tied_embeddings", "bool", "The LM head is the embedding table (every count exact).",
        default=str(_FAMILY.tied_embeddings).lower(), example="false"),
    # ---- [quantisation]
    Table("quantisation", "The served weights quantised after training: the target holds after quantisation "
                          "(Kumar et al. 2024; docs/model.md §11). One of bits, dtype, dtypes."),
    Key("quantisation.bits", "number", "Bits of a served weight.", "bits", example="4"),
    Key("quantisation.dtype", "choice", "The served dtype (its bits).", choices=_DTYPES_SERVED,
        example='"int4"'),
    Key("quantisation.dtypes", "choice", "Dtypes to choose among: each its own certified plan.",
        choices=_DTYPES_SERVED, many="list", example='["bf16", "fp8", "int4"]'),
    Key("quantisation.preset", "choice", "Published constants.", choices=tuple(QUANTISATION_PRESETS),
        default='"kumar2024"', example='"kumar2024"'),
    Key("quantisation.C_T", "number", "Your fit's C_T (with gamma_D, gamma_N, gamma_post).", example="0.0598"),
    Key("quantisation.gamma_D", "number", "Your fit's gamma_D.", example="0.5068"),
    Key("quantisation.gamma_N", "number", "Your fit's gamma_N.", example="0.3439"),
    Key("quantisation.gamma_post", "number", "Your fit's gamma_post.", example="0.5907"),
    # ---- [moe]
    Table("moe", "A mixture of experts under the joint law of Ludziejewski et al. 2025 "
                 '([law] preset = "ludziejewski2025"; docs/model.md §10).'),
    Key("moe.experts", "integer", "Experts E (1 is dense), or a list to choose among.", "experts", default="1",
        many="or list", example="[1, 2, 4, 8]"),
    Key("moe.active_experts", "integer", "Experts each token is routed to (k).", "experts", default="1",
        example="1"),
    Key("moe.expert_share", "fraction", "Share of the active parameters in the routed experts (below 1).",
        "fraction", default=f"{DEFAULT_EXPERT_SHARE:.3g}", example="0.6"),
    # ---- [downstream]
    Table("downstream", "The map from loss to a benchmark's error, Err(L) = epsilon - k*exp(-gamma*L) (Gadre et "
                        "al. 2024), for [target] error."),
    Key("downstream.epsilon", "number", "The error the map rises to (about chance).", "fraction",
        example="0.99"),
    Key("downstream.k", "number", "The map's scale.", example="16.7"),
    Key("downstream.gamma", "number", "The map's rate.", "1/nats", example="1.71"),
    Key("downstream.source", "text", "Where the map comes from.", default='"[downstream] table"',
        example='"fit of 47 runs"'),
    Key("downstream.fitted_min_loss", "number", "Lowest loss the map was fitted on (with fitted_max_loss).",
        "nats", example="2.37"),
    Key("downstream.fitted_max_loss", "number", "Highest loss the map was fitted on.", "nats", example="3.68"),
    Key("downstream.file", "path", "A TOML file with a [downstream] table (`lifeopt fit -o`), relative to this "
                                   "file; constants given here are laid over it.", example='"fit.toml"'),
)

_BY_PATH = {e.path: e for e in REGISTRY}


def entry(path: str) -> Key | Table | None:
    """The registry's entry for a dotted path ("limits.max_params"), None when unknown."""
    return _BY_PATH.get(path)


def tables() -> tuple[Table, ...]:
    return tuple(e for e in REGISTRY if isinstance(e, Table))


def keys_of(table: str) -> tuple[str, ...]:
    """The keys a table allows, keys and sub-tables ("" for the top of the file), in the
    registry's order: the section reader's allowed keys."""
    return tuple(e.name for e in REGISTRY if e.table == table and e.path != "scenario")


def _object(table: str) -> dict:
    props: dict[str, Any] = {}
    for e in REGISTRY:
        if e.table != table or e.path == "scenario":
            continue
        if isinstance(e, Table):
            props[e.name] = {**_object(e.path), "description": e.doc}
            if e.shorthand:
                # or a name in its place: a string must be one of them (an object is checked above)
                props[e.name].update({"type": ["object", "string"], "if": {"type": "string"},
                                      "then": {"enum": list(e.shorthand)}})
        else:
            props[e.name] = e.json_schema()
    return {"type": "object", "properties": props, "additionalProperties": False}


def json_schema() -> dict:
    """A JSON Schema (draft 07) of a scenario file, for editors that complete and check TOML
    (Even Better TOML, taplo): every key, its type, description and choices; unknown keys
    refused. ``[[scenario]]`` tables take every top-level key."""
    top = _object("")
    top["properties"]["scenario"] = {"type": "array", "items": _object(""),
                                     "description": entry("scenario").doc}
    return {"$schema": "http://json-schema.org/draft-07/schema#",
            "title": "lifecycle_opt scenario", "description": "A planning question for lifeopt (TOML).", **top}


def problems(data: Any, source: str | None = None, prefix: str = "") -> list[ScenarioError]:
    """Every key-by-key problem of the dict of a scenario file: unknown keys (with a
    did-you-mean), tables that are not tables, values the key's kind does not take. The
    rules between keys (exactly one of ...) are the reader's: :func:`lifeopt check` runs it
    when these find nothing."""
    out: list[ScenarioError] = []
    if not isinstance(data, dict):
        return [ScenarioError(prefix.rstrip(".") or "scenario", "a table", data, source=source)]
    table = prefix.rstrip(".")
    allowed = keys_of(table) + (("scenario",) if table == "" else ())
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            out.append(ScenarioError(path, f"one of the keys {', '.join(allowed)}", source=source,
                                     found_text="found an unknown key" + (f" (did you mean {close[0]!r}?)"
                                                                           if close else "")))
            continue
        spec = entry(path) if not (table == "" and key == "scenario") else entry("scenario")
        if isinstance(spec, Table) and spec.shorthand and not isinstance(value, dict):
            try:
                spec.parse_shorthand(value)
            except ValueError as exc:
                out.append(ScenarioError(path, str(exc), value, source=source))
        elif isinstance(spec, Table):
            out += _table_problems(spec, value, source, path)
        else:
            out += _value_problems(spec, value, source, path)
    return out


def _table_problems(spec: Table, value: Any, source: str | None, path: str) -> list[ScenarioError]:
    if spec.path == "scenario":
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            return [ScenarioError(path, "[[scenario]] tables (an array of tables)", value, source=source)]
        return [p for i, t in enumerate(value) for p in problems(
            {k: v for k, v in t.items()}, f"{source} [[scenario]] #{i + 1}" if source else None)]
    return problems(value, source, f"{path}.")


def _value_problems(spec: Key, value: Any, source: str | None, path: str) -> list[ScenarioError]:
    values = [(path, value)]
    if isinstance(value, list):
        if not spec.many:
            return [ScenarioError(path, f"one value ({spec.kind}), not a list", value, source=source)]
        if not value:
            return [ScenarioError(path, "a non-empty list", value, source=source)]
        values = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    elif spec.many == "list":
        return [ScenarioError(path, f"a list such as {spec.example}", value, source=source)]
    out = []
    for where, v in values:
        try:
            spec.parse_one(v)
        except ValueError as exc:
            out.append(ScenarioError(where, str(exc), v, source=source))
    return out
