"""mt.compile: a traced and replayed training step gives the eager step's numbers bit for bit,
retraces when what it traced changes, runs eagerly (with a warning) what it cannot trace, and
check=True catches a step that depends on what tracing does not see."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pytest

import microtensor as mt
import nn
import nn.functional as F
from microtensor.compiler import CompileError
from microtensor.compiler import compile as mt_compile

builtins_compile = compile


def _mlp(seed: int, sizes: tuple[int, ...], act: str = "Sigmoid", dtype: Any = np.float64,
         fuse: bool = False) -> nn.Sequential:
    mt.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        if fuse and not last:
            layers.append(nn.Linear(a, b, dtype=dtype, activation=act.lower()))
            continue
        layers.append(nn.Linear(a, b, dtype=dtype))
        if not last:
            layers.append(getattr(nn, act)())
    return nn.Sequential(*layers)


def _trainer(model: nn.Module, loss_fn: nn.Module, opt: Any) -> Any:
    def step(x: Any, y: Any) -> mt.Tensor:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


CASES = {
    "xor-sse-sgd": ((3, 4, 1), "Sigmoid", lambda: nn.MSELoss(reduction="sum"), "sgd", "reg"),
    "bce-adam": ((2, 5, 1), "Sigmoid", nn.BCEWithLogitsLoss, "adam", "bin"),
    "ce-sum-sgd-fused": ((4, 5, 3), "Sigmoid", lambda: nn.CrossEntropyLoss(reduction="sum"),
                         "sgd", "cls"),
    "ce-relu-momentum": ((6, 16, 8, 3), "ReLU", nn.CrossEntropyLoss, "momentum", "cls"),
    "tanh-mse-adamw-f32": ((3, 7, 2), "Tanh", nn.MSELoss, "adamw", "reg"),
}


def _data(kind: str, n: int, n_in: int, n_out: int, dtype: Any, seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    x = mt.tensor(rng.normal(size=(n, n_in)).astype(dtype))
    if kind == "cls":
        return x, mt.tensor(rng.integers(0, n_out, size=n))
    if kind == "bin":
        return x, mt.tensor((rng.random((n, 1)) > 0.5).astype(dtype))
    return x, mt.tensor(rng.normal(size=(n, n_out)).astype(dtype))


def _optimizer(kind: str, params: Any) -> Any:
    if kind == "sgd":
        return nn.optim.SGD(params, lr=0.05)
    if kind == "momentum":
        return nn.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-3)
    if kind == "adam":
        return nn.optim.Adam(params, lr=0.01)
    return nn.optim.AdamW(params, lr=0.01)


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_training_is_bit_identical_to_eager(case: str) -> None:
    sizes, act, make_loss, opt_kind, kind = CASES[case]
    dtype = np.float32 if case.endswith("f32") else np.float64
    fuse = case.endswith("fused")
    models, steps = [], []
    for compiled in (False, True):
        model = _mlp(7, sizes, act, dtype, fuse)
        step = _trainer(model, make_loss(), _optimizer(opt_kind, model.parameters()))
        models.append(model)
        steps.append(mt_compile(step) if compiled else step)
    for i in range(25):
        x, y = _data(kind, 12, sizes[0], sizes[-1], dtype, i)  # new data every step
        eager_loss, compiled_loss = steps[0](x, y), steps[1](x, y)
        assert compiled_loss.dtype == eager_loss.dtype
        assert compiled_loss.item() == eager_loss.item(), f"step {i}"
    for (name, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
        np.testing.assert_array_equal(a.grad.data, b.grad.data, err_msg=name)
    assert steps[1].traces == 1 and steps[1].eager_reason is None


def _simple() -> tuple[nn.Module, Any]:
    model = _mlp(0, (3, 4, 1))
    return model, _trainer(model, nn.MSELoss(), nn.optim.SGD(model.parameters(), lr=0.1))


def test_a_new_batch_size_retraces_and_each_plan_is_kept() -> None:
    _, step = _simple()
    c = mt_compile(step)
    for n in (8, 8, 5, 8, 5):
        x, y = _data("reg", n, 3, 1, np.float64, n)
        c(x, y)
    assert c.traces == 2


def test_fullgraph_refuses_to_retrace() -> None:
    _, step = _simple()
    c = mt_compile(step, fullgraph=True)
    c(*_data("reg", 8, 3, 1, np.float64, 0))
    c(*_data("reg", 8, 3, 1, np.float64, 1))
    with pytest.raises(CompileError, match="fullgraph"):
        c(*_data("reg", 5, 3, 1, np.float64, 2))


def test_switching_to_eval_retraces_dropout_away() -> None:
    mt.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    c = mt_compile(lambda x: model(x).sum())
    x = mt.tensor(np.ones((4, 3)))
    c(x)
    model.eval()
    out = c(x)
    assert c.traces == 2
    with mt.no_grad():
        np.testing.assert_array_equal(out.data, model(x).sum().data)


def test_dropout_draws_a_new_mask_each_replay_as_eager_does() -> None:
    def run(compiled: bool) -> list[float]:
        mt.manual_seed(11)
        model = nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.5), nn.Linear(16, 1))

        def f(x: mt.Tensor) -> mt.Tensor:
            return model(x).sum()

        f = mt_compile(f) if compiled else f
        x = mt.tensor(np.ones((4, 3)))
        return [f(x).item() for _ in range(5)]

    eager, compiled = run(False), run(True)
    assert eager == compiled and len(set(eager)) > 1


def test_a_parameter_cast_to_float32_retraces() -> None:
    model, step = _simple()
    c = mt_compile(step)
    c(*_data("reg", 8, 3, 1, np.float64, 0))
    model.float()
    loss = c(*_data("reg", 8, 3, 1, np.float32, 1))
    assert c.traces == 2 and loss.dtype == np.float32


class _Net(nn.Module):
    def __init__(self) -> None:
        self.fc = nn.Linear(3, 4)

    def forward(self, x: mt.Tensor) -> mt.Tensor:
        return self.fc(x).tanh()


def test_replacing_a_layer_retraces() -> None:
    model = _Net()
    c = mt_compile(lambda x: model(x).sum())
    x = mt.tensor(np.ones((2, 3)))
    c(x)
    model.fc = nn.Linear(3, 4)
    out = c(x)
    assert c.traces == 2
    with mt.no_grad():
        assert out.item() == model(x).sum().item()


def test_check_mode_passes_a_clean_step_and_catches_value_dependent_python() -> None:
    _, step = _simple()
    c = mt_compile(step, check=True)
    for i in range(3):
        c(*_data("reg", 8, 3, 1, np.float64, i))

    w = mt.tensor([1.0, -1.0], requires_grad=True)

    def branchy(x: mt.Tensor) -> mt.Tensor:
        s = (x * w).sum()
        out = s * 2 if s.item() > 0 else s * 3  # traced away: the compiled step keeps one arm
        out.backward()
        return out

    c2 = mt_compile(branchy, check=True)
    c2(mt.tensor([2.0, 1.0]))  # s = 1 > 0: traced with the first arm
    c2(mt.tensor([3.0, 1.0]))  # same arm: fine
    w.grad = None
    with pytest.raises(CompileError, match="differ"):
        c2(mt.tensor([1.0, 3.0]))  # s = -2: eager takes the other arm


def test_a_target_cast_outside_ops_is_replayed_from_the_new_input() -> None:
    """y.astype(...) made with NumPy inside the step: found by value, replayed as the cast."""
    model = _mlp(0, (3, 4, 1), dtype=np.float32)

    def step(x: np.ndarray, y: np.ndarray) -> mt.Tensor:
        return ((model(mt.tensor(x.astype(np.float32))) - mt.tensor(y.astype(np.float32))) ** 2
                ).sum()

    c = mt_compile(step)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))
        with mt.no_grad():
            expected = step(x, y).item()
        assert c(x, y).item() == expected


def test_what_cannot_be_traced_runs_eagerly_with_one_warning() -> None:
    w = mt.tensor([1.0, 2.0], requires_grad=True)

    def hooked(x: mt.Tensor) -> mt.Tensor:
        y = x * w
        y.register_hook(lambda g: g * 2)
        loss = y.sum()
        loss.backward()
        return loss

    c = mt_compile(hooked)
    with pytest.warns(RuntimeWarning, match="runs eagerly: a hook"):
        c(mt.tensor([1.0, 1.0]))
    w.grad = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c(mt.tensor([1.0, 1.0]))  # no second warning
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0])

    c2 = mt_compile(lambda x: (x * w).sum().item())
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        assert c2(mt.tensor([1.0, 1.0])) == 3.0


def test_inplace_change_inside_the_step_runs_eagerly() -> None:
    buf = mt.zeros(2)

    def step(x: mt.Tensor) -> mt.Tensor:
        buf.add_(1.0)
        return (x * 2).sum()

    c = mt_compile(step)
    with pytest.warns(RuntimeWarning, match="changed in place"):
        c(mt.tensor([1.0, 2.0]))
    c(mt.tensor([1.0, 2.0]))
    assert buf.data.tolist() == [2.0, 2.0]


def test_source_reads_as_numpy_backprop_and_runs_on_its_own() -> None:
    """step.source is the article's backprop as NumPy (named after the parameters, no op
    calls), and run by itself on copies of the arrays it gives the compiled step's numbers."""
    model, step = _simple()
    c = mt_compile(step)
    with pytest.raises(RuntimeError, match="call the compiled function once"):
        _ = c.source
    x, y = _data("reg", 8, 3, 1, np.float64, 0)
    c(x, y)
    src = c.source
    assert src.startswith("import numpy as np") and ".forward(" not in src
    assert ".backward(" not in src
    for line in ("z1 = dot(x, layer0_weight)", "h1 = expit(z1)", "d_z1 *= d_h1",
                 "d_layer0_weight = dot(x.T, d_z1)", "layer0_weight -= lr * d_layer0_weight",
                 "# backward of 1 (Sigmoid)"):
        assert line in src, line
    ns: dict[str, Any] = {}
    exec(builtins_compile(src, "<source>", "exec"), ns)  # noqa: S102 - our own program
    x, y = _data("reg", 8, 3, 1, np.float64, 1)
    params = {name.replace(".", "_").join(("layer", "")): p.data.copy()
              for name, p in model.named_parameters()}
    loss, grads = ns["step"](x.data, y.data, **params, lr=0.1)
    expected = c(x, y)
    assert loss.item() == expected.item()
    for name, p in model.named_parameters():
        key = "layer" + name.replace(".", "_")
        np.testing.assert_array_equal(grads[key], p.grad.data, err_msg=name)
        np.testing.assert_array_equal(params[key], p.data, err_msg=name)  # updated in place
    assert "layer0_weight = t_" in c.run_source  # the replay reads the Parameter itself


def test_an_op_without_a_template_is_called_as_it_is() -> None:
    w = mt.tensor([1.0, -2.0, 3.0], requires_grad=True)

    def f(x: mt.Tensor) -> mt.Tensor:
        out = (x * w).abs().sum()  # Abs has no code template
        out.backward()
        return out

    c = mt_compile(f, check=True)
    for i in range(3):
        w.grad = None
        c(mt.tensor([1.0, 2.0, float(i)]))
    assert ".forward(" in c.source and ".backward(" in c.source
    np.testing.assert_array_equal(w.grad.data, [1.0, -2.0, 2.0])


def test_compile_as_decorator_and_bad_arguments() -> None:
    @mt_compile(check=True)
    def f(x: mt.Tensor) -> mt.Tensor:
        return (x * x).sum()

    assert f(mt.tensor([1.0, 2.0])).item() == 5.0
    assert f(mt.tensor([1.0, 3.0])).item() == 10.0
    with pytest.raises(TypeError, match="compile: expected a function"):
        mt_compile(3)


def test_random_numbers_drawn_outside_ops_run_eagerly() -> None:
    """A mask made by the caller would be replayed as a constant: refused, not guessed."""
    w = mt.tensor(np.ones(4), requires_grad=True)

    def step(x: mt.Tensor) -> mt.Tensor:
        mask = mt.default_generator().random(4) > 0.5
        return (x * w * mask).sum()

    c = mt_compile(step)
    with pytest.warns(RuntimeWarning, match="random numbers were drawn outside ops"):
        c(mt.tensor(np.ones(4)))
    assert c.eager_reason is not None


# ------------------------------------------------------------------ code templates
# every op with a code template, on random inputs: (op classes, function of the inputs,
# input shapes, what each input is: "x" any real, "pos" positive, "p" a probability,
# "label:k" class labels below k, "y" a target that needs no gradient)
def _fn_linear(act: Any) -> Any:
    return lambda x, w, b: mt.ops.fused.linear(x, w, b, act)


TEMPLATE_CASES: dict[str, tuple[set[str], Any, list[tuple[tuple[int, ...], str]]]] = {
    "linear": ({"Linear"}, _fn_linear(None), [((6, 3), "x"), ((3, 4), "x"), ((4,), "x")]),
    "linear-nobias": ({"Linear"}, mt.ops.fused.linear,
                      [((6, 3), "x"), ((3, 4), "x")]),
    "linear-sigmoid": ({"LinearSigmoid"}, _fn_linear("sigmoid"),
                       [((6, 3), "x"), ((3, 4), "x"), ((4,), "x")]),
    "linear-tanh": ({"LinearTanh"}, _fn_linear("tanh"), [((6, 3), "x"), ((3, 4), "x"),
                                                          ((4,), "x")]),
    "linear-relu": ({"LinearReLU"}, _fn_linear("relu"), [((6, 3), "x"), ((3, 4), "x"),
                                                          ((4,), "x")]),
    "matmul": ({"MatMul"}, lambda a, b: a @ b, [((5, 3), "x"), ((3, 2), "x")]),
    "add-broadcast": ({"Add"}, lambda a, b: a + b, [((5, 3), "x"), ((3,), "x")]),
    "sub-broadcast": ({"Sub"}, lambda a, b: a - b, [((5, 1), "x"), ((5, 3), "x")]),
    "mul-scalar": ({"Mul"}, lambda a, b: a * b * 1.5, [((4, 3), "x"), ((4, 3), "x")]),
    "neg-exp-log": ({"Neg", "Exp", "Log"}, lambda a: (-a).exp() + a.log(), [((4, 3), "pos")]),
    "pow": ({"Pow", "Add"}, lambda a: a ** 2 + a ** 0.5 + a ** 1 + a ** -1, [((4, 3), "pos")]),
    "activations": ({"Sigmoid", "Tanh", "Relu"}, lambda a: a.sigmoid() * a.tanh() + a.relu(),
                    [((4, 3), "x")]),
    "sum-mean": ({"Sum", "Mean"}, lambda a: a.sum(axis=0) * a.mean(axis=1, keepdims=True)
                 + a.sum() - a.mean(), [((4, 3), "x")]),
    "mse-mean": ({"SquaredError"}, F.mse_loss, [((5, 2), "x"), ((5, 2), "x")]),
    "mse-sum": ({"SquaredError"}, lambda a, y: F.mse_loss(a, y, reduction="sum"),
                [((5, 2), "x"), ((5, 2), "y")]),
    "mse-none": ({"SquaredError"}, lambda a, y: F.mse_loss(a, y, reduction="none"),
                 [((5, 2), "x"), ((5, 2), "y")]),
    "bce-sum": ({"BinaryCrossEntropy"}, lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"),
                [((6, 1), "p"), ((6, 1), "p")]),
    "bce-mean": ({"BinaryCrossEntropy"}, F.binary_cross_entropy,
                 [((6, 1), "p"), ((6, 1), "y01")]),
    "ce-mean": ({"SoftmaxCrossEntropy"}, F.cross_entropy,
                [((7, 3), "x"), ((7,), "label:3")]),
    "ce-sum": ({"SoftmaxCrossEntropy"}, lambda z, t: F.cross_entropy(z, t, reduction="sum"),
               [((7, 4), "x"), ((7,), "label:4")]),
    "ce-none": ({"SoftmaxCrossEntropy"}, lambda z, t: F.cross_entropy(z, t, reduction="none"),
                [((7, 3), "x"), ((7,), "label:3")]),
    "softplus": ({"Softplus"}, F.softplus, [((4, 3), "x")]),
}


def _template_inputs(specs: list[tuple[tuple[int, ...], str]], dtype: Any, layout: str,
                     seed: int) -> list[mt.Tensor]:
    rng = np.random.default_rng(seed)
    out = []
    for shape, kind in specs:
        if kind.startswith("label"):
            out.append(mt.tensor(rng.integers(0, int(kind.split(":")[1]), size=shape)))
            continue
        a = rng.normal(size=shape) * 3
        if kind == "pos":
            a = np.abs(a) + 0.1
        elif kind == "p":
            a = rng.uniform(0.01, 0.99, size=shape)
        elif kind == "y01":
            a = (a > 0).astype(float)
        a = a.astype(dtype)
        if layout == "fortran":
            a = np.asfortranarray(a)
        elif layout == "transposed" and a.ndim == 2:
            a = np.ascontiguousarray(a.T).T
        elif layout == "sliced":
            a = np.repeat(a, 2, axis=-1)[..., ::2]
        out.append(mt.tensor(a, requires_grad=kind not in ("y", "y01")))
    return out


@pytest.mark.parametrize("layout", ["contiguous", "fortran", "transposed", "sliced"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(TEMPLATE_CASES))
def test_code_templates_are_the_ops_arithmetic_bit_for_bit(case: str, dtype: Any,
                                                          layout: str) -> None:
    """Each template replays its op's forward and backward exactly (values, gradients,
    dtypes) on new random data, and no op of the case is called as it is."""
    classes, fn, specs = TEMPLATE_CASES[case]

    def run(*xs: mt.Tensor) -> mt.Tensor:
        out = fn(*xs)
        seed = mt.tensor(np.linspace(-1, 2, out.size).reshape(out.shape).astype(out.dtype))
        out.backward(seed if out.ndim else None)
        return out

    c = mt_compile(run)
    for step in range(3):  # the first call traces, the others replay
        eager_in = _template_inputs(specs, dtype, layout, step)
        compiled_in = _template_inputs(specs, dtype, layout, step)
        expected, got = run(*eager_in), c(*compiled_in)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got.data, expected.data)
        for a, b in zip(eager_in, compiled_in):
            assert (a.grad is None) == (b.grad is None)
            if a.grad is not None:
                assert b.grad.dtype == a.grad.dtype
                np.testing.assert_array_equal(b.grad.data, a.grad.data)
    assert c.traces == 1 and c.eager_reason is None
    assert ".forward(" not in c.source, c.source
    for name in classes:
        assert hasattr(getattr(mt.ops, name, None) or _op_class(name), "emit_forward")


def _op_class(name: str) -> type:
    from microtensor.ops import elementwise, fused, linalg, losses, reduce

    for module in (elementwise, fused, linalg, losses, reduce):
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(name)


def test_every_code_template_is_in_the_table() -> None:
    """A template added to an op without a row here would go untested."""
    from microtensor.function import Function

    declared, seen = set(), set()
    stack = [Function]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "emit_forward" in vars(cls):
            declared.add(cls.__name__)
    for classes, _, _ in TEMPLATE_CASES.values():
        seen |= classes
    assert declared <= seen, declared - seen


def test_a_gradient_of_an_argument_goes_to_the_tensor_passed_in() -> None:
    """x.grad is written on the x of this call, not on the x the step was traced with."""
    w = mt.tensor([1.0, 2.0], requires_grad=True)

    def f(x: mt.Tensor) -> mt.Tensor:
        out = (x * w).sum()
        out.backward()
        return out

    for check in (False, True):
        c = mt_compile(f, check=check)
        first, second = mt.tensor([1.0, 1.0], requires_grad=True), mt.tensor(
            [3.0, 4.0], requires_grad=True)
        c(first)
        c(second)
        np.testing.assert_array_equal(first.grad.data, [1.0, 2.0])
        np.testing.assert_array_equal(second.grad.data, [1.0, 2.0])


@pytest.mark.parametrize("case", ["xor-sse-sgd", "ce-sum-sgd-fused", "bce-sgd", "relu-ce"])
def test_standalone_source_gives_the_compiled_steps_numbers(case: str) -> None:
    """exec(step.source) alone, on copies of the arrays, gives the loss, the gradients and
    the updated weights of the compiled step, bit for bit (seed-network losses)."""
    sizes, act, make_loss, kind = {
        "xor-sse-sgd": ((3, 4, 1), "Sigmoid", lambda: nn.MSELoss(reduction="sum"), "reg"),
        "ce-sum-sgd-fused": ((4, 5, 3), "Sigmoid", lambda: nn.CrossEntropyLoss(reduction="sum"),
                             "cls"),
        "bce-sgd": ((2, 5, 1), "Sigmoid", lambda: nn.BCELoss(reduction="sum"), "bin"),
        "relu-ce": ((4, 8, 3), "ReLU", nn.CrossEntropyLoss, "cls"),
    }[case]
    model = _mlp(5, sizes, act, fuse=case.endswith("fused"))
    if kind == "bin":
        model = nn.Sequential(model, nn.Sigmoid())
    step = mt_compile(_trainer(model, make_loss(), nn.optim.SGD(model.parameters(), lr=0.05)))
    step(*_data(kind, 9, sizes[0], sizes[-1], np.float64, 0))
    ns: dict[str, Any] = {}
    exec(builtins_compile(step.source, "<source>", "exec"), ns)  # noqa: S102 - our program
    names = list(inspect.signature(ns["step"]).parameters)
    x, y = _data(kind, 9, sizes[0], sizes[-1], np.float64, 1)
    params = dict(zip(names[2:-1], (p.data.copy() for p in model.parameters())))
    loss, grads = ns["step"](x.data, y.data, **params, lr=0.05)
    assert step(x, y).item() == loss.item()
    for name, p in zip(params, model.parameters()):
        np.testing.assert_array_equal(grads[name], p.grad.data, err_msg=name)
        np.testing.assert_array_equal(params[name], p.data, err_msg=name)


def test_seed_example_matches_the_articles_backprop() -> None:
    """examples/compile_seed.py: each seed network's compiled gradients equal nn/manual.py's
    hand-derived ones, and its source shows the articles' names and steps."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "compile_seed.py"
    spec = importlib.util.spec_from_file_location("compile_seed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sources = {name: make() for name, make in module.SEEDS.items()}  # each asserts the oracle
    assert "d_fc1_weight = dot(x.T, d_z1)" in sources["xor"]
    assert "d_fc2_bias = dot(ones_200, d_z2)  # column sums" in sources["hotdogs"]
    assert "-= 1  # softmax - onehot(labels)" in sources["iris"]


def test_tracing_runs_each_backward_once() -> None:
    """The first call's backward is the observed walk itself (no second walk), so tracing
    costs about one eager step; a custom op without a template is replayed by its calls."""
    calls = []

    class Twice(mt.Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return x * 2

        def backward(self, grad: Any) -> Any:
            calls.append(1)
            return grad * 2

    w = mt.tensor([1.0, 3.0], requires_grad=True)

    def f(x: mt.Tensor) -> mt.Tensor:
        out = (Twice.apply(w) * x).sum()
        out.backward()
        return out

    c = mt_compile(f)
    c(mt.tensor([1.0, 1.0]))
    assert len(calls) == 1
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0])
    w.grad = None
    c(mt.tensor([1.0, 2.0]))
    assert len(calls) == 2
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])


def test_a_replay_frees_large_arrays_after_their_last_use() -> None:
    """Peak memory of a replayed step is at most the eager step's: each large activation and
    gradient is dropped after its last use, as eager backward frees saved arrays."""
    import tracemalloc

    def peak(compiled: bool) -> int:
        model = _mlp(1, (64, 512, 512, 10), "ReLU")
        step = _trainer(model, nn.CrossEntropyLoss(), nn.optim.SGD(model.parameters(), lr=0.1))
        step = mt_compile(step) if compiled else step
        x, y = _data("cls", 1024, 64, 10, np.float64, 0)
        step(x, y)
        step(x, y)
        tracemalloc.start()
        tracemalloc.reset_peak()
        step(x, y)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    eager, compiled = peak(False), peak(True)
    assert compiled <= eager * 1.05, (compiled, eager)


def _assert_replays_like_eager(step: Any, w: mt.Tensor) -> None:
    """Three calls with new data: the compiled step's loss and w's gradient are eager's."""
    c = mt_compile(step)
    for i in range(3):
        x = mt.tensor(np.arange(3.0) + i)
        w.grad = None
        got = c(x).item()
        g = w.grad.data.copy()
        w.grad = None
        assert got == step(x).item()
        np.testing.assert_array_equal(g, w.grad.data)
    assert c.traces == 1 and c.eager_reason is None


def test_a_step_with_setitem_into_a_tracked_tensor_replays() -> None:
    w = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def step(x: mt.Tensor) -> mt.Tensor:
        y = x * w
        y[0] = (x * x).sum()  # SetItem: an op like any other
        loss = (y * y).sum()
        loss.backward()
        return loss

    _assert_replays_like_eager(step, w)


def test_an_assignment_after_a_use_replays_in_order() -> None:
    """z uses y before y[0] is assigned; the loss uses both: each op reads the array its
    argument held when it ran."""
    w = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def step(x: mt.Tensor) -> mt.Tensor:
        y = x * w
        z = y * 2
        y[0] = z.sum()
        loss = (y * z).sum()
        loss.backward()
        return loss

    _assert_replays_like_eager(step, w)


def test_a_label_out_of_range_in_a_replayed_step_is_an_error() -> None:
    """The loss function checks labels in Python, which a replay does not run: the fused op
    checks them itself, so a bad label in a later batch is an error, never another row."""
    model = _mlp(0, (4, 5, 3))
    c = mt_compile(lambda x, y: nn.CrossEntropyLoss()(model(x), y))
    x = mt.tensor(np.ones((4, 4)))
    c(x, np.array([0, 1, 2, 0]))
    c(x, np.array([2, 1, 0, 1]))
    for bad in (np.array([0, 3, 1, 1]), np.array([0, -1, 1, 1])):
        with pytest.raises(IndexError, match="label .* out of range for 3 classes"):
            c(x, bad)


def test_names_from_user_strings_never_become_code(tmp_path: Any, monkeypatch: Any) -> None:
    """Module names (ModuleDict keys are any string) and tensor names go into the generated
    program only as printable comments and identifiers: a name that tries to end its comment
    and run code is shown, not run."""
    monkeypatch.chdir(tmp_path)
    evil = "fc\nopen('ran', 'w')\n#"

    class Net(nn.Module):
        def __init__(self) -> None:
            self.blocks = nn.ModuleDict({evil: nn.Linear(3, 2)})

        def forward(self, x: mt.Tensor) -> mt.Tensor:
            return self.blocks[evil](x)

    net = Net()
    w = mt.tensor(np.ones(3), requires_grad=True)
    w.name = "w\nopen('ran2','w')"

    def step(x: mt.Tensor) -> mt.Tensor:
        loss = (net(x * w) ** 2).sum()
        loss.backward()
        return loss

    c = mt_compile(step)
    x = mt.tensor(np.ones((2, 3)))
    for _ in range(3):
        c(x)
    assert c.eager_reason is None and c.traces == 1
    assert not (tmp_path / "ran").exists() and not (tmp_path / "ran2").exists()
    for src in (c.source, c.run_source):
        compile(src, "<check>", "exec")
        assert "\nopen(" not in src and "blocks.fc?open('ran', 'w')?#" in src
    ns: dict[str, Any] = {}
    exec(compile(c.source, "<source>", "exec"), ns)  # noqa: S102 - the test's own program
    assert not (tmp_path / "ran").exists()
