"""A figure as a file: PNG, SVG or PDF from the file name's suffix, written atomically,
the same figure always the same bytes (no creation date; SVG ids salted alike)."""
from __future__ import annotations

__all__ = ["save_figure", "figure_bytes", "PLOT_FORMATS"]

import io
from pathlib import Path

from ..errors import ExportError
from .exports import check_writable, write_bytes_atomic

PLOT_FORMATS = ("png", "svg", "pdf")


def save_figure(fig, path: str | Path, *, force: bool = False) -> Path:
    """Save ``fig`` as PNG, SVG or PDF (from the suffix) atomically."""
    data = figure_bytes(fig, path, force=force)
    return write_bytes_atomic(path, data, force=force)


def figure_bytes(fig, path: str | Path, *, force: bool = False) -> bytes:
    """``fig`` as the bytes of a PNG, SVG or PDF file (from the suffix of ``path``, which
    is checked to be writable first)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ExportError(f"{path}: give a file name ending in .png, .svg or .pdf")
    check_writable(path, force=force)
    buf = io.BytesIO()
    # no creation date in the file, so the same plan gives the same bytes
    metadata = {"png": {"Software": "lifecycle_opt"}, "svg": {"Date": None},
                "pdf": {"Creator": "lifecycle_opt", "CreationDate": None}}[fmt]
    import matplotlib
    # SVG ids (clip paths, markers) are hashes salted per run unless a salt is given
    with matplotlib.rc_context({"svg.hashsalt": "lifecycle_opt"}):
        fig.savefig(buf, format=fmt, dpi=150, metadata=metadata)
    return buf.getvalue()
