"""nn.Module, Parameter, Sequential, ModuleList and the layers: discovery, names, scopes,
state dicts, modes, hooks, dtypes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microtensor as mt
import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid())
        self.block = Block()
        self.scale = nn.Parameter(np.ones(2))
        self.heads = [nn.Linear(2, 1), nn.Linear(2, 1, bias=False)]
        self.extra = {"a": nn.Parameter(np.zeros(1))}

    def forward(self, x):
        h = self.block(self.net(x)) * self.scale
        return self.heads[0](h) + self.heads[1](h) + self.extra["a"]


EXPECTED = [
    "net.0.weight", "net.0.bias", "block.fc1.weight", "block.fc1.bias", "block.fc2.weight",
    "scale", "heads.0.weight", "heads.0.bias", "heads.1.weight", "extra.a",
]


def test_module_discovery_order_and_dotted_names():
    m = Model()
    assert [n for n, _ in m.named_parameters()] == EXPECTED
    assert [p.name for p in m.parameters()] == EXPECTED
    assert list(m.state_dict()) == EXPECTED


def test_module_named_modules_depth_first_with_full_names():
    m = Model()
    names = [n for n, _ in m.named_modules()]
    assert names == ["", "net", "net.0", "net.1", "block", "block.fc1", "block.act",
                     "block.fc2", "heads.0", "heads.1"]
    assert all(sub.full_name == n for n, sub in m.named_modules())
    assert [type(c).__name__ for c in m.children()] == ["Sequential", "Block", "Linear", "Linear"]
    assert len(list(m.modules())) == 10


def test_parameter_names_reprefixed_when_attached_later():
    lin = nn.Linear(2, 2)
    assert lin.weight.name == "weight"
    seq = nn.Sequential(lin)
    assert lin.weight.name == "0.weight"
    outer = nn.Module()
    outer.net = seq
    assert lin.weight.name == "net.0.weight" and lin.full_name == "net.0"
    seq.append(nn.Linear(2, 1))
    assert seq[1].bias.name == "net.1.bias"


def test_module_plain_list_growing_after_assignment_is_found_and_named():
    class Grow(nn.Module):
        def __init__(self):
            self.layers = []
            for _ in range(2):
                self.layers.append(nn.Linear(2, 2))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    g = Grow()
    assert [n for n, _ in g.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    g2 = Grow()
    g2(mt.ones(1, 2))  # the outermost call refreshes names too
    assert g2.layers[1].weight.name == "layers.1.weight"


def test_module_call_records_scope_outermost_first():
    m = Model()
    out = m(mt.ones(5, 2))
    assert out.grad_fn._scope == (m,)
    node = m.block.fc1(m.net(mt.ones(1, 2))).grad_fn
    assert node._scope == (m.block.fc1,)
    seen = set()

    def walk(node):
        stack = [node]
        while stack:
            n = stack.pop()
            if n is None or id(n) in seen or not hasattr(n, "_edges"):
                continue
            seen.add(id(n))
            yield n
            stack.extend(e for e in n._edges if e is not None)

    scopes = {tuple(s.full_name for s in n._scope) for n in walk(out.grad_fn)}
    assert ("", "block", "block.fc1") in scopes
    assert ("", "net", "net.1") in scopes


def test_module_shared_parameter_listed_once():
    m = nn.Module()
    lin = nn.Linear(2, 2)
    m.a = lin
    m.b = lin
    assert len(list(m.parameters())) == 2
    assert m.num_parameters() == 6


def test_module_without_super_init_works():
    class Bare(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)

        def forward(self, x):
            return self.lin(x)

    b = Bare()
    assert b.training and [n for n, _ in b.named_parameters()] == ["lin.weight", "lin.bias"]
    assert b(mt.ones(2, 1)).shape == (2, 1)


def test_module_repr_shows_tree_and_parameter_count():
    seq = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1))
    text = repr(seq)
    assert text.startswith("Sequential(\n  (0): Linear(in_features=3, out_features=4, bias=True)")
    assert "(1): Sigmoid()" in text and text.endswith(")  # 21 parameters")
    assert seq.num_parameters() == 21
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2)"


def test_sequential_indexing_len_iteration_append_slice():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    assert list(seq) == layers
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    assert layers[0].weight.name == "0.weight"  # slicing does not rename the shared layers
    x = mt.randn(4, 2)
    np.testing.assert_allclose(seq(x).data, layers[2](head(x)).data)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    with pytest.raises(TypeError, match="item 0"):
        nn.Sequential(lambda x: x)


def test_modulelist_registers_children():
    m = nn.Module()
    m.blocks = nn.ModuleList([nn.Linear(1, 1) for _ in range(2)])
    m.blocks.append(nn.Linear(1, 2))
    assert [n for n, _ in m.named_parameters()][-2:] == ["blocks.2.weight", "blocks.2.bias"]


@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.integers(0, 2**32 - 1))
def test_state_dict_round_trip_bit_exact(widths, seed):
    mt.manual_seed(seed)
    layers = [nn.Linear(a, b) for a, b in zip(widths, widths[1:])]
    src, dst = nn.Sequential(*layers), nn.Sequential(*[nn.Linear(a, b)
                                                      for a, b in zip(widths, widths[1:])])
    state = src.state_dict()
    assert all(v is not p.data for v, p in zip(state.values(), src.parameters()))
    dst.load_state_dict(state)
    for (n1, a), (n2, b) in zip(src.named_parameters(), dst.named_parameters()):
        assert n1 == n2 and a.data.tobytes() == b.data.tobytes()
    state[next(iter(state))][...] = 7.0  # a copy: the model is untouched
    assert not np.any(src[0].weight.data == 7.0) or widths[0] * widths[1] == 0


def test_load_state_dict_strict_errors_list_all_and_load_nothing():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = {k: v.copy() for k, v in m.state_dict().items()}
    bad = {k: np.full_like(v, 9.0) for k, v in before.items()}
    bad["0.weight"] = np.zeros((3, 2))
    bad["1.bias"] = np.zeros(1, dtype=np.float32)
    del bad["1.weight"]
    bad["2.weight"] = np.zeros(1)
    with pytest.raises(ValueError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    for part in ("0.weight: shape (3, 2)", "1.bias: dtype float32", "missing key: 1.weight",
                 "unexpected key: 2.weight", "nothing was loaded"):
        assert part in msg
    for k, v in m.state_dict().items():
        assert v.tobytes() == before[k].tobytes()


def test_load_state_dict_non_strict_skips_and_reports():
    m = nn.Sequential(nn.Linear(2, 3))
    result = m.load_state_dict({"0.bias": np.ones(3, dtype=np.float32), "x": np.ones(1)},
                               strict=False)
    assert result.missing_keys == ["0.weight"] and result.unexpected_keys == ["x"]
    assert m[0].bias.dtype == np.float64 and np.all(m[0].bias.data == 1)
    with pytest.raises(ValueError, match="shape"):
        m.load_state_dict({"0.bias": np.ones(4)}, strict=False)


def test_zero_grad_sets_none_and_train_eval_propagate():
    m = Model()
    m(mt.ones(3, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.eval()
    assert not any(sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())


def test_forward_hooks_see_output_and_can_be_removed():
    lin = nn.Linear(2, 2)
    calls = []
    handle = lin.register_forward_hook(lambda mod, inp, out: calls.append((mod, out.shape)))
    pre = lin.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,))
    out = lin(mt.ones(3, 2))
    assert calls == [(lin, (3, 2))]
    np.testing.assert_allclose(out.data, np.broadcast_to(lin.bias.data, (3, 2)))
    handle.remove()
    pre.remove()
    lin(mt.ones(1, 2))
    assert len(calls) == 1


def test_parameter_copies_data_and_is_float():
    arr = np.arange(3)
    p = nn.Parameter(arr)
    assert p.dtype == np.float64 and p.requires_grad and p.is_leaf
    p.data[0] = 5
    assert arr[0] == 0
    assert nn.Parameter(np.ones(2, dtype=np.float32)).dtype == np.float32
    with pytest.raises(TypeError):
        nn.Parameter(np.array(["a"]))


def test_linear_init_bounds_and_reproducible():
    mt.manual_seed(3)
    a = nn.Linear(16, 5)
    mt.manual_seed(3)
    b = nn.Linear(16, 5)
    assert a.weight.shape == (16, 5) and a.bias.shape == (5,)
    assert np.abs(a.weight.data).max() <= 0.25 and np.abs(a.bias.data).max() <= 0.25
    assert a.weight.data.tobytes() == b.weight.data.tobytes()
    assert a.bias.data.tobytes() == b.bias.data.tobytes()
    with pytest.raises(ValueError, match="positive"):
        nn.Linear(0, 3)


def test_float32_model_stays_float32_forward_backward_step():
    mt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float32), nn.Tanh(),
                          nn.Linear(4, 3, dtype=np.float32))
    x = mt.Tensor(np.ones((5, 3), dtype=np.float32))
    for loss_fn, target in ((nn.CrossEntropyLoss(), [0, 1, 2, 0, 1]),
                            (nn.MSELoss(), np.zeros((5, 3))),
                            (nn.BCEWithLogitsLoss(), np.zeros((5, 3)))):
        for opt in (nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1),
                    nn.optim.Adam(model.parameters()), nn.optim.AdamW(model.parameters())):
            out = model(x)
            loss = loss_fn(out, target)
            assert out.dtype == np.float32 and loss.dtype == np.float32
            opt.zero_grad()
            loss.backward()
            assert all(p.grad.dtype == np.float32 for p in model.parameters())
            opt.step()
            opt.step()
            assert all(p.dtype == np.float32 for p in model.parameters())


def test_module_to_casts_parameters():
    m = nn.Linear(2, 2).to(np.float32)
    assert m.weight.dtype == np.float32 and m(mt.Tensor(np.ones((1, 2), np.float32))).dtype == (
        np.float32)
    with pytest.raises(TypeError):
        m.to(np.int64)


@pytest.mark.parametrize(
    ("layer", "fn"),
    [(nn.Sigmoid(), lambda a: 1 / (1 + np.exp(-a))), (nn.Tanh(), np.tanh),
     (nn.ReLU(), lambda a: np.maximum(a, 0)),
     (nn.LeakyReLU(0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
     (nn.Softmax(), lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
     (nn.LogSoftmax(), lambda a: a - np.log(np.exp(a).sum(-1, keepdims=True))),
     (nn.Identity(), lambda a: a)],
)
def test_activation_layers_match_numpy_and_gradcheck(layer, fn):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4)) + 0.1  # away from relu's kink
    x = mt.Tensor(a, requires_grad=True)
    np.testing.assert_allclose(layer(x).data, fn(a), rtol=1e-12, atol=1e-12)
    assert mt.gradcheck(layer, [x])


def test_dropout_train_scales_and_eval_is_identity():
    drop = nn.Dropout(0.25)
    x = mt.ones(200, 50)
    mt.manual_seed(1)
    y = drop(x).data
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.03
    mt.manual_seed(1)
    assert drop(x).data.tobytes() == y.tobytes()
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(1.0)(x).data.sum() == 0
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_dropout_gradient_is_the_mask():
    drop = nn.Dropout(0.5)
    x = mt.ones(10, 10, requires_grad=True)
    y = drop(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)


def test_requires_grad_freezes_parameters():
    m = nn.Linear(2, 2).requires_grad_(False)
    assert m.num_parameters(trainable_only=True) == 0 and m.num_parameters() == 6


trees = st.recursive(st.just("p"), lambda kids: st.lists(kids, min_size=1, max_size=3),
                     max_leaves=12)


def _build(spec):
    """A module tree from a nested list spec ("p" = a parameter), and the expected names."""
    m, names = nn.Module(), []
    for i, item in enumerate(spec):
        key = f"a{i}"
        if item == "p":
            setattr(m, key, nn.Parameter(np.full(1, float(i))))
            names.append(key)
        else:
            sub, sub_names = _build(item)
            setattr(m, key, sub)
            names += [f"{key}.{n}" for n in sub_names]
    return m, names


@given(trees.filter(lambda t: isinstance(t, list)))
def test_module_discovery_matches_assignment_order_for_random_trees(spec):
    root, expected = _build(spec)
    assert [n for n, _ in root.named_parameters()] == expected
    assert [p.name for p in root.parameters()] == expected
    assert list(root.state_dict()) == expected


def test_linear_gradcheck_and_matches_numpy():
    mt.manual_seed(0)
    lin = nn.Linear(3, 2)
    x = mt.Tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True)
    expected = x.data @ lin.weight.data + lin.bias.data
    np.testing.assert_allclose(lin(x).data, expected, rtol=1e-14)
    assert mt.gradcheck(nn.functional.linear, [x, lin.weight, lin.bias])
    assert mt.gradgradcheck(lambda a: nn.Sequential(lin, nn.Tanh())(a).sum(), [x])


# ---------------------------------------------------------------------- buffers
class Stats(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(2, 2)
        self.register_buffer("mean", np.zeros(2))
        self.register_buffer("count", np.array(0, dtype=np.int64))
        self.register_buffer("scratch", np.ones(3), persistent=False)
        self.register_buffer("unused", None)


def test_module_buffers_listed_saved_and_loaded_like_torch():
    import torch

    class TStats(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
            self.register_buffer("mean", torch.zeros(2))
            self.register_buffer("count", torch.tensor(0))
            self.register_buffer("scratch", torch.ones(3), persistent=False)
            self.register_buffer("unused", None)

    m = nn.Sequential(Stats(), nn.Linear(2, 1))
    t = torch.nn.Sequential(TStats(), torch.nn.Linear(2, 1))
    assert list(m.state_dict()) == list(t.state_dict())
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert len(list(m.buffers())) == 3 and len(list(m[0].buffers(recurse=False))) == 3
    assert isinstance(m[0].mean, mt.Tensor) and not m[0].mean.requires_grad
    sd = m.state_dict()
    sd["0.mean"] = np.array([1.0, 2.0])
    sd["0.count"] = np.array(5)
    m.load_state_dict(sd)
    assert m[0].mean.data.tolist() == [1.0, 2.0] and int(m[0].count.data) == 5
    assert "buffer" not in repr(m) and repr(nn.Linear(2, 2)).startswith("Linear(")


def test_module_buffer_load_errors_change_nothing():
    m = Stats()
    bad = m.state_dict()
    bad["mean"] = np.ones(3)
    bad["fc.bias"] = np.full(2, 7.0)
    with pytest.raises(ValueError, match=r"mean: shape \(3,\) in the dict, \(2,\) in the model"):
        m.load_state_dict(bad)
    assert not (m.fc.bias.data == 7).any()
    del bad["mean"]
    with pytest.raises(ValueError, match="missing key: mean"):
        m.load_state_dict(bad)
    assert m.load_state_dict(bad, strict=False).missing_keys == ["mean"]


def test_module_to_casts_float_buffers_keeps_integer_ones():
    m = Stats().float()
    assert m.mean.dtype == np.float32 and m.scratch.dtype == np.float32
    assert m.count.dtype == np.int64 and m.fc.weight.dtype == np.float32
    m.double()
    assert m.mean.dtype == np.float64


def test_module_buffer_assignment_and_registration_errors():
    m = Stats()
    m.mean = np.array([3.0, 4.0])  # assigning a registered buffer keeps it a buffer
    assert isinstance(m.mean, mt.Tensor) and m.state_dict()["mean"].tolist() == [3.0, 4.0]
    m.unused = np.ones(1)
    assert "unused" in m.state_dict()
    with pytest.raises(TypeError, match="buffer 'mean' must be an array"):
        m.mean = "x"
    with pytest.raises(KeyError, match="attribute 'fc' already exists"):
        m.register_buffer("fc", np.ones(1))
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", np.ones(1))
    del m.mean
    assert "mean" not in m.state_dict()


def test_module_buffers_round_trip_through_save_and_load(tmp_path):
    m = Stats()
    m.mean.data[...] = [5.0, 6.0]
    m.count.data[...] = 3
    nn.save(m, tmp_path / "s.safetensors")
    other = Stats()
    other.load(tmp_path / "s.safetensors")
    assert other.mean.data.tolist() == [5.0, 6.0] and int(other.count.data) == 3
    np.testing.assert_array_equal(other.fc.weight.data, m.fc.weight.data)
