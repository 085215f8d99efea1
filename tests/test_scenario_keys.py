"""One registry of scenario keys (issue 30): the reader's allowed keys, docs/scenario_keys.md,
the JSON Schema of `lifeopt schema` and `lifeopt check` all come from
lifecycle_opt/scenario/registry.py.

What the tests hold against: the reader itself (every registered key is read, never
refused as unknown; what it refuses is refused by the check), the shipped examples (valid by
every route), the committed reference file (current), and jsonschema's own validator."""
import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from lifecycle_opt.cli import cli
from lifecycle_opt.errors import ScenarioError, UnknownKeyError
from lifecycle_opt.model.downstream import DOWNSTREAM_KEYS
from lifecycle_opt.outputs.key_reference import scenario_keys_markdown
from lifecycle_opt.scenario.keys import Key, Table
from lifecycle_opt.scenario.reader import scenario_from_dict
from lifecycle_opt.scenario.registry import REGISTRY, entry, json_schema, keys_of, problems
from conftest import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
KEYS = [e for e in REGISTRY if isinstance(e, Key)]
MINIMAL = {"law": {"preset": "hoffmann2022"}, "target": {"loss": 2.0}, "objective": {"minimize": "flops"}}


def test_the_committed_reference_is_current():
    """docs/scenario_keys.md is what docs/make_scenario_keys.py writes from the registry."""
    assert (ROOT / "docs" / "scenario_keys.md").read_text(encoding="utf-8") == scenario_keys_markdown()


def test_every_key_is_in_the_reference():
    text = scenario_keys_markdown()
    for e in REGISTRY:
        assert (f"`{e.name}`" if isinstance(e, Key) else e.path) in text, e.path


def _with(data: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(data))
    node = out
    *tables, key = path.split(".")
    for t in tables:
        node = node.setdefault(t, {})
    node[key] = value
    return out


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.path)
def test_the_reader_reads_every_registered_key(key):
    """A registered key with a value of no kind at all (a table) is refused naming that key,
    never as an unknown key: the reader knows every key of the registry."""
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(_with(MINIMAL, key.path, {"nonsense": 1}))
    assert not isinstance(info.value, UnknownKeyError), str(info.value)


@pytest.mark.parametrize("table", [t.path for t in REGISTRY if isinstance(t, Table) and t.path != "scenario"])
def test_an_unknown_key_lists_the_registrys_keys(table):
    base = MINIMAL if table != "target.reference" else {**MINIMAL, "target": {}}
    with pytest.raises(UnknownKeyError) as info:
        scenario_from_dict(_with(base, f"{table}.no_such_key", 1))
    assert info.value.expected == f"one of the keys {', '.join(keys_of(table))}"


def test_a_preset_refuses_keys_that_would_do_nothing():
    """law.name, source, method and the fitted range describe explicit constants; with a
    preset they were read and ignored (found by the test above)."""
    with pytest.raises(ScenarioError, match="law.fitted_max_params: expected no name, source"):
        scenario_from_dict(_with(MINIMAL, "law.fitted_max_params", "10B"))


def test_downstream_keys_are_the_maps_table_and_a_file():
    assert keys_of("downstream") == DOWNSTREAM_KEYS + ("file",)


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.path)
def test_each_keys_example_reads_and_fits_the_schema(key):
    """The example the reference shows is a value the key's kind reads and the JSON Schema
    accepts (so the reference never shows a value the reader refuses)."""
    jsonschema = pytest.importorskip("jsonschema")
    value = tomllib.loads(f"v = {key.example}")["v"]
    for v in value if isinstance(value, list) else [value]:
        key.parse_one(v)
    node = json_schema()
    for part in key.path.split("."):
        node = node["properties"][part]
    jsonschema.validate(value, node)


def _toml(path: Path) -> dict:
    return json.loads(json.dumps(tomllib.loads(path.read_text()), default=str))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid_by_every_route(path):
    jsonschema = pytest.importorskip("jsonschema")
    data = _toml(path)
    jsonschema.Draft7Validator(json_schema()).validate(data)
    assert problems(data, str(path)) == []
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0 and result.output.startswith(f"ok: {path}"), result.output


def test_the_schema_refuses_what_the_reader_refuses():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(json_schema())
    good = _toml(ROOT / "examples" / "chat_assistant.toml")
    for path, value in (("limits.max_parms", "70B"), ("law.preset", "hofmann2022"),
                        ("hardware.training.mfu", 1.4), ("serving.replica_gpus", 8),
                        ("data.repetition_penalty", "yes"), ("inference.tokens", "lots")):
        bad = _with(good, path, value)
        assert list(validator.iter_errors(bad)), path
        with pytest.raises(ScenarioError):
            scenario_from_dict(bad)


def test_schema_command_prints_the_registrys_schema(tmp_path):
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == json_schema()
    out = tmp_path / "scenario.schema.json"
    assert CliRunner().invoke(cli, ["schema", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == json_schema()


def test_check_reports_every_problem_one_line_each(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[law]\npreset = "hofmann2022"\n[target]\nlos = 1.9\n[hardware.training]\ngpu = "H100"\n'
                   'mfu = 1.4\nprice_per_gpu_hour = "two dollars"\n[moe]\nexperts = [1, "x"]\n')
    result = CliRunner().invoke(cli, ["check", str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.stdout.splitlines() if line]
    keys = [line.split(": ")[1] for line in lines]
    assert keys == ["law.preset", "target.los", "hardware.training.mfu", "hardware.training.price_per_gpu_hour",
                    "moe.experts[1]"], result.stdout
    assert "did you mean 'hoffmann2022'" in lines[0] and "did you mean 'loss'" in lines[1]


def test_check_applies_the_rules_between_keys(tmp_path):
    both = tmp_path / "both.toml"
    both.write_text('[law]\npreset = "hoffmann2022"\n[target]\nloss = 1.9\nerror = 0.5\n')
    result = CliRunner().invoke(cli, ["check", str(both)])
    assert result.exit_code == 2 and "target: expected exactly one of loss, reference or error" in result.output


def test_check_summarises_what_the_scenario_asks():
    result = CliRunner().invoke(cli, ["check", "examples/finance_plan.toml"])
    assert result.exit_code == 0
    text = result.output
    assert "minimise cost (present value)" in text and "finance" in text and "hoffmann2022" in text
    compare = CliRunner().invoke(cli, ["check", "examples/compare_demand.toml"])
    assert compare.exit_code == 0 and compare.output.count("\nname ") == 3


def test_a_new_key_slots_in(monkeypatch):
    """A key added to the registry (as [serving.architecture] was) is allowed by the reader's
    table and shown in the reference and the schema, with nothing else to change."""
    import lifecycle_opt.scenario.registry as registry
    extra = (Table("serving.speculation", "Speculative decoding."),
             Key("serving.speculation.draft_tokens", "integer", "Tokens drafted a step.", example="4"))
    monkeypatch.setattr(registry, "REGISTRY", registry.REGISTRY + extra)
    monkeypatch.setattr(registry, "_BY_PATH", {e.path: e for e in registry.REGISTRY})
    assert "speculation" in keys_of("serving") and keys_of("serving.speculation") == ("draft_tokens",)
    assert "draft_tokens" in json_schema()["properties"]["serving"]["properties"]["speculation"]["properties"]
    assert entry("serving.speculation.draft_tokens").unit == ""


def test_a_table_a_name_may_stand_for():
    """[serving.architecture] or a preset's name in its place: both read by the reader, the
    check and the schema; a name no preset has refused by all three (the preset list of
    model/architecture.py)."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(json_schema())
    good = _toml(ROOT / "examples" / "serving_slo.toml")
    for value, ok in (("llama-2-70b", True), ({"preset": "llama-2-70b"}, True), ("llama-2-71b", False),
                      (70, False)):
        data = _with(good, "serving.architecture", value)
        assert (not list(validator.iter_errors(data))) == ok and (not problems(data)) == ok, value
        if ok:
            assert scenario_from_dict(data).serving.architecture.params == 68_976_648_192
        else:
            with pytest.raises(ScenarioError, match="serving.architecture"):
                scenario_from_dict(data)
    (bad,) = problems(_with(good, "serving.architecture", "llama2-70b"))
    assert "did you mean 'llama-2-70b'" in str(bad)
