"""The commands about scenario files themselves: ``check`` (validate without solving) and
``schema`` (the JSON Schema of a scenario, for editors)."""
from __future__ import annotations

__all__ = ["check", "schema"]

import sys

import click

from .app import check_outputs, cli, emit, printable, stdout_or


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
def check(scenario):
    """Check SCENARIO (a TOML file) without solving it.

    Every key is checked against the registry of scenario keys (docs/scenario_keys.md):
    unknown keys, values of the wrong kind, one line each; then the rules between keys
    (exactly one target, prices for a cost objective...). Prints "ok" and what the
    scenario asks when it is fine; exit 2 when it is not.

    \b
    Examples:
      lifeopt check examples/chat_assistant.toml
      lifeopt check examples/compare_demand.toml
    """
    from tabulate import tabulate

    from ..outputs.key_reference import scenario_summary
    from ..scenario.files import read_toml
    from ..scenario.reader import load_scenarios
    from ..scenario.registry import problems

    found = problems(read_toml(scenario), source=scenario)
    if found:
        for p in found:
            click.echo(printable(str(p)))
        click.echo(f"{len(found)} problem{'s' * (len(found) != 1)} in {printable(scenario)}", err=True)
        sys.exit(2)
    scenarios = load_scenarios(scenario)          # the rules between keys: a ScenarioError, exit 2
    out = [f"ok: {scenario}"]
    for s in scenarios:
        out += ["", tabulate(scenario_summary(s), tablefmt="plain")]
    click.echo(printable("\n".join(out)))


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the schema to this file (atomically) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def schema(output, force):
    """Print the JSON Schema of a scenario file: every key with its type, description and
    choices, unknown keys refused. Editors that check TOML against a JSON Schema (Even
    Better TOML, taplo) then complete keys and flag mistakes as you type.

    \b
    Examples:
      lifeopt schema -o scenario.schema.json
      lifeopt schema
    """
    from ..outputs.key_reference import schema_text

    output = stdout_or(output)
    check_outputs(force, output)
    emit(schema_text(), output, force)
