"""``sliding_windows``: shapes, a read-only view of the series, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from codings import InvalidInputError
from codings.datasets import sliding_windows


def _reference(series: np.ndarray, window: int, stride: int) -> np.ndarray:
    """An independent, copying implementation."""
    series = series.reshape(len(series), -1)
    starts = range(0, len(series) - window + 1, stride)
    return np.stack([series[s:s + window] for s in starts])


@pytest.mark.parametrize("shape", [(50,), (50, 1), (50, 3)])
@pytest.mark.parametrize("window, stride", [(1, 1), (7, 1), (7, 3), (50, 1), (50, 4),
                                            (10, 40), (10, 41)])
def test_windows_match_a_copying_reference(shape, window, stride) -> None:
    series = np.random.default_rng(0).standard_normal(shape)
    windows = sliding_windows(series, window, stride)
    channels = 1 if len(shape) == 1 else shape[1]
    assert windows.shape == ((50 - window) // stride + 1, window, channels)
    np.testing.assert_array_equal(windows, _reference(series, window, stride))


def test_windows_are_a_read_only_view() -> None:
    series = np.arange(40.0).reshape(20, 2)
    windows = sliding_windows(series, 5, stride=2)
    assert np.shares_memory(windows, series)
    assert not windows.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        windows[0, 0, 0] = 1.0
    series[4, 1] = -1.0  # a view: changes to the series show through
    assert windows[0, 4, 1] == -1.0 and windows[2, 0, 1] == -1.0


def test_dtype_is_kept() -> None:
    for dtype in (np.float32, np.float64, np.int16, np.uint8):
        assert sliding_windows(np.zeros(10, dtype=dtype), 3).dtype == dtype


def test_pandas_series_and_frames() -> None:
    pd = pytest.importorskip("pandas")
    values = np.arange(30.0).reshape(15, 2)
    frame = pd.DataFrame(values, columns=["a", "b"],
                         index=pd.date_range("2024-01-01", periods=15, freq="h"))
    np.testing.assert_array_equal(sliding_windows(frame, 4), _reference(values, 4, 1))
    series = pd.Series(values[:, 0], name="a")
    assert sliding_windows(series, 4, stride=2).shape == (6, 4, 1)
    nullable = pd.Series([1.0, 2.0, None, 4.0], dtype="Float64", name="temp")
    with pytest.raises(InvalidInputError, match="time step 2, channel 0"):
        sliding_windows(nullable, 2)
    with pytest.raises(InvalidInputError,
                       match=r"column 'label' has dtype \w+; convert it with "  # str or object
                             r"\.astype\(float\) or drop it"):
        sliding_windows(frame.assign(label="x"), 2)


@pytest.mark.parametrize("window, match", [
    (0, r"The 'window' parameter of sliding_windows must be an int >= 1\. Got 0 instead\."),
    (-3, r"must be an int >= 1\. Got -3 instead"),
    (2.0, r"'window' parameter .* Got 2\.0 instead"),
    (True, r"'window' parameter .* Got True instead"),
    ("4", r"'window' parameter .* Got '4' instead"),
    (11, r"window=11 is longer than the series \(10 time steps\); use a window of at most "
         r"10 steps\."),
])
def test_window_errors(window, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        sliding_windows(np.zeros(10), window)


@pytest.mark.parametrize("stride", [0, -1, 1.5, 2.0, None, False])
def test_stride_errors(stride) -> None:
    with pytest.raises(InvalidInputError,
                       match=rf"The 'stride' parameter of sliding_windows must be an int >= 1\. "
                             rf"Got {stride!r} instead\."):
        sliding_windows(np.zeros(10), 3, stride)


def test_numpy_integer_window_and_stride() -> None:
    assert sliding_windows(np.zeros(10), np.int64(4), np.int32(3)).shape == (3, 4, 1)


@pytest.mark.parametrize("bad, where", [(np.nan, "nan at time step 7, channel 1"),
                                        (np.inf, "inf at time step 7, channel 1"),
                                        (-np.inf, "-inf at time step 7, channel 1")])
def test_non_finite_values_are_located(bad, where) -> None:
    series = np.zeros((12, 3))
    series[7, 1] = bad
    series[9, 0] = np.nan  # only the first is named
    with pytest.raises(InvalidInputError, match=f"The series has {where}; fill or drop"):
        sliding_windows(series, 4)


@pytest.mark.parametrize("series, match", [
    (np.zeros((4, 3, 2)), r"shape \(timesteps,\) or \(timesteps, channels\); got an array of "
                          r"shape \(4, 3, 2\)"),
    (np.float64(3.0), r"got an array of shape \(\)"),
    (np.zeros((5, 0)), "at least one channel"),
    (np.array(["a", "b", "c"]), "needs a numeric series .* got dtype <U1"),
    (np.array([1, None, 3], dtype=object), "got dtype object"),
    (np.array([True, False, True]), "got dtype bool"),
    (np.zeros(3, dtype=complex), "got dtype complex128"),
    (np.zeros(0), r"window=1 is longer than the series \(0 time steps\)"),
])
def test_series_errors(series, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        sliding_windows(series, 1)


def test_lists_are_accepted() -> None:
    assert sliding_windows([[1, 2], [3, 4], [5, 6]], 2).shape == (2, 2, 2)
