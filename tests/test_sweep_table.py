"""A chunk of a sweep's columns as an Arrow table (plan/sweep_table.py): built from numpy
buffers (no pandas import), every value as the columns hold it (nan and None null), a
column of one value as a one-value dictionary, and the sweep writes no pandas either."""
import subprocess
import sys

import numpy as np
import pytest

from lifecycle_opt.plan.sweep_table import arrow_schema, arrow_table, plain_schema

from conftest import ROOT

pa = pytest.importorskip("pyarrow")


def _chunk(n=6):
    """A chunk as the plan stage hands it over: floats with nans, text with None, a
    whole-number field, stride-0 views of one value (a name, a corpus, an empty field)."""
    return {
        "x": np.array([1.0, 2.5, 1e22, np.nan, -0.0, 1e-300]),
        "status": np.array(["optimal", "invalid", "optimal", None, "optimal", "failed"], dtype=object),
        "scenario": np.broadcast_to(np.array("=name, quoted", dtype=object), (n,)),
        "unique_tokens": np.broadcast_to(np.array(5e10), (n,)),
        "serving_batch": np.broadcast_to(np.array(np.nan), (n,)),
        "warnings": np.array([0.0, 1.0, 2.0, np.nan, 0.0, 3.0]),
        "flag": np.array([True, False, None, True, True, False], dtype=object),
        "count": np.array([1, 2, 3, None, 5, 6], dtype=object),
    }


def test_every_value_is_the_columns_own_and_nothing_imports_pandas():
    """The expected lists are the chunk's values themselves (nan and None as null)."""
    cols = _chunk()
    keys = list(cols)
    axes = {"x": cols["x"], "flag": cols["flag"], "count": cols["count"]}
    schema = arrow_schema(pa, keys, axes, {"points": 6})
    table = arrow_table(schema, cols)
    assert pa.types.is_dictionary(table.schema.field("status").type)
    assert table.schema.field("warnings").type == pa.int64() and table.schema.field("flag").type == pa.bool_()
    got = table.to_pydict()
    assert got["x"][:3] == [1.0, 2.5, 1e22] and got["x"][3] is None and str(got["x"][4]) == "-0.0"
    assert got["status"] == ["optimal", "invalid", "optimal", None, "optimal", "failed"]
    assert got["scenario"] == ["=name, quoted"] * 6 and got["unique_tokens"] == [5e10] * 6
    assert got["serving_batch"] == [None] * 6 and got["warnings"] == [0, 1, 2, None, 0, 3]
    assert got["flag"] == [True, False, None, True, True, False] and got["count"] == [1, 2, 3, None, 5, 6]
    # a column of one value is one dictionary entry, not six copies
    assert table.column("scenario").chunk(0).dictionary.to_pylist() == ["=name, quoted"]
    plain = arrow_table(schema, cols, plain=True)
    assert plain.schema == plain_schema(schema) and plain.schema.field("status").type == pa.string()
    assert plain.to_pydict() == got


def test_a_sweep_to_parquet_and_csv_imports_no_pandas(tmp_path):
    """pyarrow's `array` imports pandas (0.3 s) on its first call; the sweep's tables are
    built from buffers, so a sweep written as Parquet or CSV never imports it."""
    code = ("import sys\n"
            "from lifecycle_opt.cli.app import cli\n"
            "for out in sys.argv[1:]:\n"
            "    cli.main(['sweep', 'examples/small_corpus.toml', '--vary', 'inference.tokens=1e9..1e15:log:3000',\n"
            "              '--vary', 'target.loss=2.3,2.4', '-o', out, '--no-progress'], standalone_mode=False)\n"
            "print('pandas' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.parquet"), str(tmp_path / "s.csv")],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr
