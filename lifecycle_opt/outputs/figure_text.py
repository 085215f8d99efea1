"""The words and numbers of a figure: axes that read in human units ($30M, 40B, not 3×10^7),
and a legend that fits its figure (long labels wrapped, fewer columns when it would
overflow). Shared by the plan, sweep and fit figures (matplotlib, the ``plot`` extra)."""
from __future__ import annotations

__all__ = ["human_axis", "fitting_legend"]

import textwrap

from ..model.units import format_count, format_money

_FORMATS = {"money": format_money, "count": format_count}


def human_axis(axis, kind: str) -> None:
    """Tick labels of ``axis`` (ax.xaxis or ax.yaxis) in the units of ``kind``: "money"
    ($30M) or "count" (40B, 1.4T). On a log axis matplotlib still chooses which ticks to
    label (decades, and minor ticks over a short range); only their text changes."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation

    fmt = _FORMATS[kind]
    if axis.get_scale() == "log":
        class Human(LogFormatterSciNotation):
            def __call__(self, x, pos=None):
                return fmt(x) if super().__call__(x, pos) else ""

        axis.set_major_formatter(Human())
        axis.set_minor_formatter(Human(labelOnlyBase=False))
    else:
        axis.set_major_formatter(FuncFormatter(lambda x, _: fmt(x)))


def fitting_legend(fig, handles, labels, ncols: int, fontsize: float = 8, width: int = 44):
    """A legend below the axes of ``fig`` that the figure holds whole: labels wrapped at
    ``width`` characters, and one column fewer until it is no wider than the figure."""
    labels = [textwrap.fill(label, width) for label in labels]
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    for n in range(max(1, ncols), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=n, fontsize=fontsize,
                            framealpha=0.9)
        if renderer is None:
            return legend
        if legend.get_window_extent(renderer).width <= fig.bbox.width * 0.98 or n == 1:
            return legend
        legend.remove()
    return legend
