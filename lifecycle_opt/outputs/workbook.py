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
built by :mod:`.plan_book`; a sweep's is streamed by :mod:`.sweep_book`), and written by two writers: :func:`xlsx_bytes` (XlsxWriter, the optional ``xlsx`` extra) and
:func:`csv_tables` (values only).
"""
from __future__ import annotations

__all__ = ["Cell", "Sheet", "Chart", "Book", "xlsx_bytes", "write_xlsx", "csv_tables",
           "write_csv_tables", "made_by", "quote_sheet", "column_letter", "STYLES", "FORMATS", "check_sheet_sizes", "fitted_widths",
           "text_layout", "TextLayout", "COVER_WIDTH",
           "XLSX_MAX_ROWS", "XLSX_MAX_COLUMNS"]

import datetime
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ExportError
from .book_print import FONT_POINTS, LINE_POINTS, MARGINS_INCHES, print_setup, wrapped_lines
from .exports import check_writable, write_bytes_atomic, write_folder_atomic
from .text_cells import csv_writer, neutralise

#: cell styles: how each kind of cell looks in the XLSX
STYLES = {
    "title": {"bold": True, "font_size": 14},
    "header": {"bold": True, "bottom": 1, "bg_color": "#DDEBF7"},
    # the header of a column of numbers, aligned as they are
    "header_number": {"bold": True, "bottom": 1, "bg_color": "#DDEBF7", "align": "right"},
    "section": {"bold": True, "font_color": "#1F4E78"},
    "label": {},
    "text": {},
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
    # FLOP, FLOP/s and the like (only these: counts, times and money never show an
    # exponent); zero as 0, not 0.0000E+00
    "sci": '[=0]0;[<0]-0.0000E+00;0.0000E+00',
    "count": "#,##0",
    # amounts of money in whole dollars, negative ones too ($1,631,335; -$25,001; $0), so a
    # column of amounts has one scale
    "money": '"$"#,##0;-"$"#,##0',
    # prices (dollars per GPU-hour, per kWh, per million tokens): with cents, signed alike
    "price": '"$"#,##0.00;-"$"#,##0.00',
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


@dataclass(frozen=True)
class Chart:
    """A column chart of rows of the sheet ``source`` over a run of its columns: each of
    ``series`` (row, name) is a row's cells from ``first_column`` to ``last_column``
    (0-based), the categories the cells of ``category_row``; drawn with its top left at
    ``anchor`` (row, column), ``size`` (width, height) pixels, the value axis in
    ``y_format`` (a FORMATS key). A sheet that holds only charts prints each on one
    landscape page (at most 960 × 640 pixels: 720 × 480 pt)."""

    title: str
    source: str
    series: tuple[tuple[int, str], ...]
    category_row: int
    first_column: int
    last_column: int
    anchor: tuple[int, int]
    size: tuple[int, int] = (900, 360)
    stacked: bool = True
    y_format: str = "money"


@dataclass
class Sheet:
    """A sheet: its rows, column widths, and the header rows and label columns frozen on
    screen (``freeze``, rows × columns). The header rows print on every page, and so do the
    first ``repeat_columns`` columns (the frozen ones unless given); ``breaks`` are the
    columns (0-based) that start a new page when printed; ``charts`` are drawn on it."""

    name: str
    rows: list[list[Cell]] = field(default_factory=list)
    widths: tuple[float, ...] = ()
    freeze: tuple[int, int] | None = None
    autofilter: bool = False
    repeat_columns: int | None = None
    breaks: tuple[int, ...] = ()
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Book:
    """Sheets plus workbook names (name → absolute reference such as Calculations!$B$5)."""

    sheets: list[Sheet]
    names: dict[str, str] = field(default_factory=dict)
    #: the date written on the cover and in the file's properties; None (the default) keeps
    #: dates out, so the same plan gives the same bytes
    stamp: datetime.date | None = None
    #: what the book is, printed at the top of every page
    title: str = ""

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


# ------------------------------------------------------------------ sheets of one column
#: the Cover's one column [characters], its text wrapped: within a portrait page's width at
#: 100 % for digits as wide as DejaVu Sans's (9.3 pixels at 11 pt; Calibri's are 7), the
#: widest font a spreadsheet program is likely to put in Calibri's place (LibreOffice
#: without Carlito). A sheet of one column does not shrink to fit the page in LibreOffice
COVER_WIDTH = 72.0


#: the largest sheet a spreadsheet program opens (Excel's limits; LibreOffice's match)
XLSX_MAX_ROWS, XLSX_MAX_COLUMNS = 1_048_576, 16_384
#: the widest a column grows for its header, and the first column for its labels
#: [characters]; longer ones wrap, so that wide sheets still print at a readable size
_HEADER_CAP, _LABEL_CAP = 24.0, 46.0
#: the width of a column the sheet gives none [characters] (the spreadsheet's default)
_DEFAULT_WIDTH = 8.43
#: a row holding one text cell (a section title, a warning) spans this many columns, the
#: label and the value: they print on the first page of a row even where a wide font
#: pushes the later columns onto a page of their own
_SPAN_COLUMNS = 2


def fitted_widths(sheet: Sheet) -> tuple[float, ...]:
    """Column widths [characters] at least the sheet's own, and wide enough for each
    column's header (up to 24) and for the labels of the first column (up to 46); longer
    headers and labels wrap (:func:`text_layout`), and so do long notes."""
    widths = list(sheet.widths)
    if not widths:
        return ()
    text_len = lambda cell: len(str(cell.value)) if isinstance(cell.value, str) else 0   # noqa: E731
    if sheet.rows and len(widths) > 1:
        for c, cell in enumerate(sheet.rows[0][:len(widths)]):
            if cell.style == "header":
                widths[c] = max(widths[c], min(_HEADER_CAP, text_len(cell) + 2))
        labels = [text_len(r[0]) for r in sheet.rows[1:] if r and r[0].style == "label"]
        if labels:
            widths[0] = max(widths[0], min(_LABEL_CAP, max(labels) + 2))
    return tuple(widths)


@dataclass(frozen=True)
class TextLayout:
    """Where text wraps in a sheet: the cells (row, column) that wrap, the rows whose one
    text cell spans ``span`` columns (merged), and the height of every taller row [pt]."""

    wrapped: frozenset
    span: dict
    heights: dict


def text_layout(sheet: Sheet, widths: Sequence[float]) -> TextLayout:
    """Text longer than its column wraps, and its row grows to hold it (a spreadsheet
    neither wraps nor grows rows by itself, so printed text would be cut); a row with one
    text cell (a section title, a warning) spans the label and value columns first."""
    wrapped, span, heights = set(), {}, {}
    spans_all = min(len(widths), _SPAN_COLUMNS)
    for r, row in enumerate(sheet.rows):
        lone = len(row) == 1 and spans_all > 1 and isinstance(row[0].value, str)
        if lone:
            span[r] = spans_all
        lines = 1.0
        for c, cell in enumerate(row):
            if not isinstance(cell.value, str) or not cell.value:
                continue
            room = sum(widths[c:c + (spans_all if lone else 1)]) if c < len(widths) else _DEFAULT_WIDTH
            size = STYLES.get(cell.style, {}).get("font_size", FONT_POINTS) / FONT_POINTS
            if len(cell.value) * size < room - 1 and "\n" not in cell.value:
                continue                            # fits on one line: no need to count
            n = wrapped_lines(cell.value, room / size)
            if n > 1:
                wrapped.add((r, c))
                lines = max(lines, n * size)
        if lines > 1:
            heights[r] = LINE_POINTS * lines
    return TextLayout(frozenset(wrapped), span, heights)


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
    wb.set_properties({"title": book.title or "lifeopt plan", "comments": "Made by lifecycle_opt",
                       "created": created})
    formats: dict = {}

    def fmt_of(cell: Cell, wrap: bool = False):
        key = (cell.style, cell.fmt, wrap)
        if key not in formats:
            # top-aligned, so that a row grown for wrapped text reads from its top line
            props = {"valign": "top", **STYLES.get(cell.style, {})}
            if cell.fmt:
                props["num_format"] = FORMATS[cell.fmt]
            if wrap:
                props["text_wrap"] = True
            formats[key] = wb.add_format(props)
        return formats[key]

    for sheet in book.sheets:
        if not sheet.rows and len(sheet.charts) == 1:
            _chart_sheet(wb, sheet, book)
        else:
            _write_sheet(wb, wb.add_worksheet(sheet.name), sheet, book, fmt_of)
    for name, ref in sorted(book.names.items()):
        wb.define_name(name, f"={ref}")
    wb.close()
    return buf.getvalue()


def _write_sheet(wb, ws, sheet: Sheet, book: Book, fmt_of) -> None:
    """One sheet's columns, print setup, protection, cells and charts."""
    widths = fitted_widths(sheet)
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    layout = text_layout(sheet, widths)
    for r, height in layout.heights.items():
        ws.set_row(r, height)
    if sheet.freeze:
        ws.freeze_panes(*sheet.freeze)
    _page_setup(ws, sheet, widths, book)
    if sheet.autofilter and sheet.rows:
        ws.autofilter(0, 0, len(sheet.rows) - 1, max(len(r) for r in sheet.rows) - 1)
    if any(cell.formula for row in sheet.rows for cell in row):
        # formulas locked, inputs not; no password, so an analyst can unprotect at will
        ws.protect("", {"format_columns": True, "format_rows": True, "autofilter": True, "sort": True})
    for r, row in enumerate(sheet.rows):
        if r in layout.span:
            cell = row[0]
            ws.merge_range(r, 0, r, layout.span[r] - 1, neutralise(str(cell.value)),
                           fmt_of(cell, (r, 0) in layout.wrapped))
            continue
        for c, cell in enumerate(row):
            _write_cell(ws, r, c, cell, fmt_of(cell, (r, c) in layout.wrapped))
    for chart in sheet.charts:
        _draw_chart(wb, ws, sheet, chart)


def _write_cell(ws, r: int, c: int, cell: Cell, f) -> None:
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


def _chart_sheet(wb, sheet: Sheet, book: Book) -> None:
    """A sheet of one chart and no cells, as a chart sheet: it prints on one landscape page
    whatever the width of the spreadsheet's font."""
    cs = wb.add_chartsheet(sheet.name)
    cs.set_chart(_chart(wb, sheet.charts[0]))
    cs.set_landscape()
    cs.set_margins(**MARGINS_INCHES)
    _header_footer(cs, sheet, book)


def _draw_chart(wb, ws, sheet: Sheet, chart: Chart) -> None:
    ws.insert_chart(*chart.anchor, _chart(wb, chart), {"object_position": 1})


def _chart(wb, chart: Chart):
    """A column chart (XlsxWriter's), its text at the sheet's font size so that it prints
    no smaller than the cells."""
    kind = {"type": "column", "subtype": "stacked"} if chart.stacked else {"type": "column"}
    ch = wb.add_chart(kind)
    font = {"size": FONT_POINTS}
    for row, name in chart.series:
        ch.add_series({"name": name, "gap": 40,
                       "categories": [chart.source, chart.category_row, chart.first_column,
                                      chart.category_row, chart.last_column],
                       "values": [chart.source, row, chart.first_column, row, chart.last_column]})
    ch.set_title({"name": chart.title, "name_font": {"size": FONT_POINTS + 1, "bold": True}})
    ch.set_y_axis({"num_format": FORMATS[chart.y_format], "num_font": font})
    ch.set_x_axis({"num_font": {**font, "rotation": -45}})
    ch.set_legend({"position": "bottom", "font": font})
    ch.set_size({"width": chart.size[0], "height": chart.size[1]})
    return ch


#: a row's height and a column's default width in pixels (15 pt and 8.43 characters)
_ROW_PIXELS, _COLUMN_PIXELS = 20, 64


def _page_setup(ws, sheet: Sheet, widths: Sequence[float], book: Book) -> None:
    """Print setup (:func:`.book_print.print_setup`): the scale, orientation and breaks;
    the print area the used range and the charts below it; the header rows and label
    columns on every page; the book's title at the top, the sheet, the date printed and
    the page at the bottom."""
    rows = len(sheet.rows)
    columns = max(max((len(r) for r in sheet.rows), default=1), len(widths), 1)
    for chart in sheet.charts:
        rows = max(rows, chart.anchor[0] + -(-chart.size[1] // _ROW_PIXELS) + 1)
        columns = max(columns, chart.anchor[1] + -(-chart.size[0] // _COLUMN_PIXELS) + 1)
    repeat = sheet.repeat_columns if sheet.repeat_columns is not None else (sheet.freeze or (0, 0))[1]
    setup = print_setup(widths, repeat, sheet.breaks)
    if rows:
        ws.print_area(0, 0, rows - 1, columns - 1)
    ws.set_landscape() if setup.landscape else ws.set_portrait()
    ws.set_print_scale(setup.scale)
    ws.set_margins(**MARGINS_INCHES)
    if sheet.freeze and sheet.freeze[0]:
        ws.repeat_rows(0, sheet.freeze[0] - 1)
    if setup.repeat_columns:
        ws.repeat_columns(0, setup.repeat_columns - 1)
    if setup.breaks:
        ws.set_v_pagebreaks(list(setup.breaks))
    _header_footer(ws, sheet, book)


def _header_footer(ws, sheet: Sheet, book: Book) -> None:
    """The book's title (and the day it was made, with a stamp) at the top of every page;
    the sheet, the date printed and the page at the bottom."""
    escape = lambda text: text.replace("&", "&&")      # noqa: E731 — & starts a header code
    made = f"&Rmade {book.stamp.isoformat()}" if book.stamp else ""
    ws.set_header(f"&L{escape(book.title[:120])}{made}", {"margin": 0.3})
    # &D: the date the page is printed, so that every printout carries its date
    ws.set_footer(f"&L{escape(sheet.name)}&Cprinted &D&RPage &P of &N", {"margin": 0.3})


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
        if not sheet.rows:
            continue                        # a sheet of charts only
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
