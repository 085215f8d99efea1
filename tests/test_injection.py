"""Spreadsheet safety: text that a planner typed (a scenario's name, an explicit law's name,
values echoed in error messages) never runs as a formula in the CSV or XLSX we write, in the
file itself or once LibreOffice has opened and recalculated it (OWASP CSV injection: a cell
starting with = + - @ tab or carriage return is prefixed with an apostrophe)."""
import csv
import subprocess

import openpyxl
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from spreadsheet import SOFFICE, recalculate

PAYLOADS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(1,1)", "\t=1+1", "\r=2+2"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def scenario_text(name: str, law_name: str) -> str:
    return (f'name = {toml_string(name)}\n'
            f'[law]\nE = 1.69\nA = 406.4\nB = 410.7\nalpha = 0.34\nbeta = 0.28\nname = {toml_string(law_name)}\n'
            '[target]\nloss = 2.0\n[inference]\ntokens = 1e12\n[objective]\nminimize = "cost"\n'
            '[hardware.training]\ngpu = "H100"\nmfu = 0.4\nprice_per_gpu_hour = 2.0\n'
            '[hardware.inference]\ngpu = "H100"\nmfu = 0.3\nprice_per_gpu_hour = 2.0\n')


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r") + '"'


def _safe_text(value) -> bool:
    if not isinstance(value, str) or not value.startswith(DANGEROUS):
        return True
    try:
        float(value)
        return True
    except ValueError:
        return False


def assert_csv_safe(path):
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            for cell in row:
                assert _safe_text(cell), (path.name, cell)


def assert_xlsx_safe(path):
    for ws in openpyxl.load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    assert not any(p.strip() in str(cell.value) for p in PAYLOADS), (ws.title, cell.value)
                else:
                    assert _safe_text(cell.value), (ws.title, cell.coordinate, cell.value)


def texts(path) -> set:
    wb = openpyxl.load_workbook(path, data_only=True)
    return {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_crafted_names_are_neutralised_in_every_export(tmp_path, payload):
    path = tmp_path / "evil.toml"
    path.write_text(scenario_text(payload + " plan", payload + " law"))
    out = {k: tmp_path / v for k, v in (("csv", "plan.csv"), ("xlsx", "plan.xlsx"), ("tables", "tables"),
                                           ("sweep", "sweep.csv"), ("sweep_xlsx", "sweep.xlsx"))}
    run = CliRunner().invoke(cli, ["solve", str(path), "--format", "csv", "-o", str(out["csv"]),
                                   "--xlsx", str(out["xlsx"]), "--csv-tables", str(out["tables"])])
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(cli, ["sweep", str(path), "--vary", "target.loss=1.6,2.0,2.2", "--format", "csv",
                                   "-o", str(out["sweep"]), "--xlsx", str(out["sweep_xlsx"]), "--no-progress"])
    assert run.exit_code == 0, run.output
    for f in [out["csv"], out["sweep"], *out["tables"].glob("*.csv")]:
        assert_csv_safe(f)
    for f in (out["xlsx"], out["sweep_xlsx"]):
        assert_xlsx_safe(f)
    # the name is still there, readable, behind its apostrophe
    assert any(payload.strip() in t for t in texts(out["xlsx"]))


@pytest.mark.skipif(SOFFICE is None, reason="needs LibreOffice (installed by .ci/run)")
def test_libreoffice_runs_none_of_them(tmp_path):
    """LibreOffice opens the CSV (its import turns a cell starting with = into a formula)
    and recalculates the workbook: no cell becomes a formula carrying a payload, and each
    payload is still there as text."""
    path = tmp_path / "evil.toml"
    path.write_text(scenario_text(PAYLOADS[0], PAYLOADS[3]))
    csv_out, xlsx_out = tmp_path / "plan.csv", tmp_path / "plan.xlsx"
    run = CliRunner().invoke(cli, ["solve", str(path), "--format", "csv", "-o", str(csv_out),
                                   "--xlsx", str(xlsx_out)])
    assert run.exit_code == 0, run.output
    converted = tmp_path / "from_csv"
    profile = tmp_path / "lo-profile"
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                    "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", str(converted), str(csv_out)],
                   check=True, capture_output=True, timeout=180)
    for book in (converted / "plan.xlsx", recalculate(xlsx_out, tmp_path)):
        assert_xlsx_safe(book)
        values = texts(book)
        assert any(PAYLOADS[0] in v for v in values), book
        assert any(PAYLOADS[3] in v for v in values), book
