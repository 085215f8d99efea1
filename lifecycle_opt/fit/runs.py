"""Training runs in, as the fit reads them: CSV tables of runs (parameters, tokens or
compute, loss) with columns found by name and values that may carry units, and the CSV
of bootstrap laws that ``lifeopt fit --samples`` writes and scenarios read back.

Every error names the file, the row and the column.
"""
from __future__ import annotations

__all__ = ["Runs", "read_runs", "MAX_RUN_PARAMS", "MAX_RUN_TOKENS", "MAX_RUN_EXPERTS", "csv_table", "column_index", "parse_loss", "number_text",
           "normalise_header", "positive_cell", "read_starts",
           "START_COLUMNS"]

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ScenarioError
from ..model.constants import TRAIN_FLOPS_PER_PARAM_TOKEN
from ..model.laws import FittedRange
from ..model.units import parse_count, parse_flops
from ..problem.formulation import BOX
from ..scenario.reading import UnreadableFile, read_bounded

#: the largest parameter and token counts of a run: the planner's search box
#: (:data:`lifecycle_opt.problem.formulation.BOX`), so that every fitted run is a plan it could make
MAX_RUN_PARAMS, MAX_RUN_TOKENS = (float(f"{math.exp(hi):.0e}") for _, hi in BOX)
#: the most experts a run may have (DeepSeek-V3 routes among 256; Ludziejewski et al. 2025 fit E ≤ 32)
MAX_RUN_EXPERTS = 4096


# Column names accepted for each quantity, compared lower-case without spaces, "_" or "-".
_COLUMNS = {
    "params": ("n", "params", "parameters", "modelsize", "nparams", "numparams", "paramcount", "size"),
    "tokens": ("d", "tokens", "trainingtokens", "ntokens", "numtokens", "data", "datasetsize"),
    "flops": ("c", "flops", "flop", "compute", "trainingflop", "trainingflops", "trainingcompute"),
    "loss": ("l", "loss", "finalloss", "evalloss", "validationloss", "valloss", "testloss"),
    "unique": ("u", "unique", "uniquetokens", "uniquedata", "dc", "corpus", "corpustokens"),
    "weight": ("weight", "weights", "runweight", "fitweight"),
    "error": ("error", "err", "benchmarkerror", "downstreamerror", "evalerror", "top1error", "averageerror",
              "avgerror"),
    "experts": ("experts", "numexperts", "nexperts", "expertcount", "numberofexperts"),
}


@dataclass(frozen=True)
class Runs:
    """Training runs: params N, tokens D [count], loss L [nats/token], as arrays; the file;
    and, each None when the file has no such column: for runs that repeat data, the unique
    tokens U of each run's corpus [count] (inf where unlimited); each run's weight in a fit
    [–]; each run's error on a downstream benchmark [fraction] (nan where not evaluated); each
    run's number of experts E [–] (a mixture of experts; 1 is dense, and N is then the active
    parameters)."""

    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    source: str = "runs"
    unique: np.ndarray | None = None
    weights: np.ndarray | None = None
    error: np.ndarray | None = None
    experts: np.ndarray | None = None

    def subset(self, keep) -> "Runs":
        """The runs selected by ``keep`` (a mask or indices)."""
        pick = lambda a: None if a is None else a[keep]          # noqa: E731
        return Runs(self.params[keep], self.tokens[keep], self.loss[keep], self.source,
                    pick(self.unique), pick(self.weights), pick(self.error), pick(self.experts))

    @property
    def repeated(self) -> np.ndarray:
        """Which runs saw their corpus more than once (D > U)."""
        return np.zeros(len(self), dtype=bool) if self.unique is None else self.tokens > self.unique

    def __len__(self) -> int:
        return len(self.loss)

    @property
    def flops(self) -> np.ndarray:
        return TRAIN_FLOPS_PER_PARAM_TOKEN * self.params * self.tokens

    def fitted_range(self, note: str) -> FittedRange:
        return FittedRange(min_params=float(self.params.min()), max_params=float(self.params.max()),
                           max_tokens=float(self.tokens.max()), max_flops=float(self.flops.max()),
                           note=note)

    def within_tokens_per_param(self, low: float | None = None, high: float | None = None) -> "Runs":
        """The runs whose D/N lies in [low, high] (either end open when None)."""
        ratio = self.tokens / self.params
        keep = np.ones(len(self), dtype=bool)
        if low is not None:
            keep &= ratio >= low
        if high is not None:
            keep &= ratio <= high
        return self.subset(keep)

    def without_highest_loss(self, k: int) -> "Runs":
        """Drop the ``k`` runs of highest loss (Besiroglu et al. 2024 drop 5 outliers)."""
        if k <= 0:
            return self
        keep = np.sort(np.argsort(self.loss)[:len(self) - k])
        return self.subset(keep)


def normalise_header(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def positive_cell(row: list[str], col: int, parse, what: str, line: int, header: list[str],
                  source: str) -> float:
    """The value in column ``col`` of a CSV row, parsed by ``parse``: a positive finite
    number, else a ScenarioError naming the file, the row and the column."""
    if col >= len(row):
        raise ScenarioError(f"row {line}", f"{len(header)} values like the header", source=source,
                            found_text=f"found {len(row)}")
    value = row[col].strip()
    try:
        x = parse(value)
    except ValueError as exc:
        raise ScenarioError(f"row {line}, column {header[col]!r}", str(exc), value, source=source) from None
    if not (math.isfinite(x) and x > 0):
        raise ScenarioError(f"row {line}, column {header[col]!r}", f"a positive {what}", value, source=source)
    return x


def read_runs(path: str | Path, columns: dict[str, str] | None = None, design: bool = False) -> Runs:
    """Read runs from a CSV file: parameters, tokens or training compute (D = C/(6N)), and
    final loss; optionally unique tokens, a weight per run and a downstream error. Columns
    are found by name (see _COLUMNS; ``columns`` maps a quantity to a header to override);
    values may carry units ("70M", "1.4T", "3e21 FLOP", "45%"). A ``design`` (runs planned,
    not yet trained) needs no loss column; its losses are nan."""
    source, header, rows = csv_table(path, "planned runs" if design else "training runs")
    index = column_index(header, columns or {}, source, need_loss=not design)
    values: dict[str, list] = {k: [] for k in ("params", "tokens", "loss", "unique", "weight", "error", "experts")}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        for quantity, value in _row_values(row, line, header, index, source, design).items():
            values[quantity].append(value)
    if len(values["loss"]) < 5:
        raise ScenarioError("file", "at least 5 runs to fit five constants", source=source,
                            found_text=f"found {len(values['loss'])}")
    optional = {k: np.array(values[k]) if k in index else None for k in ("unique", "weight", "error", "experts")}
    return Runs(np.array(values["params"]), np.array(values["tokens"]), np.array(values["loss"]), source,
                optional["unique"], optional["weight"], optional["error"], optional["experts"])


def _row_values(row, line, header, index, source, design) -> dict[str, float]:
    """The quantities of one CSV row, each checked (ScenarioError naming the cell)."""
    def cell(quantity, parse):
        return positive_cell(row, index[quantity], parse, "number", line, header, source)

    def blank(quantity):                         # an optional column left empty in this row
        return index[quantity] >= len(row) or not row[index[quantity]].strip()

    n = _within(cell("params", lambda v: parse_count(number_text(v), "parameter count")), MAX_RUN_PARAMS,
                "parameter count", row, index["params"], line, header, source)
    if "tokens" in index:
        d = cell("tokens", lambda v: parse_count(number_text(v), "token count"))
        d = _within(d, MAX_RUN_TOKENS, "token count", row, index["tokens"], line, header, source)
    else:
        d = cell("flops", lambda v: parse_flops(number_text(v))) / (TRAIN_FLOPS_PER_PARAM_TOKEN * n)
        d = _within(d, MAX_RUN_TOKENS, "token count (C / 6N)", row, index["flops"], line, header, source)
    out = {"params": n, "tokens": d, "loss": cell("loss", parse_loss) if not design else math.nan}
    if "experts" in index:
        out["experts"] = cell("experts", lambda v: _number(v, "a whole number of experts such as 8"))
        if out["experts"] != round(out["experts"]) or out["experts"] > MAX_RUN_EXPERTS:
            raise ScenarioError(f"row {line}, column {header[index['experts']]!r}",
                                f"a whole number of experts from 1 to {MAX_RUN_EXPERTS:,} (1 is dense)",
                                row[index["experts"]].strip(), source=source)
    if "unique" in index:                        # an empty cell: a run on fresh data
        out["unique"] = math.inf if blank("unique") else \
            cell("unique", lambda v: parse_count(number_text(v), "token count"))
    if "weight" in index:
        out["weight"] = cell("weight", lambda v: _number(v, "a positive weight such as 1 or 0.5"))
    if "error" in index:                         # an empty cell: a run not evaluated
        out["error"] = math.nan if blank("error") else _error_cell(row, index["error"], line, header, source)
    return out


def _within(x: float, high: float, what: str, row, col, line, header, source) -> float:
    """``x`` when it is a count from 1 to ``high``, else a ScenarioError naming the cell."""
    if not 1.0 <= x <= high:
        raise ScenarioError(f"row {line}, column {header[col]!r}", f"a {what} from 1 to {high:g} (the range "
                            "the planner searches)", row[col].strip(), source=source)
    return x


def _number(value: str, expected: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(expected) from None


def _error_cell(row, col, line, header, source) -> float:
    """A benchmark error [fraction] in [0, 1] ("0.45" or "45%")."""
    from ..model.units import parse_rate

    value = row[col].strip()
    try:
        x = parse_rate(number_text(value))
    except ValueError:
        x = math.nan
    if not (0.0 <= x <= 1.0):
        raise ScenarioError(f"row {line}, column {header[col]!r}", 'an error rate from 0 to 1 such as 0.45 or "45%"',
                            value, source=source)
    return x


def csv_table(path: str | Path, what: str) -> tuple[str, list[str], list[list[str]]]:
    """(source, header, rows) of a CSV file of ``what``; ScenarioError when unreadable or
    without a header and a data row."""
    path = Path(path)
    source = str(path)
    try:
        raw = read_bounded(path, _MAX_CSV_BYTES)
    except UnreadableFile as exc:
        expected = (f"a CSV file of {what} under {_MAX_CSV_BYTES // 2**20} MB" if "bytes" in str(exc)
                    else f"an existing, readable CSV file of {what}")
        raise ScenarioError("file", expected, source=source, found_text=f"found {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError("file", f"a readable UTF-8 CSV file of {what}", source=source,
                            found_text=f"found an invalid byte at position {exc.start}") from None
    if "\x00" in text:
        raise ScenarioError("file", f"a text CSV file of {what}", source=source,
                            found_text=f"found a NUL byte at position {text.index(chr(0))}")
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        raise ScenarioError("file", f"a header and rows of {what}", source=source,
                            found_text=f"found {len(rows)} lines")
    return source, [h.strip() for h in rows[0]], rows


def parse_loss(value: str) -> float:
    """A loss [nats] from a CSV cell."""
    try:
        return float(value)
    except ValueError:
        raise ValueError("a loss in nats such as 2.31") from None


def number_text(value: str):
    """A bare number as a float, anything else as text for the unit parsers."""
    try:
        return float(value)
    except ValueError:
        return value


def column_index(header, overrides, source, need_loss: bool = True) -> dict[str, int]:
    norm = [normalise_header(h) for h in header]
    out = {}
    for quantity, names in _COLUMNS.items():
        if quantity in overrides:
            name = overrides[quantity]
            if name not in header:
                raise ScenarioError(f"--{quantity}-column", f"one of the columns {', '.join(header)}", name,
                                    source=source)
            out[quantity] = header.index(name)
            continue
        for i, n in enumerate(norm):
            if n in names:
                out[quantity] = i
                break
    if "flops" in overrides and "tokens" in out:
        if "tokens" in overrides:
            raise ScenarioError("--flops-column", "no --tokens-column with it (the tokens come from one of them)",
                                overrides["flops"], source=source)
        del out["tokens"]                        # the compute the user named, not a column found by name
    _distinct_columns(out, overrides, header, source)
    missing = [q for q in (("params", "loss") if need_loss else ("params",)) if q not in out]
    if "tokens" not in out and "flops" not in out:
        missing.append("tokens or flops")
    if missing:
        raise ScenarioError("header", f"columns for {', '.join(missing)} (e.g. params, tokens, flops, "
                            f"loss; or name them with --params-column and the like)", source=source,
                            found_text=f"found a header of {len(header)} columns without those names")
    return out


_WORDS = {"params": "parameter counts", "tokens": "token counts", "flops": "training compute", "loss": "losses",
          "unique": "unique tokens", "weight": "weights", "error": "benchmark errors", "experts": "expert counts"}


def _distinct_columns(index: dict[str, int], overrides: dict[str, str], header, source) -> None:
    """ScenarioError when one column was taken for two quantities (``--params-column
    params --tokens-column params``), naming the option that took it second."""
    seen: dict[int, str] = {}
    for quantity in sorted(index, key=lambda q: q in overrides):         # names found first
        col = index[quantity]
        if col in seen:
            flag = quantity if quantity in overrides else seen[col]
            other = seen[col] if flag == quantity else quantity
            raise ScenarioError(f"--{flag}-column", f"a column of its own (column {header[col]!r} already holds the "
                                f"{_WORDS[other]})", overrides.get(flag, header[col]), source=source)
        seen[col] = quantity


#: the columns of a start grid: the base law's constants, then the repetition constants
START_COLUMNS = ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")


def read_starts(path: str | Path) -> dict[str, np.ndarray]:
    """A user's grid of starting points: a CSV whose columns (any of START_COLUMNS, found by
    name) hold positive values, one start a row. Returns {column: values}; ScenarioError
    naming the file, the row and the column otherwise."""
    source, header, rows = csv_table(path, "starting points")
    norm = [normalise_header(h) for h in header]
    index = {name: norm.index(normalise_header(name)) for name in START_COLUMNS if normalise_header(name) in norm}
    unknown = [h for h, n in zip(header, norm) if n not in {normalise_header(c) for c in START_COLUMNS}]
    if not index or unknown:
        raise ScenarioError("header", f"columns among {', '.join(START_COLUMNS)}", source=source,
                            found_text=f"found {len(unknown)} other columns" if unknown else "found none of them")
    out: dict[str, list] = {name: [] for name in index}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        for name, col in index.items():
            out[name].append(positive_cell(row, col, lambda v: _number(v, "a positive number"), "number", line,
                                           header, source))
    if not out[next(iter(out))]:
        raise ScenarioError("file", "at least one row of starting points", source=source, found_text="found none")
    return {name: np.array(values) for name, values in out.items()}


#: the largest CSV of runs or curves read (a million curve points take about 40 MB)
_MAX_CSV_BYTES = 64 * 2**20
