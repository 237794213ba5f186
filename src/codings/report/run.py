"""The report of one training run (``report.html`` in each ``codings fit`` run folder).

It shows the command and parameters, the data, every loss term per epoch, reconstructions,
first-layer features, the codings coloured by label, generated samples and interpolations
for variational models, a histogram of anomaly scores and the timing; figures are inline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from torch import nn

from codings.constraints import Variational
from codings.datasets.scaling import Scaling
from codings.estimators.scaled import ScaledAutoEncoder
from codings.exceptions import CodingsError
from codings.formats.pipeline import final_estimator, unwrap
from codings.plotting import (
    guess_image_shape,
    plot_codings_2d,
    plot_features,
    plot_images,
    plot_loss_curve,
    plot_reconstructions,
)
from codings.report.figures import (
    plot_image_rows,
    plot_score_histogram,
    plot_table_reconstructions,
    standardised_errors,
)
from codings.report.page import Page, Section
from codings.training.loop import reconstruction_reduction

_SHOWN = 10
_MAX_SCATTER = 5000
_MAX_SCORED = 2000
_CONTAMINATION = 0.1
_N_GENERATED = 40


@dataclass(frozen=True)
class RunData:
    """What a run trained on: the data as loaded and as the estimator saw it."""

    name: str
    X: np.ndarray  # as loaded, in the data's own scale
    X_scaled: np.ndarray  # what the autoencoder trained on
    scaling: Scaling  # X -> X_scaled
    image_shape: tuple[int, ...] | None
    labels: np.ndarray | None
    label_name: str = "label"
    feature_names: tuple[str, ...] | None = None  # a table's column names
    source_dtype: str | None = None  # "uint8" or "uint16" for integer pixels

    @property
    def scale_kind(self) -> str:
        """Which scaling X_scaled has: "standard", "minmax", "uint8", "none", ..."""
        return str(self.scaling.kind)

    def unscale(self, X_scaled: np.ndarray) -> np.ndarray:
        """Rows in the scaled units back to the data's own."""
        return self.scaling.inverse_transform(X_scaled)


def _rows(n_samples: int, limit: int) -> np.ndarray:
    """All rows, or a fixed random subset of ``limit`` (sorted)."""
    if n_samples <= limit:
        return np.arange(n_samples)
    return np.sort(np.random.default_rng(0).choice(n_samples, limit, replace=False))


def raw_units_model(model: Any, data: RunData | None) -> Any:
    """The object that takes and returns raw rows: ``model`` itself when it carries its
    scalers (what ``codings.load`` returns), else the autoencoder behind ``data``'s scaling."""
    if unwrap(model).final is not model or data is None or not data.scaling.steps:
        return model
    return ScaledAutoEncoder([*data.scaling.steps, ("autoencoder", model)])


def _flat(X: Any) -> np.ndarray:
    X = np.asarray(X)
    return X.reshape(len(X), -1)


class _RunReport:
    """Builds the sections of one run's page from the fitted model and its data.

    Every figure maps the raw rows through ``self.model``, the same object (and so the same
    scaling) that ``codings encode``, ``codings score`` and the ONNX files use.
    """

    def __init__(self, model: Any, data: RunData | None, params: Mapping[str, Any]) -> None:
        self.model = raw_units_model(model, data)
        self.estimator = final_estimator(model)
        self.data = data
        self.params = params
        estimator = self.estimator
        shape = (data.image_shape if data is not None else None) or getattr(
            estimator, "image_shape_", None) or getattr(estimator, "input_shape_", None) \
            or estimator.image_shape
        self.columns = _column_names(model, data)
        # A table's columns are never guessed to be a square image.
        self.image_shape = None if shape is None and self.columns is not None \
            else guess_image_shape(estimator.n_features_in_, shape)

    def variational(self) -> bool:
        return any(isinstance(c, Variational) for c in self.estimator.constraints_)

    # -- sections ------------------------------------------------------------------------
    def run(self, section: Section) -> None:
        command = self.params.get("command")
        if command:
            section.code(" ".join(_quote(part) for part in command))
        resumed = self.params.get("resumed_with")
        if resumed:
            section.text("Resumed with: `" + " ".join(_quote(p) for p in resumed) + "`")
        section.table([
            ("network", self.network()),
            ("trainable parameters", f"{self.n_parameters():,}"),
            ("status", self.params.get("status", "finished")),
            ("started", self.params.get("started", "unknown")),
            ("codings version", self.params.get("library_version", "unknown")),
            ("epochs run", int(self.estimator.n_iter_)),
            ("stopped by", getattr(self.estimator, "stop_reason_", None) or "unknown"),
        ])

    def network(self) -> str:
        """The architecture in one line: layer widths, activations, loss, constraints."""
        est = self.estimator
        if est.encoder is not None:
            return f"custom encoder {type(est.encoder).__name__}, {est.n_components} codings"
        shape = getattr(est, "input_shape_", None) or (est.n_features_in_,)
        widths = "-".join(str(w) for w in (*est.hidden_layer_sizes, est.n_components))
        coding = est.coding_activation or est.activation
        text = (f"{est.architecture}: input {'x'.join(map(str, shape))}, layers {widths} "
                f"(mirrored by the decoder); {est.activation} units, {coding} codings, "
                f"{est.output_activation} output, {est.loss} loss")
        names = ", ".join(c.name for c in est.constraints_)
        return f"{text}; {names}" if names else text

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.estimator.module_.parameters() if p.requires_grad)

    def unit(self) -> str:
        """What the history's reconstruction term measures (the trainer's reduction)."""
        if reconstruction_reduction(self.estimator.module_) == "sum":
            return "nats per sample" if self.estimator.loss == "bce" else "sum per sample"
        return "mean per feature"

    def parameters(self, section: Section) -> None:
        params = self.estimator.get_params(deep=False)
        defaults = type(self.estimator)().get_params(deep=False)
        params["constraints"] = "; ".join(
            c["name"] + "(" + ", ".join(f"{k}={v}" for k, v in c.items() if k != "name") + ")"
            for c in (c.to_dict() for c in self.estimator.constraints_)) or "none"
        for name in ("encoder", "decoder"):
            if params[name] is not None:
                params[name] = type(params[name]).__name__
        changed = [(name, _show(value)) for name, value in params.items()
                   if (name == "constraints" and value != "none")
                   or (name != "constraints" and _show(value) != _show(defaults.get(name)))]
        section.text("Parameters that differ from the defaults of "
                     f"`{type(self.estimator).__name__}`:")
        section.table(changed, header=("parameter", "value"))
        section.details("All parameters", [(name, _show(value))
                                           for name, value in params.items()])

    def data_summary(self, section: Section) -> None:
        info = dict(self.params.get("data") or {})
        rows: list[tuple[str, Any]] = [("source", info.get("source", "unknown"))]
        if info.get("key"):
            rows.append(("key", info["key"]))
        if self.data is None:
            section.table(rows).note(str(self.params.get("data_problem")
                                         or "The data could not be loaded."))
            return
        X = self.data.X
        rows += [("samples", X.shape[0]), ("features", X.shape[1]),
                 ("image shape", "x".join(map(str, self.data.image_shape))
                  if self.data.image_shape else "none (tabular)"),
                 ("value range", f"{float(X.min()):.4g} to {float(X.max()):.4g}"),
                 ("scaling", self.data.scale_kind),
                 ("labels", self._label_text())]
        section.table(rows)

    def _label_text(self) -> str:
        assert self.data is not None
        labels = self.data.labels
        if labels is None:
            return "none"
        return f"{self.data.label_name}: {np.unique(labels).size} distinct values"

    def history(self, section: Section) -> None:
        history = self.estimator.history_
        unit = self.unit()
        section.figure(plot_loss_curve(history, unit), "Every loss term per epoch: the total, "
                       "the reconstruction and each constraint's penalty (validation dashed); "
                       f"the reconstruction is a {self.estimator.loss} {unit}, on the scaled "
                       "data.")
        rows = [(name, _first(values), _last(values)) for name, values in history.items()
                if name != "time" and values]
        section.table(rows, header=("term", "first epoch", "last epoch"))

    def reconstructions(self, section: Section) -> None:
        data = self._need_data(section)
        if data is None:
            return
        if self.image_shape is None:
            self.table_reconstructions(section, data)
        else:
            n = min(_SHOWN, data.X.shape[0])
            X_hat = _flat(self.model.reconstruct(data.X[:n]))
            section.figure(plot_reconstructions(data.X[:n], X_hat, self.image_shape),
                           "The first training samples (top) and their reconstructions "
                           "(bottom), in the data's own scale.")
        rows = _rows(data.X.shape[0], _MAX_SCORED)
        error = float(np.mean(self.model.reconstruction_error(data.X[rows])))
        section.text(f"Mean reconstruction error ({self.estimator.loss}, {self.unit()}, "
                     f"scaled data): {error:.4g}.")
        section.table(self.pca_reference(data), header=(
            "reconstruction of the training data", "mean squared error per feature"))

    def pca_reference(self, data: RunData) -> list[tuple[str, str]]:
        """The autoencoder beside PCA with as many components, in one unit (MSE per
        feature on the scaled data): what the nonlinear network gains over a linear map."""
        X = _flat(data.X_scaled[_rows(data.X.shape[0], _MAX_SCORED)]).astype(np.float64)
        k = int(self.estimator.n_components)
        ours = float(np.mean((_flat(self.estimator.reconstruct(
            data.X_scaled[_rows(data.X.shape[0], _MAX_SCORED)])) - X) ** 2))
        rows = [(f"this autoencoder ({k} codings)", f"{ours:.4g}")]
        if k < min(X.shape):
            pca = PCA(n_components=k).fit(X)
            reference = float(np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2))
            rows.append((f"PCA, {k} components", f"{reference:.4g}"))
        return rows

    def table_reconstructions(self, section: Section, data: RunData) -> None:
        """A table: every column in comparable units, with its name and its error."""
        rows = _rows(data.X.shape[0], _MAX_SCORED)
        X = _flat(data.X[rows]).astype(np.float64)
        X_hat = _flat(self.model.reconstruct(data.X[rows])).astype(np.float64)
        names = self.columns or [f"x{j}" for j in range(X.shape[1])]
        n = min(_SHOWN, len(rows))
        section.figure(plot_table_reconstructions(X, X_hat, names, n_shown=n),
                       f"{n} training rows, column by column, in standard deviations from "
                       "each column's mean (so every column shows, whatever its units): "
                       "originals (dots) and reconstructions (crosses); below, each column's "
                       f"root-mean-square error over {len(rows)} rows in the same units.")
        _, _, errors = standardised_errors(X, X_hat)
        raw = np.sqrt(np.mean((X_hat - X) ** 2, axis=0))
        section.details("Reconstruction error per column", [
            ("column", "RMS error, standard deviations", "RMS error, data units"), *(
                (name, f"{error:.4g}", f"{value:.4g}")
                for name, error, value in zip(names, errors, raw, strict=True))])

    def first_linear(self) -> nn.Linear | None:
        """The first layer, when it is fully connected on images (its weights draw as
        images); else None, and the features section is left out."""
        first = next((m for m in self.estimator.module_.encoder.modules()
                      if isinstance(m, nn.Linear | nn.Conv2d)), None)
        if not isinstance(first, nn.Linear) or self.image_shape is None \
                or first.in_features != self.estimator.n_features_in_:
            return None
        return first

    def features(self, section: Section) -> None:
        first = self.first_linear()
        if first is None or self.image_shape is None:
            return
        weights = first.weight.detach().cpu().numpy()
        section.figure(plot_features(weights, self.image_shape, n=min(36, weights.shape[0])),
                       "Each hidden unit's input weights drawn as an image (red positive, blue "
                       "negative): the patterns the first layer responds to.")

    def codings(self, section: Section) -> None:
        data = self._need_data(section)
        if data is None:
            return
        rows = _rows(data.X.shape[0], _MAX_SCATTER)
        labels = None if data.labels is None else data.labels[rows]
        Z = self.model.transform(data.X[rows])
        caption = f"coloured by {data.label_name}" if labels is not None else "no labels known"
        section.figure(plot_codings_2d(Z, labels, label_name=data.label_name),
                       f"The codings of {len(rows)} training samples, {caption}.")

    def generated(self, section: Section) -> None:
        if self.image_shape is None:
            return
        samples = _flat(self.model.sample(_N_GENERATED, random_state=0))
        section.figure(plot_images(samples, self.image_shape, n_cols=10),
                       f"{_N_GENERATED} samples decoded from random draws of the prior "
                       "N(0, I): new data, not copies of training samples.")

    def interpolations(self, section: Section) -> None:
        data = self._need_data(section)
        if data is None or self.image_shape is None:
            return
        Z = self.model.transform(data.X[:8])
        rows = {f"#{2 * i} to #{2 * i + 1}": _flat(
            self.model.interpolate(Z[2 * i], Z[2 * i + 1], steps=10))
            for i in range(min(4, len(Z) // 2))}
        section.figure(plot_image_rows(rows, self.image_shape),
                       "Decoding evenly spaced points on the segment between the codings of "
                       "two training samples (left end to right end).")

    def scores(self, section: Section) -> None:
        data = self._need_data(section)
        if data is None:
            return
        scores = self.model.score_samples(data.X[_rows(data.X.shape[0], _MAX_SCORED)])
        kind = "ELBO in nats" if self.variational() else "minus the reconstruction error"
        offset, contamination, window = self.threshold()
        text = f"score_samples on {len(scores)} training samples ({kind}); "
        if window is not None:  # a per-time-step threshold does not apply to these scores
            section.figure(plot_score_histogram(scores), text + (
                f"the model's threshold is per time step, for windows of {window} steps "
                f"(`codings score --window {window}`), so it is not drawn on window scores."))
            return
        if offset is None:
            offset = float(np.quantile(scores, _CONTAMINATION))
            described = (f"the dashed line flags the lowest {_CONTAMINATION:.0%} as outliers, "
                         f"as `codings score --contamination {_CONTAMINATION}` would (this "
                         "model stores no threshold).")
        else:
            share = float(np.mean(scores < offset))
            source = f"the {contamination:g} share of the training rows" \
                if contamination is not None else "the training rows"
            described = (f"the dashed line is the model's threshold ({offset:.4g}, set from "
                         f"{source}), which `codings score` uses: it flags {share:.1%} of "
                         "these samples.")
        section.figure(plot_score_histogram(scores, offset), text + described)

    def threshold(self) -> tuple[float | None, float | None, int | None]:
        """(offset, contamination, window) of the model's stored threshold: the one the
        run recorded (``params.json``), else the one the model file carries."""
        recorded = self.params.get("threshold") or {}
        parts = unwrap(self.model)
        offset = recorded.get("offset", parts.stored("offset_"))
        window = recorded.get("window", parts.stored("window_"))
        contamination = recorded.get("contamination", self.params.get("contamination"))
        return (None if offset is None else float(offset), contamination,
                None if window is None else int(window))

    def timing(self, section: Section, built_in: float) -> None:
        timing = dict(self.params.get("timing") or {})
        epoch_times = [t for t in self.estimator.history_.get("time", []) if t is not None]
        rows: list[tuple[str, Any]] = [(f"{name.replace('_', ' ')}", f"{value:.2f} s")
                                       for name, value in timing.items()]
        if epoch_times:
            rows.append(("mean epoch", f"{np.mean(epoch_times):.3g} s"))
        rows.append(("this report", f"{built_in:.2f} s"))
        section.table(rows)

    def _need_data(self, section: Section) -> RunData | None:
        if self.data is None:
            section.note("Not shown: the training data could not be loaded.")
        return self.data


def _column_names(model: Any, data: RunData | None) -> list[str] | None:
    """A table's column names: the data's, else those the model was fitted with."""
    names = data.feature_names if data is not None else None
    if names is None:
        names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(name) for name in names]


def _quote(part: str) -> str:
    return part if part and all(c.isalnum() or c in "-_.,:=/+" for c in part) else repr(part)


def _show(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return "none" if value is None else value


def _first(values: list[Any]) -> Any:
    return values[0] if values[0] is not None else "nan"


def _last(values: list[Any]) -> Any:
    return values[-1] if values[-1] is not None else "nan"


def build_run_report(estimator: Any, data: RunData | None, params: Mapping[str, Any],
                     title: str = "codings run") -> Page:
    """The page of a run: ``params`` is the content of the run's ``params.json``."""
    started = time.perf_counter()
    report = _RunReport(estimator, data, params)
    autoencoder = report.estimator
    page = Page(title, f"{type(autoencoder).__name__} with "
                f"{', '.join(c.name for c in autoencoder.constraints_) or 'no constraints'}"
                f" on {(params.get('data') or {}).get('source', 'unknown data')}")
    steps: list[tuple[str, Any]] = [
        ("Run", report.run), ("Data", report.data_summary), ("Parameters", report.parameters),
        ("Training history", report.history), ("Reconstructions", report.reconstructions)]
    if report.first_linear() is not None:  # sections that do not apply are left out
        steps.append(("First-layer features", report.features))
    steps.append(("Codings", report.codings))
    if report.variational() and report.image_shape is not None:
        steps += [("Generated samples", report.generated),
                  ("Interpolations", report.interpolations)]
    steps.append(("Anomaly scores", report.scores))
    for title_, build in steps:
        section = page.section(title_)
        try:
            build(section)
        except CodingsError as exc:  # one figure that cannot be drawn must not lose the page
            section.note(f"Not shown: {exc}")
    report.timing(page.section("Timing"), time.perf_counter() - started)
    return page


def write_run_report(run_dir: str | Path, estimator: Any, data: RunData | None,
                     params: Mapping[str, Any]) -> Path:
    """Write ``run_dir/report.html``; returns its path."""
    run_dir = Path(run_dir)
    page = build_run_report(estimator, data, params, title=f"codings run: {run_dir.name}")
    return page.write(run_dir / "report.html")
