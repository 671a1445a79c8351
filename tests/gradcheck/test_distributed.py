"""Coordinate differences: serial, batched, threads, processes and Dask.

Every executor must give the local result bit for bit; failures must name
the chunk; losses that cannot be pickled must say so.
"""

import concurrent.futures as cf
import threading

import numpy as np
import pytest

import scale_losses as L
from fastfd.gradcheck._executor import (
    BATCH_BYTES, ChunkError, batch_rows, check_executor, coordinate_differences)
from fastfd.steps import optimal_step
from fastfd.gradcheck import LossEvaluationError

N = 200


@pytest.fixture(scope="module")
def point():
    x = np.linspace(-3.0, 3.0, N)
    idx = np.arange(N, dtype=np.intp)
    steps = optimal_step(x)
    return x, idx, steps


def local(x, idx, steps, **kw):
    return coordinate_differences(L.sin_sum, x.copy(), idx, steps, **kw)


def test_serial_matches_analytic_and_restores(point):
    x, idx, steps = point
    scratch = x.copy()
    d = coordinate_differences(L.sin_sum, scratch, idx, steps)
    np.testing.assert_allclose(d, L.sin_sum_grad(x), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(scratch, x)   # restored by assignment, bit for bit


def test_serial_restores_after_loss_raises():
    x = np.array([1.0, 2.0, L.TRAP - 1e-12, 3.0])
    scratch = x.copy()
    with pytest.raises(LossEvaluationError, match=r"loss raised FloatingPointError at flat "
                                                  r"coordinate 2 \+ h: trapped") as info:
        coordinate_differences(L.trapped, scratch, np.arange(4), np.full(4, 1e-5))
    assert isinstance(info.value.__cause__, FloatingPointError)
    np.testing.assert_array_equal(scratch, x)


def test_subset_and_order(point):
    x, _, steps = point
    idx = np.array([150, 3, 77, 3], dtype=np.intp)
    d = coordinate_differences(L.sin_sum, x.copy(), idx, steps[idx])
    np.testing.assert_allclose(d, L.sin_sum_grad(x)[idx], atol=1e-8)


@pytest.mark.parametrize("batch_size", [None, 2, 14])
def test_vectorized_matches_analytic(point, batch_size):
    x, idx, steps = point
    scratch = x.copy()
    d = coordinate_differences(L.sin_sum_rows, scratch, idx, steps, vectorized=True,
                               batch_size=batch_size)
    np.testing.assert_allclose(d, L.sin_sum_grad(x), atol=1e-8)
    np.testing.assert_array_equal(scratch, x)


def test_vectorized_every_row_restored():
    # a loss that sees a stale perturbation from an earlier batch would be off
    # by a whole step in one coordinate: compare with the serial result.
    x = np.linspace(0.5, 1.5, 9)
    steps = np.full(9, 2.0**-10)
    seen = []

    def rows(P):
        seen.append(np.count_nonzero(P != x, axis=1))
        return L.sin_sum_rows(P)

    coordinate_differences(rows, x.copy(), np.arange(9), steps, vectorized=True, batch_size=4)
    counts = np.concatenate(seen)
    assert counts.size == 18 and np.all(counts == 1)


def test_vectorized_wrong_shape_says_what_was_expected(point):
    x, idx, steps = point
    with pytest.raises(TypeError, match=r"vectorized=True: loss must return 6 values .*shape \(6,\).*got shape \(\)"):
        coordinate_differences(L.scalar_for_rows, x.copy(), idx[:3], steps[:3],
                               vectorized=True, batch_size=6)


def test_batch_rows_memory_cap():
    assert batch_rows(10_000, 8) == 128
    assert batch_rows(10_000, 8, 7) == 6
    rows = batch_rows(10**7, 8)
    assert rows >= 2 and rows * 10**7 * 8 <= max(BATCH_BYTES, 2 * 10**7 * 8)


def test_bad_batch_and_chunk_sizes(point):
    x, idx, steps = point
    with pytest.raises(ValueError, match="batch_size must be >= 2, got 1"):
        local(x, idx, steps, vectorized=True, batch_size=1)
    with pytest.raises(TypeError, match="chunk_size must be an integer, got 2.5"):
        local(x, idx, steps, chunk_size=2.5)


def test_bad_executor():
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor "
                                        "or a dask.distributed.Client, got str"):
        check_executor("threads")


@pytest.mark.parametrize("vectorized", [False, True])
def test_threads_bitwise_equal(point, vectorized):
    x, idx, steps = point
    loss = L.sin_sum_rows if vectorized else L.sin_sum
    ref = coordinate_differences(loss, x.copy(), idx, steps, vectorized=vectorized)
    with cf.ThreadPoolExecutor(2) as ex:
        got = coordinate_differences(loss, x.copy(), idx, steps, vectorized=vectorized,
                                     executor=ex, chunk_size=23)
    np.testing.assert_array_equal(got, ref)


@pytest.fixture(scope="module")
def processes():
    with cf.ProcessPoolExecutor(2) as ex:
        yield ex


def test_processes_bitwise_equal(point, processes):
    x, idx, steps = point
    ticks = []
    got = coordinate_differences(L.sin_sum, x.copy(), idx, steps, executor=processes,
                                 tick=ticks.append)
    np.testing.assert_array_equal(got, local(x, idx, steps))
    assert sum(ticks) == 2 * N


def test_processes_unpicklable_loss(point, processes):
    x, idx, steps = point
    with pytest.raises(TypeError, match=r"loss cannot be pickled .*ProcessPoolExecutor.*"
                                        r"module-level function"):
        coordinate_differences(lambda p: float(np.sum(p)), x.copy(), idx, steps,
                               executor=processes)


def test_processes_failure_names_chunk(processes):
    x = np.zeros(100)
    x[60] = L.TRAP - 1e-12     # the +h perturbation of coordinate 60 trips the loss
    with pytest.raises(LossEvaluationError, match=r"loss raised FloatingPointError at flat "
                                                  r"coordinate 60 \+ h: trapped.* \(chunk 2 "
                                                  r"of 4 on the executor\)"):
        coordinate_differences(L.trapped, x, np.arange(100), np.full(100, 1e-5),
                               executor=processes, chunk_size=25)


def test_dask_bitwise_equal_and_failures(point, dask_client):
    x, idx, steps = point
    got = coordinate_differences(L.sin_sum, x.copy(), idx, steps, executor=dask_client)
    np.testing.assert_array_equal(got, local(x, idx, steps))
    got = coordinate_differences(L.sin_sum_rows, x.copy(), idx, steps, executor=dask_client,
                                 vectorized=True, batch_size=16)
    np.testing.assert_array_equal(
        got, coordinate_differences(L.sin_sum_rows, x.copy(), idx, steps, vectorized=True,
                                    batch_size=16))

    lock = threading.Lock()

    def holds_lock(p):
        with lock:
            return float(np.sum(p))

    with pytest.raises(TypeError, match=r"loss cannot be pickled .*Client.*module-level"):
        coordinate_differences(holds_lock, x.copy(), idx, steps, executor=dask_client)

    y = np.zeros(40)
    y[5] = L.TRAP - 1e-12
    with pytest.raises(LossEvaluationError, match=r"at flat coordinate 5 \+ h: trapped.*"
                                                  r"\(chunk 0 of 2 on the executor\)"):
        coordinate_differences(L.trapped, y, np.arange(40), np.full(40, 1e-5),
                               executor=dask_client, chunk_size=20)


# ------------------------------------------------- through fastfd.check_gradient

def test_check_gradient_processes_and_dask_equal_local(processes, dask_client, monkeypatch):
    from fastfd.gradcheck import _planner
    from fastfd.gradcheck._executor import SPOT_CHECKS
    from fastfd.gradcheck._check import check_gradient
    runs = []
    real = _planner.engine_values

    def counting(*args, **kwargs):
        values = real(*args, **kwargs)

        def run(ctx, idx, *rest):
            runs.append(idx.size)
            return values(ctx, idx, *rest)

        run.recheck = values.recheck
        return run

    monkeypatch.setattr(_planner, "engine_values", counting)
    x = np.linspace(-3.0, 3.0, 120)
    g = L.sin_sum_grad(x)
    g[77] += 1e-3
    local_r = check_gradient(L.sin_sum, x, g, coords="all")
    assert runs == []
    for ex in (processes, dask_client):
        runs.clear()
        r = check_gradient(L.sin_sum, x, g, coords="all", executor=ex)
        np.testing.assert_array_equal(r.numerical, local_r.numerical)
        assert [c.name for c in r.failures()] == ["params[77]"]
        # the same engine runs as locally: all 120 at h, then the failing
        # coordinate alone at each step of its confirmation (2h, far, near)
        assert runs[0] == 120 and len(runs) > 1 and set(runs[1:]) == {1}, runs
        # plus, in this process: SPOT_CHECKS coordinates of every run (2
        # evaluations each; the re-runs have 1 coordinate) and the failing
        # coordinate once more (values.recheck)
        extra = r.n_evals - local_r.n_evals
        assert extra == 2 * sum(min(SPOT_CHECKS, m) for m in runs) + 2 * 1, (extra, runs)


def test_check_gradient_chunk_failure_is_an_error(processes):
    from fastfd.gradcheck._check import check_gradient
    x = np.zeros(100)
    x[60] = L.TRAP - 1e-12
    # default: four chunks per worker, 8 chunks of 13 coordinates
    with pytest.raises(LossEvaluationError, match=r"loss raised FloatingPointError at "
                                                  r"params\[60\] \+ h: trapped.*\(chunk 4 of "
                                                  r"8 on the executor\)"):
        check_gradient(L.trapped, x, L.sin_sum_grad(x), coords="all", executor=processes)


@pytest.fixture(scope="module")
def spawned():
    # spawned workers import the test modules afresh: state set at run time in
    # this process is missing there (a forked pool could inherit it)
    import multiprocessing
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


def test_workers_computing_another_loss_is_an_error(spawned, dask_client):
    from fastfd.gradcheck._executor import WorkerMismatchError
    from fastfd.gradcheck._check import check_gradient
    x = np.linspace(-1.0, 1.0, 40)
    L.STATE["scale"] = 1.0
    L.STATE["bump"] = 1.0
    L.STATE["x7"] = x[7]
    try:
        for ex in (spawned, dask_client):
            # the workers' loss is 0 everywhere: their values alone pass a
            # zero gradient
            with pytest.raises(WorkerMismatchError, match=(
                    r"the workers compute a different loss than this process: at "
                    r"params\[\d+\] [+-] h a worker returned 0\.0, this process \d+\.\d+ \(4 "
                    r"of 4 coordinates re-evaluated here differ\)\. The loss depends on "
                    r"state the workers do not have")):
                check_gradient(L.stateful, x, np.zeros(40), coords="all", executor=ex)
            # only params[7] differs there: the workers' values make the
            # correct gradient fail at it, and it is re-evaluated here
            g = 2 * x
            g[7] += 1.0
            with pytest.raises(WorkerMismatchError, match=r"at params\[7\] [+-] h a worker "
                                                          r"returned"):
                check_gradient(L.bumped, x, g, coords="all", executor=ex)
    finally:
        L.STATE.clear()


def test_workers_get_read_only_parameters(processes):
    from fastfd.gradcheck._check import check_gradient
    x = np.linspace(1.0, 2.0, 40)
    with pytest.raises(ValueError, match=r"loss modified its input at params\[0\] \+ h "
                                         r"\(assignment destination is read-only\)\. A loss "
                                         r"must not write to the parameters it is given "
                                         r"\(params\[39\] changed\).*\(chunk 0 of 8 on the "
                                         r"executor\)"):
        check_gradient(L.writes_when_perturbed, x, 2 * x, coords="all", executor=processes)


def test_dask_workers_that_die_are_reported_as_dead():
    # Dask said only "FutureCancelledError ... cancelled for reason: already
    # forgotten" (the broadcast parameters died with the workers)
    distributed = pytest.importorskip("distributed")
    from fastfd.gradcheck._check import check_gradient
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=":0", silence_logs=50)
    client = distributed.Client(cluster)
    L.STATE["parent"] = True
    try:
        x = np.linspace(-1.0, 1.0, 30)
        with pytest.raises(ChunkError, match=r"chunk \d of 8 \(coordinates \d+\.\.\d+\) was "
                                             r"lost: (\d of the 2 Dask workers died during "
                                             r"the check|the Dask workers running it died)"
                                             r".*A worker process ended while it evaluated "
                                             r"the loss"):
            check_gradient(L.dies_in_workers, x, L.sin_sum_grad(x), coords="all",
                           executor=client)
    finally:
        L.STATE.clear()
        client.close()
        cluster.close()


@pytest.mark.parametrize("executor", ["processes", "spawned", "dask_client"])
def test_worker_values_are_compared_within_the_loss_roundoff(executor, request):
    # a one-ulp difference (Dask's nanny sets OPENBLAS_NUM_THREADS=1 in its
    # workers, so BLAS sums in another order) is within the roundoff the
    # check allows locally (2e-16 in the same loss): no WorkerMismatchError
    import os

    from fastfd.gradcheck._executor import WorkerMismatchError
    from fastfd.gradcheck._check import check_gradient
    ex = request.getfixturevalue(executor)
    x = np.linspace(-1.0, 1.0, 40)
    L.STATE["pid"] = os.getpid()
    try:
        r = check_gradient(L.ulp_in_workers, x, 2 * x, coords="all", executor=ex)
        assert r.passed
        # ... and a loss that really differs (1e-9 relative, far above the
        # roundoff of sum(x**2)) is still caught
        with pytest.raises(WorkerMismatchError, match=r"the workers compute a different loss "
                                                      r"than this process: at params\[\d+\] "
                                                      r"[+-] h a worker returned"):
            check_gradient(L.far_in_workers, x, 2 * x, coords="all", executor=ex)
    finally:
        L.STATE.clear()


def raw_writes_when_perturbed(x):
    # a write through a raw pointer (ctypes, a C extension) passes the
    # read-only views; it zeroes the last entry whenever x[0] is moved off 1.0
    import ctypes
    if x[0] != 1.0:
        raw = np.ctypeslib.as_array((ctypes.c_double * x.size).from_address(x.ctypes.data))
        raw[-1] = 0.0
    return float(np.sum(x * x))


def test_worker_write_names_the_parameter():
    # the worker compares its copy with the parameters it received and names
    # the entry as every other path does (params[39], not a flat index)
    from fastfd.gradcheck._params import InputWriteError
    from fastfd.gradcheck._check import check_gradient
    x = np.linspace(1.0, 2.0, 40)
    with cf.ThreadPoolExecutor(2) as ex:
        with pytest.raises(InputWriteError, match=r"^loss modified its input: params\[39\] "
                                                  r"changed from 2\.0 to 0\.0\. A loss must not "
                                                  r"write to the parameters it is given; copy "
                                                  r"them first \(chunk 0 of 8 on the executor\)$"):
            check_gradient(raw_writes_when_perturbed, x, 2 * x, coords="all", executor=ex)
    np.testing.assert_array_equal(x, np.linspace(1.0, 2.0, 40))
