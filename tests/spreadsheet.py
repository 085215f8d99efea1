"""A real spreadsheet program for the tests: LibreOffice, headless, forced to recalculate,
and what it prints read back from its PDF.

LibreOffice does not recalculate an .xlsx that stores formula results unless its profile
says so (LibreOffice's configuration schema, officecfg/registry/schema/org/openoffice/Office/
Calc.xcs, Formula/Load/OOXMLRecalcMode): the profile, made once per test session (the
``libreoffice`` fixture of conftest.py: a fresh profile costs seconds at each start), has a
registrymodifications.xcu that sets Calc's OOXMLRecalcMode to 0 ("always recalculate").
Several files go through one call of soffice (it converts them in turn), so a test that
needs many workbooks recalculated pays for one start.
"""
import shutil
import subprocess
from pathlib import Path

import openpyxl

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
#: why LibreOffice tests skip where it is missing
NO_LIBREOFFICE = ("LibreOffice is not installed here (apt-get install libreoffice-calc-nogui; .ci/run "
                  "installs it): the tests that recalculate and print workbooks need it")

_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
</oor:items>
"""


class LibreOffice:
    """soffice with one profile (in ``folder``) that always recalculates on load."""

    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()
        (self.folder / "profile" / "user").mkdir(parents=True, exist_ok=True)
        (self.folder / "profile" / "user" / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE)
        self._calls = 0

    def _run(self, files, target: str) -> Path:
        """Convert ``files`` (distinct names) in one call of soffice; the folder it wrote to."""
        files = [Path(f).resolve() for f in files]
        assert files, "nothing to convert (soffice without a file waits for ever)"
        assert len({f.stem for f in files}) == len(files), "files to convert need distinct names"
        self._calls += 1
        out = self.folder / f"out{self._calls}"
        out.mkdir()
        subprocess.run([SOFFICE, "--headless", "--norestore",
                        f"-env:UserInstallation={(self.folder / 'profile').as_uri()}",
                        "--convert-to", target, "--outdir", str(out), *map(str, files)],
                       check=True, capture_output=True, timeout=120 + 15 * len(files))
        return out

    def convert(self, files, target: str, suffix: str) -> list[Path]:
        """Convert ``files`` in one call; the converted files, in order."""
        out = self._run(files, target)
        results = [out / Path(f).with_suffix(suffix).name for f in files]
        missing = [r.name for r in results if not r.exists()]
        assert not missing, f"LibreOffice wrote no {missing}"
        return results

    def values(self, files) -> list[dict[str, list[list]]]:
        """Open each workbook, recalculate it, and read back every sheet's cells as computed:
        {sheet: rows of values} per file, numbers as floats (15 significant digits, as
        LibreOffice keeps them), text as text. Through LibreOffice's CSV export of every
        sheet (filter token 12 = -1), not shown as formatted (token 9 = false): it takes
        about half the time of saving each workbook as .xlsx."""
        import csv
        out = self._run(files, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1")
        books = []
        for f in map(Path, files):
            book = {}
            for sheet in openpyxl.load_workbook(f, read_only=True).sheetnames:
                path = out / f"{f.stem}-{sheet}.csv"
                rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines())) if path.exists() else []
                book[sheet] = [[_number(x) for x in row] for row in rows]
            books.append(book)
        return books

    def recalculate(self, files) -> list[Path]:
        """Open each workbook, recalculate every formula, save a copy (xlsx); their paths."""
        return self.convert(files, "xlsx:Calc MS Excel 2007 XML", ".xlsx")

    def pdf(self, files) -> list[Path]:
        """Print each workbook to PDF, as its print setup says; their paths."""
        return self.convert(files, "pdf", ".pdf")

    def csv(self, xlsx: Path) -> Path:
        """The first sheet of ``xlsx`` as LibreOffice displays it (formatted text), as CSV."""
        return self.convert([xlsx], "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true", ".csv")[0]


def recalculate(xlsx: Path, workdir: Path) -> Path:
    """One workbook recalculated by LibreOffice with a profile of its own in ``workdir``
    (the ``libreoffice`` fixture shares one across a session: prefer it); its copy."""
    return LibreOffice(Path(workdir) / "libreoffice").recalculate([xlsx])[0]


def _number(text: str):
    """A CSV field as LibreOffice wrote it: a float where it is one, else the text (None
    for an empty field)."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def cell_value(book: dict, sheet: str, ref: str):
    """The value of cell ``ref`` ("$C$12" or "C12") of ``sheet`` in a book read by
    :meth:`LibreOffice.values` (None where the sheet has nothing)."""
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string
    letters, row = coordinate_from_string(ref.replace("$", ""))
    rows = book[sheet]
    column = column_index_from_string(letters) - 1
    return rows[row - 1][column] if row <= len(rows) and column < len(rows[row - 1]) else None


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


# ------------------------------------------------------------------ reading a printed PDF
def pdf_pages(pdf: Path) -> list[dict]:
    """Every page of ``pdf`` as printed: its size [pt], its text, and the characters drawn on
    it, each (text, font size as printed [pt], x0, y0, x1, y1 [pt]) (pdfminer.six's layout:
    a character's size is its font size through the page's and the text's transformations)."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar

    def chars(item):
        if isinstance(item, LTChar):
            yield item
        elif hasattr(item, "__iter__"):
            for child in item:
                yield from chars(child)

    pages = []
    for page in extract_pages(str(pdf)):
        drawn = [(c.get_text(), c.size, c.x0, c.y0, c.x1, c.y1) for c in chars(page) if c.get_text().strip()]
        pages.append({"width": page.width, "height": page.height, "chars": drawn,
                      "text": "".join(c[0] for c in drawn)})
    return pages
