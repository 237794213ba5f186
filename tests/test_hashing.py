"""Semantic hashing: bits from a sigmoid coding layer, buckets, and their label purity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from codings import AutoEncoder, Denoising, InvalidInputError, Variational
from codings.datasets import load_digits
from codings.estimators.hashing import hash_buckets, hash_purity, semantic_hashes

HASHING = dict(n_components=12, hidden_layer_sizes=(64,), coding_activation="sigmoid",
               batch_size=64)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return digits.data / 16.0, digits.target


@pytest.fixture(scope="module")
def hashing_ae(data) -> AutoEncoder:
    return AutoEncoder(**HASHING, constraints=(Denoising(std=0.5),), max_iter=40,
                       random_state=0).fit(data[0])


def test_hashes_are_the_rounded_codings_read_as_binary_numbers(data, hashing_ae):
    X = data[0]
    hashes = semantic_hashes(hashing_ae, X)
    assert hashes.shape == (len(X),) and hashes.dtype == np.int64
    bits = hashing_ae.transform(X) >= 0.5
    expected = [int("".join("1" if b else "0" for b in row), 2) for row in bits]
    np.testing.assert_array_equal(hashes, expected)
    assert hashes.min() >= 0 and hashes.max() < 2**12


def test_buckets_partition_the_rows_by_hash(data, hashing_ae):
    X = data[0]
    hashes = semantic_hashes(hashing_ae, X)
    buckets = hash_buckets(hashing_ae, X)
    rows = np.sort(np.concatenate(list(buckets.values())))
    np.testing.assert_array_equal(rows, np.arange(len(X)))
    for value, members in buckets.items():
        assert isinstance(value, int) and (hashes[members] == value).all()
    sizes = [len(members) for members in buckets.values()]
    assert sizes == sorted(sizes, reverse=True)


def test_items_sharing_a_hash_share_their_label_far_above_chance(data, hashing_ae):
    X, y = data
    result = hash_purity(y, semantic_hashes(hashing_ae, X))
    assert result.chance == pytest.approx(0.0995, abs=1e-3)  # 10 balanced classes
    assert result.purity > 5 * result.chance and result.lift > 5
    assert result.shared_fraction > 0.8 and result.n_buckets < len(X) / 3


def test_purity_against_a_hand_calculation():
    # Bucket 5 holds labels (a, a, b): 1 matching pair of 3 -> 1/3; bucket 7 (b, b): 1;
    # bucket 9 is a singleton and does not count. Weighted by size: (3/3 + 2) / 5 = 0.6.
    # Chance over (a, a, b, b, b, c): (2 + 6) / 30.
    result = hash_purity(["a", "a", "b", "b", "b", "c"], [5, 5, 5, 7, 7, 9])
    assert result.purity == pytest.approx(0.6)
    assert result.chance == pytest.approx(8 / 30)
    assert result.n_buckets == 3 and result.shared_fraction == pytest.approx(5 / 6)


def test_pipelines_work(data):
    raw = load_digits().data
    pipe = make_pipeline(MinMaxScaler(), AutoEncoder(**HASHING, max_iter=2, random_state=0))
    assert semantic_hashes(pipe.fit(raw), raw).shape == (len(raw),)


def test_errors(data, hashing_ae):
    X = data[0][:200]
    elu = AutoEncoder(n_components=4, max_iter=1, random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="sigmoid coding layer; this autoencoder's "
                                                "coding activation is 'identity'"):
        semantic_hashes(elu, X)
    vae = AutoEncoder(**HASHING, constraints=(Variational(),), max_iter=1,
                      random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="Variational model's codings are unbounded"):
        semantic_hashes(vae, X)
    wide = AutoEncoder(**{**HASHING, "n_components": 64}, constraints=(Denoising(),),
                       max_iter=1, random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="at most 63 coding units"):
        semantic_hashes(wide, X)
    with pytest.raises(InvalidInputError, match="one label per hash"):
        hash_purity([0, 1, 2], [1, 1])
