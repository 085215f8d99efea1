"""The sections of `lifeopt fit` reports beyond the law itself, for people: what a planned
design of runs would recover (`--simulate`: the true constants and the 5–95 % range of the
fits of its noisy copies, and the same for the compute-optimal tokens per parameter); the
likelihood fit (`--likelihood`); the repetition constants with their profiles; the
downstream error mapping; the joint dense/MoE law (runs with an experts column)."""
from __future__ import annotations

__all__ = ["render_design_study", "render_likelihood", "render_repetition", "render_downstream", "render_joint",
           "joint_document", "JOINT_BUDGETS"]

import numpy as np
from tabulate import tabulate

from ..fit.downstream import DownstreamFit
from ..fit.joint import JOINT_CONSTANTS, JointBootstrap, JointFit
from ..fit.likelihood import LikelihoodFit
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
