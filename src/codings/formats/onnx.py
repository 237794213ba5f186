"""ONNX export: the encoder and the decoder of a fitted autoencoder, one file each.

``encoder.onnx`` maps ``x`` (batch, n_features) to ``z`` (batch, n_components) exactly as
``transform`` does (the mean coding for a variational model); ``decoder.onnx`` maps ``z`` to
``x_hat`` exactly as ``inverse_transform`` does (with the sigmoid when ``loss="bce"``). A model
fitted on image arrays takes and returns images of the fitted shape. The batch dimension is
dynamic and named ``batch``; the weights live inside each file (no ``.data`` side file), and
the computation is float32. For a :class:`~codings.ScaledAutoEncoder` (a model trained with
input scaling) the encoder takes raw rows and the decoder returns raw units: the fitted
scalers are part of the graphs, so the files compute what ``codings encode`` and ``codings
decode`` write.

The export runs ``torch.onnx.export(..., dynamo=True)``, which needs the ``onnx`` and
``onnxscript`` packages (the ``onnx`` extra, which adds ``onnxruntime`` to run the
files).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from sklearn.utils.validation import check_is_fitted
from torch import Tensor, nn

from codings._install import install_hint
from codings.exceptions import InvalidInputError
from codings.formats.container import atomic_write_bytes
from codings.formats.pipeline import unwrap
from codings.formats.scalers import check_storable

_EXAMPLE_BATCH = 2  # not 0 or 1, which torch.export would specialise as constants
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


_OPS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "sub": torch.sub, "add": torch.add, "mul": torch.mul, "div": torch.div}


class ScalerGraph(nn.Module):
    """A fitted scikit-learn scaler (or its inverse) as float32 tensor arithmetic, in the
    order of operations scikit-learn uses."""

    def __init__(self, step: Any, inverse: bool) -> None:
        super().__init__()
        kind = type(step).__name__
        self.ops: list[tuple[str, Tensor]] = []
        if kind == "StandardScaler":
            shift = [("sub", step.mean_)] if step.with_mean else []
            scale = [("div", step.scale_)] if step.with_std else []
            forward = shift + scale
            backward = [("mul", step.scale_)] * bool(scale) + [("add", step.mean_)] * bool(
                shift)
        elif kind == "MinMaxScaler":
            forward = [("mul", step.scale_), ("add", step.min_)]
            backward = [("sub", step.min_), ("div", step.scale_)]
        else:  # MaxAbsScaler
            forward, backward = [("div", step.scale_)], [("mul", step.scale_)]
        self.ops = [(op, torch.as_tensor(value, dtype=torch.float32))
                    for op, value in (backward if inverse else forward)]
        clip = getattr(step, "clip", False) and not inverse
        self.clip = (tuple(float(v) for v in step.feature_range) if kind == "MinMaxScaler"
                     else (-1.0, 1.0)) if clip else None

    def forward(self, x: Tensor) -> Tensor:
        for op, value in self.ops:
            x = _OPS[op](x, value)
        if self.clip is not None:
            x = x.clamp(self.clip[0], self.clip[1])
        return x


class EncoderGraph(nn.Module):
    """``x -> scalers -> module.encode(x).z`` in eval mode: what ``transform`` computes on
    raw rows (what ``codings encode`` computes)."""

    def __init__(self, module: Any, input_shape: tuple[int, ...] | None,
                 scalers: Sequence[Any] = ()) -> None:
        super().__init__()
        self.module = module
        self.input_shape = input_shape
        self.scalers = nn.ModuleList(ScalerGraph(step, inverse=False) for step in scalers)

    def forward(self, x: Tensor) -> Tensor:
        if self.input_shape is not None:
            x = x.flatten(1)
        for scaler in self.scalers:
            x = scaler(x)
        return self.module.encode(x).z


class DecoderGraph(nn.Module):
    """``z -> module.decode(z)``, the output transform, then the scalers' inverses: what
    ``inverse_transform`` returns in raw units."""

    def __init__(self, module: Any, sigmoid: bool,
                 output_shape: tuple[int, ...] | None, scalers: Sequence[Any] = ()) -> None:
        super().__init__()
        self.module = module
        self.sigmoid = sigmoid
        self.output_shape = output_shape
        self.scalers = nn.ModuleList(ScalerGraph(step, inverse=True)
                                     for step in reversed(scalers))

    def forward(self, z: Tensor) -> Tensor:
        x_hat = self.module.decode(z)
        if self.sigmoid:
            x_hat = torch.sigmoid(x_hat)
        x_hat = x_hat.flatten(1)
        for scaler in self.scalers:
            x_hat = scaler(x_hat)
        if self.output_shape is not None:
            x_hat = x_hat.unflatten(1, self.output_shape)
        return x_hat


def export_onnx(estimator: Any, directory: str | os.PathLike[str], *,
                opset: int | None = None, include_preprocessing: bool = True,
                ) -> dict[str, Path]:
    """Write ``encoder.onnx`` and ``decoder.onnx`` for a fitted autoencoder.

    Parameters
    ----------
    estimator : AutoEncoder, ScaledAutoEncoder, Pipeline or AnomalyDetector
        A fitted autoencoder (MLP, conv, or your own modules where ``torch.export`` can
        trace them), or one behind its scalers, unwrapped by the one rule of
        :func:`codings.formats.pipeline.unwrap`.
    directory : str or path
        Created if missing; existing files of the same names are replaced atomically.
    opset : int, optional
        ONNX opset version; None uses the exporter's default.
    include_preprocessing : bool, default=True
        For a ``ScaledAutoEncoder``: the encoder takes raw rows (it scales them first) and
        the decoder returns raw units, as ``codings encode`` and ``codings decode`` do.
        False exports the autoencoder alone (scaled units in and out).

    Returns
    -------
    paths : dict with keys "encoder" and "decoder"
        Where the two files were written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the estimator has not been fitted.
    ImportError
        When ``onnx`` or ``onnxscript`` is missing.
    InvalidInputError
        When a module cannot be exported (for example Python control flow that depends on
        the data in your own encoder).
    """
    parts = unwrap(estimator)
    autoencoder, steps = parts.final, parts.steps
    if autoencoder is None or (not hasattr(autoencoder, "module_") and not hasattr(
            autoencoder, "n_components")):
        raise InvalidInputError(f"ONNX export needs a fitted AutoEncoder, or a Pipeline or "
                                f"AnomalyDetector around one; got {type(estimator).__name__}.")
    check_is_fitted(autoencoder)
    check_storable(steps)  # the graphs compute these scalers only
    for _, step in steps:
        check_is_fitted(step)
    _check_packages()
    module = copy.deepcopy(autoencoder.module_).cpu().float().eval()
    shape = getattr(autoencoder, "input_shape_", None)
    shape = tuple(int(s) for s in shape) if shape else None
    scalers = [step for _, step in steps] if include_preprocessing else []
    graphs = {
        "encoder": (EncoderGraph(module, shape, scalers),
                    shape or (int(autoencoder.n_features_in_),), "x", "z"),
        "decoder": (DecoderGraph(module, autoencoder.loss == "bce", shape, scalers),
                    (int(autoencoder.n_components),), "z", "x_hat"),
    }
    # Both exported before either is written: a failure leaves no half-exported pair.
    payloads = {name: _export(graph.eval(), torch.zeros(_EXAMPLE_BATCH, *sample_shape),
                              input_name, output_name, opset, name)
                for name, (graph, sample_shape, input_name, output_name) in graphs.items()}
    folder = Path(directory)
    paths = {name: folder / f"{name}.onnx" for name in payloads}
    for name, payload in payloads.items():
        atomic_write_bytes(paths[name], payload)
    return paths


def _check_packages() -> None:
    missing = []
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            missing.append(package)
    if missing:
        raise ImportError(f"ONNX export needs the package(s) {', '.join(missing)}: "
                          f"{install_hint('onnx')}")


def _export(graph: nn.Module, example: Tensor, input_name: str, output_name: str,
            opset: int | None, part: str) -> bytes:
    """One module to the bytes of a self-contained ONNX model with a dynamic batch."""
    batch = torch.export.Dim("batch")
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                graph, (example,), dynamo=True, verbose=False, external_data=False,
                dynamic_shapes=({0: batch},), input_names=[input_name],
                output_names=[output_name], opset_version=opset)
    except Exception as exc:  # the exporter raises many types; all mean "not exportable"
        raise InvalidInputError(
            f"The {part} cannot be exported to ONNX ({_root_cause(exc)}). Custom modules must "
            "be traceable by torch.export: no Python control flow that depends on the data; "
            "torch.export.export(module, (x,)) on your module shows the details."
        ) from exc
    if program is None:  # pragma: no cover - only when the exporter is given a file name
        raise InvalidInputError(f"The ONNX exporter returned nothing for the {part}.")
    return bytes(program.model_proto.SerializeToString())


def _root_cause(exc: BaseException) -> str:
    """The first line of the innermost exception, without the exporter's colour codes."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = _ANSI.sub("", str(exc)).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Keep the exporter's progress lines, logger warnings and internal deprecations quiet.

    A library stays quiet, and the CLI may be writing data to stdout. A failed trace also
    dumps its graph to stderr; the error raised afterwards says what failed.
    """
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)
