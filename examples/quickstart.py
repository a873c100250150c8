"""Fit a two-layer sigmoid network to XOR with nothing but microtensor's core.

Run: python examples/quickstart.py
"""

import numpy as np

import microtensor as mt

mt.manual_seed(0)
X = mt.tensor([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
y = mt.tensor([[0], [1], [1], [0]])
w1 = mt.rand(3, 4, requires_grad=True)
w2 = mt.rand(4, 1, requires_grad=True)

for step in range(1500):
    output = (X @ w1).sigmoid() @ w2
    loss = ((y - output.sigmoid()) ** 2).sum()
    w1.grad = w2.grad = None
    loss.backward()
    with mt.no_grad():
        w1.data -= w1.grad.data
        w2.data -= w2.grad.data
    if step % 300 == 0 or step == 1499:
        print(f"step {step:4d}  loss {loss.item():.5f}")

predicted = ((X @ w1).sigmoid() @ w2).sigmoid()
for p, a in zip(predicted.numpy().ravel(), y.numpy().ravel()):
    print(f"predicted {p:.3f}  actual {a:.0f}")
assert np.all((predicted.numpy() > 0.5) == (y.numpy() > 0.5))
