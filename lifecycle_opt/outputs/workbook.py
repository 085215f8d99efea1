"""The plan as a workbook a finance analyst can trace and change (XLSX), and the same tables
as CSV for tools that cannot read XLSX.

Sheets of a plan's workbook:

* **Cover** — what the workbook is, when it was made, the law and its source, how to read it;
* **Inputs** — every input with its unit, scenario key and source; input cells are yellow
  with blue text, and every formula in the book traces back to them;
* **Calculations** — FLOPs, GPU-hours, days, dollars and loss as live formulas, for the
  optimal plan (column B) and for the compute-optimal plan of equal loss (column C);
  the grey cells at the top (N, D) are the optimiser's results and do not recompute;
* **Cash flow** (with a ``[finance]`` section) — one column per month: training spend,
  tokens served, inference spend, discount factor, present value; totals and NPV;
* **Outputs** — the plan, the over-training report, the comparison with the
  compute-optimal plan, shadow prices, the certificate, warnings and assumptions.

Formulas refer to cells through workbook names (``params_N``, ``train_price``, …) so that
they read like docs/model.md. Every formula cell also stores its value, taken from
the Solution, so that viewers that never recalculate still show the numbers.

The book is described once, as :class:`Book` (sheets of :class:`Cell`; a plan's book is
built by :mod:`.plan_book`, a sweep's by :func:`sweep_book`), and written by two writers: :func:`xlsx_bytes` (XlsxWriter, the optional ``xlsx`` extra) and
:func:`csv_tables` (values only).
"""
from __future__ import annotations

__all__ = ["Cell", "Sheet", "Book", "sweep_book", "xlsx_bytes", "write_xlsx", "csv_tables",
           "write_csv_tables", "made_by", "quote_sheet", "column_letter", "STYLES", "check_sheet_sizes", "fitted_widths", "sweep_header", "sweep_format",
           "XLSX_MAX_ROWS", "XLSX_MAX_COLUMNS"]

import datetime
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ExportError
from ..plan.rows import field_unit
from .exports import check_writable, write_bytes_atomic, write_folder_atomic
from .text_cells import csv_writer, neutralise
from ..plan.sweep import sweep_keys

#: cell styles: how each kind of cell looks in the XLSX
STYLES = {
    "title": {"bold": True, "font_size": 14},
    "header": {"bold": True, "bottom": 1, "bg_color": "#DDEBF7"},
    "section": {"bold": True, "font_color": "#1F4E78"},
    "label": {},
    "text": {"text_wrap": False},
    "input": {"bg_color": "#FFF2CC", "font_color": "#0000FF", "border": 1, "border_color": "#BF9000",
              "locked": False},
    "result": {"bg_color": "#D9D9D9", "italic": True, "border": 1, "border_color": "#7F7F7F"},
    "varied": {"bold": True},
    "calc": {},
    "total": {"bold": True, "top": 1},
    "note": {"italic": True, "font_color": "#595959"},
}
#: number formats
FORMATS = {
    # FLOP and the like; zero as 0, not 0.0000E+00
    "sci": '[=0]0;[<0]-0.0000E+00;0.0000E+00',
    "count": "#,##0",
    # no cents from $10,000 ($1,631,335), cents below ($2.50) and on negative amounts (a
    # format holds two conditions, and its last section shows the absolute value)
    "money": '[>=10000]"$"#,##0;[>=0]"$"#,##0.00;-"$"#,##0.00',
    "pct": "0.00%",
    "factor": "0.000000",
    "num": "#,##0.0000",
    "int": "0",
    "loss": "0.000000",
}


@dataclass
class Cell:
    """One cell: a literal ``value``, or a ``formula`` (starting with "=") whose stored
    result is ``value``. ``style`` is a key of STYLES, ``fmt`` of FORMATS."""

    value: float | str | bool | None = None
    formula: str | None = None
    style: str = "text"
    fmt: str | None = None
    #: for an input: the (lowest, highest) value a spreadsheet program accepts, None for no check
    valid: tuple[float, float] | None = None


@dataclass
class Sheet:
    """A sheet: its rows, column widths, and the header rows and label columns frozen on
    screen (``freeze``, rows × columns), which print on every page too."""

    name: str
    rows: list[list[Cell]] = field(default_factory=list)
    widths: tuple[float, ...] = ()
    freeze: tuple[int, int] | None = None
    autofilter: bool = False


@dataclass
class Book:
    """Sheets plus workbook names (name → absolute reference such as Calculations!$B$5)."""

    sheets: list[Sheet]
    names: dict[str, str] = field(default_factory=dict)
    #: the date written on the cover and in the file's properties; None (the default) keeps
    #: dates out, so the same plan gives the same bytes
    stamp: datetime.date | None = None

    def sheet(self, name: str) -> Sheet:
        return next(s for s in self.sheets if s.name == name)


def quote_sheet(sheet: str) -> str:
    return f"'{sheet}'" if " " in sheet else sheet


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out



def made_by(stamp) -> str:
    return f"Made by lifeopt {__version__}" + (f" on {stamp.isoformat()}" if stamp else "")


# ------------------------------------------------------------------ a sweep's workbook
def sweep_book(rows: list[dict], varied: list[str], source: str, *,
               stamp: datetime.date | None = None) -> Book:
    """A Cover and one row per sweep point (every field, base units, headers with their
    units, a format per unit, an autofilter); ``stamp`` as for :func:`plan_book`."""
    cover = Sheet("Cover", widths=(110,))
    for text, style in ((f"Sweep of {source}", "title"),
                        (f"{made_by(stamp)}.", "text"),
                        (f"Varied: {', '.join(varied)} ({len(rows)} points). Each row is a separately "
                         f"solved plan; the columns are in base units (parameters, tokens, FLOP, $).", "text"),
                        ("The varied settings (bold, first columns) are the points' values, not inputs: "
                         "nothing in this sheet recalculates. Re-run `lifeopt sweep` to change them.", "text"),
                        ("Rows whose status is not 'optimal' did not solve; their message says why.", "text")):
        cover.rows.append([Cell(text, style=style)])
    keys = sweep_keys(rows)
    headers = [sweep_header(k) for k in keys]
    data = Sheet("Sweep", widths=tuple(min(40.0, max(12.0, len(h) + 2.0)) for h in headers),
                 freeze=(1, len(varied)), autofilter=True)
    data.rows.append([Cell(h, style="header") for h in headers])
    formats = [None if k in varied else sweep_format(k) for k in keys]
    for r in rows:
        data.rows.append([Cell(r.get(k), style="varied" if k in varied else "calc",
                               fmt=f if isinstance(r.get(k), float) else None)
                          for k, f in zip(keys, formats)])
    return Book([cover, data], stamp=stamp)


def sweep_header(key: str) -> str:
    """A sweep column's header: the field in words with its unit ("total cost pv [$]")."""
    unit, _ = field_unit(key)
    words = key.removesuffix("_usd").replace("_", " ") if "." not in key else key
    return f"{words} [{unit}]" if unit else words


def sweep_format(key: str) -> str:
    """A sweep column's number format, by its unit."""
    return field_unit(key)[1] or "num"


#: the largest sheet a spreadsheet program opens (Excel's limits; LibreOffice's match)
XLSX_MAX_ROWS, XLSX_MAX_COLUMNS = 1_048_576, 16_384


def fitted_widths(sheet: Sheet, cap: float = 60.0) -> tuple[float, ...]:
    """Column widths [characters] at least the sheet's own, and wide enough for each
    column's header and for the labels of the first column (up to ``cap``), so that no
    header or label is clipped; long notes and single-column text keep their width."""
    widths = list(sheet.widths)
    if not widths:
        return ()
    text_len = lambda cell: len(str(cell.value)) if isinstance(cell.value, str) else 0   # noqa: E731
    if sheet.rows and len(widths) > 1:
        for c, cell in enumerate(sheet.rows[0][:len(widths)]):
            if cell.style == "header":
                widths[c] = max(widths[c], min(cap, text_len(cell) + 2))
        labels = [text_len(r[0]) for r in sheet.rows[1:] if r and r[0].style == "label"]
        if labels:
            widths[0] = max(widths[0], min(cap, max(labels) + 2))
    return tuple(widths)


def check_sheet_sizes(book: Book) -> None:
    """ExportError when a sheet has more rows or columns than a spreadsheet holds (the
    writer would drop them without a word)."""
    for sheet in book.sheets:
        rows = len(sheet.rows)
        columns = max((len(r) for r in sheet.rows), default=0)
        if rows > XLSX_MAX_ROWS or columns > XLSX_MAX_COLUMNS:
            raise ExportError(f"sheet {sheet.name!r} would have {rows:,} rows and {columns:,} columns; a "
                              f"spreadsheet holds {XLSX_MAX_ROWS:,} × {XLSX_MAX_COLUMNS:,}: write CSV "
                              f"(--format csv -o FILE) or sweep fewer points / months")


def xlsx_bytes(book: Book) -> bytes:
    """The workbook as XLSX bytes (needs XlsxWriter: pip install 'lifecycle_opt[xlsx]')."""
    check_sheet_sizes(book)
    try:
        import xlsxwriter
    except ImportError:
        raise ExportError("XLSX export needs XlsxWriter: pip install 'lifecycle_opt[xlsx]' "
                          "(or pip install XlsxWriter)") from None
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_urls": False, "nan_inf_to_errors": True})
    # XlsxWriter stamps the file with the time of writing unless told a date: without a
    # stamp, the fixed date its zip entries carry too (1980-01-01), so bytes repeat
    created = datetime.datetime.combine(book.stamp or datetime.date(1980, 1, 1), datetime.time())
    wb.set_properties({"title": "lifeopt plan", "comments": "Made by lifecycle_opt", "created": created})
    formats: dict = {}

    def fmt_of(cell: Cell):
        key = (cell.style, cell.fmt)
        if key not in formats:
            props = dict(STYLES.get(cell.style, {}))
            if cell.fmt:
                props["num_format"] = FORMATS[cell.fmt]
            formats[key] = wb.add_format(props)
        return formats[key]

    for sheet in book.sheets:
        ws = wb.add_worksheet(sheet.name)
        for c, width in enumerate(fitted_widths(sheet)):
            ws.set_column(c, c, width)
        if sheet.freeze:
            ws.freeze_panes(*sheet.freeze)
        _page_setup(ws, sheet)
        if sheet.autofilter and sheet.rows:
            ws.autofilter(0, 0, len(sheet.rows) - 1, max(len(r) for r in sheet.rows) - 1)
        if any(cell.formula for row in sheet.rows for cell in row):
            # formulas locked, inputs not; no password, so an analyst can unprotect at will
            ws.protect("", {"format_columns": True, "format_rows": True, "autofilter": True, "sort": True})
        for r, row in enumerate(sheet.rows):
            for c, cell in enumerate(row):
                f = fmt_of(cell)
                if cell.valid is not None:
                    lo, hi = cell.valid
                    kind = "integer" if cell.fmt == "int" else "decimal"     # GPUs and months are whole
                    ws.data_validation(r, c, r, c, {"validate": kind, "criteria": "between", "minimum": lo,
                                                    "maximum": hi, "error_title": "Out of range",
                                                    "error_message": f"Give a value from {lo:g} to {hi:g}."})
                if cell.formula is not None:
                    ws.write_formula(r, c, cell.formula, f, _cached(cell.value))
                elif cell.value is None or cell.value == "":
                    if cell.style not in ("text", "label"):
                        ws.write_blank(r, c, None, f)
                elif isinstance(cell.value, bool):
                    ws.write_boolean(r, c, cell.value, f)
                elif isinstance(cell.value, (int, float)):
                    ws.write_number(r, c, float(cell.value), f)
                else:
                    ws.write_string(r, c, neutralise(str(cell.value)), f)
    for name, ref in sorted(book.names.items()):
        wb.define_name(name, f"={ref}")
    wb.close()
    return buf.getvalue()


#: a sheet wider than this many character widths prints in landscape
_LANDSCAPE_WIDTH = 110


def _page_setup(ws, sheet: Sheet) -> None:
    """Print setup: one page wide (as many tall as needed), landscape when wide, the
    print area the used range, the frozen header rows and label columns repeated on every
    page; a one-column sheet (the Cover) on one page."""
    rows = len(sheet.rows)
    columns = max((len(r) for r in sheet.rows), default=1)
    if rows:
        ws.print_area(0, 0, rows - 1, max(columns, len(sheet.widths), 1) - 1)
    if sum(sheet.widths) > _LANDSCAPE_WIDTH:
        ws.set_landscape()
    ws.fit_to_pages(1, 1 if columns == 1 else 0)
    if sheet.freeze:
        header_rows, label_columns = sheet.freeze
        if header_rows:
            ws.repeat_rows(0, header_rows - 1)
        if label_columns:
            ws.repeat_columns(0, label_columns - 1)
    ws.set_footer(f"&L{sheet.name}&RPage &P of &N")


def _cached(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    return float(value) if isinstance(value, (int, float)) else str(value)


def write_xlsx(book: Book, path: str | Path, *, force: bool = False) -> Path:
    """Write the workbook to ``path`` atomically."""
    check_writable(path, force=force)
    return write_bytes_atomic(path, xlsx_bytes(book), force=force)


def csv_tables(book: Book) -> dict[str, str]:
    """Every sheet as CSV text (stored values; formulas are not carried), keyed by a file
    name such as ``cash_flow.csv``."""
    out = {}
    for sheet in book.sheets:
        buf = io.StringIO()
        writer = csv_writer(buf)
        for row in sheet.rows:
            writer.writerow([neutralise(_csv_text(c.value)) for c in row])
        out[sheet.name.lower().replace(" ", "_") + ".csv"] = buf.getvalue()
    return out


def _csv_text(value):
    """A cell as CSV text: floats (numpy's too) as their shortest round-trip repr, whole
    numbers as integers, text unchanged."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value


def write_csv_tables(book: Book, folder: str | Path, *, force: bool = False) -> list[Path]:
    """Write :func:`csv_tables` as the folder ``folder``, all files at once (a temporary
    folder renamed into place: :func:`.exports.write_folder_atomic`); an existing folder
    is replaced only with ``force``."""
    return write_folder_atomic(folder, csv_tables(book), force=force)
