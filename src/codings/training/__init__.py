"""The training loop, its configuration, losses and callbacks."""

from codings.training.callbacks import Callback, ProgressBar
from codings.training.loop import (
    LR_SCHEDULES,
    OPTIMIZERS,
    Trainer,
    TrainingConfig,
    TrainingDivergedWarning,
    TrainingResult,
    evaluate,
)
from codings.training.losses import LOSSES, reconstruction_error

__all__ = ["LOSSES", "LR_SCHEDULES", "OPTIMIZERS", "Callback", "ProgressBar", "Trainer",
           "TrainingConfig", "TrainingDivergedWarning", "TrainingResult", "evaluate",
           "reconstruction_error"]
