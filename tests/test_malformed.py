"""A corpus of broken input files: each gives a one-line error naming the file, exit code 2,
and never a traceback. Scenario files (TOML) through `lifeopt solve`, run tables (CSV)
through `lifeopt fit`, training curves through `lifeopt fit --approach all`."""
import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli

GOOD_TOML = '[law]\npreset = "hoffmann2022"\n[target]\nloss = 2.0\n[objective]\nminimize = "flops"\n'
GOOD_CSV = "params,tokens,loss\n1e8,2e9,3.1\n4e8,8e9,2.8\n1e9,2e10,2.6\n3e9,6e10,2.4\n"

TOML = {
    "syntax error": b'[law\npreset = "hoffmann2022"\n',
    "unterminated string": b'[law]\npreset = "hoffmann2022\n',
    "duplicate key": b'[law]\npreset = "hoffmann2022"\npreset = "besiroglu2024"\n',
    "duplicate table": b'[law]\npreset = "hoffmann2022"\n[law]\nE = 1.7\n',
    "latin-1 bytes": '[law]\npreset = "hoffmann2022"\nname = "r\xe9sum\xe9"\n'.encode("latin-1"),
    "utf-16": GOOD_TOML.encode("utf-16"),
    "nul bytes": b"[law]\x00\x00\npreset = 1\n",
    "binary junk": bytes(range(256)) * 4,
    "empty": b"",
    "blank lines only": b"\n\n   \n",
    "comment only": b"# nothing here\n",
    "a number at the top": b"law = 3\n",
    "target below the floor": GOOD_TOML.replace("2.0", "1.0").encode(),
    "huge": b"# " + b"x" * (100 * 2**20) + b"\n",
}

CSV = {
    "empty": b"",
    "header only": b"params,tokens,loss\n",
    "latin-1 bytes": "params,tokens,loss\n1e8,2e9,3.1\nr\xe9sum\xe9,1,1\n".encode("latin-1"),
    "utf-16": GOOD_CSV.encode("utf-16"),
    "nul bytes": b"params,tokens,loss\n1e8,2e9\x00,3.1\n",
    "missing column": b"params,loss\n1e8,3.1\n2e8,3.0\n",
    "text in a number": b"params,tokens,loss\n1e8,many,3.1\n2e8,4e9,3.0\n3e8,6e9,2.9\n",
    "ragged rows": b"params,tokens,loss\n1e8,2e9\n2e8,4e9,3.0,7\n",
    "unterminated quote": b'params,tokens,loss\n"1e8,2e9,3.1\n',
    "negative loss": b"params,tokens,loss\n1e8,2e9,-3.1\n2e8,4e9,3.0\n3e8,6e9,2.9\n",
    "huge": b"params,tokens,loss\n" + b"1e8,2e9,3.1\n" * (100 * 2**20 // 12),
}


def check_one_line_exit_2(result, path):
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert str(path) in lines[0] and "Traceback" not in result.output


@pytest.mark.parametrize("name", TOML)
def test_broken_scenario_files(tmp_path, name):
    path = tmp_path / "scenario.toml"
    path.write_bytes(TOML[name])
    check_one_line_exit_2(CliRunner().invoke(cli, ["solve", str(path)]), path)


@pytest.mark.parametrize("name", CSV)
@pytest.mark.parametrize("approach", ["3", "all"])
def test_broken_csv_files(tmp_path, name, approach):
    path = tmp_path / "runs.csv"
    path.write_bytes(CSV[name])
    check_one_line_exit_2(CliRunner().invoke(cli, ["fit", str(path), "--approach", approach]), path)


@pytest.mark.parametrize("command", [["solve"], ["fit"], ["fit", "--approach", "all"], ["compare"], ["plot"]])
def test_a_directory_or_a_missing_file_instead_of_a_file(tmp_path, command):
    for path in (tmp_path, tmp_path / "missing.toml"):
        args = command[:1] + [str(path)] + command[1:]
        if command == ["plot"]:
            args += ["-o", str(tmp_path / "p.png")]
        check_one_line_exit_2(CliRunner().invoke(cli, args), path)
