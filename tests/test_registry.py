"""The op contract's structure: backward and jvp bodies speak the vocabulary (no type tests, no
unwrapping), and every op is registered once (function, method, export, NumPy dispatch)."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import microtensor as mt
from microtensor import interop
from microtensor.ops.registry import REGISTRY, register

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
                    if isinstance(item, ast.FunctionDef) and item.name in (
                            "backward", "_grads", "jvp", "_affine_jvp", "_table_jvp"):
                        found.append((f"{path.name}:{node.name}.{item.name}", item))
    return found


def test_backward_bodies_never_test_types_or_unwrap() -> None:
    bodies = _backward_bodies()
    assert len(bodies) > 30, "the scan found the ops' backward methods"
    # forward mode's rules run on arrays and on Tensors alike, as backward does
    assert sum(name.endswith(".jvp") for name, _ in bodies) > 30, "the scan found jvp rules"
    bad = []
    for where, fn in bodies:
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                    node.func.id in ("isinstance", "type", "raw")):
                bad.append(f"{where} calls {node.func.id}() (line {node.lineno})")
            if isinstance(node, ast.Attribute) and node.attr == "data":
                bad.append(f"{where} reads .data (line {node.lineno})")
    assert not bad, "backward bodies must use microtensor.ops.vocab instead:\n" + "\n".join(bad)


# ------------------------------------------------------------------------- register once
def test_every_registered_op_has_an_op_table_row() -> None:
    from op_table import BY_NAME

    missing = sorted(set(REGISTRY) - set(BY_NAME))
    assert not missing, f"registered ops without a row in tests/op_table.py: {missing}"


def test_registration_gives_function_method_export_and_numpy_dispatch() -> None:
    for name, entry in REGISTRY.items():
        assert getattr(mt.ops, name) is entry.fn, name
        if entry.export:
            assert getattr(mt, name) is entry.fn and name in mt.__all__, name
        else:
            assert name not in mt.__all__, name
        if entry.method is not None:
            assert getattr(mt.Tensor, entry.method) is entry.fn, name
        for route in entry.numpy:
            table = interop._UFUNCS if isinstance(route, np.ufunc) else interop._FUNCTIONS
            assert route in table, f"np.{route.__name__} does not run {name}"


def test_numpy_signature_adapters_belong_to_registered_ops() -> None:
    routes = {route for entry in REGISTRY.values() for route in entry.numpy}
    assert set(interop._SIGNATURES) <= routes


def test_registering_a_name_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'exp' is already registered"):
        register("exp")(lambda x: x)
    assert REGISTRY["exp"].fn is mt.exp


def test_log1p_is_one_definition_and_one_row() -> None:
    """The op added to show the registry: function, method and NumPy dispatch, all tracked."""
    x = mt.tensor([-0.5, 0.0, 1e-10, 3.0], requires_grad=True)
    for y in (mt.log1p(x), x.log1p(), np.log1p(x)):
        assert type(y.grad_fn).__name__ == "Log1p"
        np.testing.assert_array_equal(y.data, np.log1p(x.data))
    (g,) = mt.grad(np.log1p(x).sum(), [x])
    np.testing.assert_allclose(g.data, 1 / (1 + x.data))
    assert mt.gradgradcheck(mt.log1p, [x])
