"""The scenario keys for people: the reference of every key (docs/scenario_keys.md, from the
registry of scenario/registry.py), the JSON Schema as text (``lifeopt schema``), and the
summary ``lifeopt check`` prints of a scenario that reads."""
from __future__ import annotations

__all__ = ["scenario_keys_markdown", "schema_text", "scenario_summary"]

import json

from ..model.units import format_count, format_money, format_plain
from ..scenario.keys import Key, Table
from ..scenario.registry import REGISTRY, entry, json_schema
from ..scenario.schema import Scenario

_HEADER = """# Scenario keys

Every key of a scenario file (TOML), generated from the registry the reader uses
(`lifecycle_opt/scenario/registry.py`) by `python docs/make_scenario_keys.py`; do not edit by
hand. `lifeopt check scenario.toml` checks a file against it without solving, and
`lifeopt schema` prints it as a JSON Schema for editors (Even Better TOML, taplo: put
`#:schema ./scenario.schema.json` on a scenario's first line, or map `*.toml` of a folder to
it in the editor's settings).

Kinds of value: *count* is a number or a string with a multiplier (`"70B"`, `"1.4T"`,
`"500 million"`); *money* a number of dollars or `"$2.1M"`; *fraction* a number in (0, 1]
or a percentage (`"40%"`); *rate* a number or a percentage; *days* a number of days or
`"12 weeks"`, `"2 years"`; *bytes* `"80GB"`; *bytes/s* `"3.35TB/s"`; *FLOP/s*
`"989 TFLOPS"`; *watts* `"700W"`. A *list* takes `[a, b, ...]`; *or list* one value or a list.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _kind(key: Key) -> str:
    kind = key.kind + (f" ({key.many})" if key.many else "")
    if key.choices:
        shown = ", ".join(f"`{c}`" for c in key.choices)
        kind += f": {shown}" + (" (or an alias)" if key.open else "")
    return kind


def scenario_keys_markdown() -> str:
    """docs/scenario_keys.md: one section per table, one row per key (type, unit, default,
    example, what it changes)."""
    out = [_HEADER]
    groups: list[tuple[Table | None, list[Key]]] = [(None, [])]
    for e in REGISTRY:
        if isinstance(e, Table):
            groups.append((e, []))
        else:
            owner = next((t for t, _ in reversed(groups) if t is not None and t.path == e.table), None)
            next(keys for t, keys in groups if t is owner).append(e)
    for table, keys in groups:
        title = "Top level" if table is None else f"[{table.path}]" if table.path != "scenario" else "[[scenario]]"
        out.append(f"## {title}\n")
        if table is not None:
            out.append(table.doc + "\n")
            if table.shorthand:
                out.append("Or, in place of the table, one of: " + ", ".join(f"`{c}`" for c in table.shorthand)
                           + ".\n")
        if not keys:
            continue
        out.append("| key | type | unit | default | example | what it changes |")
        out.append("|---|---|---|---|---|---|")
        for k in keys:
            out.append(f"| `{k.name}` | {_cell(_kind(k))} | {_cell(k.unit)} | {_cell(k.default) or '—'} | "
                       f"`{_cell(k.example)}` | {_cell(k.doc)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def schema_text() -> str:
    """The JSON Schema of a scenario file, as ``lifeopt schema`` prints it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _setting(path: str, value: float) -> str:
    """A setting's value as its key's kind prints: 70B, $20M, 90 days, 1e+24 FLOP, 160 GB."""
    spec = entry(path)
    kind, unit = (spec.kind, spec.unit) if isinstance(spec, Key) else ("number", "")
    if kind == "count":
        return format_count(value)
    if kind == "money":
        return format_money(value)
    if kind == "FLOP":
        return f"{value:.4g} FLOP"
    if kind == "bytes":
        return f"{format_plain(value / 1e9)} GB"
    return f"{format_plain(value)} {unit}".strip()


def scenario_summary(s: Scenario) -> list[tuple[str, str]]:
    """What a scenario asks, in a few lines (``lifeopt check``): its law, objective, target,
    demand, corpus, hardware, limits, finance and choices."""
    rows = [("name", s.name), ("law", f"{s.law.name} — {s.law.source}"),
            ("objective", f"minimise {s.objective}" + ("" if s.objective != "cost" else
                                                       " (present value)" if s.finance else " (nominal dollars)"))]
    if s.target is not None:
        t = s.target
        rows.append(("target", f"loss {t.loss:.6g}" + (f" (benchmark error {t.error:g})" if t.error is not None else "")
                     + (f" (as good as {format_count(t.reference_params)} on {format_count(t.reference_tokens)})"
                        if t.reference_params is not None else "")))
    d = s.demand
    rows.append(("demand", "none (training only)" if d.tokens == 0 else
                 f"{format_count(d.tokens)} tokens served" + (f" over {format_plain(d.deployment_days)} days"
                                                              if d.deployment_days else "")))
    if s.data.unique_tokens is not None:
        rows.append(("data", f"{format_count(s.data.unique_tokens)} unique tokens"
                     + (f", at most {format_plain(s.data.max_epochs)} epochs" if s.data.max_epochs else "")
                     + (", repetition penalty" if s.data.repetition_penalty else "")))
    for name, hw in (("training", s.training), ("inference", s.inference)):
        if hw is not None:
            price = "" if hw.price_per_gpu_hour is None else f", {format_money(hw.price_per_gpu_hour)} a GPU-hour"
            gpus = f", {hw.gpus} GPUs" if getattr(hw, "gpus", None) else ""
            rows.append((name, f"{hw.gpu} {hw.dtype}{price}{gpus}"))
    if s.serving is not None:
        rows.append(("serving", "roofline model, replicas of " + ", ".join(map(str, s.serving.replica_gpus))
                     + " GPUs"))
    limits = [f"{k} {_setting(f'limits.{k}', v)}" for k, v in vars(s.limits).items()
              if v is not None and k not in ("bytes_per_param", "gpu_memory")]
    budget = [f"{k} {_setting(f'budget.{k}', v)}" for k, v in vars(s.budget).items() if v is not None]
    if limits or budget:
        rows.append(("limits", "; ".join(budget + limits)))
    if s.finance is not None:
        f = s.finance
        rows.append(("finance", f"{f.training_months} months of training, {len(f.monthly_tokens)} of serving; "
                                f"discount {100 * f.discount_rate:g} % a year; {f.ownership}"))
    for key, values in s.choices:
        rows.append(("choice", f"{key} among {', '.join(map(str, values))}"))
    if s.assumptions:
        rows.append(("defaults", f"{len(s.assumptions)} applied (the report lists them)"))
    return rows
