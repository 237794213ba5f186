"""Self-contained HTML reports: the page of a training run and the pages the tour writes.

Figures are inlined as base64 PNG and the pages hold no scripts, so they open offline from a
file. matplotlib is imported only when a figure is drawn.
"""

from codings.report.page import Page, Section, figure_png, html_table, png_data_url
from codings.report.run import RunData, build_run_report, write_run_report

__all__ = ["Page", "RunData", "Section", "build_run_report", "figure_png", "html_table",
           "png_data_url", "write_run_report"]
