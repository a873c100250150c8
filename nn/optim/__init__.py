"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) and learning-rate schedules, PyTorch's
update equations.

    opt = nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = nn.optim.StepLR(opt, step_size=100, gamma=0.5)
    for _ in range(n):
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step(); sched.step()
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)
from .optimizer import Optimizer
from .rmsprop import Adagrad, RMSprop
from .sgd import SGD

__all__ = [
    "SGD", "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler",
    "LambdaLR", "OneCycleLR", "Optimizer", "RMSprop", "ReduceLROnPlateau", "StepLR",
    "lr_scheduler",
]
