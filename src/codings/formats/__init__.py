"""The files users keep: the container, the scalers a model file carries, the model and
classifier files' schemas and writers, ONNX graphs, and the unwrap rule that says what a
model file holds (preprocessing steps, then one estimator).

Nothing here imports an estimator class: it is given what it writes and returns what it
read; :mod:`codings.estimators.files` turns those into estimators.
"""
