"""The planning commands: ``solve``, ``evaluate``, ``sweep``, ``compare`` and ``plot``,
each a thin shell over the Python API (load → one call → render)."""
from __future__ import annotations

__all__ = ["solve", "evaluate", "sweep", "compare", "plot"]

import sys

import click

from .app import FORMATS, check_outputs, cli, emit, stdout_or, today

#: outputs.sweep_files.SWEEP_FORMATS, written out so that the CLI starts without importing
#: the writers (tests/test_cli.py checks that they agree)
_SWEEP_FORMATS = ("csv", "json", "jsonl", "parquet", "arrow")


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format: a human report, JSON, or two-column CSV.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write to this file (atomically) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite output files that exist.")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write the plan as a workbook with live formulas (needs the xlsx extra).")
@click.option("--csv-tables", "csv_tables", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Also write the workbook's tables as CSV files into this folder.")
@click.option("--stamp", is_flag=True,
              help="Write today's date on the workbook's cover and in its properties (by default "
                   "no date, so the same inputs give the same bytes).")
@click.option("--solver", type=click.Choice(("auto", "cvxpy")), default="auto", show_default=True,
              help="The first of the two independent solvers behind the certificate (scipy is the "
                   "other): auto = the numpy batch solver where it covers the scenario, else cvxpy.")
def solve(scenario, fmt, output, force, xlsx, csv_tables, stamp, solver):
    """Solve SCENARIO (a TOML file) for the certified lifecycle-optimal plan.

    \b
    Examples:
      lifeopt solve examples/chat_assistant.toml
      lifeopt solve examples/research_model.toml --format json
      lifeopt solve examples/small_corpus.toml --format csv -o plan.csv --force
      lifeopt solve examples/finance_plan.toml --xlsx plan.xlsx --csv-tables plan-tables
    """
    from ..outputs.reports import render_csv, render_json, render_table
    from ..scenario.reader import load_scenario
    from ..plan.planning import solve as solve_scenario

    output = stdout_or(output)
    check_outputs(force, output, xlsx, folders=(csv_tables,))     # fail before solving, not after
    loaded = load_scenario(scenario)
    solution = solve_scenario(loaded, solver)
    text = {"table": render_table, "json": render_json, "csv": render_csv}[fmt](solution)
    if xlsx or csv_tables:
        from ..outputs.plan_book import plan_book
        from ..outputs.workbook import write_csv_tables, write_xlsx
        book = plan_book(loaded, solution, stamp=today() if stamp else None)
        if xlsx:
            write_xlsx(book, xlsx, force=force)
            click.echo(f"wrote {xlsx}", err=True)
        if csv_tables:
            written = write_csv_tables(book, csv_tables, force=force)
            click.echo(f"wrote {len(written)} tables into {csv_tables}", err=True)
    emit(text, output, force)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@click.option("--params", default=None, metavar="N", help='Parameters of the plan, e.g. 7B or 7e9.')
@click.option("--tokens", default=None, metavar="D", help='Training tokens of the plan, e.g. 2T.')
@click.option("--flops", default=None, metavar="C",
              help="Training compute (C = 6·N·D), with one of --params and --tokens, e.g. 1e24.")
@click.option("--vary", "specs", multiple=True, metavar="KEY=VALUES",
              help="Evaluate the plan at every point of a grid, as `lifeopt sweep` varies a scenario.")
@click.option("--choice", "choices", multiple=True, metavar="KEY=VALUE",
              help="The plan's value of a choice the scenario makes among several, e.g. moe.experts=8 "
                   "or quantisation.dtypes=int4.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format: a human report, JSON, or CSV (two columns; one row per point with --vary).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write to this file (atomically) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def evaluate(scenario, params, tokens, flops, specs, choices, fmt, output, force):
    """Evaluate a plan you already have (any two of --params, --tokens, --flops) under SCENARIO.

    Prints its loss, epochs, costs and over-training as `lifeopt solve` prints a plan's, the
    limits it breaks, and its regret: how much more it costs than the lifecycle-optimal plan
    of the same loss (and that plan).

    \b
    Examples:
      lifeopt evaluate examples/chat_assistant.toml --params 70B --tokens 1.4T
      lifeopt evaluate examples/chat_assistant.toml --params 8B --tokens 15T --format json
      lifeopt evaluate examples/chat_assistant.toml --params 7B --flops 8.4e22 \\
          --vary inference.requests=1e9..1e12:log:7
      lifeopt evaluate examples/moe_vs_dense.toml --params 306M --tokens 100B --choice moe.experts=8
    """
    from ..outputs.evaluation_report import render_evaluation, render_evaluation_rows
    from ..outputs.reports import render_csv, render_json, render_rows_csv, render_rows_json
    from ..plan.axes import parse_axes
    from ..plan.evaluation import evaluate as evaluate_plan
    from ..plan.evaluation_sweep import evaluate_sweep
    from ..scenario.reader import load_scenario

    output = stdout_or(output)
    check_outputs(force, output)
    loaded = load_scenario(scenario)
    chosen = {}
    for spec in choices:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--choice {spec!r}: give KEY=VALUE, e.g. moe.experts=8")
        chosen[key.strip()] = value.strip()
    if specs:
        axes = parse_axes(specs)
        rows = evaluate_sweep(loaded, axes, params=params, tokens=tokens, flops=flops, choices=chosen)
        text = {"table": lambda r: render_evaluation_rows(r, [a.key for a in axes]),
                "csv": render_rows_csv, "json": render_rows_json}[fmt](rows)
    else:
        e = evaluate_plan(loaded, params=params, tokens=tokens, flops=flops, choices=chosen)
        text = {"table": render_evaluation, "json": render_json, "csv": render_csv}[fmt](e)
    emit(text, output, force)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@click.option("--vary", "specs", multiple=True, required=True, metavar="KEY=VALUES",
              help="A scenario key and its values: a..b:log:n, a..b:lin:n or a,b,c. Repeat for "
                   "several keys (their product is solved).")
@click.option("--format", "fmt", type=click.Choice(("table",) + _SWEEP_FORMATS), default=None,
              help="A table of the main fields (the default), or every field as CSV, JSON, JSON Lines, "
                   "Parquet or Arrow IPC (the last two need the arrow extra); without it, -o's ending "
                   "chooses (sweep.parquet, sweep.jsonl, ...).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write to this file (atomically, streamed a chunk at a time) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite output files that exist.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar with the rate and the time left (default: when standard "
                   "error is a terminal).")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write the rows as a workbook, one row per point (needs the xlsx extra).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Solve the chunks on a Dask cluster at ADDRESS (needs the dask extra), "
                   "e.g. --scheduler tcp://10.0.0.5:8786. Rows come back in grid order.")
@click.option("--workers", type=click.IntRange(1, 512), default=None,
              help="Solve the chunks on a local Dask cluster of N worker processes, at most the "
                   "machine's cores (needs the dask extra), e.g. --workers 4. Without it the sweep "
                   "already uses every core of this machine.")
@click.option("--connect-timeout", type=click.FloatRange(0.1, 3600), default=10.0, show_default=True,
              metavar="SECONDS", help="With --scheduler: how long to wait for the scheduler to answer "
                                        "(and for a worker to take the sweep).")
@click.option("--chunk", type=click.IntRange(1, 10_000_000), default=None, metavar="POINTS",
              help="Points solved together (default 65536, 16384 for JSON, or what memory holds); "
                   "memory holds a few chunks of rows, and a chunk too large for it is refused, "
                   "e.g. --chunk 10000.")
@click.option("--stamp", is_flag=True,
              help="Write today's date on the workbook's cover and in its properties (by default "
                   "no date, so the same inputs give the same bytes).")
def sweep(scenario, specs, fmt, output, force, progress, xlsx, scheduler, workers, connect_timeout, chunk, stamp):
    """Solve SCENARIO at every point of a grid and write one row per point.

    Each point is the scenario with the varied keys replaced. The points are solved
    together by the batch solver, chunk by chunk; points it cannot solve exactly (and
    infeasible ones, to explain them) go through the per-scenario solver of `lifeopt
    solve`. CSV to a file (-o) is streamed: memory stays bounded however many points.

    \b
    Examples:
      lifeopt sweep examples/chat_assistant.toml --vary inference.requests=1e9..1e12:log:25
      lifeopt sweep examples/chat_assistant.toml --vary target.loss=1.9,1.95,2.0 \\
          --vary hardware.inference.price_per_gpu_hour=1.5..3.5:lin:5 --format csv -o sweep.csv
      lifeopt sweep examples/finance_plan.toml --vary finance.discount_rate=0..0.3:lin:7 --xlsx sweep.xlsx
      lifeopt sweep examples/small_corpus.toml --vary inference.tokens=1e10..1e14:log:1000 \\
          --vary target.loss=2.3..2.6:lin:1000 -o big.parquet --scheduler tcp://10.0.0.5:8786
    """
    from ..execution.dask_client import DaskClient
    from ..execution.machine import check_workers
    from ..outputs.sweep_book import check_fits
    from ..outputs.sweep_files import format_for
    from ..outputs.sweep_output import run_sweep
    from ..plan.axes import parse_axes
    from ..plan.sweep_plan import plan_sweep

    if scheduler and workers:
        raise click.UsageError("give --scheduler or --workers, not both")
    check_workers(workers)
    output = stdout_or(output)
    fmt = format_for(output, fmt) or "table"
    if fmt in ("parquet", "arrow") and not output:
        raise click.UsageError(f"--format {fmt} writes a file: give -o FILE")
    check_outputs(force, output, xlsx)
    plan = plan_sweep(scenario, parse_axes(specs))
    if xlsx:
        check_fits(plan.size, xlsx)
    say = lambda line: click.echo(line, err=True)              # noqa: E731
    show = sys.stderr.isatty() if progress is None else progress
    with DaskClient(scheduler, workers, connect_timeout, say) as client, _progress(plan.size, show) as advance:
        table = run_sweep(plan, fmt, output, client=client, chunk=chunk, progress=advance, xlsx=xlsx,
                          source=scenario, stamp=today() if stamp else None, force=force,
                          stdout=lambda text: click.echo(text, nl=False))
    _say_exact(plan)
    if xlsx:
        say(f"wrote {xlsx}")
    if table is not None:
        emit(table, output, force)
    elif output:
        say(f"wrote {output}")


class _progress:
    """A progress bar on standard error (hidden when ``show`` is false): points done, the
    rate in points per second and the time left. ``advance(chunks)`` passes the chunks
    through ((points, columns) in, columns out) and moves the bar."""

    def __init__(self, total: int, show: bool):
        self.total, self.show = total, show

    def __enter__(self):
        import time
        start = time.monotonic()
        # the time left is ours (from the mean rate so far): click's own needs a second
        # between updates before it shows any
        self.bar = click.progressbar(length=self.total, label="solving", file=sys.stderr, hidden=not self.show,
                                     show_pos=True, show_eta=False, item_show_func=lambda rate: rate)
        bar = self.bar.__enter__()

        def advance(chunks):
            done = 0
            for points, cols in chunks:
                done += points
                rate = done / max(time.monotonic() - start, 1e-9)
                left = int((self.total - done) / rate) if rate > 0 else 0
                bar.update(points, current_item=f"{rate:,.0f} points/s, {left // 60:d}:{left % 60:02d} left")
                yield cols
        return advance

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


def _say_exact(plan) -> None:
    """Say on stderr how many points went to the exact path: all of them when the batch
    solver could not take the sweep (the roofline serving model, bootstrap laws), else
    those it could not solve."""
    if plan.exact_reason:
        click.echo(f"{plan.size} points solved one by one by the exact solver (the batch solver does "
                   f"not cover {plan.exact_reason})", err=True)
    elif plan.exact_points:
        click.echo(f"{plan.exact_points:,} of {plan.size:,} points solved one by one by the exact solver "
                   f"(infeasible or invalid points, whose rows say why, or beyond the batch solver)", err=True)


@cli.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "json")), default="table",
              show_default=True, help="Plans in columns, or one row per plan as CSV or JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write to this file (atomically) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def compare(scenarios, fmt, output, force):
    """Solve several scenarios and show their plans side by side.

    Give several files, or one file with [[scenario]] tables laid over shared
    top-level sections. Changes are shown against the first plan.

    \b
    Examples:
      lifeopt compare examples/compare_demand.toml
      lifeopt compare examples/chat_assistant.toml examples/finance_plan.toml
      lifeopt compare examples/compare_demand.toml --format csv -o plans.csv
    """
    from ..errors import InfeasibleError, SolverError
    from ..outputs.compare_report import render_compare
    from ..outputs.reports import render_rows_csv, render_rows_json
    from ..scenario.reader import load_scenarios
    from ..plan.planning import solve as solve_scenario
    from ..plan.rows import status_of

    output = stdout_or(output)
    check_outputs(force, output)
    results, origins = [], []
    for path in scenarios:
        for s in load_scenarios(path):
            origins.append(path)
            try:
                results.append((s.name, solve_scenario(s)))
            except (InfeasibleError, SolverError) as exc:
                results.append((s.name, exc))
    names = [name for name, _ in results]
    labels = [name if names.count(name) == 1 else f"{name} ({path})"
              for (name, _), path in zip(results, origins)]
    results = list(zip(labels, (r for _, r in results)))
    if fmt == "table":
        text = render_compare(results)
    else:
        rows = [r.as_row() if not isinstance(r, Exception) else
                {"scenario": name, "status": status_of(r), "message": str(r)} for name, r in results]
        text = (render_rows_csv if fmt == "csv" else render_rows_json)(rows)
    emit(text, output, force)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), required=True,
              help="The figure to write: a .png, .svg or .pdf file name (PDF for a slide deck).")
@click.option("--vary", "specs", multiple=True, metavar="KEY=VALUES",
              help="Plot a sweep instead: optimal N and tokens per parameter against this key "
                   "(a second --vary draws one line per value). At most 1,000 values along the x axis "
                   "and 20 lines are drawn: more are thinned, evenly spaced, and a note says so.")
@click.option("--force", is_flag=True, help="Overwrite the figure if it exists.")
def plot(scenario, output, specs, force):
    """Draw the plan of SCENARIO, or how it moves along a sweep.

    Without --vary: the iso-loss curve in (N, D) with lifecycle-cost contours, the
    optimum, the compute-optimal plan and the published models (one panel per scenario
    of a [[scenario]] file). With --vary: the optimal N and tokens per parameter against
    the varied setting. Needs the plot extra (matplotlib).

    \b
    Examples:
      lifeopt plot examples/chat_assistant.toml -o plan.png
      lifeopt plot examples/compare_demand.toml -o plans.svg
      lifeopt plot examples/finance_plan.toml -o plan.pdf
      lifeopt plot examples/chat_assistant.toml --vary inference.requests=1e9..1e12:log:25 -o demand.png
    """
    from ..errors import ExportError
    from ..outputs.plots import figure_axes, plan_figure, sweep_figure
    from ..outputs.figure_files import save_figure
    from ..scenario.reader import load_scenario, load_scenarios
    from ..plan.planning import solve as solve_scenario
    from ..execution.sweeps import sweep as run_sweep

    if output.rsplit(".", 1)[-1].lower() not in ("png", "svg", "pdf"):
        raise ExportError(f"{output}: give a file name ending in .png, .svg or .pdf")
    check_outputs(force, output)
    if specs:
        axes, notes = figure_axes(specs)
        for note in notes:
            click.echo(note, err=True)
        rows = run_sweep(load_scenario(scenario), axes)
        fig = sweep_figure(rows, [a.key for a in axes])
    else:
        fig = plan_figure([(s, solve_scenario(s)) for s in load_scenarios(scenario)])
    save_figure(fig, output, force=force)
    click.echo(f"wrote {output}", err=True)


