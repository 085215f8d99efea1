"""A sweep's rows as files (CSV, JSON, JSON Lines, Parquet, Arrow IPC) and as a columnar
Python result: the same numbers whichever way they are read back; streamed, atomic
(killed mid-write, the old file stays and no temporary file is left), and refused
before any solving where a spreadsheet cannot hold them."""
import csv
import io
import json
import signal
import time

import numpy as np
import pytest
from click.testing import CliRunner

from lifecycle_opt import sweep
from lifecycle_opt.cli import cli
from lifecycle_opt.cli.plans import _SWEEP_FORMATS
from lifecycle_opt.outputs.sweep_files import SWEEP_FORMATS
from lifecycle_opt.plan.sweep_plan import plan_sweep
from lifecycle_opt.plan.sweep_rows import chunk_rows, sweep_columns

from test_atomic import kill_mid_write

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

#: 20,000 demands on one axis (a columnar side) and two loss targets (a table side)
AXES = ["--vary", "inference.tokens=1e9..1e15:log:10000", "--vary", "target.loss=2.3,2.4"]


def run(*args):
    return CliRunner().invoke(cli, [*args, "--no-progress"])


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    for fmt in SWEEP_FORMATS:
        out = run("sweep", "examples/small_corpus.toml", *AXES, "-o", str(folder / f"sweep.{fmt}"))
        assert out.exit_code == 0, out.output
    return folder


def _csv_numbers(path):
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return rows


def test_every_format_reads_back_the_same_numbers(written):
    """CSV (floats as repr), JSON, JSON Lines, Parquet and Arrow: every column of every
    row equal, exactly (repr round-trips a double)."""
    parquet = pq.read_table(written / "sweep.parquet")
    arrow = pa.ipc.open_file(str(written / "sweep.arrow")).read_all()
    assert parquet.equals(arrow)
    assert parquet.num_rows == 20_000
    rows = _csv_numbers(written / "sweep.csv")
    lines = [json.loads(line) for line in (written / "sweep.jsonl").read_text().splitlines()]
    whole = json.loads((written / "sweep.json").read_text())
    assert lines == whole and len(rows) == len(lines) == 20_000
    table = parquet.to_pylist()
    for k in ("params", "tokens", "total_cost_pv_usd", "savings_cost", "warnings", "binding", "status",
              "inference.tokens", "target.loss", "npv_usd"):
        for i in (0, 1, 7_777, 19_999):
            value = table[i][k]
            assert lines[i][k] == value, k
            text = rows[i][k]
            assert (text == "" if value is None else
                    float(text) == value if isinstance(value, float) else text == str(value)), (k, text, value)


def test_parquet_says_what_it_holds(written):
    meta = json.loads(pq.read_schema(written / "sweep.parquet").metadata[b"lifecycle_opt"])
    assert meta["scenario"] == "domain model on a 50B-token corpus" and meta["points"] == 20_000
    assert [a["key"] for a in meta["axes"]] == ["inference.tokens", "target.loss"]
    assert meta["axes"][0]["values"] == 10_000 and meta["axes"][0]["last"] == pytest.approx(1e15)
    assert meta["units"]["total_cost_pv_usd"] == "$" and meta["units"]["params"] == "parameters"
    schema = pq.read_schema(written / "sweep.parquet")
    assert schema.field("warnings").type == pa.int64() and schema.field("status").type == pa.string()


def test_parquet_keeps_dictionaries_for_text_only(written):
    """A float column of distinct values is written plain (a dictionary of them took half
    the writing time and made the file larger); text columns repeat a few values and
    keep theirs."""
    group = pq.ParquetFile(written / "sweep.parquet").metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: set(group.column(i).encodings) for i in range(group.num_columns)}
    dictionary = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert encodings["status"] & dictionary and encodings["binding"] & dictionary
    assert not encodings["params"] & dictionary and not encodings["total_cost_pv_usd"] & dictionary


def test_the_python_result_is_columns_and_rows():
    axes = {"inference.tokens": np.geomspace(1e10, 1e14, 5000), "target.loss": [2.3, 2.4]}
    result = sweep("examples/small_corpus.toml", axes)
    plan = plan_sweep("examples/small_corpus.toml", axes)
    rows = list(chunk_rows(sweep_columns(plan, 0, plan.size)))      # one chunk, in this thread
    assert len(result) == 10_000 and result == rows
    assert result[3] == rows[3] and result[-1] == rows[-1] and result[2:4] == rows[2:4]
    assert result.columns["params"].dtype == float and np.isnan(result.columns["npv_usd"]).all()
    with pytest.raises(ValueError):
        result.columns["params"][0] = 1.0                # a view, not the result's own array
    frame = result.to_pandas()
    assert list(frame.columns) == result.keys and frame["params"].iloc[3] == rows[3]["params"]
    assert str(frame["warnings"].dtype) == "Int64"
    table = result.to_arrow()
    assert table.column("tokens").to_pylist()[3] == rows[3]["tokens"]
    pd = pytest.importorskip("pandas")
    assert pd.DataFrame(result)["tokens"].iloc[9_999] == rows[-1]["tokens"]


def test_formats_are_chosen_by_name_and_parquet_needs_a_file(tmp_path):
    assert _SWEEP_FORMATS == SWEEP_FORMATS
    out = run("sweep", "examples/chat_assistant.toml", "--vary", "target.loss=2.0,2.1", "-o",
              str(tmp_path / "s.parquet"))
    assert out.exit_code == 0 and pq.read_table(tmp_path / "s.parquet").num_rows == 2
    out = run("sweep", "examples/chat_assistant.toml", "--vary", "target.loss=2.0,2.1", "--format", "parquet")
    assert out.exit_code == 2 and "give -o FILE" in out.output
    out = run("sweep", "examples/chat_assistant.toml", "--vary", "target.loss=2.0,2.1", "--format", "jsonl")
    assert out.exit_code == 0 and [json.loads(line)["target.loss"] for line in out.stdout.splitlines()] == [2.0, 2.1]


def test_a_sweep_too_large_for_a_spreadsheet_is_refused_before_solving(tmp_path):
    started = time.time()
    out = run("sweep", "examples/chat_assistant.toml", "--vary", "inference.tokens=1e9..1e15:log:2000000",
              "--xlsx", str(tmp_path / "s.xlsx"))
    assert out.exit_code == 2 and "does not fit a spreadsheet" in out.output and "parquet" in out.output
    assert time.time() - started < 20 and not (tmp_path / "s.xlsx").exists()


def test_the_progress_bar_shows_the_rate_and_the_time_left():
    """The bar (click's, drawn on a terminal only) says points done, points per second
    and the time left."""
    from lifecycle_opt.cli.plans import _progress
    bar = _progress(1000, show=True)
    advance = bar.__enter__()
    try:
        for _ in advance(iter([(100, {}), (100, {})])):
            time.sleep(0.01)
        line = bar.bar.format_progress_line()
    finally:
        bar.__exit__(None, None, None)
    assert "200/1000" in line and "points/s" in line and " left" in line


BIG = ["sweep", "examples/small_corpus.toml", "--vary", "inference.tokens=1e9..1e15:log:3000000",
       "--no-progress", "--chunk", "4000"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("fmt", SWEEP_FORMATS)
def test_a_sweep_killed_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, fmt, sig):
    out = tmp_path / f"sweep.{fmt}"
    out.write_text("the previous result\n")
    code, temps = kill_mid_write(tmp_path, out, sig, BIG, started=200_000)
    assert code != 0
    assert out.read_text() == "the previous result\n" and temps == []


def test_the_points_the_exact_path_solves_are_counted():
    """A target below the law's floor is invalid: its row says why, and the command
    counts it among the points the exact path solved."""
    out = CliRunner().invoke(cli, ["sweep", "examples/chat_assistant.toml", "--vary", "target.loss=1.0,2.0,2.1",
                                   "--format", "jsonl", "--no-progress"])
    assert out.exit_code == 0
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["invalid", "optimal", "optimal"] and "target" in rows[0]["message"]
    assert "1 of 3 points solved one by one by the exact solver" in out.stderr


def test_repeated_columns_are_formatted_once_and_signed_zeros_kept_apart():
    """Equal columns share their text, but only when their bits are equal: 0.0 and -0.0
    compare equal and print differently."""
    from lifecycle_opt.outputs.text_cells import column_texts, float_texts
    calls = []

    def texts(k, v):
        calls.append(k)
        return float_texts(k, v, np.isnan(v), "")
    cols = {"a": np.array([0.0, 1.5, np.nan]), "b": np.array([-0.0, 1.5, np.nan]), "c": np.array([0.0, 1.5, np.nan])}
    assert column_texts(["a", "b", "c"], cols, texts) == [["0.0", "1.5", ""], ["-0.0", "1.5", ""], ["0.0", "1.5", ""]]
    assert calls == ["a", "b"]


def test_csv_on_standard_output_is_the_files_bytes(tmp_path):
    """CSV is pyarrow's bytes: on standard output as in the file, header and rows."""
    args = ["sweep", "examples/chat_assistant.toml", "--vary", "target.loss=2.0,2.1", "--format", "csv"]
    out = CliRunner().invoke(cli, [*args, "--no-progress"])
    assert out.exit_code == 0
    assert run(*args, "-o", str(tmp_path / "s.csv")).exit_code == 0
    assert out.stdout_bytes == (tmp_path / "s.csv").read_bytes()
    assert [r["status"] for r in csv.DictReader(io.StringIO(out.stdout))] == ["optimal", "optimal"]
