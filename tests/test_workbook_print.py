"""How the workbooks print (issue 30: the Cover cut off, sheets printed at 6 pt, the Cash
flow at 2 pt, a sweep at 0.7 pt). LibreOffice prints every example's workbook and a
sweep's to PDF, all in one call, and the tests read the pages back:

* no character on any page is smaller than 8 pt, measured on the PDF (pdfminer.six gives
  each character's size through the page's and the text's transformations), and the print
  setup each sheet stores says the same: its scale, or for a sheet fitted to the page the
  scale its column widths need (ECMA-376 Part 1 §18.3.1.13: a column w characters wide is
  w × 7 + 5 pixels of Calibri 11, 0.75 pt a pixel), times its largest and smallest fonts;
* the Cover is whole: every character inside the page, all its text on it;
* the wide sheets repeat their labels on every page, the Cash flow prints its totals
  first and then its months, and every page carries the date it was printed.

The page layout depends on the fonts installed (LibreOffice without Carlito, Calibri's
metric twin, sets Calibri's text in wider DejaVu Sans and needs more pages); none of these
checks does.
"""
import math
import re

import openpyxl
import pytest

from lifecycle_opt.execution.sweeps import sweep
from lifecycle_opt.outputs.sweep_book import write_sweep_book

from books import PLAN_EXAMPLES, workbook_file
from conftest import EXAMPLES
from spreadsheet import pdf_pages

pytest.importorskip("pdfminer", reason="reading the printed PDFs needs pdfminer.six (pip install -e '.[test]')")

#: the smallest size anything may print at [pt] (issue 30)
MIN_POINTS = 8.0
#: how far from the top and bottom edges the header and footer print [pt]: they sit 0.3 in
#: (21.6 pt) from the edge, a line of text deep; the cells start 0.75 in (54 pt) in
MARGIN_POINTS = 40.0
#: (width, height) of the paper sizes of OOXML's paperSize [in] (ECMA-376 §18.3.1.63): 1 Letter
#: (the default), 9 A4
PAPER_INCHES = {1: (8.5, 11.0), 9: (8.27, 11.69)}


@pytest.fixture(scope="module")
def printed(libreoffice, tmp_path_factory):
    """name → (workbook, its pages as printed) for every example's workbook and a sweep's."""
    folder = tmp_path_factory.mktemp("printed")
    files = [workbook_file(name, folder)[0] for name in PLAN_EXAMPLES]
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11, 1e12]})
    write_sweep_book(folder / "sweep.xlsx", rows.keys, ["inference.requests"], len(rows), "chat_assistant.toml",
                     [rows.columns], list)
    files.append(folder / "sweep.xlsx")
    return {path.stem: (path, pdf_pages(pdf)) for path, pdf in zip(files, libreoffice.pdf(files))}


def footer(page) -> str:
    """The footer's text (its characters, spaces dropped): sheet, date printed, page."""
    return "".join(c[0] for c in page["chars"] if c[5] < MARGIN_POINTS)


def header(page) -> str:
    return "".join(c[0] for c in page["chars"] if c[3] > page["height"] - MARGIN_POINTS)


def pages_of(pages, sheet):
    """The pages that print ``sheet`` (its name starts their footer)."""
    return [p for p in pages if footer(p).startswith(sheet.replace(" ", ""))]


def test_no_page_prints_below_8_points(printed):
    smallest = {}
    for name, (_, pages) in printed.items():
        assert pages, name
        for k, page in enumerate(pages):
            assert page["chars"], (name, k + 1)                       # no blank page
            smallest[f"{name} p{k + 1} {footer(page)[:12]}"] = min(c[1] for c in page["chars"])
    low = {page: round(size, 2) for page, size in smallest.items() if size < MIN_POINTS}
    assert not low, low


def column_points(width: float) -> float:
    """A column's printed width at 100 % [pt] (ECMA-376 §18.3.1.13, Calibri 11: 7-pixel digits)."""
    return math.floor(width * 7 + 5) * 0.75


def sheet_scale(ws) -> float:
    """The scale a worksheet prints at [–]: the one it sets, or, fitted to a page's width,
    the one its columns need on its paper and orientation, less its margins."""
    fit = ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage
    if not fit:
        return (ws.page_setup.scale or 100) / 100
    paper = PAPER_INCHES[int(ws.page_setup.paperSize or 1)]
    wide = paper[1] if ws.page_setup.orientation == "landscape" else paper[0]
    printable = (wide - ws.page_margins.left - ws.page_margins.right) * 72
    from books import column_width
    width = sum(column_points(column_width(ws, c)) for c in range(1, ws.max_column + 1))
    return min(1.0, printable / width)


def test_every_sheet_sets_a_scale_that_prints_8_points_or_more(printed):
    """From the print setup alone: the scale (or the fitted one) times the smallest font
    of the sheet's cells; and the largest font (the Cover's title) within its page too."""
    for name, (path, _) in printed.items():
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            fonts = {c.font.sz or 11.0 for row in ws.iter_rows() for c in row if c.value is not None}
            scale = sheet_scale(ws)
            assert min(fonts) * scale >= MIN_POINTS, (name, ws.title, scale, min(fonts))
            # at 100 % nothing is wider than a page: the title (14 pt) prints at 14 pt at most
            assert max(fonts) * scale <= 14.0, (name, ws.title, scale)
            assert not (ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage), \
                (name, ws.title, "a sheet fitted to its page shrinks with a wider font than Calibri")


def test_the_cover_prints_whole(printed):
    """Every character of the Cover on its page, and all the Cover's text there (issue 30:
    "…They do N" for "They do NOT recompute")."""
    for name, (path, pages) in printed.items():
        cover = pages_of(pages, "Cover")
        assert len(cover) == 1, name
        page = cover[0]
        outside = [c for c in page["chars"] if c[2] < 0 or c[4] > page["width"] or c[3] < 0 or c[5] > page["height"]]
        assert not outside, (name, "".join(c[0] for c in outside)[:80])
        ws = openpyxl.load_workbook(path)["Cover"]
        text = "".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
        assert re.sub(r"\s", "", text) in page["text"], name
        assert "do NOT recompute" in text or name == "sweep"


def test_wide_sheets_repeat_their_labels_and_pages_carry_the_date(printed):
    """The Cash flow prints its totals by year first, then its months, each page with the
    row labels; the sweep's pages each carry the varied column; every page has the book's
    title at the top and, at the bottom, the sheet, the date printed and the page."""
    _, pages = printed["finance_plan"]
    cash = pages_of(pages, "Cash flow")
    assert len(cash) >= 1 + 39 // 6                    # the totals, then at most half a year a page
    for page in cash:
        for label in ("month", "totalspend", "presentvalueofspend", "discountfactor"):
            assert label in page["text"], (label, footer(page))
    assert "2027-01…2027-12" in cash[0]["text"] and "2027-01…2027-12" not in cash[-1]["text"]
    assert "2030-03" in cash[-1]["text"]               # the last month, on the last page
    _, swept = printed["sweep"]
    data = pages_of(swept, "Sweep")
    assert len(data) > 1 and all("inference.requests" in p["text"] for p in data)
    for name, (_, pages) in printed.items():
        title = "Sweepofchat_assistant.toml" if name == "sweep" else "Lifecycleplan:"
        for page in pages:
            assert re.search(r"printed\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}Page\d+of\d+$", footer(page)), footer(page)
            assert header(page).startswith(title), (name, header(page))
