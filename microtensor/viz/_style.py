"""How each kind of node looks: colours, shapes, HTML labels and the legend.

One palette for forward and backward pictures, chosen to stay distinct in print and for the
common colour-vision deficiencies (blue / green / amber / purple / orange, red only for
nan and inf, which also get a thick border and a warning line, not colour alone).
"""

from __future__ import annotations

from typing import Any

from ._format import esc

FONT = "Helvetica,Arial,sans-serif"

#: kind -> (fill, border, shape, legend text); the order is the legend's order.
KINDS: dict[str, tuple[str, str, str, str]] = {
    "param": ("#dbeafe", "#1d4ed8", "box", "parameter"),
    "input": ("#dcfce7", "#15803d", "box", "leaf that requires grad"),
    "const": ("#f3f4f6", "#9ca3af", "box", "constant (no grad)"),
    "tensor": ("#ffffff", "#6b7280", "box", "intermediate tensor"),
    "output": ("#fef3c7", "#b45309", "box", "output"),
    "op": ("#ede9fe", "#6d28d9", "ellipse", "op"),
    "backward": ("#ffedd5", "#c2410c", "box", "backward of an op"),
    "seed": ("#fef3c7", "#b45309", "box", "gradient seed"),
    "module": ("#ccfbf1", "#0f766e", "box3d", "collapsed module"),
    "hidden": ("#f9fafb", "#6b7280", "note", "hidden by max_nodes"),
    "nan": ("#fee2e2", "#dc2626", "box", "holds nan / inf"),
}

#: Cluster backgrounds by nesting depth, so nested modules stay distinguishable.
CLUSTER_FILLS = ("#f8fafc", "#eef2f7", "#e4eaf2", "#dbe3ee")

SMALL = 9
GREY = "#4b5563"


def node_attrs(kind: str, bad: bool = False, output: bool = False) -> dict[str, str]:
    """Graphviz attributes for a node of `kind`; `bad` (nan/inf) overrides the colours."""
    fill, border, shape, _ = KINDS[kind]
    attrs = {"shape": shape, "fillcolor": fill, "color": border, "style": "filled"}
    if shape == "box":
        attrs["style"] = "rounded,filled"
    if kind == "const":
        attrs["style"] = "rounded,filled,dashed"
        attrs["fontsize"] = str(SMALL)
    if kind in ("output", "seed") or output:
        attrs["penwidth"] = "2"
    if bad:
        nan_fill, nan_border, _, _ = KINDS["nan"]
        attrs.update(fillcolor=nan_fill, color=nan_border, penwidth="2.5")
        if output:
            attrs["peripheries"] = "2"  # red like any nan tensor, yet still seen as an output
    return attrs


def label(
    title: str | None,
    lines: list[tuple[str, str | None]],
    *,
    bold: bool = True,
    italic_title: bool = False,
) -> str:
    """An HTML-like label: a bold title, then small lines as (text, colour or None)."""
    parts = []
    if title:
        t = esc(title)
        t = f"<I>{t}</I>" if italic_title else t
        parts.append(f"<B>{t}</B>" if bold else t)
    for text, colour in lines:
        c = f' COLOR="{colour}"' if colour else ""
        parts.append(f'<FONT POINT-SIZE="{SMALL}"{c}>{esc(text)}</FONT>')
    return "<" + "<BR/>".join(parts or [" "]) + ">"


def legend(kinds: list[str], notes: list[str] | None = None) -> str:
    """The legend node's label: a swatch and a description for each kind that is drawn."""
    rows = ['<TR><TD COLSPAN="2" ALIGN="LEFT"><B>legend</B></TD></TR>']
    for kind, (fill, border, _, text) in KINDS.items():
        if kind not in kinds:
            continue
        rows.append(
            f'<TR><TD BGCOLOR="{fill}" COLOR="{border}" BORDER="1" WIDTH="16" HEIGHT="10">'
            f'</TD><TD ALIGN="LEFT"><FONT POINT-SIZE="{SMALL}">{esc(text)}</FONT></TD></TR>'
        )
    for note in notes or ():
        rows.append(
            f'<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="{SMALL}" '
            f'COLOR="{GREY}">{esc(note)}</FONT></TD></TR>'
        )
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1">'
        + "".join(rows)
        + "</TABLE>>"
    )


def graph_attrs(rankdir: str, title: str | None) -> dict[str, Any]:
    """Attributes of the whole picture."""
    attrs = {
        "rankdir": rankdir,
        "fontname": FONT,
        "nodesep": "0.25",
        "ranksep": "0.35",
        "bgcolor": "white",
        "labeljust": "l",
    }
    if title:
        attrs.update(label=title, labelloc="t", fontsize="14")
    return attrs


def cluster_attrs(text: str, depth: int) -> dict[str, str]:
    """Attributes of a module's cluster at nesting `depth` (1 = outermost)."""
    fill = CLUSTER_FILLS[(depth - 1) % len(CLUSTER_FILLS)]
    return {
        "label": text,
        "style": "rounded,filled,dashed",
        "color": "#94a3b8",
        "fillcolor": fill,
        "fontname": FONT,
        "fontsize": "10",
        "fontcolor": "#334155",
        "labeljust": "l",
        "margin": "10",
    }
