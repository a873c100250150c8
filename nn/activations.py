"""The activations of nn.functional as modules, with PyTorch's names and arguments.

Each module holds its arguments and calls the function of the same name in nn.functional.
`inplace=True` (PyTorch's memory saver) is accepted so PyTorch code runs unchanged, but the
result is always a new tensor: the input is never modified.
"""

from __future__ import annotations

from microtensor import Tensor

from . import functional as F
from .module import Module

__all__ = [
    "CELU", "ELU", "GELU", "GLU", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish",
    "ReLU6", "SELU", "SiLU", "Softmin", "Softplus", "Softsign", "Tanhshrink",
]


class _Inplace(Module):
    """An activation module with PyTorch's `inplace` flag (recorded, not acted on)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """x * Phi(x) (Phi the standard normal CDF); approximate="tanh" uses the tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """gelu(x, approximate)."""
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Inplace):
    """x * sigmoid(x) (swish)."""

    def forward(self, x: Tensor) -> Tensor:
        """silu(x)."""
        return F.silu(x)


class ELU(_Inplace):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        """elu(x, alpha)."""
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"alpha={self.alpha}", super().extra_repr()]))


class SELU(_Inplace):
    """scale * elu(x, alpha) with the self-normalizing constants."""

    def forward(self, x: Tensor) -> Tensor:
        """selu(x)."""
        return F.selu(x)


class CELU(_Inplace):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        """celu(x, alpha)."""
        return F.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"alpha={self.alpha}", super().extra_repr()]))


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, x itself where beta * x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        """softplus(x, beta, threshold)."""
        if self.beta == 1 and self.threshold == 20:
            return F.softplus(x)
        return F.softplus(x, beta=self.beta, threshold=self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """log(sigmoid(x)), stable for any x."""

    def forward(self, x: Tensor) -> Tensor:
        """logsigmoid(x)."""
        return F.logsigmoid(x)


class Hardtanh(_Inplace):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0,
                 inplace: bool = False) -> None:
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val "
                             f"({max_val})")
        super().__init__(inplace)
        self.min_val = min_val
        self.max_val = max_val

    def forward(self, x: Tensor) -> Tensor:
        """hardtanh(x, min_val, max_val)."""
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        bounds = f"min_val={self.min_val}, max_val={self.max_val}"
        return ", ".join(filter(None, [bounds, super().extra_repr()]))


class ReLU6(_Inplace):
    """min(max(x, 0), 6)."""

    def forward(self, x: Tensor) -> Tensor:
        """relu6(x)."""
        return F.relu6(x)


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6."""

    def forward(self, x: Tensor) -> Tensor:
        """hardsigmoid(x)."""
        return F.hardsigmoid(x)


class Hardswish(_Inplace):
    """x * relu6(x + 3) / 6."""

    def forward(self, x: Tensor) -> Tensor:
        """hardswish(x)."""
        return F.hardswish(x)


class Mish(_Inplace):
    """x * tanh(softplus(x))."""

    def forward(self, x: Tensor) -> Tensor:
        """mish(x)."""
        return F.mish(x)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, x: Tensor) -> Tensor:
        """softsign(x)."""
        return F.softsign(x)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        """tanhshrink(x)."""
        return F.tanhshrink(x)


class GLU(Module):
    """a * sigmoid(b), a and b the two halves of x along `dim`."""

    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """glu(x, dim)."""
        return F.glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along `dim` (default the last axis)."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """softmin(x, dim)."""
        return F.softmin(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
