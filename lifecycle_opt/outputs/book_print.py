"""How a workbook's sheets print: the orientation, one scale per sheet that keeps every
character at 8 pt or more, the label columns repeated on every page, the columns where a
new page starts, and rows tall enough for the text that wraps in them.

Pages are laid out for the narrower and the shorter of US Letter and ISO A4 (8.27 in wide,
11 in tall), so that a sheet prints the same on either paper. A sheet that fits a page's
width at a readable scale prints one page wide (as many tall as needed); a wider one prints
across pages at that scale, its label columns repeated on each, breaking where the sheet
asks (the Cash flow: its years, then half a year of months a page).

Widths follow Office Open XML: a column ``w`` characters wide is ``w`` widths of the
default font's widest digit plus 5 pixels of padding (ECMA-376 Part 1, §18.3.1.13). For
Calibri 11 pt, the default font, Excel takes a digit as 7 pixels at 96 pixels per inch;
LibreOffice takes Carlito's (Calibri's metric twin) unrounded, 0.507 em = 7.44 pixels, so
the pages are laid out for 7.5-pixel digits and print a little narrower in Excel. (Without
Carlito, LibreOffice sets the text in a wider font and needs more pages; the scale, and so
the size of the print, does not change.)
"""
from __future__ import annotations

__all__ = ["PrintSetup", "print_setup", "column_points", "wrapped_lines", "MIN_SCALE", "FONT_POINTS",
           "LINE_POINTS", "MARGINS_INCHES"]

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

#: the default font's size [pt] (XlsxWriter's Calibri 11) and a row of it [pt]
FONT_POINTS, LINE_POINTS = 11.0, 15.0
#: pixels of the widest digit of Calibri 11 (Carlito's in LibreOffice, rounded up) and of
#: a column's padding, which XlsxWriter adds to each width as 5/7 of a character
_DIGIT_PIXELS, _PADDING_CHARACTERS, _POINTS_PER_PIXEL = 7.5, 5 / 7, 0.75
#: the smallest print scale [%]: 11 pt × 75 % = 8.25 pt, so nothing prints below 8 pt
MIN_SCALE = 75
#: page margins [in]; header and footer sit in the top and bottom margins
MARGINS_INCHES = {"left": 0.5, "right": 0.5, "top": 0.75, "bottom": 0.75}
#: the narrower width and the shorter height of Letter (8.5 × 11 in) and A4 (8.27 × 11.69 in)
_PAPER_INCHES = (8.27, 11.0)


def column_points(width: float) -> float:
    """The printed width at 100 % [pt] of a column ``width`` characters wide."""
    return (width + _PADDING_CHARACTERS) * _DIGIT_PIXELS * _POINTS_PER_PIXEL


def _printable_points(landscape: bool) -> float:
    """The width a page prints on [pt]: the paper's, less the left and right margins."""
    short, long = _PAPER_INCHES
    return ((long if landscape else short) - MARGINS_INCHES["left"] - MARGINS_INCHES["right"]) * 72.0


@dataclass(frozen=True)
class PrintSetup:
    """How one sheet prints: ``scale`` [%], ``landscape``, the first ``repeat_columns``
    columns on every page, and the columns (0-based) that start a new page."""

    landscape: bool
    scale: int
    repeat_columns: int
    breaks: tuple[int, ...]


def print_setup(widths: Sequence[float], repeat_columns: int = 0, breaks: Sequence[int] = ()) -> PrintSetup:
    """The print setup of a sheet whose columns are ``widths`` characters wide: portrait at
    100 % when its widest page fits a portrait page, else landscape at the largest scale
    (at most 100 %, at least :data:`MIN_SCALE`) that fits its widest page; a page is the
    columns between two ``breaks`` with the repeated label columns before them."""
    points = [column_points(w) for w in widths]
    repeated = sum(points[:repeat_columns])
    edges = [0] + [b for b in sorted(set(breaks)) if repeat_columns < b < len(points)] + [len(points)]
    pages = [sum(points[a:b]) + (repeated if a else 0.0) for a, b in zip(edges, edges[1:])]
    widest = max(pages, default=0.0)
    if widest <= _printable_points(landscape=False):
        return PrintSetup(False, 100, repeat_columns, tuple(edges[1:-1]))
    fit = math.floor(100.0 * _printable_points(landscape=True) / widest)
    return PrintSetup(True, max(MIN_SCALE, min(100, fit)), repeat_columns, tuple(edges[1:-1]))


def wrapped_lines(text: str, width: float) -> int:
    """The lines ``text`` takes when wrapped in a cell ``width`` characters wide: counted
    at one character per digit width, which overestimates (Calibri's letters average
    narrower than its digits), so that a row is never too short for its text."""
    chars = max(1, int(width) - 1)
    return max(1, sum(len(textwrap.wrap(part, chars, break_long_words=True)) or 1
                      for part in str(text).split("\n")))
