"""grid.laplacian on a dask array against the same Laplacian in memory, NumPy
slicing inside ``dask.array.map_overlap``, and the np.copyto roofline.

    .venv/bin/python -m pytest bench/bench_dask.py --benchmark-only -q

The case of the issue: the 3-D 7-point Laplacian of a 512**3 float64 field
(1 GiB) in 128**3 chunks (64 chunks), on a 2-worker ``LocalCluster`` (two
processes, one thread each) holding the field persisted, the result persisted
there too (``persist`` then ``wait``: nothing is sent back). Every round
builds a new graph with a new spacing, so no round finds the previous
round's result in the cluster's memory.

Rows: the in-memory call with ``out=`` (what the cluster is compared with);
the cluster; the threaded scheduler on a dask array of the in-memory field
stored into an existing array; NumPy slicing in ``map_overlap`` on the
cluster (the baseline); and, to separate Dask's own cost from fastfd's,
``map_blocks(np.copy)`` (no halo, no stencil) and ``map_overlap(np.copy)``
(the same halo, no stencil) on the cluster. ``extra_info`` holds the chunk
count: the per-chunk overhead is ``(cluster - in memory) / chunks``.
"""

import itertools

import numpy as np
import pytest

from fastfd import grid

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

N, C = 512, 128
H = 0.1
G = f"dask: 3-D Laplacian acc2, {N}^3 float64 in {C}^3 chunks, 2 workers"
ROUNDS = 4
_step = itertools.count(1)


def _spacing():
    """A new spacing per round (a new graph, nothing cached)."""
    return H * (1.0 + next(_step) * 2.0**-40)


def numpy_block(b, h):
    """7-point Laplacian of one halo block by slicing (edges left 0)."""
    o = np.zeros_like(b)
    c = b[1:-1, 1:-1, 1:-1]
    o[1:-1, 1:-1, 1:-1] = ((b[2:, 1:-1, 1:-1] - 2 * c + b[:-2, 1:-1, 1:-1])
                           + (b[1:-1, 2:, 1:-1] - 2 * c + b[1:-1, :-2, 1:-1])
                           + (b[1:-1, 1:-1, 2:] - 2 * c + b[1:-1, 1:-1, :-2])) / (h * h)
    return o


@pytest.fixture(scope="module")
def field():
    u = np.random.default_rng(0).standard_normal((N, N, N))
    return u, np.empty_like(u)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as lc, \
            distributed.Client(lc) as client:
        du = da.random.default_rng(0).standard_normal((N, N, N), chunks=C).persist()
        distributed.wait(du)
        _persist(client, grid.laplacian(du[:2 * C, :2 * C, :2 * C], H))  # workers import fastfd
        yield client, du


def _persist(client, x):
    y = client.persist(x)
    distributed.wait(y)
    del y


def _run(benchmark, role, make):
    benchmark.extra_info["role"] = role
    benchmark.extra_info["chunks"] = (N // C) ** 3
    benchmark.group = G
    benchmark.pedantic(make, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def test_in_memory(benchmark, field):
    u, out = field
    grid.laplacian(u, H, out=out)
    _run(benchmark, "fastfd in memory (out=)", lambda: grid.laplacian(u, _spacing(), out=out))


def test_roofline(benchmark, field):
    u, out = field
    _run(benchmark, "roofline", lambda: np.copyto(out, u))


def test_cluster(benchmark, cluster):
    client, du = cluster
    _run(benchmark, "fastfd on the cluster",
         lambda: _persist(client, grid.laplacian(du, _spacing())))


def test_cluster_numpy_slicing(benchmark, cluster):
    client, du = cluster
    _run(benchmark, "numpy", lambda: _persist(
        client, da.map_overlap(numpy_block, du, depth=1, boundary="none", h=_spacing())))


def test_cluster_copy_only(benchmark, cluster):
    client, du = cluster
    _run(benchmark, "dask map_blocks(np.copy), no halo",
         lambda: _persist(client, du.map_blocks(np.copy, token=f"copy{_spacing()}")))


def test_cluster_halo_copy_only(benchmark, cluster):
    client, du = cluster
    _run(benchmark, "dask map_overlap(np.copy), same halo",
         lambda: _persist(client, da.map_overlap(np.copy, du, depth=1, boundary="none",
                                                 token=f"halo{_spacing()}")))


def test_threaded_scheduler(benchmark, field):
    u, out = field
    du = da.from_array(u, chunks=C)
    res = np.empty_like(u)

    def run():
        da.store(grid.laplacian(du, _spacing()), res, scheduler="threads", lock=False)

    _run(benchmark, "fastfd, threaded scheduler (store)", run)
