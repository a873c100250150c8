"""The op contract's structure: backward bodies speak the vocabulary (no type tests, no
unwrapping), and every op is registered once (function, method, export, NumPy dispatch)."""

from __future__ import annotations

import ast
import pathlib

import microtensor as mt

OPS_DIR = pathlib.Path(mt.__file__).parent / "ops"
_HELPER_FILES = {"vocab.py", "_derivatives.py", "_util.py", "_loss_args.py", "registry.py"}


def _backward_bodies() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in sorted(OPS_DIR.glob("*.py")):
        if path.name in _HELPER_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name in ("backward", "_grads"):
                        found.append((f"{path.name}:{node.name}.{item.name}", item))
    return found


def test_backward_bodies_never_test_types_or_unwrap() -> None:
    bodies = _backward_bodies()
    assert len(bodies) > 30, "the scan found the ops' backward methods"
    bad = []
    for where, fn in bodies:
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                    node.func.id in ("isinstance", "type", "raw")):
                bad.append(f"{where} calls {node.func.id}() (line {node.lineno})")
            if isinstance(node, ast.Attribute) and node.attr == "data":
                bad.append(f"{where} reads .data (line {node.lineno})")
    assert not bad, "backward bodies must use microtensor.ops.vocab instead:\n" + "\n".join(bad)
