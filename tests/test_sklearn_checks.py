"""scikit-learn's own estimator checks, over several configurations."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from codings import AutoEncoder


def _estimators() -> list[AutoEncoder]:
    return [
        AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_iter=5, random_state=0),
        AutoEncoder(n_components=1, hidden_layer_sizes=(), activation="identity",
                    batch_size=None, max_iter=10, optimizer="sgd", learning_rate=0.01,
                    random_state=0),
        AutoEncoder(n_components=2, hidden_layer_sizes=(6, 4), activation="tanh",
                    early_stopping=True, n_iter_no_change=2, lr_schedule="cosine",
                    max_iter=5, random_state=0),
    ]


@parametrize_with_checks(_estimators())
def test_sklearn_compatible(estimator, check):
    check(estimator)
