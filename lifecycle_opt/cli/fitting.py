"""The work of ``lifeopt fit`` on a file of runs (the command and its options live in
:mod:`.library`): the options turned into constraints and starting points, one call to the
fit that suits the runs (the Chinchilla form, its likelihood, or the data-constrained law
when runs repeat their data), the downstream mapping when the runs have an error column,
and the document, the text and the law file of the outcome."""
from __future__ import annotations

__all__ = ["FitOutcome", "JointOutcome", "fit_runs", "fit_joint_runs", "constraints_from", "starts_from", "law_from_option", "select_runs",
           "Progress"]

import math
import time
from dataclasses import dataclass

import click
import numpy as np

from ..errors import ScenarioError


class Progress:
    """Lines on standard error as a long fit goes (``show``): the starts done, then the
    resamples, with the time so far."""

    def __init__(self, show: bool):
        self.show = bool(show)
        self.started = time.perf_counter()

    def stage(self, what: str):
        """A ``report(done, total)`` for :func:`.fit.parametric.fit_law` and the bootstrap,
        or None when nothing is shown."""
        if not self.show:
            return None

        def report(done: int, total: int) -> None:
            click.echo(f"{what}: {done:,} of {total:,} done after {time.perf_counter() - self.started:.0f} s",
                       err=True)
        return report


def select_runs(read, min_ratio: float | None, max_ratio: float | None, drop: int, constants: int = 5,
                need: int | None = None):
    """The runs of ``read`` within the tokens-per-parameter cutoffs, less the ``drop`` of
    highest loss; ScenarioError naming the option that leaves fewer runs than ``need``
    (default: as many as the law's ``constants``)."""
    need = constants if need is None else need
    kept = read.within_tokens_per_param(min_ratio, max_ratio)
    if min_ratio is not None or max_ratio is not None:
        if len(kept) < need:
            alone = len(read.within_tokens_per_param(min_ratio, None)) if min_ratio is not None else len(read)
            flag = "--min-tokens-per-param" if alone < need else "--max-tokens-per-param"
            raise ScenarioError(flag, f"cutoffs that leave at least {need} runs to fit {constants} constants",
                                found_text=f"found {len(kept)} of {len(read)} runs left")
    data = kept.without_highest_loss(drop)
    if len(data) < need:
        raise ScenarioError("--drop-highest-loss", f"at most {max(0, len(kept) - need)} (at least {need} "
                            f"runs left to fit {constants} constants)",
                            found_text=f"found {drop} of {len(kept)} runs dropped")
    if min_ratio is not None or max_ratio is not None:
        click.echo(f"{len(kept)} of {len(read)} runs within the tokens-per-parameter cutoffs", err=True)
    return data


def law_from_option(value: str, key: str):
    """A Chinchilla-form law from a preset name or a law TOML file ([law] table)."""
    from pathlib import Path

    from ..model.laws import ChinchillaLaw
    from ..model.presets import PRESETS, preset
    from ..scenario.files import read_toml
    from ..scenario.reader import law_from_table

    if value in PRESETS:
        law = preset(value)
    elif Path(value).is_file():
        table = read_toml(Path(value)).get("law")
        if not isinstance(table, dict):
            raise ScenarioError(key, "a TOML file with a [law] table", source=value, found_text="found none")
        law = law_from_table(table, source=value)
    else:
        raise ScenarioError(key, f"a preset ({', '.join(PRESETS)}) or a law TOML file", value)
    if not isinstance(law, ChinchillaLaw):
        raise ScenarioError(key, "a law of the Chinchilla form (E, A, B, alpha, beta)", value)
    return law


def constraints_from(base: str | None, tie: bool, fix_e: float | None):
    """The Constraints of ``--base``, ``--tie-exponents`` and ``--fix-E``."""
    from ..fit.constraints import Constraints

    if base is not None and (tie or fix_e is not None):
        raise ScenarioError("--base", "no --tie-exponents or --fix-E with it (the base law fixes every constant "
                            "of its own)", base)
    if fix_e is not None and not (math.isfinite(fix_e) and fix_e > 0):
        raise ScenarioError("--fix-E", "a positive irreducible loss in nats such as 1.69", fix_e)
    return Constraints(tie, fix_e, None if base is None else law_from_option(base, "--base"))


def starts_from(path: str | None, constraints) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(starts of the base law as (a, b, e, α, β) rows, starts of (R_D*, R_N*)) from the
    CSV of ``--starts``; a column may be left out when the constraints fix or tie it."""
    if path is None:
        return None, None
    from ..fit.runs import read_starts

    cols = read_starts(path)
    base_cols = [c for c in ("E", "A", "B", "alpha", "beta") if c in cols]
    grid = None
    if base_cols:
        if constraints.base is not None:
            raise ScenarioError("--starts", "only R_D_star and R_N_star columns with --base (the base law is fixed)",
                                source=path, found_text=f"found {', '.join(base_cols)}")
        rows = len(cols[base_cols[0]])
        fill = {"E": None if constraints.E is None else np.full(rows, constraints.E),
                "beta": cols.get("alpha") if constraints.tie_exponents else None}
        values = {c: cols.get(c, fill.get(c)) for c in ("E", "A", "B", "alpha", "beta")}
        missing = [c for c, v in values.items() if v is None]
        if missing:
            raise ScenarioError("--starts", "columns E, A, B, alpha and beta (E may go with --fix-E, beta with "
                                "--tie-exponents)", source=path, found_text=f"found no {', '.join(missing)}")
        grid = np.column_stack([np.log(values["A"]), np.log(values["B"]), np.log(values["E"]), values["alpha"],
                                values["beta"]])
    r_cols = [c for c in ("R_D_star", "R_N_star") if c in cols]
    if len(r_cols) == 1:
        raise ScenarioError("--starts", "R_D_star and R_N_star columns together", source=path,
                            found_text=f"found only {r_cols[0]}")
    return grid, (np.column_stack([cols["R_D_star"], cols["R_N_star"]]) if r_cols else None)


@dataclass(frozen=True)
class FitOutcome:
    """What ``lifeopt fit`` found: the law (``result``, with its bootstrap and Approach 2),
    and each optional part (None when it does not apply)."""

    result: object
    boot: object
    iso: object
    seconds: float
    repetition: object = None
    likelihood: object = None
    comparisons: tuple = ()
    downstream: object = None

    def document(self) -> dict:
        """The JSON-ready document (``lifeopt fit --format json``)."""
        from ..fit.parametric import method_of
        from ..outputs.fit_report import fit_document

        doc = fit_document(self.result, self.boot, self.iso, self.seconds)
        doc["method"] = method_of(self.result)
        doc["constraints"] = self.result.constraints.as_dict()
        doc["repetition"] = None if self.repetition is None else self.repetition.as_dict()
        doc["likelihood"] = None if self.likelihood is None else \
            {**self.likelihood.as_dict(), "comparisons": list(self.comparisons)}
        doc["downstream"] = None if self.downstream is None else self.downstream.as_dict()
        return doc

    def text(self) -> str:
        """The report for people."""
        from ..outputs.fit_report import render_downstream, render_likelihood, render_repetition
        from ..outputs.fit_report import render_fit

        parts = [render_fit(self.result, self.boot, self.iso, self.seconds)]
        if self.likelihood is not None:
            parts.append(render_likelihood(self.likelihood, self.comparisons))
        if self.repetition is not None:
            parts.append(render_repetition(self.repetition))
        if self.downstream is not None:
            parts.append(render_downstream(self.downstream))
        return "\n".join(parts)

    def figure(self):
        """The figure of ``--plot``."""
        from ..outputs.fit_plots import fit_figure
        return fit_figure(self.result)

    def law_file(self, samples_file: str | None) -> str:
        """The -o file: the [law] table, the repetition constants as comments, and a
        [downstream] table when the runs had an error column."""
        from ..fit.downstream import downstream_toml
        from ..fit.parametric import law_toml

        text = law_toml(self.result, samples_file=samples_file, boot=self.boot)
        rep = self.repetition
        if rep is not None:
            text += (f"# repetition constants fitted on {len(rep.runs)} runs ({int(rep.runs.repeated.sum())} repeat "
                     f"data); in a scenario's [data]:\n# R_D_star = {rep.R_D_star!r}\n# R_N_star = {rep.R_N_star!r}\n")
            text += "".join(f"# warning: {w}\n" for w in rep.warnings)
        if self.downstream is not None:
            text += "\n" + downstream_toml(self.downstream, self.result.runs.source)
        return text


@dataclass(frozen=True)
class JointOutcome:
    """What ``lifeopt fit`` found on runs with an experts column: the joint law
    (``result``), its bootstrap, and the downstream mapping (None when they do not apply)."""

    result: object
    boot: object
    seconds: float
    downstream: object = None

    def document(self) -> dict:
        from ..outputs.fit_report import joint_document
        doc = joint_document(self.result, self.boot, self.seconds)
        doc["downstream"] = None if self.downstream is None else self.downstream.as_dict()
        return doc

    def text(self) -> str:
        from ..outputs.fit_report import render_downstream, render_joint
        parts = [render_joint(self.result, self.boot, self.seconds)]
        if self.downstream is not None:
            parts.append(render_downstream(self.downstream))
        return "\n".join(parts)

    def figure(self):
        from ..outputs.fit_plots import joint_figure
        return joint_figure(self.result)

    def law_file(self, samples_file: str | None) -> str:
        from ..fit.downstream import downstream_toml
        from ..fit.joint import joint_toml

        text = joint_toml(self.result, self.boot)
        if self.downstream is not None:
            text += "\n" + downstream_toml(self.downstream, self.result.runs.source)
        return text


def fit_joint_runs(data, *, objective, fit_transform: bool, workers, resamples: int, seed: int,
                   progress: Progress | None = None) -> JointOutcome:
    """The joint dense/MoE law of Ludziejewski et al. 2025 fitted to runs with an experts
    column (:mod:`.fit.joint`), its bootstrap, and the downstream mapping."""
    from ..fit.joint import bootstrap_joint, fit_joint

    if data.repeated.any():
        raise ScenarioError("unique_tokens", "runs that see their data at most once with an experts column (the "
                            "joint MoE law has no repetition penalty)", source=data.source,
                            found_text=f"found {int(data.repeated.sum())} with D > U")
    started = time.perf_counter()
    progress = progress or Progress(False)
    result = fit_joint(data, objective=objective, fit_transform=fit_transform, workers=workers,
                       progress=progress.stage(f"joint fit of {len(data):,} runs: starts"))
    boot = bootstrap_joint(result, resamples, seed=seed, workers=workers,
                           progress=progress.stage("bootstrap: refits")) if resamples else None
    downstream = _downstream(data, resamples, seed)
    return JointOutcome(result, boot, time.perf_counter() - started, downstream)


def fit_runs(data, *, objective, polish, workers, resamples: int, seed: int, constraints, starts, r_starts,
             likelihood: str | None, compare: tuple = (), progress: Progress | None = None) -> FitOutcome:
    """Fit ``data`` as its columns and the options ask (module docstring)."""
    from ..fit.isoflop import isoflop_fit

    started = time.perf_counter()
    repeated = int(data.repeated.sum())
    rep = lf = None
    comparisons: tuple = ()
    if r_starts is not None and not repeated:
        raise ScenarioError("--starts", "R_D_star and R_N_star starts only for runs that repeat data",
                            found_text="found no run with D > U")
    if likelihood is not None:
        result, boot, lf, comparisons = _likelihood(data, likelihood, starts, workers, constraints, resamples,
                                                    seed, compare, repeated)
    elif repeated:
        result, boot, rep = _repetition(data, objective, polish, workers, constraints, starts, r_starts,
                                        resamples, seed, repeated)
    else:
        if constraints.base is not None:
            raise ScenarioError("--base", "runs that repeat data (a unique_tokens column with D > U): --base fixes "
                                "the base law of the repetition fit", source=data.source,
                                found_text="found none that repeat data")
        from ..fit.parametric import bootstrap, fit_law
        progress = progress or Progress(False)
        result = fit_law(data, starts=starts, workers=workers, objective=objective, polish=polish,
                         constraints=constraints, progress=progress.stage(f"fit of {len(data):,} runs: starts"))
        boot = bootstrap(result, resamples, seed=seed, workers=workers,
                         progress=progress.stage("bootstrap: refits")) if resamples else None
    downstream = _downstream(data, resamples, seed)
    seconds = time.perf_counter() - started
    return FitOutcome(result, boot, isoflop_fit(data.subset(~data.repeated)), seconds, rep, lf, comparisons,
                      downstream)


def _likelihood(data, errors, starts, workers, constraints, resamples, seed, compare, repeated):
    from ..fit.likelihood import fit_likelihood
    from ..fit.parametric import bootstrap

    if repeated:
        raise ScenarioError("--likelihood", "runs that see their data at most once (the likelihood fit is of the "
                            "Chinchilla form; runs that repeat data take the repetition fit)", source=data.source,
                            found_text=f"found {repeated} runs with D > U")
    lf = fit_likelihood(data, errors=errors, starts=starts, workers=workers, constraints=constraints)
    boot = bootstrap(lf.result, resamples, seed=seed, workers=workers) if resamples else None
    return lf.result, boot, lf, tuple(lf.compare(law_from_option(c, "--compare")) for c in compare)


def _repetition(data, objective, polish, workers, constraints, starts, r_starts, resamples, seed, repeated):
    from ..fit.repetition import fit_repetition, repetition_bootstrap

    if repeated < 3:
        raise ScenarioError("unique_tokens", "at least 3 runs that repeat data (D > U) to fit R_D* and R_N*",
                            source=data.source, found_text=f"found {repeated}")
    if polish:
        raise ScenarioError("--polish", "runs that see their data at most once (the repetition fit ends with "
                            "scipy's least_squares already)", polish)
    rep = fit_repetition(data, objective=objective, constraints=constraints, starts=starts, r_starts=r_starts,
                         workers=workers)
    if resamples:
        rep = repetition_bootstrap(rep, resamples, seed=seed)
    return rep.law_result(), rep.base_bootstrap(), rep


def _downstream(data, resamples: int, seed: int):
    if data.error is None:
        return None
    from ..fit.downstream import downstream_bootstrap, fit_downstream

    fit = fit_downstream(data.loss, data.error, weights=data.weights, source=data.source)
    return downstream_bootstrap(fit, resamples, seed=seed) if resamples else fit
