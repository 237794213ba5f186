"""A self-contained HTML page: sections of text, tables and figures inlined as base64 PNG.

The page has no scripts and loads nothing: styles are inline, every figure is a ``data:`` URL,
so it opens from a file, offline, and can be mailed as one attachment.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codings.formats.container import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d1d1f; background: #fafafa; line-height: 1.5; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5rem 2rem 4rem; background: #fff; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem;
     margin-top: 2.2rem; }
.subtitle { color: #555; margin-top: 0; }
nav ol { columns: 2; font-size: 0.95rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.8rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.88rem; }
pre { background: #f5f5f7; padding: 0.7rem; overflow-x: auto; white-space: pre-wrap; }
.note { background: #fff8e1; border-left: 4px solid #f0c000; padding: 0.4rem 0.8rem; }
"""


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """The PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def inline_markup(text: str) -> str:
    """Escape ``text`` for HTML; `backticks` become <code> and *stars* become <em>."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", escaped)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{inline_markup(str(value))}</td>"


def html_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """A table; floats are shown with 4 significant digits."""
    parts = ["<table>"]
    if header:
        parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
                     + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(_cell(v) for v in row) + "</tr>")
    parts.append("</table>")
    return "\n".join(parts)


@dataclass
class Section:
    """One heading and its blocks of HTML, in order."""

    title: str
    anchor: str
    blocks: list[str] = field(default_factory=list)

    def text(self, *paragraphs: str) -> Section:
        self.blocks += [f"<p>{inline_markup(p)}</p>" for p in paragraphs]
        return self

    def note(self, text: str) -> Section:
        self.blocks.append(f'<p class="note">{inline_markup(text)}</p>')
        return self

    def code(self, text: str) -> Section:
        self.blocks.append(f"<pre><code>{html.escape(text)}</code></pre>")
        return self

    def table(self, rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None,
              ) -> Section:
        self.blocks.append(html_table(rows, header))
        return self

    def details(self, summary: str, rows: Sequence[Sequence[Any]]) -> Section:
        """A table folded under ``summary`` (HTML <details>: opens on click, no script)."""
        self.blocks.append(f"<details><summary>{html.escape(summary)}</summary>"
                           f"{html_table(rows)}</details>")
        return self

    def figure(self, fig: Figure | bytes, caption: str = "", dpi: int = 80) -> Section:
        """Inline a matplotlib figure (or PNG bytes) with an optional caption."""
        png = fig if isinstance(fig, bytes) else figure_png(fig, dpi)
        alt = html.escape(caption or self.title)
        caption_html = f"<figcaption>{inline_markup(caption)}</figcaption>" if caption else ""
        self.blocks.append(f'<figure><img src="{png_data_url(png)}" alt="{alt}">'
                           f"{caption_html}</figure>")
        return self


class Page:
    """An HTML document made of titled sections, with a table of contents."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self.intro: list[str] = []
        self.sections: list[Section] = []

    def section(self, title: str) -> Section:
        """Append a new section and return it, to add text and figures."""
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
        anchor = f"s{len(self.sections) + 1}-{slug}"
        section = Section(title, anchor)
        self.sections.append(section)
        return section

    def render(self) -> str:
        toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>'
                      for s in self.sections)
        body = "\n".join(
            f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>\n' + "\n".join(s.blocks)
            + "</section>" for s in self.sections)
        subtitle = f'<p class="subtitle">{inline_markup(self.subtitle)}</p>' \
            if self.subtitle else ""
        intro = "".join(f"<p>{inline_markup(p)}</p>" for p in self.intro)
        return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n"
                f"</head>\n<body>\n<main>\n<h1>{html.escape(self.title)}</h1>\n{subtitle}\n"
                f"{intro}\n<nav><ol>{toc}</ol></nav>\n{body}\n</main>\n</body>\n</html>\n")

    def write(self, path: str | Path) -> Path:
        """Write the page atomically; returns the path."""
        target = Path(path)
        atomic_write_bytes(target, self.render().encode("utf-8"))
        return target
