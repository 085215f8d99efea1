"""The serving commands: ``calibrate`` (the serving model against your measurements, and
its efficiencies fitted to them) and ``architectures`` (the published shapes a scenario's
``[serving.architecture]`` may name)."""
from __future__ import annotations

__all__ = ["calibrate", "architectures"]

import click

from .app import check_outputs, cli, emit


@cli.command()
@click.argument("measurements", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), default=None,
              help='Write the fitted efficiencies as a calibration file for [serving] calibration = "FILE".')
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True,
              help="A table for people, or JSON {rows, parameters}.")
@click.option("--predict-only", is_flag=True, help="Predict each row with the shipped defaults (or --calibration); fit nothing.")
@click.option("--calibration", "calibration_file", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="A calibration file an earlier run wrote: predict with (or fit from) its efficiencies.")
@click.option("--bound", is_flag=True, help="Predict at efficiency 1 everywhere: the best the hardware allows.")
@click.option("--weights", type=click.Choice(("source", "row")), default="source", show_default=True,
              help="Count each source once (1/√rows) or every row alike.")
@click.option("--prior-rows", type=click.FloatRange(0), default=15.0, show_default=True,
              help="How many rows the prior (the defaults or --calibration) counts as; 0 fits the rows alone.")
@click.option("--force", is_flag=True, help="Overwrite an output file that exists.")
def calibrate(measurements, output, fmt, predict_only, calibration_file, bound, weights, prior_rows, force):
    """Predict measured serving and fit the serving model's efficiencies to it.

    MEASUREMENTS is a CSV in the columns of examples/runs/serving_measurements.csv: gpu,
    weight_dtype, kv_dtype, the shape (layers, d_model, heads, kv_heads, d_ff, vocab, gated_mlp),
    replica_gpus, batch (blank: the engine's choice up to max_batch and the memory),
    input_tokens, output_tokens, metric (tpot_ms, ttft_ms or output_tokens_per_second_per_gpu)
    and measured; a mixture of experts in the optional columns experts, active_experts,
    expert_d_ff and shared_experts (blank for a dense model). Each row's speed ratio is the
    model's speed over the measured speed.

    \b
    Examples:
      lifeopt calibrate examples/runs/serving_measurements.csv -o calibration.toml
      lifeopt calibrate examples/runs/serving_measurements.csv --predict-only
      lifeopt calibrate examples/runs/serving_measurements.csv --bound --format json
    """
    from ..fit.calibration import calibrate as fit, calibration_toml, read_measurements
    from ..outputs.serving_calibration import calibration_json, calibration_table

    if (predict_only or bound) and output:
        raise click.UsageError("-o writes fitted efficiencies: not with --predict-only or --bound")
    if bound and calibration_file:
        raise click.UsageError("--bound predicts at efficiency 1: not with --calibration")
    check_outputs(force, output)
    rows = read_measurements(measurements)
    prior = _prior(calibration_file)
    result = fit(rows, prior=prior, prior_rows=prior_rows, weights=weights, fit=not (predict_only or bound),
                 bound=bound)
    what = ("the hardware's bound (efficiency 1)" if bound else
            f"the efficiencies of {calibration_file}" if predict_only and calibration_file else
            "the shipped defaults" if predict_only else "efficiencies fitted to these rows")
    click.echo(calibration_json(result) if fmt == "json" else calibration_table(result, what), nl=False)
    if output:
        emit(calibration_toml(result, measurements), output, force)


def _prior(path: str | None):
    """The efficiencies of a calibration file, or the shipped defaults."""
    from ..model.serving_point import DEFAULT_EFFICIENCIES
    from ..scenario.serving import read_calibration

    return DEFAULT_EFFICIENCIES if path is None else read_calibration(path)


@cli.command()
def architectures():
    """List the published model shapes [serving.architecture] preset may name (a mixture of
    experts with its active parameters, its experts and those routed to per token, +shared
    ones, d_ff each expert's width).

    \b
    Example:
      lifeopt architectures
    """
    from tabulate import tabulate

    from ..model.architecture import PRESETS

    rows = [(a.name, f"{a.params:,.0f}", f"{a.active_params:,.0f}" if a.is_moe else "",
             f"{a.experts}/{a.active_experts}" + (f" +{a.shared_experts}" if a.shared_experts else "") if a.is_moe
             else "", f"{a.layers:g}", f"{a.d_model:g}", f"{a.heads:g}/{a.kv_heads:g}", f"{a.d_ff:g}", f"{a.vocab:g}",
             a.source) for a in PRESETS.values()]
    click.echo(tabulate(rows, headers=("preset", "parameters", "active", "experts/active", "layers", "d_model",
                                       "heads/KV", "d_ff", "vocab", "source")))
