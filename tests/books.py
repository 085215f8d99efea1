"""The examples' plans and workbooks, solved once per test session and shared by the
workbook tests."""

import openpyxl

from lifecycle_opt.outputs.plan_book import plan_book
from lifecycle_opt.outputs.workbook import write_xlsx

from conftest import EXAMPLES, example_plans

#: every example that is one plan (compare_demand.toml holds several, as [[scenario]] tables)
PLAN_EXAMPLES = sorted(p.stem for p in EXAMPLES.glob("*.toml") if "[[scenario]]" not in p.read_text())


def planned(name):
    """(scenario, solution) of ``examples/<name>.toml``, solved once per test session."""
    return example_plans(f"{name}.toml")[0]


def workbook_file(name, folder, stem=None):
    """The workbook of an example written to ``folder``; (path, solution)."""
    scenario, sol = planned(name)
    return write_xlsx(plan_book(scenario, sol), folder / f"{stem or name}.xlsx"), sol


def formula_cells(path):
    """(sheet, cell) of every formula in the workbook at ``path``."""
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    yield ws.title, cell.coordinate


def row_of(ws, label):
    """The cells of the row of ``ws`` whose first cell is ``label``."""
    return next(r for r in ws.iter_rows() if r[0].value == label)


def month_columns(ws):
    """The 1-based columns of the Cash flow's months (headers "YYYY-MM" or "M<m>")."""
    import re
    return [c.column for c in ws[1] if isinstance(c.value, str) and re.fullmatch(r"\d{4}-\d{2}|M\d+", c.value)]


def column_width(ws, column: int) -> float:
    """The width [characters] of 1-based ``column`` (openpyxl keeps a run of columns of one
    width under its first column's letter)."""
    for dim in ws.column_dimensions.values():
        if dim.min and dim.max and dim.min <= column <= dim.max and dim.width:
            return dim.width
    return 8.43
