"""The graphviz boundary: the lazy import, the Digraph we return, and saving to files.

Building DOT text needs only the `graphviz` Python package; turning it into SVG/PNG/PDF needs
Graphviz's `dot` program. Both are optional, so both are looked up only when used, and a
missing one is reported with the command that installs it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

_INSTALL_DOT = (
    "Rendering a graph needs the Graphviz 'dot' program, and it was not found on PATH. "
    "Install it with 'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' "
    "(macOS), 'conda install -c conda-forge graphviz' (conda), or from "
    "https://graphviz.org/download/ (Windows), then try again. The DOT text does not need "
    "it: use graph.source, or mt.viz.save(graph, 'graph.dot')."
)
_INSTALL_PY = (
    "microtensor.viz needs the 'graphviz' Python package: pip install graphviz "
    "(or pip install 'microtensor[viz]')"
)

_digraph_class: Any = None


class DotNotFoundError(RuntimeError):
    """Raised when a graph is rendered (SVG, PNG, PDF, display) but Graphviz's `dot` program
    is not installed; the message says how to install it."""


def graphviz_module() -> Any:
    """Import the graphviz package, or raise ImportError saying how to install it."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(_INSTALL_PY) from e
    return graphviz


def digraph_class() -> Any:
    """A `graphviz.Digraph` subclass whose rendering methods explain a missing `dot`.

    Made on first use, because graphviz is imported only then. It is still a Digraph (so
    `isinstance(g, graphviz.Digraph)` holds and Jupyter displays it inline); in a notebook
    without `dot` it shows the DOT text and the install hint instead of a traceback.
    """
    global _digraph_class
    if _digraph_class is not None:
        return _digraph_class
    graphviz = graphviz_module()
    missing = graphviz.ExecutableNotFound

    class Digraph(graphviz.Digraph):
        """A graphviz.Digraph drawn by microtensor.viz. `hidden_ops` counts the op nodes
        that `max_nodes` left out of the picture."""

        hidden_ops: int = 0

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except missing as e:
                raise DotNotFoundError(_INSTALL_DOT) from e

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except missing as e:
                raise DotNotFoundError(_INSTALL_DOT) from e

        def view(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().view(*args, **kwargs)
            except missing as e:
                raise DotNotFoundError(_INSTALL_DOT) from e

        def _repr_mimebundle_(
            self, include: Any = None, exclude: Any = None, **kwargs: Any
        ) -> dict[str, Any]:
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except (missing, DotNotFoundError):
                return {"text/plain": self.source + "\n// " + _INSTALL_DOT}

    _digraph_class = Digraph
    return Digraph


def save(graph: Any, path: str | os.PathLike[str], format: str | None = None) -> Path:  # noqa: A002
    """Write `graph` to `path` and return the path.

    The format is `format` or the file's suffix: ".dot" and ".gv" write the DOT text (no
    Graphviz program needed); ".svg", ".png", ".pdf" (any format `dot` knows) render with
    `dot`, raising DotNotFoundError with install instructions when it is missing. The file
    is written atomically (a temporary file, then a rename), so a failed render leaves no
    half-written file behind.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt in ("dot", "gv"):
        data = graph.source.encode("utf-8")
    else:
        try:
            data = graph.pipe(format=fmt)
        except graphviz_module().ExecutableNotFound as e:
            raise DotNotFoundError(_INSTALL_DOT) from e
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp makes the file private (0600); give it the permissions open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
