"""The training loop, its callbacks, losses and checkpoints."""

from codings.training.callbacks import (
    Callback,
    DivergenceGuard,
    EarlyStopping,
    LRSchedule,
    TrainingDivergedWarning,
)
from codings.training.loop import (
    LR_SCHEDULES,
    OPTIMIZERS,
    AuxiliaryStep,
    ReconstructionObjective,
    Trainer,
    TrainingResult,
    evaluate,
)
from codings.training.losses import LOSSES, reconstruction_error
from codings.training.monitoring import ProgressBar, TensorBoard

__all__ = ["LOSSES", "LR_SCHEDULES", "OPTIMIZERS", "AuxiliaryStep", "Callback",
           "DivergenceGuard", "EarlyStopping", "LRSchedule", "ProgressBar",
           "ReconstructionObjective", "TensorBoard", "Trainer", "TrainingDivergedWarning",
           "TrainingResult", "evaluate", "reconstruction_error"]
