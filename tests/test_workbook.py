"""The spreadsheet export: live formulas, stored values, recalculation by a real spreadsheet
program (LibreOffice), number formats, yearly totals and the chart, the CSV tables, and the
command's options. What an Inputs change recomputes is in test_workbook_inputs.py; how the
workbooks print, in test_workbook_print.py."""
import csv
import io
import re
import sys
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ExportError
from lifecycle_opt.execution.sweeps import sweep
from lifecycle_opt.outputs.plan_book import plan_book
from lifecycle_opt.outputs.sweep_book import write_sweep_book
from lifecycle_opt.outputs.workbook import Book, csv_tables, write_xlsx, xlsx_bytes

from books import PLAN_EXAMPLES, column_width, formula_cells, month_columns, planned, row_of, workbook_file
from conftest import EXAMPLES
from spreadsheet import named_values, set_named_input, strip_cached_values


def test_sheets_and_what_the_cover_says(tmp_path):
    path, _ = workbook_file("finance_plan", tmp_path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Cover", "Inputs", "Calculations", "Cash flow", "Spending chart", "Outputs"]
    cover = " ".join(str(c.value) for row in wb["Cover"].iter_rows() for c in row if c.value)
    assert "hoffmann2022" in cover and "Hoffmann et al. 2022" in cover
    assert "do NOT recompute" in cover and "Re-run `lifeopt solve`" in cover
    # one column per month: the plan's 3 + 24 from 2027-01 (finance_plan.toml), and the
    # 12 that up to 12 more months of training could push serving into
    cash = wb["Cash flow"]
    months = [cash.cell(1, c).value for c in month_columns(cash)]
    assert months[0] == "2027-01" and months[26] == "2029-03" and months[-1] == "2030-03" and len(months) == 39
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


@pytest.fixture(scope="module")
def recalculated(libreoffice, tmp_path_factory):
    """Every example's workbook with its stored results dropped, then recalculated by
    LibreOffice (one call for all): name → (our file, LibreOffice's, solution)."""
    folder = tmp_path_factory.mktemp("recalculated")
    (folder / "stripped").mkdir()
    ours, stripped = {}, []
    for name in PLAN_EXAMPLES:
        path, sol = workbook_file(name, folder)
        ours[name] = (path, sol)
        stripped.append(strip_cached_values(path, folder / "stripped" / path.name))
    # no stored results left: whatever is read back was computed by LibreOffice
    for path in stripped:
        values = openpyxl.load_workbook(path, data_only=True)
        assert all(values[s][c].value is None for s, c in formula_cells(path))
    theirs = libreoffice.recalculate(stripped)
    return {name: (ours[name][0], theirs[k], ours[name][1]) for k, name in enumerate(PLAN_EXAMPLES)}


@pytest.mark.parametrize("name", PLAN_EXAMPLES)
def test_libreoffice_recalculates_every_formula_to_the_python_numbers(name, recalculated):
    path, theirs_path, sol = recalculated[name]
    ours = openpyxl.load_workbook(path, data_only=True)
    theirs = openpyxl.load_workbook(theirs_path, data_only=True)
    checked = 0
    for sheet, cell in formula_cells(path):
        a, b = ours[sheet][cell].value, theirs[sheet][cell].value
        assert b is not None, (sheet, cell)
        if isinstance(a, (int, float)):
            # abs: a few ulps of 1, for differences such as 1 − total/baseline when the plan
            # is the baseline (rounding noise, computed in a different order by LibreOffice)
            assert b == pytest.approx(a, rel=1e-9, abs=1e-15), (sheet, cell)
            checked += 1
        else:
            assert b == a, (sheet, cell)              # texts: serving starts, the training note
    assert checked > 40
    names = named_values(theirs_path)
    assert names["total_usd"] == pytest.approx(sol.costs.total_cost_usd, rel=1e-9)
    assert names["total_pv"] == pytest.approx(sol.costs.total_cost_pv_usd, rel=1e-9)
    assert names["train_flops"] == pytest.approx(sol.costs.training_flops, rel=1e-9)
    assert names["loss"] == pytest.approx(sol.loss, rel=1e-9)
    if sol.cash_flow is not None:
        assert names["npv_usd"] == pytest.approx(sol.cash_flow.npv_usd, rel=1e-9)
        assert names["npv_check"] == pytest.approx(sol.cash_flow.npv_usd, rel=1e-9)


def test_the_cash_flow_totals_each_year_as_the_text_report_does(recalculated):
    """Yearly totals: twelve months at a time from the start of training (the text report's
    CASH FLOW by year), summed here from the solution's months, and read back after
    LibreOffice recalculated the sheet."""
    _, theirs, sol = recalculated["finance_plan"]
    cf = sol.cash_flow
    ws = openpyxl.load_workbook(theirs, data_only=True)["Cash flow"]
    years = [c.value for c in ws[1][3:month_columns(ws)[0] - 1]]
    # 2027-01 … 2029-03 as planned, then the year of the months a longer training could fill
    assert years == ["2027-01 … 2027-12", "2028-01 … 2028-12", "2029-01 … 2029-12", "2030-01 … 2030-03"]
    for label, series in (("training spend", cf.training_usd), ("tokens served", cf.inference_tokens),
                          ("inference spend", cf.inference_usd), ("present value of spend", cf.present_value)):
        row = row_of(ws, label)
        by_year = [sum(series[a:a + 12]) for a in (0, 12, 24)] + [0.0]
        assert [c.value for c in row[3:7]] == pytest.approx(by_year, rel=1e-9, abs=1e-6), label
        assert row[2].value == pytest.approx(sum(series), rel=1e-9)
    text = CliRunner().invoke(cli, ["solve", "examples/finance_plan.toml"]).output
    assert "2027-01 … 2027-12" in text and "2029-01 … 2029-03" in text       # the same years


def test_the_spending_chart_draws_the_cash_flow_months(tmp_path):
    """The chart sheet plots the Cash flow's training and inference spend over its months."""
    path, _ = workbook_file("finance_plan", tmp_path)
    ws = openpyxl.load_workbook(path)["Cash flow"]
    first, last = (openpyxl.utils.get_column_letter(c) for c in (month_columns(ws)[0], month_columns(ws)[-1]))
    train, infer = row_of(ws, "training spend")[0].row, row_of(ws, "inference spend")[0].row
    with zipfile.ZipFile(path) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert any(n.startswith("xl/chartsheets/") for n in z.namelist())
    assert len(charts) == 1
    refs = re.findall(r"<c:f>([^<]*)</c:f>", charts[0])
    assert f"'Cash flow'!${first}${train}:${last}${train}" in refs
    assert f"'Cash flow'!${first}${infer}:${last}${infer}" in refs
    assert f"'Cash flow'!${first}$1:${last}$1" in refs
    assert "Spending by month" in charts[0] and 'sz="1100"' in charts[0]      # 11 pt like the cells


def test_csv_tables_carry_the_same_numbers(tmp_path):
    scenario, sol = planned("finance_plan")
    tables = csv_tables(plan_book(scenario, sol))
    # the chart's sheet has no cells, so no table
    assert set(tables) == {"cover.csv", "inputs.csv", "calculations.csv", "cash_flow.csv", "outputs.csv"}
    rows = list(csv.reader(io.StringIO(tables["cash_flow.csv"])))
    pv = next(r for r in rows if r[0] == "present value of spend")
    assert float(pv[2]) == pytest.approx(sol.cash_flow.npv_usd, rel=1e-15)
    months = [float(x) for x in pv[3 + 4:]]           # after the totals of 4 years (2027 … 2030)
    assert months[:27] == pytest.approx(sol.cash_flow.present_value, rel=1e-15) and months[27:] == [0.0] * 12
    assert not any(cell.startswith("=") for r in rows for cell in r)      # values, not formulas


def test_sweep_workbook_has_one_row_per_point(tmp_path):
    rows = sweep(EXAMPLES / "chat_assistant.toml", {"inference.requests": [1e9, 1e10, 1e11]})
    path = tmp_path / "s.xlsx"
    write_sweep_book(path, rows.keys, ["inference.requests"], len(rows), "chat_assistant.toml",
                     [rows.columns], list)
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


#: the units whose numbers may show an exponent: compute and its rate (and the shadow prices
#: of a loss objective, "loss per FLOP": 3.8E-25)
_SCIENTIFIC_UNITS = {"FLOP", "FLOP/s"}


@pytest.mark.parametrize("name", PLAN_EXAMPLES)
def test_no_count_time_or_money_shows_scientific_notation(name, tmp_path):
    """Tokens, parameters, GPU-hours, bytes, times and dollars read as plain numbers
    (issue 30: 2.5000E+12 tokens, 6.0000E-03 s): only FLOP and FLOP/s keep an exponent;
    amounts of money have no cents, prices have them, negative or not."""
    path, _ = workbook_file(name, tmp_path)
    wb = openpyxl.load_workbook(path)
    checked, units = 0, set()
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        if "unit" not in header:
            continue
        unit_col = header.index("unit")
        for row in ws.iter_rows(min_row=2):
            unit = row[unit_col].value if len(row) > unit_col else None
            if not unit or unit in _SCIENTIFIC_UNITS or unit.startswith("loss per "):
                continue
            for c in row[1:]:
                if c.column - 1 != unit_col and (isinstance(c.value, (int, float)) or str(c.value).startswith("=")):
                    assert "E+" not in c.number_format and "E-" not in c.number_format, (ws.title, c.coordinate, unit)
                    if unit == "$":
                        assert c.number_format == '"$"#,##0;-"$"#,##0', (ws.title, c.coordinate)
                    elif unit.startswith("$/"):
                        assert c.number_format == '"$"#,##0.00;-"$"#,##0.00', (ws.title, c.coordinate)
                    checked += 1
                    units.add(unit)
    assert checked > 20
    assert {"tokens", "$"} <= units
    if name == "serving_slo":
        assert {"ms", "µs", "bytes", "$/million tokens", "GPU-hours"} <= units


def test_serving_times_read_in_milliseconds_and_microseconds(tmp_path):
    """TPOT and TTFT in ms (as serving.tpot_ms), GPU time per token in µs, from the
    Solution's seconds."""
    path, sol = workbook_file("serving_slo", tmp_path)
    names = named_values(path)
    p = sol.serving.rounded
    assert names["tpot"] == pytest.approx(1e3 * p.step_seconds, rel=1e-12)
    assert names["ttft"] == pytest.approx(1e3 * p.ttft_seconds, rel=1e-12)
    assert names["decode_gpu_us"] == pytest.approx(1e6 * p.decode_gpu_seconds_per_token, rel=1e-12)


def test_number_formats_read_as_a_person_reads_them(libreoffice, tmp_path):
    """Dollars in whole dollars, negative ones too, prices with cents; counts with
    separators; FLOP-like numbers with an exponent, zero as 0: what LibreOffice displays,
    exported as shown."""
    from lifecycle_opt.outputs.workbook import Cell, Sheet
    values = [0.0, -1.5e20, 2.5e21, -25000.5, 12.345, 1631335.4]
    book = Book([Sheet("Formats", [[Cell(v, style="calc", fmt=f) for f in ("sci", "money", "price", "count")]
                                   for v in values])])
    shown = list(csv.reader(libreoffice.csv(write_xlsx(book, tmp_path / "formats.xlsx")).read_text().splitlines()))
    assert [r[0] for r in shown] == ["0", "-1.5000E+20", "2.5000E+21", "-2.5001E+04", "1.2345E+01", "1.6313E+06"]
    assert [r[1] for r in shown] == ["$0", "-$150,000,000,000,000,000,000", "$2,500,000,000,000,000,000,000",
                                     "-$25,001", "$12", "$1,631,335"]
    assert [r[2] for r in shown] == ["$0.00", "-$150,000,000,000,000,000,000.00",
                                     "$2,500,000,000,000,000,000,000.00", "-$25,000.50", "$12.35", "$1,631,335.40"]
    assert shown[5][3] == "1,631,335" and shown[3][3] == "-25,001"


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
    # months of training: from 1 to the 3 planned and the 12 more the Cash flow has columns for
    months = next(r for r in inputs.iter_rows() if r[0].value == "months of training")[1]
    assert checks[months.coordinate] == (1.0, 15.0)
    assert len(month_columns(wb["Cash flow"])) == 15 + 24
    # an owned cluster's GPU-hour costs its capex and energy: no price decline to enter
    owned = openpyxl.load_workbook(workbook_file("owned_cluster", tmp_path)[0])["Inputs"]
    assert "finance.price_decline" not in {r[3].value for r in owned.iter_rows()}


@pytest.mark.parametrize("name", PLAN_EXAMPLES)
def test_headers_and_labels_fit_or_wrap_and_tables_hold_plain_numbers(name, tmp_path):
    """Every header and label fits its column (or the columns it spans), or wraps in a row
    tall enough for its lines: 15 pt a line of 11 pt text, at least a line per column
    width of text."""
    path, _ = workbook_file(name, tmp_path)
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if ws.max_column < 2:
            continue
        merged = {r.min_row: r for r in ws.merged_cells.ranges}
        for row in ws.iter_rows():
            for cell in (row if row[0].row == 1 else row[:1]):
                if not isinstance(cell.value, str) or cell.value.startswith("="):
                    continue
                span = merged.get(cell.row)
                width = sum(column_width(ws, c) for c in range(cell.column, (span.max_col if span else cell.column) + 1))
                if len(cell.value) <= width:
                    continue
                assert cell.alignment.wrap_text, (ws.title, cell.coordinate, cell.value)
                lines = -(-len(cell.value) // int(width))
                assert ws.row_dimensions[cell.row].height >= 15 * lines, (ws.title, cell.coordinate)
    scenario, sol = planned(name)
    tables = csv_tables(plan_book(scenario, sol))
    assert not any("np." in text or "float64" in text for text in tables.values())


def test_the_serving_sheet_of_an_exact_architecture_recalculates_and_follows_its_inputs(libreoffice, tmp_path):
    """Qwen 2.5 72B (query/key/value biases, untied embeddings) with int4 weights and an fp8
    cache: the sheet's shape, step and TTFT formulas give the model's own numbers after
    LibreOffice recalculates them (times in ms), and a lower bandwidth efficiency moves the
    TPOT as the model's own formula does (serving.py, evaluated independently here)."""
    from dataclasses import replace

    from lifecycle_opt import load_scenario, solve
    text = (EXAMPLES / "serving_slo.toml").read_text()
    text = (text.replace('reference = { params = "70B", tokens = "15T" }', "loss = 1.95")
            .replace('model = "roofline"', 'model = "roofline"\narchitecture = "qwen-2.5-72b"')
            .replace('weight_dtype = "bf16"', 'weight_dtype = "int4"').replace('kv_dtype = "bf16"', 'kv_dtype = "fp8"'))
    (tmp_path / "qwen.toml").write_text(text)
    scenario = load_scenario(tmp_path / "qwen.toml")
    sol = solve(scenario)
    assert sol.params == pytest.approx(72_706_203_648, rel=1e-12)
    path = write_xlsx(plan_book(scenario, sol), tmp_path / "qwen.xlsx")
    (tmp_path / "stripped").mkdir()
    stripped = strip_cached_values(path, tmp_path / "stripped" / "qwen.xlsx")
    slower = set_named_input(path, "bandwidth_efficiency", 0.5, tmp_path / "slower.xlsx")
    names, again = (named_values(f) for f in libreoffice.recalculate([stripped, slower]))
    p = sol.serving.rounded
    assert names["params_held"] == pytest.approx(72_706_203_648, rel=1e-12)
    assert names["kv_per_token"] == pytest.approx(2 * 80 * 1024 * 1.0, rel=1e-12)
    assert names["tpot"] == pytest.approx(1e3 * p.step_seconds, rel=1e-9)
    assert names["ttft"] == pytest.approx(1e3 * p.ttft_seconds, rel=1e-9)
    assert names["total_pv"] == pytest.approx(sol.costs.total_cost_pv_usd, rel=1e-9)
    r = replace(scenario.serving, efficiencies=replace(scenario.serving.efficiencies, bandwidth=0.5))
    assert again["tpot"] == pytest.approx(1e3 * r.point(sol.params, p.batch, p.replica_gpus).step_seconds, rel=1e-9)
