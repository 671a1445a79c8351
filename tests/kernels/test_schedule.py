"""Every parallel kernel is launched through fastfd._kernels.schedule.launch,
which sets Numba's chunk size around the call and restores it."""

import numba
import numpy as np
import pytest

from fastfd import _config, grid
from fastfd._kernels import schedule
from fastfd.grid import _laplacian, _plan


def _seen_chunksize(*args):
    return numba.get_parallel_chunksize(), args


def test_launch_sets_and_restores_the_chunk_size():
    before = numba.get_parallel_chunksize()
    assert schedule.launch(_seen_chunksize, 7, 1, "a") == (7, (1, "a"))
    assert numba.get_parallel_chunksize() == before


def test_launch_restores_the_chunk_size_on_an_exception():
    before = numba.get_parallel_chunksize()

    def fails():
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        schedule.launch(fails, 3)
    assert numba.get_parallel_chunksize() == before


@pytest.fixture
def launches(monkeypatch):
    """(kernel name, chunk size) of every launch by grid; kernels not run."""
    calls = []

    def record(kernel, chunksize, *args):
        calls.append((kernel.__name__, chunksize))

    monkeypatch.setattr(_config, "PARALLEL_MIN", 1)
    monkeypatch.setattr(_plan, "launch", record)
    monkeypatch.setattr(_laplacian, "launch", record)
    return calls


def test_grid_derivative_hands_out_work_units_one_at_a_time(launches):
    grid.derivative(np.zeros((3, 50)), 1, dx=0.5, axis=1)
    grid.derivative(np.zeros(50), 1, dx=np.linspace(0, 1, 50))
    assert launches == [("uniform_parallel", 1), ("nonuniform_parallel", 1)]


@pytest.mark.parametrize("shape, accuracy, kernel, chunksize", [
    ((40, 30), 2, "lap2_parallel", 1),         # rows: 40 // 32
    ((96, 4, 4), 2, "lap3_parallel", 3),       # planes: 96 // 32
    ((256, 128, 128), 4, "general_parallel", 2),  # 64k-point units: 64 // 32
])
def test_grid_laplacian_hands_out_about_32_chunks(launches, shape, accuracy, kernel,
                                                   chunksize):
    grid.laplacian(np.zeros(shape), 0.5, accuracy=accuracy)
    assert launches == [(kernel, chunksize)]
