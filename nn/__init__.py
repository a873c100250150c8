"""nn: models on top of microtensor: modules, layers, losses, optimizers, init and io.

    import microtensor as mt
    import nn
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    loss = nn.MSELoss(reduction="sum")(model(x), y)
"""

from . import functional, init, optim, utils  # noqa: I001
from .io import load, load_metadata, save
from .activations import (
    CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, ReLU6, SiLU,
    Softmin, Softplus, Softsign, Tanhshrink,
)
from .layers import (
    AlphaDropout, Dropout, Dropout1d, Dropout2d, Identity, LeakyReLU, Linear, LogSoftmax, ReLU,
    Sigmoid, Softmax, Tanh,
)
from .losses import (
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
    MSELoss, NLLLoss, SmoothL1Loss,
)
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .module import IncompatibleKeys, Module, Parameter

__all__ = [
    "CELU", "ELU", "GELU", "GLU", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish",
    "ReLU6", "SELU", "SiLU", "Softmin", "Softplus", "Softsign", "Tanhshrink",
    "BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "HuberLoss",
    "KLDivLoss", "SmoothL1Loss", "Dropout", "Identity",
    "AlphaDropout", "Dropout1d", "Dropout2d", "ModuleDict", "ParameterDict", "ParameterList",
    "IncompatibleKeys", "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module",
    "ModuleList", "NLLLoss", "NeuralNetwork", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "Tanh", "datasets", "functional", "init", "load", "load_metadata", "manual",
    "optim", "save", "study", "summary", "utils",
]

# the layer families of issue 17, one file each; their names join __all__ as they are written
from . import attention, conv, data, normalization, pooling, rnn, sparse  # noqa: E402
from .attention import *  # noqa: E402, F403
from .conv import *  # noqa: E402, F403
from .normalization import *  # noqa: E402, F403
from .pooling import *  # noqa: E402, F403
from .rnn import *  # noqa: E402, F403
from .sparse import *  # noqa: E402, F403

__all__ += [name for family in (conv, pooling, normalization, sparse, rnn, attention)
            for name in family.__all__] + ["data"]

from . import datasets, manual, study  # noqa: E402  (they build on the layers above)
from .estimator import NeuralNetwork  # noqa: E402
from .summary import summary  # noqa: E402
