"""A sweep as a workbook, streamed: a Cover and one row per point, written a chunk of
columns at a time by XlsxWriter's constant-memory mode, so that memory holds one chunk
(and XlsxWriter one row) however many points.

The sheet: every field in base units, headers in words with their units, the varied
values bold in the first (frozen) columns, a number format per unit, an autofilter, and
the print setup of the plan's workbook (one page wide, the header row on every page).
A point with no value is an empty cell.
"""
from __future__ import annotations

__all__ = ["write_sweep_book", "check_fits", "sweep_header", "sweep_format"]

import datetime
from pathlib import Path

from ..errors import ExportError
from ..plan.rows import field_unit, plain_column
from .exports import write_stream_atomic
from .text_cells import neutralise
from .book_print import MARGINS_INCHES, print_setup
from .workbook import COVER_WIDTH, FORMATS, STYLES, XLSX_MAX_ROWS, Cell, Sheet, fitted_widths, made_by, text_layout


def sweep_header(key: str) -> str:
    """A sweep column's header: the field in words with its unit ("total cost pv [$]")."""
    unit, _ = field_unit(key)
    words = key.removesuffix("_usd").replace("_", " ") if "." not in key else key
    return f"{words} [{unit}]" if unit else words


def sweep_format(key: str) -> str:
    """A sweep column's number format, by its unit."""
    return field_unit(key)[1] or "num"


def check_fits(points: int, path) -> None:
    """Refuse, before solving, a sweep with more rows than a spreadsheet holds."""
    if points + 1 > XLSX_MAX_ROWS:
        raise ExportError(f"{path}: a sweep of {points:,} points does not fit a spreadsheet "
                          f"({XLSX_MAX_ROWS - 1:,} rows at most); write it with -o sweep.parquet or "
                          f"-o sweep.csv instead")


def write_sweep_book(path: str | Path, keys: list[str], varied: list[str], points: int, source: str, chunks,
                     consume, *, stamp: datetime.date | None = None, force: bool = False):
    """Write the workbook of a sweep of ``points`` rows of ``keys`` (``varied`` first) to
    ``path`` atomically, from the chunks of columns ({key: array}) that pass through it:
    ``consume`` is called with an iterator of ``chunks`` that writes each chunk's rows as
    it goes by (so that the same chunks can feed another output); its result is returned.
    ``stamp`` as for the plan's workbook (no date by default: the same sweep, the same bytes)."""
    check_fits(points, path)
    try:
        import xlsxwriter
    except ImportError:
        raise ExportError("XLSX export needs XlsxWriter: pip install 'lifecycle_opt[xlsx]' "
                          "(or pip install XlsxWriter)") from None
    out = {}

    def write(fh):
        wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "nan_inf_to_errors": True})
        # the fixed date of XlsxWriter's zip entries without a stamp, so that bytes repeat
        created = datetime.datetime.combine(stamp or datetime.date(1980, 1, 1), datetime.time())
        wb.set_properties({"title": "lifeopt sweep", "comments": "Made by lifecycle_opt", "created": created})
        _cover(wb, source, varied, points, stamp)
        sheet = _SweepSheet(wb, keys, varied, points, f"Sweep of {source}", stamp)
        out["result"] = consume(sheet.rows_of(chunk) for chunk in chunks)
        wb.close()
    write_stream_atomic(path, write, force=force)
    return out.get("result")


def _cover(wb, source: str, varied: list[str], points: int, stamp) -> None:
    """The Cover: what the sheet holds, its text wrapped in one column (as the plan's book)."""
    ws = wb.add_worksheet("Cover")
    ws.set_column(0, 0, COVER_WIDTH)
    sheet = Sheet("Cover", widths=(COVER_WIDTH,))
    for text, style in ((f"Sweep of {source}", "title"), (f"{made_by(stamp)}.", "text"),
                        (f"Varied: {', '.join(varied)} ({points} points). Each row is a separately "
                         f"solved plan; the columns are in base units (parameters, tokens, FLOP, $).", "text"),
                        ("The varied settings (bold, first columns) are the points' values, not inputs: "
                         "nothing in this sheet recalculates. Re-run `lifeopt sweep` to change them.", "text"),
                        ("Rows whose status is not 'optimal' did not solve; their message says why.", "text")):
        sheet.rows.append([Cell(text, style=style)])
    layout = text_layout(sheet, sheet.widths)
    for r, (cell,) in enumerate(sheet.rows):
        wrap = {"text_wrap": True} if (r, 0) in layout.wrapped else {}
        ws.write_string(r, 0, cell.value, wb.add_format({**STYLES[cell.style], **wrap}))
        if r in layout.heights:
            ws.set_row(r, layout.heights[r])
    _print(ws, "Cover", (COVER_WIDTH,), len(sheet.rows), 0, f"Sweep of {source}", stamp)


def _print(ws, name: str, widths, rows: int, repeat: int, title: str, stamp) -> None:
    """The print setup of the plan's book (:func:`.book_print.print_setup`): scale and
    orientation, the header row and varied columns on every page, the title at the top,
    the sheet, the date printed and the page at the bottom."""
    setup = print_setup(widths, repeat)
    ws.print_area(0, 0, max(rows - 1, 0), len(widths) - 1)
    ws.set_landscape() if setup.landscape else ws.set_portrait()
    ws.set_print_scale(setup.scale)
    ws.set_margins(**MARGINS_INCHES)
    if name != "Cover":
        ws.repeat_rows(0, 0)
    if setup.repeat_columns:
        ws.repeat_columns(0, setup.repeat_columns - 1)
    escape = lambda text: text.replace("&", "&&")      # noqa: E731 — & starts a header code
    ws.set_header(f"&L{escape(title[:120])}" + (f"&Rmade {stamp.isoformat()}" if stamp else ""), {"margin": 0.3})
    ws.set_footer(f"&L{name}&Cprinted &D&RPage &P of &N", {"margin": 0.3})


class _SweepSheet:
    """The Sweep sheet, its header written, its rows written a chunk at a time."""

    def __init__(self, wb, keys: list[str], varied: list[str], points: int, title: str, stamp):
        self.ws = ws = wb.add_worksheet("Sweep")
        self.keys, self.row = keys, 1
        headers = Sheet("Sweep", rows=[[Cell(sweep_header(k), style="header") for k in keys]],
                        widths=(12.0,) * len(keys))
        # headers longer than their column (24 characters at most) wrap: the header row grows
        widths = fitted_widths(headers)
        layout = text_layout(headers, widths)
        for c, width in enumerate(widths):
            ws.set_column(c, c, width)
        if 0 in layout.heights:
            ws.set_row(0, layout.heights[0])
        ws.freeze_panes(1, len(varied))
        ws.autofilter(0, 0, points, len(keys) - 1)
        _print(ws, "Sweep", widths, points + 1, len(varied), title, stamp)
        for c, cell in enumerate(headers.rows[0]):
            wrap = {"text_wrap": True} if (0, c) in layout.wrapped else {}
            ws.write_string(0, c, cell.value, wb.add_format({**STYLES["header"], **wrap}))
        # per column: the format of its numbers, and of its text (the varied values bold)
        self.number_formats = [wb.add_format({**STYLES["varied"]}) if k in varied else
                               wb.add_format({**STYLES["calc"], "num_format": FORMATS[sweep_format(k)]})
                               for k in keys]
        self.text_formats = [wb.add_format(dict(STYLES["varied" if k in varied else "calc"])) for k in keys]

    def rows_of(self, cols: dict) -> dict:
        """Write the rows of a chunk of columns; the chunk, for whoever reads it next."""
        ws, r = self.ws, self.row
        columns = [plain_column(k, cols[k]) for k in self.keys]
        write_number, write_string, write_boolean = ws.write_number, ws.write_string, ws.write_boolean
        number_formats, text_formats = self.number_formats, self.text_formats
        for values in zip(*columns):
            for c, v in enumerate(values):
                if v is None:
                    continue                   # no value: an empty cell
                kind = type(v)
                if kind is float or kind is int:
                    write_number(r, c, v, number_formats[c] if kind is float else text_formats[c])
                elif kind is bool:
                    write_boolean(r, c, v, text_formats[c])
                else:
                    write_string(r, c, neutralise(str(v)), text_formats[c])
            r += 1
        self.row = r
        return cols

