"""The three examples of issue 17 run: their --quick runs finish in seconds, print a falling
loss, write their pictures, and repeat exactly under the same seed; the shipped names list and
the examples' data helpers are what they say."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

pytest.importorskip("matplotlib")


def run_example(name: str, out: Path, *args: str) -> str:
    """Run examples/`name` with --out `out` and `args`; its stdout, after checking it succeeded."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    # one BLAS thread: these matrices are small, and threads only add overhead and contention
    env = {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--out", str(out), *args],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def load_example(name: str) -> ModuleType:
    """Import examples/`name` as a module (it only runs when called as a script)."""
    spec = importlib.util.spec_from_file_location(f"example_{Path(name).stem}", EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_pictures(out: Path, *names: str) -> None:
    for name in names:
        path = out / name
        assert path.is_file() and path.stat().st_size > 1000, f"{name} was not written"


@pytest.mark.slow  # about 5 s of CPU time, mostly imports and pictures
def test_digits_cnn_quick_run_learns_and_draws(tmp_path):
    text = run_example("digits_cnn.py", tmp_path, "--quick")
    assert "Total params: 13,706" in text  # nn.summary's table is printed
    rows = re.findall(r"^epoch +\d+ +train loss ([0-9.]+) +test loss ([0-9.]+) +train acc +"
                      r"([0-9.]+)% +test acc +([0-9.]+)%", text, flags=re.MULTILINE)
    train_loss, test_loss, _, test_acc = (np.array(col, dtype=float) for col in zip(*rows))
    assert len(rows) == 3
    assert np.all(np.diff(train_loss) < 0) and np.all(np.diff(test_loss) < 0)
    assert test_acc[-1] > max(test_acc[0], 20.0)  # climbing, twice chance after 3 short epochs
    assert_pictures(tmp_path, "digits_curves.png", "digits_predictions.png",
                    "digits_filters.png")
    drawn = next(tmp_path.glob("digits_forward.*"))  # .svg, or .dot without Graphviz
    source = drawn.read_text()
    for cluster in ("0: Conv2d", "2: MaxPool2d", "6: Flatten", "9: Linear"):
        assert cluster in source  # each layer a labelled cluster ...
    assert "(1, 16, 8, 8)" in source and "(1, 32, 2, 2)" in source  # ... with its shape


def test_char_rnn_quick_run_learns_and_samples(tmp_path):
    text = run_example("char_rnn.py", tmp_path, "--quick")
    losses = [tuple(map(float, r)) for r in re.findall(
        r"^epoch +\d+ +train loss ([0-9.]+) +held-out loss ([0-9.]+)", text, flags=re.MULTILINE)]
    assert len(losses) == 2
    assert losses[1][0] < losses[0][0] < np.log(27) and losses[1][1] < losses[0][1]
    samples = re.findall(r"^  samples: (.*)$", text, flags=re.MULTILINE)
    assert samples and all(re.fullmatch(r"[a-z ]+", s) for s in samples)
    assert_pictures(tmp_path, "char_rnn_loss.png")


@pytest.mark.slow  # about 5 s of CPU time, mostly imports and pictures
def test_attention_sort_quick_run_learns_and_draws(tmp_path):
    text = run_example("attention_sort.py", tmp_path, "--quick")
    rows = [tuple(map(float, r)) for r in re.findall(
        r"^step +\d+ +loss ([0-9.]+) +held-out accuracy: per token +([0-9.]+)%", text,
        flags=re.MULTILINE)]
    assert len(rows) >= 3
    assert rows[-1][0] < 0.8 * rows[0][0]  # the loss falls ...
    assert rows[-1][1] > rows[0][1] + 20  # ... and the accuracy climbs (chance: 10%)
    assert_pictures(tmp_path, "attention_sort_accuracy.png", "attention_sort_weights.png")


@pytest.mark.slow
def test_attention_reverse_runs_repeat_exactly_under_a_seed(tmp_path):
    def run(folder: str) -> list[str]:
        text = run_example("attention_sort.py", tmp_path / folder, "--task", "reverse",
                           "--steps", "6")
        return [re.sub(r"\([0-9.]+ s\)|, [0-9.]+ s$", "", line) for line in text.splitlines()
                if line.startswith(("step", "reverse:"))]

    first = run("a")
    assert len(first) == 7 and first == run("b")
    assert_pictures(tmp_path / "a", "attention_reverse_weights.png")


def test_names_list_is_a_clean_list_of_common_names():
    lines = (ROOT / "nn" / "datafiles" / "names.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ")  # says what it is
    names = [line for line in lines if not line.startswith("#")]
    assert len(names) >= 1000 and len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z]+", n) for n in names)
    assert {"emma", "james", "olivia", "william", "mary", "john"} <= set(names)
    assert load_example("char_rnn.py").read_names() == names  # read as package data


def test_char_rnn_encoding_shifts_by_one_and_masks_padding():
    char_rnn = load_example("char_rnn.py")
    x, y = char_rnn.encode(["ab", "abcd"])
    a, b, c, d = (char_rnn.ALPHABET.index(ch) for ch in "abcd")
    ignore = char_rnn.IGNORE
    np.testing.assert_array_equal(x, [[0, a, b, 0, 0], [0, a, b, c, d]])
    np.testing.assert_array_equal(y, [[a, b, 0, ignore, ignore], [a, b, c, d, 0]])


def test_attention_sort_batches_are_sorted_or_reversed():
    example = load_example("attention_sort.py")
    x, y = example.make_batch(np.random.default_rng(0), 50, "sort")
    assert x.shape == y.shape == (50, example.LENGTH)
    np.testing.assert_array_equal(y, np.sort(x, axis=1))
    x, y = example.make_batch(np.random.default_rng(0), 50, "reverse")
    np.testing.assert_array_equal(y, x[:, ::-1])


def torch_twin(model, build):
    """A torch module from `build(torch)` holding `model`'s weights (nn.Linear's (in, out)
    weights transposed to torch's (out, in)), in float64 and eval mode."""
    torch = pytest.importorskip("torch")
    import nn

    twin = build(torch).double().eval()
    linears = {name for name, m in model.named_modules() if type(m) is nn.Linear}
    state = {}
    for key, value in model.state_dict().items():
        array = np.asarray(getattr(value, "data", value))
        owner = key.rpartition(".")[0]
        state[key] = torch.tensor(array.T.copy() if owner in linears and key.endswith(
            "weight") else array)
    twin.load_state_dict(state, strict=True)
    return torch, twin


def assert_same_training_step(model, twin, torch, x, y, vocab):
    """The same cross-entropy and the same gradient for every parameter, in float64."""
    import microtensor as mt
    import nn

    model.eval()
    logits = model(mt.tensor(x))
    logits = logits[0] if isinstance(logits, tuple) else logits
    loss = nn.CrossEntropyLoss()(logits.reshape(-1, vocab), mt.tensor(y.reshape(-1)))
    model.zero_grad()
    loss.backward()
    t_logits = twin(torch.tensor(x))
    t_logits = t_logits[0] if isinstance(t_logits, tuple) else t_logits
    t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, vocab),
                                               torch.tensor(y.reshape(-1)))
    t_loss.backward()
    np.testing.assert_allclose(logits.numpy(), t_logits.detach().numpy(), rtol=1e-9, atol=1e-10)
    grads = dict(twin.named_parameters())
    linears = {name for name, m in model.named_modules() if type(m) is nn.Linear}
    for name, p in model.named_parameters():
        expected = grads[name].grad.numpy()
        if name.rpartition(".")[0] in linears and name.endswith("weight"):
            expected = expected.T
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-8, atol=1e-10,
                                   err_msg=name)


def test_examples_models_match_torch_with_the_same_weights():
    """The three examples' models, as built there, against the same networks in PyTorch."""
    import microtensor as mt

    mt.manual_seed(0)
    rng = np.random.default_rng(0)

    digits = load_example("digits_cnn.py")
    model = digits.make_model()
    torch, twin = torch_twin(model, lambda torch: torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)))
    assert_same_training_step(model, twin, torch, rng.random((5, 1, 8, 8)),
                              rng.integers(0, 10, 5), 10)

    char_rnn = load_example("char_rnn.py")
    model = char_rnn.CharRNN(27)

    class TorchCharRNN(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(27, 16)
            self.gru = torch.nn.GRU(16, 64, batch_first=True)
            self.drop = torch.nn.Dropout(0.3)
            self.head = torch.nn.Linear(64, 27)

        def forward(self, codes):
            out, h = self.gru(self.embed(codes))
            return self.head(self.drop(out)), h

    _, twin = torch_twin(model, lambda torch: TorchCharRNN())
    x, y = char_rnn.encode(["emma", "ola", "christopher"])
    y = np.where(y == char_rnn.IGNORE, 0, y)  # torch's ignore_index is checked elsewhere
    assert_same_training_step(model, twin, torch, x, y, 27)

    example = load_example("attention_sort.py")
    model = example.AttentionBlock()

    class TorchBlock(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.token = torch.nn.Embedding(example.VOCAB, 64)
            self.position = torch.nn.Embedding(example.LENGTH, 64)
            self.attention = torch.nn.MultiheadAttention(64, 4, batch_first=True)
            self.norm1 = torch.nn.LayerNorm(64)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                           torch.nn.Linear(128, 64))
            self.norm2 = torch.nn.LayerNorm(64)
            self.classify = torch.nn.Linear(64, example.VOCAB)

        def forward(self, x):
            h = self.token(x) + self.position(torch.arange(x.shape[1]))
            a, _ = self.attention(h, h, h, need_weights=False)
            h = self.norm1(h + a)
            return self.classify(self.norm2(h + self.mlp(h)))

    _, twin = torch_twin(model, lambda torch: TorchBlock())
    x, y = example.make_batch(rng, 6, "sort")
    assert_same_training_step(model, twin, torch, x, y, example.VOCAB)
