"""The spreadsheet export: live formulas, stored values, recalculation by a real spreadsheet
program (LibreOffice), the CSV tables, and the command's options."""
import csv
import io
import sys

import numpy_financial as npf
import openpyxl
import pytest
from click.testing import CliRunner

from lifecycle_opt import solve
from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ExportError
from lifecycle_opt.scenario.reader import load_scenario
from lifecycle_opt.plan.sweep import sweep
from lifecycle_opt.outputs.plan_book import plan_book
from lifecycle_opt.outputs.workbook import Book, csv_tables, sweep_book, write_xlsx, xlsx_bytes

from conftest import EXAMPLES
from spreadsheet import SOFFICE, named_values, pdf_pages, recalculate, set_named_input, strip_cached_values

PLAN_EXAMPLES = ["finance_plan", "owned_cluster", "chat_assistant", "research_model", "small_corpus", "serving_slo"]
needs_libreoffice = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is not installed here (.ci/run installs Debian's "
                            "libreoffice-calc-nogui; on other systems install LibreOffice to run this test)")

_cache = {}


def planned(name):
    if name not in _cache:
        scenario = load_scenario(EXAMPLES / f"{name}.toml")
        _cache[name] = (scenario, solve(scenario))
    return _cache[name]


def workbook_file(name, tmp_path):
    scenario, sol = planned(name)
    return write_xlsx(plan_book(scenario, sol), tmp_path / f"{name}.xlsx"), sol


def formula_cells(path):
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    yield ws.title, cell.coordinate


def test_sheets_and_what_the_cover_says(tmp_path):
    path, _ = workbook_file("finance_plan", tmp_path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Cover", "Inputs", "Calculations", "Cash flow", "Outputs"]
    cover = " ".join(str(c.value) for row in wb["Cover"].iter_rows() for c in row if c.value)
    assert "hoffmann2022" in cover and "Hoffmann et al. 2022" in cover
    assert "do NOT recompute" in cover and "Re-run `lifeopt solve`" in cover
    # the cash flow has one column per month after label, unit and total
    months = [c.value for c in wb["Cash flow"][1]][3:]
    assert months[0] == "2027-01" and months[-1] == "2029-03" and len(months) == 27
    assert "Cash flow" not in openpyxl.load_workbook(workbook_file("chat_assistant", tmp_path)[0]).sheetnames


def test_every_input_is_marked_with_unit_key_and_source(tmp_path):
    path, _ = workbook_file("owned_cluster", tmp_path)
    ws = openpyxl.load_workbook(path)["Inputs"]
    inputs = [row for row in ws.iter_rows(min_row=2) if row[1].value is not None and row[1].fill.fgColor.rgb
              and row[1].fill.fgColor.rgb.endswith("FFF2CC")]
    assert len(inputs) > 20
    for label, value, unit, key, source in (tuple(r[:5]) for r in inputs):
        assert isinstance(value.value, (int, float)), label.value
        assert value.font.color.rgb.endswith("0000FF")          # blue text: an input
        assert unit.value and source.value, label.value
    keys = {r[3].value for r in inputs}
    assert {"finance.discount_rate", "finance.training_gpu_capex", "finance.energy_price",
            "hardware.training.mfu", "law.alpha"} <= keys


def test_formulas_store_their_values_for_viewers_that_do_not_recalculate(tmp_path):
    path, sol = workbook_file("finance_plan", tmp_path)
    names = named_values(path)
    assert names["total_usd"] == pytest.approx(sol.costs.total_cost_usd, rel=1e-12)
    assert names["total_pv"] == pytest.approx(sol.costs.total_cost_pv_usd, rel=1e-12)
    assert names["npv_usd"] == pytest.approx(sol.cash_flow.npv_usd, rel=1e-12)
    assert names["params_N"] == sol.params and names["tokens_D"] == sol.tokens
    stored = openpyxl.load_workbook(path, data_only=True)
    missing = [(s, c) for s, c in formula_cells(path) if stored[s][c].value is None]
    assert not missing


@needs_libreoffice
@pytest.mark.parametrize("name", PLAN_EXAMPLES)
def test_libreoffice_recalculates_every_formula_to_the_python_numbers(name, tmp_path):
    path, sol = workbook_file(name, tmp_path)
    (tmp_path / "stripped").mkdir()
    stripped = strip_cached_values(path, tmp_path / "stripped" / path.name)
    # no stored results left: whatever is read back was computed by LibreOffice
    assert all(openpyxl.load_workbook(stripped, data_only=True)[s][c].value is None
               for s, c in formula_cells(path))
    recalculated = recalculate(stripped, tmp_path)
    ours = openpyxl.load_workbook(path, data_only=True)
    theirs = openpyxl.load_workbook(recalculated, data_only=True)
    checked = 0
    for sheet, cell in formula_cells(path):
        a, b = ours[sheet][cell].value, theirs[sheet][cell].value
        assert b is not None, (sheet, cell)
        if isinstance(a, (int, float)):
            # abs: a few ulps of 1, for differences such as 1 − total/baseline when the plan
            # is the baseline (rounding noise, computed in a different order by LibreOffice)
            assert b == pytest.approx(a, rel=1e-9, abs=1e-15), (sheet, cell)
            checked += 1
    assert checked > 40
    names = named_values(recalculated)
    assert names["total_usd"] == pytest.approx(sol.costs.total_cost_usd, rel=1e-9)
    assert names["total_pv"] == pytest.approx(sol.costs.total_cost_pv_usd, rel=1e-9)
    assert names["train_flops"] == pytest.approx(sol.costs.training_flops, rel=1e-9)
    assert names["loss"] == pytest.approx(sol.loss, rel=1e-9)
    if sol.cash_flow is not None:
        assert names["npv_usd"] == pytest.approx(sol.cash_flow.npv_usd, rel=1e-9)
        assert names["npv_check"] == pytest.approx(sol.cash_flow.npv_usd, rel=1e-9)


@needs_libreoffice
def test_changing_the_price_per_gpu_hour_recomputes_the_costs_by_that_factor(tmp_path):
    path, sol = workbook_file("finance_plan", tmp_path)
    changed = set_named_input(path, "train_price_in", 2.5 * 1.6, tmp_path / "changed.xlsx")
    names = named_values(recalculate(changed, tmp_path))
    c = sol.costs
    assert names["train_usd"] == pytest.approx(1.6 * c.training_cost_usd, rel=1e-12)
    assert names["train_pv"] == pytest.approx(1.6 * c.training_cost_pv_usd, rel=1e-12)
    assert names["infer_usd"] == pytest.approx(c.inference_cost_usd, rel=1e-12)
    assert names["total_usd"] == pytest.approx(1.6 * c.training_cost_usd + c.inference_cost_usd, rel=1e-12)
    expected_npv = 1.6 * c.training_cost_pv_usd + c.inference_cost_pv_usd
    assert names["npv_usd"] == pytest.approx(expected_npv, rel=1e-12)
    assert names["npv_check"] == pytest.approx(expected_npv, rel=1e-12)
    # the optimiser's results stay as they were (LibreOffice saves 15 significant digits)
    assert names["params_N"] == pytest.approx(sol.params, rel=1e-14)
    assert names["tokens_D"] == pytest.approx(sol.tokens, rel=1e-14)


@needs_libreoffice
def test_changing_the_discount_rate_and_mfu_recomputes_npv_and_hours(tmp_path):
    path, sol = workbook_file("finance_plan", tmp_path)
    step = set_named_input(path, "discount_rate", 0.25, tmp_path / "step.xlsx")
    changed = set_named_input(step, "train_mfu", 0.5, tmp_path / "changed.xlsx")
    recalculated = recalculate(changed, tmp_path)
    names = named_values(recalculated)
    assert names["train_gpu_hours"] == pytest.approx(sol.costs.training_gpu_hours * 0.4 / 0.5, rel=1e-12)
    ws = openpyxl.load_workbook(recalculated, data_only=True)["Cash flow"]
    labels = [row[0].value for row in ws.iter_rows()]
    spend = [c.value for c in ws[labels.index("total spend") + 1][3:]]
    assert names["npv_usd"] == pytest.approx(npf.npv(1.25 ** (1 / 12) - 1, spend), rel=1e-12)
    assert names["npv_usd"] < sol.cash_flow.npv_usd


def test_csv_tables_carry_the_same_numbers(tmp_path):
    scenario, sol = planned("finance_plan")
    tables = csv_tables(plan_book(scenario, sol))
    assert set(tables) == {"cover.csv", "inputs.csv", "calculations.csv", "cash_flow.csv", "outputs.csv"}
    rows = list(csv.reader(io.StringIO(tables["cash_flow.csv"])))
    pv = next(r for r in rows if r[0] == "present value of spend")
    assert float(pv[2]) == pytest.approx(sol.cash_flow.npv_usd, rel=1e-15)
    assert [float(x) for x in pv[3:]] == pytest.approx(sol.cash_flow.present_value, rel=1e-15)
    assert not any(cell.startswith("=") for r in rows for cell in r)      # values, not formulas


def test_sweep_workbook_has_one_row_per_point(tmp_path):
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11]})
    path = write_xlsx(sweep_book(rows, ["inference.requests"], "chat_assistant.toml"), tmp_path / "s.xlsx")
    ws = openpyxl.load_workbook(path)["Sweep"]
    header = [c.value for c in ws[1]]
    # headers in words with their units (issue 16), the fields' order kept
    assert header[0] == "inference.requests" and "params [parameters]" in header and "total cost [$]" in header
    assert ws.max_row == 4
    col = header.index("params [parameters]")
    assert [ws.cell(r, col + 1).value for r in (2, 3, 4)] == pytest.approx([r["params"] for r in rows])
    assert ws.auto_filter.ref == f"A1:{ws.cell(4, len(header)).column_letter}4"
    assert ws.freeze_panes == "B2"
    money = ws.cell(2, header.index("total cost [$]") + 1)
    assert "$" in money.number_format and "E+" not in money.number_format
    assert ws.cell(2, 1).font.b                                  # the varied values, marked
    assert "%" in ws.cell(2, header.index("savings cost [fraction]") + 1).number_format


def test_missing_xlsxwriter_is_a_clear_error(monkeypatch):
    scenario, sol = planned("chat_assistant")
    monkeypatch.setitem(sys.modules, "xlsxwriter", None)
    with pytest.raises(ExportError, match=r"pip install 'lifecycle_opt\[xlsx\]'"):
        xlsx_bytes(plan_book(scenario, sol))


def test_cli_writes_workbook_and_tables_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "plan.xlsx"
    result = CliRunner().invoke(cli, ["solve", "examples/finance_plan.toml", "--xlsx", str(out),
                                      "--csv-tables", str(tmp_path / "tables")])
    assert result.exit_code == 0, result.output
    assert out.exists() and (tmp_path / "tables" / "cash_flow.csv").exists()
    before = out.read_bytes()
    again = CliRunner().invoke(cli, ["solve", "examples/finance_plan.toml", "--xlsx", str(out)])
    assert again.exit_code == 2 and "exists" in again.output and out.read_bytes() == before
    forced = CliRunner().invoke(cli, ["solve", "examples/finance_plan.toml", "--xlsx", str(out), "--force"])
    assert forced.exit_code == 0
    sweep_out = tmp_path / "sweep.xlsx"
    swept = CliRunner().invoke(cli, ["sweep", "examples/finance_plan.toml", "--vary",
                                     "finance.discount_rate=0..0.2:lin:3", "--xlsx", str(sweep_out)])
    assert swept.exit_code == 0, swept.output
    assert openpyxl.load_workbook(sweep_out)["Sweep"].max_row == 4


def test_a_failed_export_leaves_no_file_behind(tmp_path, monkeypatch):
    import lifecycle_opt.outputs.workbook as workbook

    def broken(book):
        raise ExportError("simulated failure while building the workbook")
    monkeypatch.setattr(workbook, "xlsx_bytes", broken)
    result = CliRunner().invoke(cli, ["solve", "examples/chat_assistant.toml", "--xlsx",
                                      str(tmp_path / "plan.xlsx")])
    assert result.exit_code == 2 and "simulated failure" in result.output
    assert list(tmp_path.iterdir()) == []


@needs_libreoffice
@pytest.mark.parametrize("name", PLAN_EXAMPLES)
def test_every_sheet_prints_on_one_page_wide(name, tmp_path):
    """Page setup: one page wide, repeated headers and labels; the plans of the examples
    print each sheet on one page (a 5-sheet plan printed on 22 pages before)."""
    path, _ = workbook_file(name, tmp_path)
    sheets = openpyxl.load_workbook(path).sheetnames
    assert pdf_pages(path, tmp_path) == len(sheets)
    ws = openpyxl.load_workbook(path)["Calculations"]
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight in (0, "0")
    assert ws.print_title_rows.replace("$", "") == "1:1"


@pytest.mark.parametrize("name", PLAN_EXAMPLES)
def test_no_dollar_day_or_percent_cell_shows_scientific_notation(name, tmp_path):
    path, _ = workbook_file(name, tmp_path)
    wb = openpyxl.load_workbook(path)
    checked = 0
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        if "unit" not in header:
            continue
        unit_col = header.index("unit")
        for row in ws.iter_rows(min_row=2):
            unit = row[unit_col].value if len(row) > unit_col else None
            if unit not in ("$", "days", "fraction", "$/GPU-hour", "fraction / year", "$/kWh"):
                continue
            for c in row[1:unit_col]:
                if isinstance(c.value, (int, float)) or str(c.value).startswith("="):
                    assert "E+" not in (c.number_format or ""), (ws.title, c.coordinate, unit)
                    checked += 1
    assert checked > 5


@needs_libreoffice
def test_number_formats_read_as_a_person_reads_them(tmp_path):
    """Dollars without cents from $10,000, with a sign when negative; zero and negative
    FLOP-like numbers right: what LibreOffice displays, exported as shown."""
    import subprocess
    from lifecycle_opt.outputs.workbook import Cell, Sheet
    values = [0.0, -1.5e20, 2.5e21, -25000.5, 12.345, 1631335.4]
    book = Book([Sheet("Formats", [[Cell(v, style="calc", fmt="sci"), Cell(v, style="calc", fmt="money"),
                                    Cell(v, style="calc", fmt="count")] for v in values])])
    path = write_xlsx(book, tmp_path / "formats.xlsx")
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true",
                    "--outdir", str(tmp_path), str(path)], check=True, capture_output=True, timeout=180)
    shown = list(csv.reader((tmp_path / "formats.csv").read_text().splitlines()))
    assert [r[0] for r in shown] == ["0", "-1.5000E+20", "2.5000E+21", "-2.5001E+04", "1.2345E+01", "1.6313E+06"]
    assert [r[1] for r in shown] == ["$0.00", "-$150,000,000,000,000,000,000.00", "$2,500,000,000,000,000,000,000",
                                     "-$25,000.50", "$12.35", "$1,631,335"]
    assert shown[5][2] == "1,631,335"


@needs_libreoffice
def test_changing_the_growth_recomputes_the_months_and_the_npv(tmp_path):
    """The demand grows from a first month by an input rate: a new rate in Inputs gives,
    after LibreOffice recalculates, the months and the NPV of this plan (N and D kept)
    under that growth, as `lifeopt evaluate` prices it."""
    from lifecycle_opt import evaluate
    from lifecycle_opt.scenario.reader import scenario_from_dict
    path, sol = workbook_file("finance_plan", tmp_path)
    changed = set_named_input(path, "monthly_growth", 0.08, tmp_path / "growth.xlsx")
    names = named_values(recalculate(changed, tmp_path))
    scenario, _ = planned("finance_plan")
    raw = {**scenario.raw, "finance": {**scenario.raw["finance"], "monthly_growth": 0.08}}
    grown = scenario_from_dict(raw, source=scenario.source)
    months = grown.finance.monthly_tokens
    for m in (1, 2, len(months)):
        assert names[f"tokens_month_{m}"] == pytest.approx(months[m - 1], rel=1e-9)
    priced = evaluate(grown, params=sol.params, tokens=sol.tokens)
    assert names["npv_usd"] == pytest.approx(priced.row["npv_usd"], rel=1e-9)
    assert names["npv_usd"] != pytest.approx(sol.cash_flow.npv_usd, rel=1e-3)


@needs_libreoffice
@pytest.mark.parametrize("months", [2, 5])
def test_changing_the_training_months_moves_the_serving_months(months, tmp_path):
    """Training months are an input: after LibreOffice recalculates, serving starts the
    month after training ends, and the NPV is this plan's (N and D kept) under that
    schedule as `lifeopt evaluate` prices it. Past the last month shown, the months that
    fall off are counted in the sheet, never silently."""
    from lifecycle_opt import evaluate
    from lifecycle_opt.scenario.reader import scenario_from_dict
    path, sol = workbook_file("finance_plan", tmp_path)
    scenario, _ = planned("finance_plan")
    assert scenario.finance.training_months == 3       # the example: 3 months, then 24 of serving
    changed = set_named_input(path, "training_months", months, tmp_path / "months.xlsx")
    recalculated = recalculate(changed, tmp_path)
    names = named_values(recalculated)
    labels = sol.cash_flow.labels
    assert names["serving_start"] == labels[months]
    past = max(0, months + len(scenario.finance.monthly_tokens) - len(labels))
    assert names["months_past_end"] == past
    cash = openpyxl.load_workbook(recalculated, data_only=True)["Cash flow"]
    served = next(r for r in cash.iter_rows() if r[0].value == "tokens served")
    tokens = [c.value for c in served[3:3 + len(labels)]]
    assert all(t == 0 for t in tokens[:months]) and tokens[months] > 0
    raw = {**scenario.raw, "finance": {**scenario.raw["finance"], "training_months": months}}
    moved = scenario_from_dict(raw, source=scenario.source)
    if past == 0:
        priced = evaluate(moved, params=sol.params, tokens=sol.tokens)
        assert names["npv_usd"] == pytest.approx(priced.row["npv_usd"], rel=1e-9)
        assert tokens[months:months + 3] == pytest.approx(moved.finance.monthly_tokens[:3], rel=1e-12)
    else:
        # the demand past the last column is not in the sheet's NPV: less is served than planned
        assert sum(tokens) < sum(moved.finance.monthly_tokens)
    outputs = openpyxl.load_workbook(recalculated, data_only=True)["Outputs"]
    note = next(r for r in outputs.iter_rows() if r[0].value == "training wall-clock")[3].value
    assert f"over {months} (finance.training_months)" in note or f"than the {months} " in note


def test_inputs_are_unlocked_and_checked_formulas_protected(tmp_path):
    path, _ = workbook_file("finance_plan", tmp_path)
    wb = openpyxl.load_workbook(path)
    inputs, calc = wb["Inputs"], wb["Calculations"]
    assert inputs.protection.sheet and calc.protection.sheet and not calc.protection.password
    rate = next(r for r in inputs.iter_rows() if r[0].value == "discount rate (annual)")[1]
    assert rate.protection.locked is False
    assert any(c.protection.locked is not False for row in calc.iter_rows(min_row=2) for c in row
               if isinstance(c.value, str) and c.value.startswith("="))
    checks = {str(dv.sqref): (float(dv.formula1), float(dv.formula2)) for dv in inputs.data_validations.dataValidation}
    assert checks[rate.coordinate] == (0.0, 1.0)
    growth = next(r for r in inputs.iter_rows() if r[0].value == "growth of the demand per month")[1]
    assert checks[growth.coordinate] == (-0.99, 10.0)


@pytest.mark.parametrize("name", PLAN_EXAMPLES)
def test_headers_and_labels_fit_their_columns_and_tables_hold_plain_numbers(name, tmp_path):
    path, _ = workbook_file(name, tmp_path)
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if ws.max_column < 2:
            continue
        first = ws.column_dimensions["A"].width
        # a label is the first cell of a row that carries a value beside it (not a note line)
        labels = [len(str(row[0].value)) for row in ws.iter_rows(min_row=2)
                  if isinstance(row[0].value, str) and len(row) > 1 and row[1].value is not None]
        assert first >= min(60, max(labels, default=0)), ws.title
        for cell in ws[1]:
            if isinstance(cell.value, str):
                assert ws.column_dimensions[cell.column_letter].width >= min(60, len(cell.value)), (ws.title, cell.value)
    scenario, sol = planned(name)
    tables = csv_tables(plan_book(scenario, sol))
    assert not any("np." in text or "float64" in text for text in tables.values())
