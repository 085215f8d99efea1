"""Outputs: reports, atomic file writers, the workbook and the figures."""
