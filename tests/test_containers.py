"""ModuleDict, ParameterList, ParameterDict and Sequential(OrderedDict): the dict and list
APIs, children's names, and state dict keys equal to PyTorch's containers'."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import microtensor as mt
import nn


def test_module_dict_api_and_names():
    d = nn.ModuleDict({"enc": nn.Linear(2, 3)})
    d["dec"] = nn.Linear(3, 1)
    d.update([("act", nn.Tanh())])
    assert list(d) == list(d.keys()) == ["enc", "dec", "act"]
    assert len(d) == 3 and "dec" in d and "x" not in d
    assert [k for k, _ in d.items()] == ["enc", "dec", "act"]
    assert [type(m).__name__ for m in d.values()] == ["Linear", "Linear", "Tanh"]
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert d["enc"].weight.name == "enc.weight"
    del d["enc"]
    assert list(d.state_dict()) == ["dec.weight", "dec.bias"]
    assert isinstance(d.pop("act"), nn.Tanh) and len(d) == 1
    with pytest.raises(KeyError, match="ModuleDict: keys must be"):
        d["a.b"] = nn.Tanh()
    with pytest.raises(TypeError, match="ModuleDict: item 0"):
        d.update({"x": 3})
    assert list(d) == ["dec"]  # a refused update adds nothing


def test_module_dict_inside_a_model_keys_match_torch():
    class Ours(nn.Module):
        def __init__(self):
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.BatchNorm1d(2)})

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2),
                                              "b": torch.nn.BatchNorm1d(2)})

    ours, theirs = Ours(), Theirs()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_parameter_list_registers_indexes_and_appends():
    pl = nn.ParameterList([np.ones(2), nn.Parameter(np.zeros(3))])
    pl.append(mt.Tensor(np.ones((2, 2))))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 3
    assert pl[2].shape == (2, 2) and pl[-1] is pl[2]
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)),
                                     torch.nn.Parameter(torch.zeros(3)),
                                     torch.nn.Parameter(torch.ones(2, 2))])
    assert list(pl.state_dict()) == list(theirs.state_dict())

    class M(nn.Module):
        def __init__(self):
            self.ps = nn.ParameterList([np.ones(1)])

        def forward(self):
            return self.ps[0] * 2

    m = M()
    m.ps.append(np.ones(1))
    assert [p.name for p in m.parameters()] == ["ps.0", "ps.1"]
    m().sum().backward()
    assert m.ps[0].grad.data[0] == 2
    pl[0] = np.full(2, 5.0)
    assert isinstance(pl[0], nn.Parameter) and pl[0].data[0] == 5


def test_parameter_dict_api():
    pd = nn.ParameterDict({"w": np.ones(2)})
    pd["b"] = np.zeros(1)
    assert list(pd.state_dict()) == ["w", "b"] and "w" in pd and len(pd) == 2
    assert isinstance(pd["b"], nn.Parameter)
    del pd["w"]
    assert list(pd.keys()) == ["b"]


def test_sequential_from_ordered_dict_names_children_like_torch():
    ours = nn.Sequential(OrderedDict([("conv", nn.Linear(3, 4)), ("bn", nn.BatchNorm1d(4)),
                                      ("act", nn.ReLU())]))
    theirs = torch.nn.Sequential(OrderedDict([("conv", torch.nn.Linear(3, 4)),
                                              ("bn", torch.nn.BatchNorm1d(4)),
                                              ("act", torch.nn.ReLU())]))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_children()] == ["conv", "bn", "act"]
    assert ours.conv is ours[0] and ours.bn.weight.name == "bn.weight"
    assert "(conv): Linear" in repr(ours)
    x = mt.Tensor(np.random.default_rng(0).normal(size=(5, 3)))
    assert ours(x).shape == (5, 4)
    tail = ours[1:]
    assert [n for n, _ in tail.named_children()] == ["bn", "act"]
    ours.append(nn.Tanh())
    assert [n for n, _ in ours.named_children()] == ["conv", "bn", "act", "3"]
    with pytest.raises(AttributeError, match="nope"):
        ours.nope  # noqa: B018
    with pytest.raises(KeyError, match="Sequential: keys must be"):
        nn.Sequential(OrderedDict([("a.b", nn.ReLU())]))


def test_plain_sequential_unchanged():
    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    assert [n for n, _ in s.named_children()] == ["0", "1"]
    s.append(nn.Linear(2, 1))
    assert list(s.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
