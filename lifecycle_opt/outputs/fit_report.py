"""The sections of `lifeopt fit` reports beyond the law itself, for people: what a planned
design of runs would recover (`--simulate`: the true constants and the 5–95 % range of the
fits of its noisy copies, and the same for the compute-optimal tokens per parameter); the
likelihood fit (`--likelihood`); the repetition constants with their profiles; the
downstream error mapping; the joint dense/MoE law (runs with an experts column)."""
from __future__ import annotations

__all__ = ["render_fit", "fit_document", "render_approaches", "render_design_study", "render_likelihood", "render_repetition", "render_downstream", "render_joint",
           "joint_document", "JOINT_BUDGETS"]

import numpy as np
from tabulate import tabulate

from ..fit.approaches import Comparison
from ..fit.downstream import DownstreamFit
from ..fit.isoflop import IsoFlopFit
from ..fit.joint import JOINT_CONSTANTS, JointBootstrap, JointFit
from ..fit.likelihood import LikelihoodFit
from ..fit.parametric import Bootstrap, FitResult
from ..fit.repetition import RepetitionFit
from ..fit.simulate import DesignStudy
from ..model.laws import MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR
from ..model.moe import JOINT_FORM
from ..model.presets import joint_preset
from ..model.units import format_count

#: the training budgets of the joint fit's compute-optimal plans [FLOP] (Ludziejewski et
#: al. 2025, Table 1, starts at 1e20)
JOINT_BUDGETS = (1e20, 1e21, 1e22)


def render_design_study(study: DesignStudy) -> str:
    law = study.law
    rows = []
    for name in ("alpha", "beta", "E", "A", "B"):
        lo, mid, hi = study.quantiles(study.fitted[name])
        truth = study.true_value(name)
        rows.append((name, f"{truth:.4g}", f"{mid:.4g}", f"{lo:.4g} – {hi:.4g}",
                     "yes" if lo <= truth <= hi else "NO"))
    ratios = []
    for c, values in study.ratios.items():
        lo, mid, hi = study.quantiles(values)
        truth = study.true_ratio(c)
        ratios.append((f"{c:.0e}", f"{truth:.1f}", f"{mid:.1f}", f"{lo:.1f} – {hi:.1f}",
                       f"×{hi / lo:.2f}" if lo > 0 else "—"))
    out = [f"lifeopt fit --simulate: {study.runs} planned runs, losses from {law.name} with "
           f"{100 * study.noise:.3g} % noise, fitted {study.simulations} times (seed {study.seed})", "",
           "CONSTANTS the design recovers",
           tabulate(rows, headers=("", "true", "median fit", "5 – 95 % of fits", "true inside")), "",
           "COMPUTE-OPTIMAL TOKENS PER PARAMETER the fits imply",
           tabulate(ratios, headers=("FLOP", "true D/N", "median fit", "5 – 95 % of fits", "95 % / 5 %")), "",
           "A narrower range needs more runs, more spread in N and D/N, or less noise; compare designs by "
           "running this on each."]
    return "\n".join(out) + "\n"


def render_likelihood(fit: LikelihoodFit, comparisons=()) -> str:
    """The likelihood fit's section: constants with standard errors, goodness of fit, and
    each reference law's likelihood-ratio and Wald tests."""
    law, se = fit.result.law, fit.standard_errors
    rows = [(name, f"{getattr(law, name):.6g}", "fixed" if se[name] is None else f"{se[name]:.4g}")
            for name in ("E", "A", "B", "alpha", "beta")]
    rows.append(("sigma", f"{fit.sigma:.4g}", f"{se['sigma']:.3g}"))
    out = [f"MAXIMUM LIKELIHOOD (Besiroglu et al. 2024): {fit.errors} errors on log-loss with a fitted scale sigma",
           tabulate(rows, headers=("", "fit", f"standard error ({fit.information} information)")),
           f"log-likelihood {fit.log_likelihood:.2f}; AIC {fit.aic:.2f}; BIC {fit.bic:.2f} "
           f"({fit.parameters} fitted: the free constants and sigma; {fit.n:g} runs)"]
    p = lambda v: "p < 1e-300" if v < 1e-300 else f"p = {v:.3g}"          # noqa: E731
    for c in comparisons:
        out.append(f"against {c['law']} (its sigma refitted): log-likelihood {c['log_likelihood']:.2f}; likelihood "
                   f"ratio {c['lr_statistic']:.2f} (chi-squared, {c['df']} df, {p(c['lr_p_value'])}); Wald "
                   f"chi-squared {c['wald_chi2']:.2f} ({p(c['wald_p_value'])})")
    out.append("Standard errors from the information matrix assume independent errors of one law; a bootstrap "
               "(--bootstrap N) does not, and comes out wider when the runs stray from it.")
    return "\n".join(out) + "\n"


def render_repetition(rep: RepetitionFit) -> str:
    """The repetition fit's section: R_D*, R_N* with intervals, the objective at the
    published constants, warnings, and the profile along each constant."""
    ci = {k: rep.interval(k) for k in ("R_D_star", "R_N_star")}
    span = lambda k: "" if ci[k] is None else f" (95 %: {ci[k][0]:.4g} – {ci[k][1]:.4g})"   # noqa: E731
    base = (f"base law fixed: {rep.base.name}" if rep.constraints.base is not None
            else "base law fitted with them (the constants above)")
    out = [f"REPETITION (Muennighoff et al. 2023, eq. 14–15, on all {len(rep.runs)} runs, "
           f"{int(rep.runs.repeated.sum())} of them repeating their data; {base})",
           f"R_D* = {rep.R_D_star:.4g}{span('R_D_star')}, R_N* = {rep.R_N_star:.4g}{span('R_N_star')}; "
           f"objective {rep.objective:.6g} ({rep.objective_at(MUENNIGHOFF_R_D_STAR, MUENNIGHOFF_R_N_STAR):.6g} with "
           f"Muennighoff et al.'s R_D* = {MUENNIGHOFF_R_D_STAR:g}, R_N* = {MUENNIGHOFF_R_N_STAR:g} and this base law); residual "
           f"rms {float(np.sqrt(np.mean(rep.residuals ** 2))):.3g}. In a scenario: [data] R_D_star and R_N_star."]
    out += [f"WARNING: {w}" for w in rep.warnings]
    if rep.profiles:
        p_d, p_n = rep.profiles
        mark = lambda p, i: f"{p.objective[i]:.6g}" + (" *" if p.objective[i] <= p.threshold else "")  # noqa: E731
        rows = [(f"{v:.3g}", mark(p_d, i), mark(p_n, i)) for i, v in enumerate(p_d.values)]
        out += [f"PROFILE: the objective with one constant held at each value, the others refitted "
                f"(* within the 95 % likelihood-ratio threshold {p_d.threshold:.6g})",
                tabulate(rows, headers=("value", "R_D* held", "R_N* held"))]
    return "\n".join(out) + "\n"


def render_downstream(fit: DownstreamFit) -> str:
    """The downstream mapping's section: ε, k, γ with standard errors and intervals."""
    se = fit.standard_errors
    how = "bootstrap" if fit.samples is not None else "from the standard errors"
    rows = [(n, f"{getattr(fit.mapping, n):.6g}", f"{se[n]:.3g}", "{:.4g} – {:.4g}".format(*fit.interval(n)))
            for n in ("epsilon", "k", "gamma")]
    lo, hi = fit.mapping.fitted_loss_range
    return "\n".join([
        f"DOWNSTREAM ERROR (Gadre et al. 2024): Err(L) = epsilon - k*exp(-gamma*L), least squares on "
        f"{fit.loss.size} runs with an error",
        tabulate(rows, headers=("", "fit", "standard error", f"95 % interval ({how})")),
        f"residual rms {float(np.sqrt(np.mean(fit.residuals ** 2))):.3g}; fitted on losses {lo:.4g} – {hi:.4g} "
        f"nats. In a scenario: [downstream] file = the -o file, or these constants."]) + "\n"


def _joint_plans(fit: JointFit, boot: JointBootstrap | None) -> list[dict]:
    """The compute-optimal plan at each JOINT_BUDGETS and each E of the runs, with the
    bootstrap's 95 % intervals of N_act and D."""
    out = []
    for c in JOINT_BUDGETS:
        for E in fit.experts:
            n, d, loss = fit.compute_optimal(c, E)
            row = {"flops": c, "experts": E, "params": n, "tokens": d, "tokens_per_param": d / n, "loss": loss}
            if boot is not None:
                ci = boot.allocation(c, E)
                row["params_95"], row["tokens_95"] = list(ci["params"]), list(ci["tokens"])
            out.append(row)
    return out


def joint_document(fit: JointFit, boot: JointBootstrap | None, seconds: float | None = None) -> dict:
    """The joint fit as JSON-ready values (``lifeopt fit --format json`` on runs with an
    experts column): ``joint`` holds the constants and their 95 % intervals."""
    law, fr = fit.law, fit.law.fitted
    joint = {k: float(getattr(law, k)) for k in JOINT_CONSTANTS}
    joint["intervals_95"] = None if boot is None else {k: list(boot.interval(k)) if k in fit.free_constants else None
                                                       for k in JOINT_CONSTANTS}
    r = fit.residuals
    return {"form": JOINT_FORM, "joint": joint, "name": law.name, "source": law.source, "method": fit.method(),
            "transform_fitted": fit.fit_transform, "objective": fit.objective, "fit_loss": fit.fit_objective.loss,
            "fit_delta": fit.fit_objective.delta if fit.fit_objective.loss == "huber" else None,
            "runs": len(fit.runs), "experts": list(fit.experts), "starts": fit.starts,
            "starts_in_best_basin": fit.converged_starts,
            "residuals": {"rms": float(np.sqrt(np.mean(r ** 2))), "max_abs": float(np.max(np.abs(r))),
                          "values": [float(v) for v in r]},
            "fitted_range": {"min_params": fr.min_params, "max_params": fr.max_params, "max_tokens": fr.max_tokens,
                             "max_flops": fr.max_flops, "min_experts": law.fitted_experts[0],
                             "max_experts": law.fitted_experts[1]},
            "compute_optimal": _joint_plans(fit, boot),
            "bootstrap": None if boot is None else {"samples": len(boot.thetas), "seed": boot.seed},
            "seconds": seconds}


def render_joint(fit: JointFit, boot: JointBootstrap | None, seconds: float | None = None) -> str:
    """The joint fit for people: constants beside Ludziejewski et al.'s (with intervals),
    residuals, and the compute-optimal plans of each E the runs hold."""
    law, paper = fit.law, joint_preset("ludziejewski2025")
    held = "fitted" if fit.fit_transform else f"held at Ludziejewski et al.'s {paper.E_start:g} and {paper.E_max:g}"
    out = [f"lifeopt fit: {len(fit.runs)} runs of {fit.runs.source} with {len(fit.experts)} numbers of experts "
           f"({', '.join(map(str, fit.experts))})",
           "L = a·Ê^delta·N^(alpha + gamma·ln Ê) + b·Ê^omega·D^(beta + zeta·ln Ê) + c (Ludziejewski et al. 2025, "
           "eq. 4; N the active parameters)",
           f"{fit.fit_objective.describe()} on log-loss residuals, summed; L-BFGS from {fit.starts:,} starts"
           + (f" in {seconds:.1f} s" if seconds is not None else "") + f"; E_start and E_max {held}", ""]
    rows = []
    for k in JOINT_CONSTANTS:
        ci = boot.interval(k) if boot is not None and k in fit.free_constants else None
        text = "held" if k not in fit.free_constants else ("" if ci is None else f"{ci[0]:.4g} – {ci[1]:.4g}")
        rows.append((k, f"{getattr(law, k):.6g}", text, f"{getattr(paper, k):g}"))
    out += ["CONSTANTS", tabulate(rows, headers=("", "fit", "95 % bootstrap interval" if boot else "",
                                                 "Ludziejewski et al.")),
            f"objective {fit.objective:.6g}; {fit.converged_starts} of {fit.starts} starts reached the best basin", ""]
    r = fit.residuals
    worst = np.argsort(-np.abs(r))[:5]
    out += [f"RESIDUALS (log L_fit − log L): rms {np.sqrt(np.mean(r ** 2)):.4g}, largest {np.max(np.abs(r)):.4g}",
            tabulate([(int(fit.runs.experts[i]), format_count(fit.runs.params[i]), format_count(fit.runs.tokens[i]),
                       f"{fit.runs.loss[i]:.4f}", f"{r[i]:+.4f}") for i in worst],
                     headers=("E", "N_act", "D", "loss", "residual")), ""]
    plans = []
    for p in _joint_plans(fit, boot):
        row = [f"{p['flops']:.0e}", p["experts"], format_count(p["params"]), format_count(p["tokens"]),
               f"{p['tokens_per_param']:.1f}", f"{p['loss']:.4f}"]
        if boot is not None:
            row.append(f"{format_count(p['params_95'][0])} – {format_count(p['params_95'][1])}")
        plans.append(row)
    out += ["COMPUTE-OPTIMAL PLANS the fit implies (C = 6·N_act·D)",
            tabulate(plans, headers=["FLOP", "E", "N_act", "D", "D/N", "loss"] + (["N_act 95 %"] if boot else [])), ""]
    fr = law.fitted
    out.append(f"fitted range: N_act {format_count(fr.min_params)} – {format_count(fr.max_params)}, D up to "
               f"{format_count(fr.max_tokens)}, E {law.fitted_experts[0]}–{law.fitted_experts[1]}; plans beyond it are "
               f"flagged. In a scenario: [law] file = the -o file, and [moe] experts.")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ fits
def fit_document(result: FitResult, boot: Bootstrap | None, iso: IsoFlopFit | None,
                 seconds: float | None = None) -> dict:
    """The fit as plain JSON-ready values (``lifeopt fit --format json``)."""
    law = result.law
    doc = {"law": {"E": law.E, "A": law.A, "B": law.B, "alpha": law.alpha, "beta": law.beta,
                   "name": law.name, "source": law.source, "method": "Approach 3"},
           "fitted_range": {"min_params": law.fitted.min_params, "max_params": law.fitted.max_params,
                            "max_tokens": law.fitted.max_tokens, "max_flops": law.fitted.max_flops},
           "objective": result.objective, "fit_loss": result.fit_objective.loss,
           "fit_delta": result.fit_objective.delta if result.fit_objective.loss == "huber" else None,
           "final_polish": None if result.final_polish is None else dict(zip(
               ("method", "objective_before", "objective_after"), result.final_polish)),
           "runs": len(result.runs), "starts": result.starts,
           "starts_in_best_basin": result.converged_starts,
           "residuals": {"rms": float(np.sqrt(np.mean(result.residuals ** 2))),
                         "max_abs": float(np.max(np.abs(result.residuals))),
                         "values": [float(r) for r in result.residuals]},
           "compute_optimal": [{"flops": c, "params": n, "tokens": d, "tokens_per_param": r}
                               for c, n, d, r in result.implied_tokens_per_param()],
           "seconds": seconds}
    if boot is not None:
        doc["bootstrap"] = {"samples": len(boot.thetas), "seed": boot.seed,
                            "intervals_95": {k: list(boot.interval(k)) for k in ("E", "A", "B", "alpha", "beta")},
                            "compute_optimal_95": [{"flops": c, **{k: [float(x) for x in v] for k, v in
                                                                   boot.optimal_allocation(c).items()}}
                                                   for c, *_ in result.implied_tokens_per_param()]}
    if iso is not None:
        doc["approach2"] = {"a": iso.a, "b": iso.b, "budgets": [float(c) for c in iso.budgets],
                            "groups": [{"min_flops": lo, "max_flops": hi, "runs": n, "use": why}
                                       for lo, hi, n, why in iso.groups],
                            "params_opt": [float(n) for n in iso.params_opt],
                            "tokens_opt": [float(d) for d in iso.tokens_opt]}
    return doc


def render_fit(result: FitResult, boot: Bootstrap | None, iso: IsoFlopFit | None,
               seconds: float | None = None) -> str:
    """The fit for people: constants (with intervals), residuals, implied allocations."""
    law = result.law
    method = result.method or (f"{result.fit_objective.describe()} on log-loss residuals, summed; "
                               f"L-BFGS from {result.starts} starts")
    out = [f"lifeopt fit: {len(result.runs)} runs of {result.runs.source}",
           f"L = E + A/N^alpha + B/D^beta, {method}" + (f" in {seconds:.1f} s" if seconds is not None else "")]
    if result.final_polish is not None:
        method, before, after = result.final_polish
        out.append(f"final {method} polish: objective {before:.10g} → {after:.10g} "
                   f"({(after - before) / before if before else 0.0:+.2e} relative)")
    out.append("")
    rows = []
    for name in ("E", "A", "B", "alpha", "beta"):
        ci = boot.interval(name) if boot is not None else None
        rows.append((name, f"{getattr(law, name):.6g}", "" if ci is None else f"{ci[0]:.4g} – {ci[1]:.4g}"))
    out += ["CONSTANTS", tabulate(rows, headers=("", "fit", "95 % bootstrap interval" if boot else "")),
            f"objective {result.objective:.6g}; {result.converged_starts} of {result.starts} starts reached "
            f"the best basin", ""]
    r = result.residuals
    worst = np.argsort(-np.abs(r))[:5]
    out += [f"RESIDUALS (log L_fit − log L): rms {np.sqrt(np.mean(r ** 2)):.4g}, largest {np.max(np.abs(r)):.4g}",
            tabulate([(format_count(result.runs.params[i]), format_count(result.runs.tokens[i]),
                       f"{result.runs.loss[i]:.4f}", f"{r[i]:+.4f}") for i in worst],
                     headers=("N", "D", "loss", "residual")), ""]
    rows = []
    for c, n, d, ratio in result.implied_tokens_per_param():
        row = [f"{c:.0e}", format_count(n), format_count(d), f"{ratio:.1f}"]
        if boot is not None:
            lo, hi = boot.optimal_allocation(c)["tokens_per_param"]
            row.append(f"{lo:.1f} – {hi:.1f}")
        rows.append(row)
    out += ["COMPUTE-OPTIMAL PLANS the fit implies",
            tabulate(rows, headers=["FLOP", "N", "D", "D/N"] + (["D/N 95 %"] if boot else [])), ""]
    if iso is not None:
        used = sum(why == "used" for *_, why in iso.groups)
        out += [f"APPROACH 2 (IsoFLOP parabolas over {len(iso.budgets)} budgets): N_opt ∝ C^{iso.a:.3f}, "
                f"D_opt ∝ C^{iso.b:.3f}",
                f"runs grouped into {len(iso.groups)} budgets of at most 0.2 decades of compute (a new one at "
                f"gaps over 0.05 decades); {used} have their minimum inside the sizes tried",
                tabulate([(f"{c:.3g}", format_count(n), format_count(d), f"{d / n:.1f}")
                          for c, n, d in zip(iso.budgets, iso.params_opt, iso.tokens_opt)],
                         headers=("FLOP", "N_opt", "D_opt", "D/N")), ""]
    fr = law.fitted
    out.append(f"fitted range: N {format_count(fr.min_params)} – {format_count(fr.max_params)}, D up to "
               f"{format_count(fr.max_tokens)}, up to {fr.max_flops:.3g} FLOP; plans beyond it are flagged")
    return "\n".join(out) + "\n"


def render_approaches(cmp: Comparison, source: str) -> str:
    """Table 2 of Hoffmann et al. 2022 for the user's runs, with the verdict."""
    from ..fit.approaches import REPORT_BUDGETS
    def interval(x, ci):
        return f"{x:.3f}" + ("" if ci is None else f" ({ci[0]:.3f}–{ci[1]:.3f})")
    rows = [[e.name, interval(e.a, ai), interval(e.b, bi)] + [f"{e.tokens_per_param(c):.1f}" for c in REPORT_BUDGETS]
            for e, ai, bi in zip(cmp.estimates, cmp.a_intervals, cmp.b_intervals)]
    head = ["approach", "a (N_opt ∝ C^a)", "b (D_opt ∝ C^b)"] + [f"D/N at {c:.0e}" for c in REPORT_BUDGETS]
    out = [f"THE THREE APPROACHES (Hoffmann et al. 2022, Table 2) on {cmp.runs} runs of {source}"
           + (f"; 95 % intervals from {cmp.resamples} bootstrap resamples of runs" if cmp.resamples else ""),
           tabulate(rows, headers=head), "", f"VERDICT: {cmp.verdict}"]
    notes = [n for e in cmp.estimates for n in e.notes]
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"
