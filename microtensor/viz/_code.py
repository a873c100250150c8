"""`code(step)`: the program `mt.compile` derived for a training step, as a page to read.

    step = mt.compile(train_step); step(x, y)
    mt.viz.code(step)                      # in Jupyter: the program, one block per module
    mt.viz.code(step, "step.html")         # or one self-contained HTML file

The page shows `step.source` (standalone NumPy: the forward pass, then the backprop named
after the layers, `d_fc1_weight = dot(...)`) with line numbers, the comment that opens each
module's block as a heading, and the gradients it returns. It is static HTML: no script, no
request (a Content-Security-Policy forbids both), every character of the program escaped.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1f2937; }
header { background: #1f2937; color: white; padding: 10px 16px; }
header h1 { font-size: 16px; margin: 0; }
header p { margin: 4px 0 0; color: #cbd5e1; font-size: 13px; }
pre { margin: 0; padding: 12px 0; font: 13px/1.5 ui-monospace, monospace; }
.ln { display: inline-block; width: 4em; color: #9ca3af; text-align: right;
      padding-right: 1em; user-select: none; }
.c { color: #047857; font-weight: 600; }
.b { color: #b45309; }
.l { display: block; }
.l:hover { background: #f1f5f9; }
"""


class CodePage:
    """The page: `.html` (its text), `.path` (where it was saved, or None), `save(path)`,
    and `_repr_html_` for Jupyter."""

    def __init__(self, text: str) -> None:
        self.html = text
        self.path: Path | None = None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to `path` (UTF-8) and return the path."""
        target = Path(path)
        target.write_text(self.html, encoding="utf-8")
        self.path = target
        return target

    def _repr_html_(self) -> str:
        return self.html


def code(step: Any, path: str | os.PathLike[str] | None = None, *,
         title: str | None = None) -> CodePage:
    """A page showing the NumPy program of `step`, a compiled function that has run once
    (`mt.compile(fn)`), or of its `source` text. Saved to `path` when given."""
    source = getattr(step, "source", step)
    if not isinstance(source, str):
        raise TypeError(f"code: expected a compiled step (mt.compile(fn), called once) or its "
                        f"source text, got {type(step).__name__}")
    name = getattr(step, "__name__", "step")
    heading = title or f"mt.compile: the program of {name}"
    lines = []
    for k, line in enumerate(source.splitlines(), 1):
        text = html.escape(line)
        stripped = line.strip()
        if stripped.startswith("# backward of"):
            text = f'<span class="b">{text}</span>'
        elif stripped.startswith("#"):
            text = f'<span class="c">{text}</span>'
        lines.append(f'<span class="l"><span class="ln">{k}</span>{text}</span>')
    page = (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>{html.escape(heading)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(heading)}</h1><p>the forward pass, then the backprop the "
        "machine derived, named after the layers (d_&lt;name&gt; is a gradient); green lines "
        "open a module's forward block, orange ones its backward block</p></header>"
        f"<pre>{''.join(lines)}</pre></body></html>\n"
    )
    result = CodePage(page)
    if path is not None:
        result.save(path)
    return result
