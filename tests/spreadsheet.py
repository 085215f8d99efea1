"""A real spreadsheet program for the tests: LibreOffice, headless, forced to recalculate.

LibreOffice does not recalculate an .xlsx that stores formula results unless its profile
says so (../shared/reference/tooling.md): each call uses a fresh profile whose
registrymodifications.xcu sets Calc's OOXMLRecalcMode to 0 ("always recalculate").
"""
import shutil
import subprocess
from pathlib import Path

import openpyxl

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
</oor:items>
"""


def recalculate(xlsx: Path, workdir: Path) -> Path:
    """Open ``xlsx`` in LibreOffice, recalculate every formula, save a copy; its path."""
    workdir = Path(workdir).resolve()
    profile = workdir / "lo-profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE)
    out = workdir / "recalculated"
    out.mkdir(exist_ok=True)
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(xlsx)],
                   check=True, capture_output=True, timeout=180)
    result = out / xlsx.name
    assert result.exists(), f"LibreOffice wrote no {result}"
    return result


def pdf_pages(xlsx: Path, workdir: Path) -> int:
    """How many pages LibreOffice prints ``xlsx`` on (its PDF export, pages counted)."""
    import re
    workdir = Path(workdir).resolve()
    profile = workdir / "lo-profile-pdf"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    out = workdir / "pdf"
    out.mkdir(exist_ok=True)
    subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                    "--convert-to", "pdf", "--outdir", str(out), str(xlsx)], check=True, capture_output=True,
                   timeout=180)
    pdf = (out / xlsx.name).with_suffix(".pdf").read_bytes()
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def strip_cached_values(src: Path, dst: Path) -> Path:
    """Re-save through openpyxl, which keeps formulas but drops their stored results: any
    number read back after recalculation must then come from the spreadsheet program."""
    wb = openpyxl.load_workbook(src)
    wb.save(dst)
    return dst


def named_values(path: Path) -> dict[str, object]:
    """Every workbook name → the value stored in its cell."""
    formulas = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for name, defined in formulas.defined_names.items():
        for sheet, ref in defined.destinations:
            out[name] = values[sheet][ref.replace("$", "")].value
    return out


def set_named_input(path: Path, name: str, value: float, dst: Path) -> Path:
    """Change the input cell called ``name`` and save to ``dst`` (formulas kept)."""
    wb = openpyxl.load_workbook(path)
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    wb[sheet][ref.replace("$", "")].value = value
    wb.save(dst)
    return dst
