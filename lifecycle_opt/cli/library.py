"""The commands about laws and hardware: ``fit`` (a law from your runs), ``presets`` and
``gpus`` (the published laws and the GPU catalogue)."""
from __future__ import annotations

__all__ = ["fit", "presets", "gpus"]

import sys

import click

from ..errors import ScenarioError
from .app import check_outputs, cli


@cli.command()
@click.argument("runs", type=click.Path(dir_okay=False, path_type=str), required=False)
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
@click.option("--loss", "fit_loss", type=click.Choice(("huber", "mse", "mae")), default="huber",
              show_default=True, help="What is summed over the log-loss residuals.")
@click.option("--delta", type=float, default=None,
              help="The Huber threshold (default 1e-3, Hoffmann et al. 2022); only with --loss huber.")
@click.option("--min-tokens-per-param", "min_ratio", type=float, default=None,
              help="Fit only the runs with D/N at least this (e.g. 5: leave out badly undertrained runs).")
@click.option("--max-tokens-per-param", "max_ratio", type=float, default=None,
              help="Fit only the runs with D/N at most this.")
@click.option("--polish", type=click.Choice(("bfgs", "newton")), default=None,
              help="Polish the best optimum once more with full-memory BFGS or Newton's method.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also draw the fit (.png, .svg or .pdf): the runs and the law's iso-loss contours and "
                   "compute-optimal frontier in (N, D), and the residuals (needs the plot extra).")
@click.option("--simulate", "simulate_law", default=None, metavar="LAW",
              help="Instead of fitting RUNS: simulate the runs of --design from LAW (a preset or a law "
                   "TOML file) with --noise, fit each copy, and report what the design recovers.")
@click.option("--design", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="With --simulate: a CSV of planned runs (params and tokens or flops; no loss).")
@click.option("--noise", default=None, metavar="RATE",
              help='With --simulate: the relative noise of a run\'s final loss, e.g. "0.5%" or 0.005.')
@click.option("--simulations", type=click.IntRange(2, 100000), default=200, show_default=True,
              help="With --simulate: how many noisy copies of the design to fit.")
@click.option("--base", default=None, metavar="LAW",
              help="Fix the base law (a preset or a law TOML file) and fit only R_D* and R_N* to runs that repeat "
                   "data, as Muennighoff et al. 2023 did.")
@click.option("--tie-exponents", "tie", is_flag=True, help="Fit one exponent: alpha = beta.")
@click.option("--fix-E", "fix_e", type=float, default=None, metavar="NATS",
              help="Hold the irreducible loss E at this value [nats].")
@click.option("--weight-column", default=None,
              help="Header of a column of per-run weights (a column named weight is used if present).")
@click.option("--error-column", default=None,
              help="Header of a benchmark-error column [fraction] (one named error is used if present): also fit "
                   "Err(L) = epsilon - k*exp(-gamma*L) (Gadre et al. 2024).")
@click.option("--starts", "starts_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="A CSV of starting points: columns E, A, B, alpha, beta (and R_D_star, R_N_star).")
@click.option("--likelihood", type=click.Choice(("huber", "normal")), default=None,
              help="Maximum likelihood instead of the summed loss (Besiroglu et al. 2024): huber is their error "
                   "model, normal is least squares; with standard errors, log-likelihood, AIC and BIC.")
@click.option("--compare", multiple=True, metavar="LAW",
              help="With --likelihood: test this law (a preset or law file) against the fit (likelihood ratio "
                   "and Wald chi-squared). Repeatable.")
@click.option("--force", is_flag=True, help="Overwrite output files that exist.")
@click.option("--experts-column", default=None,
              help="Header of a column of the number of experts of each run (one named experts is used if present): "
                   "fit the joint dense/MoE law of Ludziejewski et al. 2025, N being the active parameters.")
@click.option("--fit-expert-transform", "fit_transform", is_flag=True,
              help="With an experts column: fit E_start and E_max too (held at Ludziejewski et al.'s 2.0732 and "
                   "290.4521 by default).")
@click.option("--progress/--no-progress", default=None,
              help="Report the starts and resamples done on standard error (default: when it is a terminal).")
def fit(runs, output, fmt, resamples, seed, samples, drop, params_column, tokens_column, flops_column,
        loss_column, workers, approach, fit_loss, delta, min_ratio, max_ratio, polish, plot_path, simulate_law,
        design, noise, simulations, base, tie, fix_e, weight_column, error_column, starts_path, likelihood, compare,
        experts_column, fit_transform, force, progress):
    """Fit your own scaling law L = E + A/N^alpha + B/D^beta to training RUNS (a CSV).

    Approach 3 of Hoffmann et al. 2022 as replicated by Besiroglu et al. 2024 (Huber loss,
    delta 1e-3, on log-loss residuals, summed; L-BFGS from 4,500 starts), with Approach 2
    (IsoFLOP parabolas) when runs share compute budgets. Columns are found by name
    (params/N/model size, tokens/D or flops/C/training FLOP, loss); values may carry units.

    Runs with an experts column (E per run, N the active parameters) are fitted with the
    joint dense/MoE law of Ludziejewski et al. 2025, written as a [law] table with
    form = "joint_moe" that a scenario's [moe] experts reads.

    Runs that repeat their data (a unique_tokens column, D > U) are fitted with the
    data-constrained law of Muennighoff et al. 2023 on every run (R_D*, R_N* with the base
    law, or with --base fixed); a benchmark-error column adds the downstream mapping of
    Gadre et al. 2024, written as a [downstream] table into the -o file.

    \b
    Examples:
      lifeopt fit examples/runs/isoflop_runs.csv --bootstrap 100 --samples law_samples.csv -o law.toml
      lifeopt fit examples/runs/isoflop_runs.csv --drop-highest-loss 5 --format json
      lifeopt fit examples/runs/sardana2024_runs.csv --likelihood huber --compare sardana2024
      lifeopt fit examples/runs/datablations_runs.csv --base muennighoff2023
      lifeopt fit examples/runs/sardana2024_runs.csv --bootstrap 200 -o fit.toml
      lifeopt fit examples/runs/ladder_curves.csv --approach all --bootstrap 200
      lifeopt fit examples/runs/isoflop_runs.csv --loss mse --min-tokens-per-param 5 --polish newton
      lifeopt fit --simulate besiroglu2024 --noise 0.5% --design examples/runs/ladder_design.csv \\
          --simulations 50
      lifeopt fit examples/runs/moe_runs.csv -o moe_law.toml
    """
    from ..fit.machine import check_workers
    from ..fit.parametric import check_bootstrap
    from ..fit.runs import read_runs
    from .fitting import Progress, fit_runs, select_runs

    check_outputs(force, output, samples, plot_path)
    check_workers(workers)
    columns = {k: v for k, v in (("params", params_column), ("tokens", tokens_column), ("flops", flops_column),
                                 ("loss", loss_column), ("weight", weight_column), ("error", error_column),
                                 ("experts", experts_column)) if v}
    options = {"--base": base, "--tie-exponents": tie, "--fix-E": fix_e, "--weight-column": weight_column,
               "--error-column": error_column, "--starts": starts_path, "--likelihood": likelihood,
               "--compare": compare}
    if simulate_law is not None or design is not None or noise is not None:
        _refuse(options, "--simulate")
        _simulate(runs, simulate_law, design, noise, simulations, seed, columns, fit_loss, delta, fmt, {
            "-o": output, "--samples": samples, "--plot": plot_path, "--bootstrap": resamples, "--drop-highest-loss": drop,
            "--min-tokens-per-param": min_ratio, "--max-tokens-per-param": max_ratio, "--polish": polish,
            "--workers": workers, "--approach": None if approach == "3" else approach,
            "--experts-column": experts_column, "--fit-expert-transform": fit_transform})
        return
    _check_runs(runs, samples, resamples)
    if approach == "all":
        _refuse({**options, "--experts-column": experts_column, "--fit-expert-transform": fit_transform},
                "--approach all")
        _fit_all(runs, columns, output, fmt, resamples, seed, samples, drop, workers, force)
        return
    objective = _fit_objective(fit_loss, delta)
    _check_likelihood_options(likelihood, compare, fit_loss, delta, polish)
    constraints, starts, r_starts = _constraints_and_starts(base, tie, fix_e, samples, starts_path)
    read = read_runs(runs, columns)
    show = Progress(sys.stderr.isatty() if progress is None else progress)
    if read.experts is not None:
        outcome = _fit_joint(read, {**options, "--polish": polish, "--samples": samples}, fit_transform, objective,
                             (min_ratio, max_ratio, drop), resamples, seed, workers, show)
    else:
        if fit_transform:
            raise ScenarioError("--fit-expert-transform", "runs with an experts column (E_start and E_max belong "
                                "to the joint MoE law)", source=runs, found_text="found none")
        data = select_runs(read, min_ratio, max_ratio, drop)
        check_bootstrap(resamples, len(data))
        outcome = fit_runs(data, objective=objective, polish=polish, workers=workers, resamples=resamples,
                           seed=seed, constraints=constraints, starts=starts, r_starts=r_starts,
                           likelihood=likelihood, compare=compare, progress=show)
    _write_fit(outcome, output, samples, plot_path, force)
    click.echo(_json(outcome.document()) if fmt == "json" else outcome.text(), nl=fmt == "json")


def _check_runs(runs, samples, resamples) -> None:
    """ScenarioError without a CSV of runs, or with --samples but no bootstrap to write."""
    if runs is None:
        raise ScenarioError("RUNS", "a CSV of training runs to fit (or --simulate LAW --design FILE)",
                            found_text="found none")
    if samples and not resamples:
        raise ScenarioError("--samples", "--bootstrap N with N > 0 to have samples to write",
                            found_text="found no --bootstrap")


def _fit_joint(read, options: dict, fit_transform: bool, objective, cuts, resamples, seed, workers, show):
    """The joint MoE fit of runs with an experts column (:func:`.fitting.fit_joint_runs`),
    after refusing the options of the Chinchilla-form fit (weights and an error column
    apply to both)."""
    from ..fit.parametric import check_bootstrap
    from .fitting import fit_joint_runs, select_runs

    _refuse({k: v for k, v in options.items() if k not in ("--weight-column", "--error-column")},
            "an experts column", "an option of the Chinchilla-form fit; the joint law's 95 % intervals go in the "
            "report and the law file")
    free = 11 if fit_transform else 9
    data = select_runs(read, *cuts, free, free + 1)
    check_bootstrap(resamples, len(data))
    return fit_joint_runs(data, objective=objective, fit_transform=fit_transform, workers=workers,
                          resamples=resamples, seed=seed, progress=show)


def _refuse_with_simulate(options: dict) -> None:
    """ScenarioError for an option ``--simulate`` would leave unused: a simulation fits
    many noisy copies of a design, not one law, and writes no file."""
    for flag, value in options.items():
        if value not in (None, False, (), 0):
            why = ("a simulation fits many noisy copies of a design, not one law, and writes no file: --format "
                   "json prints what the copies recover" if flag in ("-o", "--samples", "--plot")
                   else f"{flag} is an option of the fit of a file of runs")
            raise ScenarioError(flag, f"no {flag} with --simulate ({why})", value)


def _constraints_and_starts(base, tie, fix_e, samples, starts_path):
    """(Constraints, starts, repetition starts) of the options."""
    from .fitting import constraints_from, starts_from

    constraints = constraints_from(base, tie, fix_e)
    if samples and base is not None:
        raise ScenarioError("--samples", "no --base (the base law is fixed: there are no bootstrap laws to "
                            "write)", samples)
    return (constraints, *starts_from(starts_path, constraints))


def _refuse(options: dict, mode: str, why: str = "it fits a file of final losses") -> None:
    """ScenarioError when an option that ``mode`` does not use was given."""
    for flag, value in options.items():
        if value not in (None, False, ()):
            raise ScenarioError(flag, f"no {flag} with {mode} ({why})", value)


def _check_likelihood_options(likelihood, compare, fit_loss, delta, polish) -> None:
    if compare and likelihood is None:
        raise ScenarioError("--compare", "--likelihood too (the tests compare likelihoods)", compare[0])
    if likelihood is not None:
        for flag, value in (("--loss", None if fit_loss == "huber" else fit_loss), ("--delta", delta),
                            ("--polish", polish)):
            if value is not None:
                raise ScenarioError(flag, "no value with --likelihood (the likelihood sets what is fitted)", value)


def _json(doc: dict) -> str:
    """Strict JSON (no Infinity or NaN) of a fit's document."""
    import json

    from ..outputs.reports import strict
    return json.dumps(strict(doc), indent=2, allow_nan=False)


def _write_fit(outcome, output, samples, plot_path, force) -> None:
    """The files of a fit (its figure, its bootstrap laws, its law file, which points at
    them): every one made in memory first, then all written as one, so that a failure or
    Ctrl-C before the end leaves none of them (:func:`.outputs.exports.write_files_atomic`)."""
    from pathlib import Path

    from ..fit.parametric import write_samples
    from ..outputs.exports import write_files_atomic

    files = []
    if plot_path:
        from ..outputs.figure_files import figure_bytes
        files.append((plot_path, figure_bytes(outcome.figure(), plot_path, force=force)))
    if samples:
        files.append((samples, write_samples(outcome.boot).encode("utf-8")))
    if output:
        rel = None
        if samples:
            rel = str(Path(samples).resolve().relative_to(Path(output).resolve().parent)) \
                if Path(samples).resolve().is_relative_to(Path(output).resolve().parent) \
                else str(Path(samples).resolve())
        files.append((output, outcome.law_file(rel).encode("utf-8")))
    if files:
        write_files_atomic(files, force=force)
    for path, _ in files:
        click.echo(f"wrote {path}", err=True)


def _simulate(runs, law_name, design, noise, simulations, seed, columns, fit_loss, delta, fmt, unused) -> None:
    """`lifeopt fit --simulate LAW --noise RATE --design FILE`: what a design of runs recovers
    (``unused``: the options it refuses, flag → value)."""
    _refuse_with_simulate(unused)

    from ..fit.runs import number_text, read_runs
    from ..fit.simulate import simulate_design
    from ..model.units import parse_rate
    from ..outputs.fit_report import render_design_study

    for key, value in (("--simulate", law_name), ("--design", design), ("--noise", noise)):
        if value is None:
            raise ScenarioError(key, "--simulate LAW, --design FILE and --noise RATE together",
                                found_text=f"found no {key}")
    if runs is not None:
        raise ScenarioError("RUNS", "no runs to fit with --simulate (the design gives the runs)", runs)
    try:
        sigma = parse_rate(number_text(noise))
    except ValueError as exc:
        raise ScenarioError("--noise", str(exc), noise) from None
    if not 0 < sigma < 1:
        raise ScenarioError("--noise", 'a relative noise in (0, 1) such as "0.5%"', noise)
    study = simulate_design(_law_of(law_name), read_runs(design, columns, design=True), sigma, simulations,
                            seed=seed, objective=_fit_objective(fit_loss, delta))
    click.echo(_json(study.as_dict()) if fmt == "json" else render_design_study(study), nl=fmt != "json")


def _law_of(value: str):
    """A Chinchilla-form law from a preset name or a law TOML file ([law] table)."""
    from .fitting import law_from_option
    return law_from_option(value, "--simulate")


def _fit_objective(loss: str, delta: float | None):
    from ..fit.parametric import FitObjective, HUBER_DELTA, MAX_HUBER_DELTA, MIN_HUBER_DELTA

    if delta is not None and loss != "huber":
        raise ScenarioError("--delta", "--loss huber (the threshold is Huber's)", found_text=f"found --loss {loss}")
    if delta is not None and not MIN_HUBER_DELTA <= delta <= MAX_HUBER_DELTA:
        raise ScenarioError("--delta", f"a Huber threshold from {MIN_HUBER_DELTA:g} to {MAX_HUBER_DELTA:g} such as 1e-3 "
                            f"(below {MIN_HUBER_DELTA:g} the objective falls under the optimiser's tolerances; above "
                            f"{MAX_HUBER_DELTA:g} every log residual is in the squared part: --loss mse)", delta)
    return FitObjective(loss, HUBER_DELTA if delta is None else delta)


def _fit_all(runs, columns, output, fmt, resamples, seed, samples, drop, workers, force):
    """`lifeopt fit --approach all`: the three approaches on training curves."""

    from ..fit.approaches import compare_approaches, read_curves
    from ..outputs.exports import write_text_atomic
    from ..fit.parametric import law_toml
    from ..outputs.fit_report import render_approaches

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
        click.echo(_json(cmp.as_dict()))
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

    from ..model.presets import PRESETS, preset

    rows = []
    for name in PRESETS:
        law = preset(name)
        fit = law.fitted
        rows.append((name, law.describe().split("  (")[0].split(": ", 1)[1],
                     fit.note if fit else "", law.source))
    click.echo(tabulate(rows, headers=("preset", "form", "fitted on", "source")))


@cli.command()
def gpus():
    """List the GPU catalogue: dense peak FLOP/s per dtype, memory, bandwidth, links, source.

    \b
    Example:
      lifeopt gpus
    """
    from tabulate import tabulate

    from ..model.hardware import CATALOGUE

    rows = [(g.name, ", ".join(f"{k} {v / 1e12:g}T" for k, v in g.peak_flops.items()),
             f"{g.memory_bytes / 1e9:g} GB", f"{g.bandwidth / 1e12:g} TB/s",
             f"{g.link_bandwidth / 1e9:g} GB/s, {g.link_latency * 1e6:g} µs", g.source)
            for g in CATALOGUE.values()]
    click.echo(tabulate(rows, headers=("gpu", "dense peak FLOP/s", "memory", "bandwidth",
                                       "links (one direction)", "source")))


