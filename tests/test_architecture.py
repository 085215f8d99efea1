"""Data flows one way: each module imports only from the stages before it, and the
folders show the stages (errors → model → scenario → problem → solvers → plan → execution
→ fit → outputs → cli)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lifecycle_opt"

#: every module, in the order data flows through them; a module may import only from
#: modules listed before it
ORDER = [
    "errors",
    "model.constants", "model.units", "model.setting_units", "model.posynomial", "model.frontier", "model.laws", "model.downstream", "model.moe", "model.presets", "model.architecture", "model.hardware", "model.serving_point", "model.serving", "model.calibration", "model.costs", "model.finance", "model.quantisation",
    "scenario.schema", "scenario.fields", "scenario.keys", "scenario.registry", "scenario.reading", "scenario.files", "scenario.samples", "scenario.serving", "scenario.finance_section", "scenario.quality", "scenario.sections", "scenario.reader",
    "problem.constraints", "problem.formulation", "problem.serving_points",
    "solvers.roots", "solvers.slsqp", "solvers.barrier", "solvers.conic", "solvers.certificate", "solvers.infeasibility",
    "solvers.batch_data", "solvers.boundary", "solvers.checks", "solvers.batch_kkt",
    "solvers.batch_cost", "solvers.serving_forms", "solvers.batch_serving", "solvers.batch_loss", "solvers.batch", "solvers.exact",
    "plan.serving_plan", "plan.cautions", "plan.rows", "plan.frames", "plan.solution", "plan.certified", "plan.uncertainty", "plan.choices", "plan.planning",
    "plan.axes", "plan.columnar", "plan.sweep_serving", "plan.sweep_plan", "plan.sweep_table", "plan.sweep_result", "plan.sweep_rows", "plan.evaluation", "plan.evaluation_sweep", "execution.machine",
    "execution.local", "execution.cluster", "execution.dask_client", "execution.sweeps",
    "fit.runs", "fit.calibration", "fit.polish", "fit.lbfgs", "fit.constraints", "fit.identify", "fit.objective", "fit.machine", "fit.terms", "fit.parametric", "fit.joint", "fit.isoflop", "fit.simulate", "fit.repetition", "fit.likelihood", "fit.downstream", "fit.approaches",
    "outputs.serving_report", "outputs.serving_calibration", "outputs.text_cells", "outputs.cash_years", "outputs.reports", "outputs.compare_report", "outputs.evaluation_report", "outputs.fit_report", "outputs.exports", "outputs.book_print", "outputs.workbook", "outputs.sweep_files", "outputs.sweep_book", "outputs.sweep_output", "outputs.cash_flow_sheet", "outputs.serving_sheet", "outputs.book_formats", "outputs.inputs_sheet", "outputs.plan_book", "outputs.figure_text", "outputs.figure_files", "outputs.choice_plot", "outputs.plots", "outputs.fit_plots", "outputs.key_reference",
    "cli.app", "cli.plans", "cli.fitting", "cli.library", "cli.serving", "cli.scenarios", "cli.__main__",
]
STAGES = ["errors", "model", "scenario", "problem", "solvers", "plan", "execution", "fit", "outputs", "cli"]


def _path(module: str) -> Path:
    return PACKAGE.joinpath(*module.split(".")).with_suffix(".py")


def imports_of(module: str) -> set[str]:
    """The package modules that ``module`` imports, as dotted names under lifecycle_opt."""
    here = module.split(".")[:-1]                   # the package the module lives in
    tree = ast.parse(_path(module).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = here[:len(here) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            if not parts and [a.name for a in node.names] == ["__version__"]:
                continue                               # the version, from the package root
            if PACKAGE.joinpath(*parts).is_dir():      # from ..model import hardware
                found.update(".".join(parts + [a.name]) for a in node.names)
            else:
                found.add(".".join(parts))
    return found


def all_modules() -> set[str]:
    out = set()
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE).with_suffix("")
        if rel.name != "__init__":
            out.add(".".join(rel.parts))
    return out


#: the one way back up the flow: a plan renders itself (``plan.report()``, a notebook's
#: HTML) with the report the command line prints, importing it inside the method on demand
PRESENTATION = {"plan.solution": {"outputs.reports"}, "plan.evaluation": {"outputs.evaluation_report"}}


def _function_imports(module: str) -> set[str]:
    """The package modules ``module`` imports inside functions only (never at import)."""
    tree = ast.parse(_path(module).read_text())
    top = {id(n) for n in tree.body if isinstance(n, ast.ImportFrom)}
    here = module.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1 and id(node) not in top and node.module:
            out.add(".".join(here[:len(here) - (node.level - 1)] + node.module.split(".")))
    return out


@pytest.mark.parametrize("module", ORDER)
def test_imports_only_from_earlier_stages(module):
    allowed = set(ORDER[:ORDER.index(module)]) | (PRESENTATION.get(module, set()) & _function_imports(module))
    assert imports_of(module) <= allowed, imports_of(module) - allowed


def test_every_module_is_in_the_flow():
    assert all_modules() == set(ORDER)


def test_the_folders_are_the_stages_in_order():
    stages = [m.split(".")[0] for m in ORDER]
    assert sorted(set(stages), key=stages.index) == STAGES
    # a stage's modules stand together in the flow
    assert stages == sorted(stages, key=STAGES.index)


def test_every_module_declares_its_public_surface():
    for module in ORDER:
        assert "__all__" in _path(module).read_text(), module


#: the most lines a module may have before it should be split
MAX_MODULE_LINES = 500
#: the most lines a function may have
MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("module", ORDER)
def test_modules_and_functions_stay_small(module):
    text = _path(module).read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, module
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{module}.{node.name}: {length} lines"
