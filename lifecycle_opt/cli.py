"""The ``lifeopt`` command: load → one API call → render. A thin shell over the Python API.

Every lifecycle_opt error becomes a one-line message on stderr and its exit code
(2 for bad input, 1 for an infeasible plan or a solver failure); never a traceback.
"""
from __future__ import annotations

__all__ = ["main", "cli"]

import sys

import click

from .errors import InfeasibleError, LifecycleError

FORMATS = ("table", "json", "csv")


def _fail(exc: LifecycleError):
    click.echo(f"error: {exc}", err=True)
    if isinstance(exc, InfeasibleError):
        for c in exc.conflicts:
            click.echo(f"  - {c.advice}", err=True)
    sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lifecycle_opt")
def cli():
    """Plan the training of a language model over its whole life.

    \b
    Examples:
      lifeopt solve examples/chat_assistant.toml
      lifeopt solve examples/small_corpus.toml --format json -o plan.json
      lifeopt presets
    """


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format: a human report, JSON, or two-column CSV.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write to this file (atomically) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def solve(scenario, fmt, output, force):
    """Solve SCENARIO (a TOML file) for the certified lifecycle-optimal plan.

    \b
    Examples:
      lifeopt solve examples/chat_assistant.toml
      lifeopt solve examples/research_model.toml --format json
      lifeopt solve examples/small_corpus.toml --format csv -o plan.csv --force
    """
    from .exports import write_text_atomic
    from .reports import render_csv, render_json, render_table
    from .scenario import load_scenario
    from .solver import solve as solve_scenario

    try:
        solution = solve_scenario(load_scenario(scenario))
        text = {"table": render_table, "json": render_json, "csv": render_csv}[fmt](solution)
        if output:
            write_text_atomic(output, text, force=force)
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=False)
    except LifecycleError as exc:
        _fail(exc)


@cli.command()
def presets():
    """List the built-in scaling laws with their sources and fitted ranges.

    \b
    Example:
      lifeopt presets
    """
    from tabulate import tabulate

    from .laws import PRESETS, preset

    rows = []
    for name in PRESETS:
        law = preset(name)
        fit = law.fitted
        rows.append((name, law.describe().split("  (")[0].split(": ", 1)[1],
                     fit.note if fit else "", law.source))
    click.echo(tabulate(rows, headers=("preset", "form", "fitted on", "source")))


@cli.command()
def gpus():
    """List the GPU catalogue: dense peak FLOP/s per dtype, memory, bandwidth, source.

    \b
    Example:
      lifeopt gpus
    """
    from tabulate import tabulate

    from .hardware import CATALOGUE

    rows = [(g.name, ", ".join(f"{k} {v / 1e12:g}T" for k, v in g.peak_flops.items()),
             f"{g.memory_bytes / 1e9:g} GB", f"{g.bandwidth / 1e12:g} TB/s", g.source)
            for g in CATALOGUE.values()]
    click.echo(tabulate(rows, headers=("gpu", "dense peak FLOP/s", "memory", "bandwidth", "source")))


def main():
    cli()


if __name__ == "__main__":
    main()
