"""The ``lifeopt`` command: load → one API call → render. A thin shell over the Python API.

Every lifecycle_opt error becomes a one-line message on stderr and its exit code
(2 for bad input, 1 for an infeasible plan or a solver failure); never a traceback.
"""
from __future__ import annotations

__all__ = ["main", "cli"]

import sys

import click

from .errors import InfeasibleError, LifecycleError, ScenarioError

FORMATS = ("table", "json", "csv")


def _fail(exc: LifecycleError):
    click.echo(f"error: {exc}", err=True)
    if isinstance(exc, InfeasibleError):
        for c in exc.conflicts:
            click.echo(f"  - {c.advice}", err=True)
    sys.exit(exc.exit_code)


class _Lifeopt(click.Group):
    """The command group, with click's own usage errors on one line like ours
    (``error: …``, exit code 2) and a last guard that keeps tracebacks from users."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:   # bare `lifeopt`
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except LifecycleError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:                     # the reader went away (| head)
            sys.exit(1)
        except Exception as exc:                    # a bug: say so on one line, not a traceback
            click.echo(f"error: internal error ({type(exc).__name__}: {exc}); please report the "
                       f"command and its input files", err=True)
            sys.exit(70)


@click.group(cls=_Lifeopt, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lifecycle_opt", prog_name="lifeopt")   # read on --version only
def cli():
    """Plan the training of a language model over its whole life.

    \b
    Examples:
      lifeopt solve examples/chat_assistant.toml
      lifeopt solve examples/small_corpus.toml --format json -o plan.json
      lifeopt sweep examples/chat_assistant.toml --vary inference.requests=1e9..1e12:log:25
      lifeopt compare examples/compare_demand.toml
      lifeopt plot examples/chat_assistant.toml -o plan.png
      lifeopt fit runs.csv --bootstrap 1000 --samples law_samples.csv -o law.toml
      lifeopt presets
    """


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
def solve(scenario, fmt, output, force, xlsx, csv_tables, stamp):
    """Solve SCENARIO (a TOML file) for the certified lifecycle-optimal plan.

    \b
    Examples:
      lifeopt solve examples/chat_assistant.toml
      lifeopt solve examples/research_model.toml --format json
      lifeopt solve examples/small_corpus.toml --format csv -o plan.csv --force
      lifeopt solve examples/finance_plan.toml --xlsx plan.xlsx --csv-tables plan-tables
    """
    from .outputs.exports import check_writable
    from .outputs.reports import render_csv, render_json, render_table
    from .scenario.reader import load_scenario
    from .plan.planning import solve as solve_scenario

    try:
        for path in (output, xlsx):
            if path:
                check_writable(path, force=force)       # fail before solving, not after
        loaded = load_scenario(scenario)
        solution = solve_scenario(loaded)
        text = {"table": render_table, "json": render_json, "csv": render_csv}[fmt](solution)
        if xlsx or csv_tables:
            from .outputs.plan_book import plan_book
            from .outputs.workbook import write_csv_tables, write_xlsx
            book = plan_book(loaded, solution, stamp=_today() if stamp else None)
            if xlsx:
                write_xlsx(book, xlsx, force=force)
                click.echo(f"wrote {xlsx}", err=True)
            if csv_tables:
                written = write_csv_tables(book, csv_tables, force=force)
                click.echo(f"wrote {len(written)} tables into {csv_tables}", err=True)
        _emit(text, output, force)
    except LifecycleError as exc:
        _fail(exc)


def _today():
    import datetime
    return datetime.date.today()


def _emit(text: str, output: str | None, force: bool) -> None:
    """Write ``text`` to ``output`` atomically, or to standard output."""
    from .outputs.exports import write_text_atomic

    if output:
        write_text_atomic(output, text, force=force)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@click.option("--vary", "specs", multiple=True, required=True, metavar="KEY=VALUES",
              help="A scenario key and its values: a..b:log:n, a..b:lin:n or a,b,c. Repeat for "
                   "several keys (their product is solved).")
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "json")), default="table",
              show_default=True, help="A table of the main fields, or every field as CSV or JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write to this file (atomically) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite output files that exist.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: when standard error is a terminal).")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write the rows as a workbook, one row per point (needs the xlsx extra).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Solve the chunks on a Dask cluster at ADDRESS (needs the dask extra), "
                   "e.g. --scheduler tcp://10.0.0.5:8786. Rows come back in grid order.")
@click.option("--workers", type=click.IntRange(1, 512), default=None,
              help="Solve the chunks on a local Dask cluster of N worker processes (needs the "
                   "dask extra), e.g. --workers 4.")
@click.option("--chunk", type=click.IntRange(1, 10_000_000), default=None, metavar="POINTS",
              help="Points solved together (default 65536); memory holds one chunk of rows per "
                   "worker, e.g. --chunk 10000.")
@click.option("--stamp", is_flag=True,
              help="Write today's date on the workbook's cover and in its properties (by default "
                   "no date, so the same inputs give the same bytes).")
def sweep(scenario, specs, fmt, output, force, progress, xlsx, scheduler, workers, chunk, stamp):
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
          --vary target.loss=2.3..2.6:lin:1000 --format csv -o big.csv --workers 2
    """
    from .outputs.exports import check_writable, write_chunks_atomic
    from .outputs.reports import csv_chunk, csv_header, render_rows, render_rows_json
    from .plan.axes import parse_axis
    from .plan.sweep import CHUNK, chunk_rows, plan_sweep, sweep_chunks

    try:
        if scheduler and workers:
            raise click.UsageError("give --scheduler or --workers, not both")
        for path in (output, xlsx):
            if path:
                check_writable(path, force=force)
        axes = [parse_axis(spec) for spec in specs]
        plan = plan_sweep(scenario, axes)
        with _dask_client(scheduler, workers) as client:
            chunks = sweep_chunks(plan, chunk or CHUNK, client)
            show = sys.stderr.isatty() if progress is None else progress
            with click.progressbar(length=plan.size, label="solving", file=sys.stderr,
                                   hidden=not show) as bar:
                def advance():
                    for points, cols in chunks:
                        bar.update(points)
                        yield cols
                if fmt == "csv" and output and not xlsx:
                    keys = plan.keys
                    write_chunks_atomic(output, _prepend(csv_header(keys),
                                        (csv_chunk(c, keys) for c in advance())), force=force)
                    _say_exact(plan)
                    click.echo(f"wrote {output}", err=True)
                    return
                rows = [r for cols in advance() for r in chunk_rows(cols)]
        _say_exact(plan)
        keys = [a.key for a in axes]
        text = {"table": lambda r: render_rows(r, keys),
                "csv": lambda r: csv_header(plan.keys) + csv_chunk({k: [x[k] for x in r] for k in plan.keys},
                                                                   plan.keys),
                "json": render_rows_json}[fmt](rows)
        if xlsx:
            from .outputs.workbook import sweep_book, write_xlsx
            write_xlsx(sweep_book(rows, keys, scenario, stamp=_today() if stamp else None), xlsx, force=force)
            click.echo(f"wrote {xlsx}", err=True)
        _emit(text, output, force)
    except LifecycleError as exc:
        _fail(exc)


def _say_exact(plan) -> None:
    """Say on stderr how many points went to the exact path when the batch solver could
    not take the sweep (the roofline serving model, bootstrap laws)."""
    if plan.exact_reason:
        click.echo(f"{plan.size} points solved one by one by the exact solver (the batch solver does "
                   f"not cover {plan.exact_reason})", err=True)


def _prepend(first, rest):
    yield first
    yield from rest


class _dask_client:
    """A Dask client for --scheduler or --workers (None for neither); the local cluster it
    starts is closed on exit."""

    def __init__(self, scheduler, workers):
        self.scheduler, self.workers = scheduler, workers
        self.client = self.cluster = None

    def __enter__(self):
        if not (self.scheduler or self.workers):
            return None
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise click.UsageError("--scheduler and --workers need Dask: pip install "
                                   "'lifecycle_opt[dask]'") from None
        if self.workers:
            self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                        processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise click.UsageError(f"--scheduler {self.scheduler}: cannot connect ({exc})") from None
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


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
    from .errors import InfeasibleError, SolverError
    from .outputs.reports import render_compare, render_rows_csv, render_rows_json
    from .scenario.reader import load_scenarios
    from .plan.planning import solve as solve_scenario
    from .plan.rows import status_of

    try:
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
        _emit(text, output, force)
    except LifecycleError as exc:
        _fail(exc)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), required=True,
              help="The figure to write: a .png or .svg file name.")
@click.option("--vary", "specs", multiple=True, metavar="KEY=VALUES",
              help="Plot a sweep instead: optimal N and tokens per parameter against this key "
                   "(a second --vary draws one line per value).")
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
      lifeopt plot examples/chat_assistant.toml --vary inference.requests=1e9..1e12:log:25 -o demand.png
    """
    from .errors import ExportError
    from .outputs.exports import check_writable
    from .outputs.plots import plan_figure, save_figure, sweep_figure
    from .scenario.reader import load_scenario, load_scenarios
    from .plan.planning import solve as solve_scenario
    from .plan.axes import parse_axis
    from .plan.sweep import sweep as run_sweep

    try:
        if output.rsplit(".", 1)[-1].lower() not in ("png", "svg"):
            raise ExportError(f"{output}: give a file name ending in .png or .svg")
        check_writable(output, force=force)
        if specs:
            axes = [parse_axis(spec) for spec in specs]
            rows = run_sweep(load_scenario(scenario), axes)
            fig = sweep_figure(rows, [a.key for a in axes])
        else:
            fig = plan_figure([(s, solve_scenario(s)) for s in load_scenarios(scenario)])
        save_figure(fig, output, force=force)
        click.echo(f"wrote {output}", err=True)
    except LifecycleError as exc:
        _fail(exc)


@cli.command()
@click.argument("runs", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the fitted law as a scenario [law] table (TOML) to this file.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True,
              help="Print the fit as a report or as JSON.")
@click.option("--bootstrap", "resamples", type=click.IntRange(0, 100000), default=0, show_default=True,
              help="Refit on this many resamples of the runs for confidence intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--samples", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the bootstrap laws (CSV) here; the law file points at them for `solve`.")
@click.option("--drop-highest-loss", "drop", type=click.IntRange(0), default=0, show_default=True,
              help="Leave out this many runs of highest loss (Besiroglu et al. 2024 drop 5 outliers).")
@click.option("--params-column", default=None, help="Header of the parameter column (found by name if not given).")
@click.option("--tokens-column", default=None, help="Header of the training-token column.")
@click.option("--flops-column", default=None, help="Header of the training-compute column (D = C / 6N).")
@click.option("--loss-column", default=None, help="Header of the final-loss column.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes for the multi-start fit (default: the machine's cores).")
@click.option("--approach", type=click.Choice(("3", "all")), default="3", show_default=True,
              help="3: the parametric fit. all: Approaches 1, 2 and 3 side by side on training curves "
                   "(a CSV with a run column), with bootstrap intervals over runs and a verdict.")
@click.option("--force", is_flag=True, help="Overwrite output files that exist.")
def fit(runs, output, fmt, resamples, seed, samples, drop, params_column, tokens_column, flops_column,
        loss_column, workers, approach, force):
    """Fit your own scaling law L = E + A/N^alpha + B/D^beta to training RUNS (a CSV).

    Approach 3 of Hoffmann et al. 2022 as replicated by Besiroglu et al. 2024 (Huber loss,
    delta 1e-3, on log-loss residuals, summed; L-BFGS from 4,500 starts), with Approach 2
    (IsoFLOP parabolas) when runs share compute budgets. Columns are found by name
    (params/N/model size, tokens/D or flops/C/training FLOP, loss); values may carry units.

    \b
    Examples:
      lifeopt fit runs.csv -o law.toml
      lifeopt fit runs.csv --bootstrap 1000 --samples law_samples.csv -o law.toml
      lifeopt fit chinchilla.csv --drop-highest-loss 5 --format json
      lifeopt fit examples/runs/ladder_curves.csv --approach all --bootstrap 200
    """
    import json
    import time
    from pathlib import Path

    from .outputs.exports import check_writable, write_text_atomic
    from .fit.parametric import bootstrap as run_bootstrap, fit_law, isoflop_fit, law_toml, write_samples
    from .fit.runs import read_runs
    from .outputs.reports import fit_document, render_fit

    try:
        for path in (output, samples):
            if path:
                check_writable(path, force=force)
        if samples and not resamples:
            raise ScenarioError("--samples", "--bootstrap N with N > 0 to have samples to write",
                                found_text="found no --bootstrap")
        columns = {k: v for k, v in (("params", params_column), ("tokens", tokens_column),
                                     ("flops", flops_column), ("loss", loss_column)) if v}
        if approach == "all":
            _fit_all(runs, columns, output, fmt, resamples, seed, samples, drop, workers, force)
            return
        data = read_runs(runs, columns).without_highest_loss(drop)
        status = sys.stderr.isatty()
        if status:
            click.echo(f"fitting {len(data)} runs from 4,500 starts…", err=True)
        started = time.perf_counter()
        result = fit_law(data, workers=workers)
        boot = None
        if resamples:
            if status:
                click.echo(f"bootstrap: {resamples} refits…", err=True)
            boot = run_bootstrap(result, resamples, seed=seed, workers=workers)
        seconds = time.perf_counter() - started
        iso = isoflop_fit(data)
        if samples:
            write_text_atomic(samples, write_samples(boot), force=force)
            click.echo(f"wrote {samples}", err=True)
        if output:
            rel = None
            if samples:
                rel = str(Path(samples).resolve().relative_to(Path(output).resolve().parent)) \
                    if Path(samples).resolve().is_relative_to(Path(output).resolve().parent) \
                    else str(Path(samples).resolve())
            write_text_atomic(output, law_toml(result, samples_file=rel, boot=boot), force=force)
            click.echo(f"wrote {output}", err=True)
        if fmt == "json":
            click.echo(json.dumps(fit_document(result, boot, iso, seconds), indent=2))
        else:
            click.echo(render_fit(result, boot, iso, seconds), nl=False)
    except LifecycleError as exc:
        _fail(exc)


def _fit_all(runs, columns, output, fmt, resamples, seed, samples, drop, workers, force):
    """`lifeopt fit --approach all`: the three approaches on training curves."""
    import json

    from .fit.approaches import compare_approaches, read_curves
    from .outputs.exports import write_text_atomic
    from .fit.parametric import law_toml
    from .outputs.reports import render_approaches

    for flag, value in (("--samples", samples), ("--drop-highest-loss", drop)):
        if value:
            raise ScenarioError(flag, "no value with --approach all (intervals come from resampling runs)",
                                value)
    curves = read_curves(runs, columns)
    if sys.stderr.isatty():
        click.echo(f"three approaches on {curves.runs} runs…", err=True)
    cmp = compare_approaches(curves, resamples=resamples, seed=seed, workers=workers)
    if output:
        write_text_atomic(output, law_toml(cmp.fit), force=force)
        click.echo(f"wrote {output}", err=True)
    if fmt == "json":
        click.echo(json.dumps(cmp.as_dict(), indent=2))
    else:
        click.echo(render_approaches(cmp, runs), nl=False)


@cli.command()
def presets():
    """List the built-in scaling laws with their sources and fitted ranges.

    \b
    Example:
      lifeopt presets
    """
    from tabulate import tabulate

    from .model.laws import PRESETS, preset

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

    from .model.hardware import CATALOGUE

    rows = [(g.name, ", ".join(f"{k} {v / 1e12:g}T" for k, v in g.peak_flops.items()),
             f"{g.memory_bytes / 1e9:g} GB", f"{g.bandwidth / 1e12:g} TB/s", g.source)
            for g in CATALOGUE.values()]
    click.echo(tabulate(rows, headers=("gpu", "dense peak FLOP/s", "memory", "bandwidth", "source")))


def main():
    """The console entry point. SIGTERM (a scheduler's or a user's kill) unwinds like
    Ctrl-C, so that an output being written leaves no temporary file behind."""
    import signal

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    cli()


if __name__ == "__main__":
    main()
