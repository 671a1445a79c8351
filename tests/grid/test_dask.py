"""Grid derivatives of dask arrays: lazy, one task per output chunk, and equal
to the in-memory result bit for bit, on the threaded scheduler and on a
2-worker ``distributed.LocalCluster`` (fixture ``dask_client``).

A ``Client`` becomes Dask's default scheduler while it exists, so every
compute here names its scheduler.
"""

import math

import cloudpickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_python
from fastfd import Curl, Diff, DivKGrad, Gradient, Laplacian, grid

da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(12)


def threads(x):
    return x.compute(scheduler="threads")


def assert_bits(got, ref):
    """Same dtype, shape and bytes (signed zeros and NaN payloads included)."""
    assert isinstance(got, np.ndarray)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(ref).tobytes(), (
        f"{np.sum(got != ref)} of {ref.size} values differ")


def coords(n, seed=0):
    """A strictly increasing non-uniform grid of ``n`` points."""
    return np.cumsum(np.random.default_rng(seed).uniform(0.5, 1.5, n))


# ------------------------------------------------------------- equality

CHUNKINGS_1D = [(37,), (10, 10, 17), (5,) * 7 + (2,), (3,) * 12 + (1,), (13, 1, 23), (1, 36)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunks", CHUNKINGS_1D)
def test_derivative_1d_every_stencil(chunks, dtype):
    u = RNG.standard_normal(37).astype(dtype)
    du = da.from_array(u, chunks=(chunks,))
    x = coords(37)
    n = 0
    for order in (1, 2, 3):
        for accuracy in (1, 2, 4, 6):
            for scheme in ("centered", "forward", "backward"):
                if scheme == "centered" and accuracy % 2:
                    continue
                for boundary in ("one-sided", "periodic", "valid"):
                    for dx in (0.3, x) if boundary != "periodic" else (0.3,):
                        kw = dict(dx=dx, accuracy=accuracy, scheme=scheme, boundary=boundary)
                        try:
                            ref = grid.derivative(u, order, **kw)
                        except ValueError as exc:  # float32 refuses the highest accuracies
                            with pytest.raises(ValueError) as info:
                                grid.derivative(du, order, **kw)
                            assert str(info.value) == str(exc)
                            continue
                        assert_bits(threads(grid.derivative(du, order, **kw)), ref)
                        n += 1
    assert n >= 150  # of 3 orders x 11 stencils x 5 (boundary, dx)


@pytest.mark.parametrize("chunks", [(5, 6, 7), (10, (3, 14), (20, 3)), (4, 4, 4), (20, 17, 23)])
def test_3d_every_axis_and_gradient(chunks):
    u = RNG.standard_normal((20, 17, 23))
    du = da.from_array(u, chunks=chunks)
    for axis in range(3):
        for order, accuracy in [(1, 2), (2, 4), (1, 6)]:
            for boundary in ("one-sided", "periodic", "valid"):
                kw = dict(dx=0.7, axis=axis, accuracy=accuracy, boundary=boundary)
                assert_bits(threads(grid.derivative(du, order, **kw)),
                            grid.derivative(u, order, **kw))
    y = coords(17)
    for edge_order in (None, 1, 2):
        got = grid.gradient(du, 0.5, y, 0.1, edge_order=edge_order)
        ref = grid.gradient(u, 0.5, y, 0.1, edge_order=edge_order)
        assert len(got) == 3
        for g, r in zip(got, ref):
            assert_bits(threads(g), r)
    assert_bits(threads(grid.gradient(du, 0.5, axis=1, accuracy=4, boundary="periodic")),
                grid.gradient(u, 0.5, axis=1, accuracy=4, boundary="periodic"))


def test_named_differences_and_dtypes():
    u = RNG.standard_normal((9, 14))
    du = da.from_array(u, chunks=(4, 5))
    for f in (grid.forward_diff, grid.backward_diff, grid.centered_diff, grid.second_diff):
        assert_bits(threads(f(du, 0.25, axis=0)), f(u, 0.25, axis=0))
    for dtype in (np.float32, np.complex64, np.complex128, np.int32, np.float16):
        v = (u * 10).astype(dtype)
        got = grid.derivative(da.from_array(v, chunks=(4, 5)), 1, dx=0.5)
        ref = grid.derivative(v, 1, dx=0.5)
        assert got.dtype == ref.dtype  # known before computing
        assert_bits(threads(got), ref)


@pytest.mark.parametrize("shape, chunks", [
    ((37,), (10, 10, 17)), ((37,), (3,) * 12 + (1,)),
    ((20, 17), (5, 6)), ((20, 17), (4, 4)), ((20, 17), (1, 17)),
    ((20, 17, 23), (5, 6, 7)), ((20, 17, 23), (10, (3, 14), (20, 3))), ((20, 17, 23), (4, 4, 4)),
    ((6, 7, 5, 8), (3, 3, 2, 4)),
])
def test_laplacian(shape, chunks):
    u = RNG.standard_normal(shape)
    du = da.from_array(u, chunks=chunks)
    mixed = [coords(n) if a == 0 else 0.2 for a, n in enumerate(shape)]
    for accuracy in (2, 4, 6):
        for boundary in ("one-sided", "periodic", "valid"):
            for dx in (0.3, mixed) if boundary != "periodic" else (0.3,):
                kw = dict(accuracy=accuracy, boundary=boundary)
                try:
                    ref = grid.laplacian(u, dx, **kw)
                except ValueError as exc:  # an axis too short for the accuracy
                    with pytest.raises(ValueError) as info:
                        grid.laplacian(du, dx, **kw)
                    assert str(info.value) == str(exc)
                    continue
                assert_bits(threads(grid.laplacian(du, dx, **kw)), ref)


@st.composite
def chunked(draw, max_ndim=3):
    """``(u, chunks)``: a small float64 or float32 array and a chunking
    with uneven chunks, chunks of 1 and chunks smaller than a stencil."""
    ndim = draw(st.integers(1, max_ndim))
    shape = tuple(draw(st.integers(8, 13)) for _ in range(ndim))
    chunks = []
    for n in shape:
        sizes = []
        while sum(sizes) < n:
            sizes.append(min(draw(st.integers(1, n)), n - sum(sizes)))
        chunks.append(tuple(sizes))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    u = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape).astype(dtype)
    return u, tuple(chunks)


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=120, **SETTINGS)
@given(data=chunked(), order=st.integers(1, 3), accuracy=st.sampled_from([1, 2, 4]),
       scheme=st.sampled_from(["centered", "forward", "backward"]),
       boundary=st.sampled_from(["one-sided", "periodic", "valid"]),
       axis=st.integers(-3, 2), nonuniform=st.booleans())
def test_derivative_matches_in_memory(data, order, accuracy, scheme, boundary, axis,
                                      nonuniform):
    u, chunks = data
    if scheme == "centered" and accuracy % 2:
        accuracy += 1
    axis = axis % u.ndim
    dx = coords(u.shape[axis]) if nonuniform and boundary != "periodic" else 0.5
    kw = dict(dx=dx, axis=axis, accuracy=accuracy, scheme=scheme, boundary=boundary)
    ref = grid.derivative(u, order, **kw)
    assert_bits(threads(grid.derivative(da.from_array(u, chunks=chunks), order, **kw)), ref)


@settings(max_examples=30, **SETTINGS)
@given(data=chunked(), accuracy=st.sampled_from([2, 4]),
       boundary=st.sampled_from(["one-sided", "periodic", "valid"]))
def test_laplacian_matches_in_memory(data, accuracy, boundary):
    u, chunks = data
    ref = grid.laplacian(u, 0.5, accuracy=accuracy, boundary=boundary)
    got = grid.laplacian(da.from_array(u, chunks=chunks), 0.5, accuracy=accuracy,
                         boundary=boundary)
    assert_bits(threads(got), ref)


# ------------------------------------------------------------ operators

OP_SHAPE = (20, 17, 23)
K = np.random.default_rng(5).uniform(1.0, 2.0, OP_SHAPE)
OPS = {
    "Laplacian(3)": Laplacian(3, dx=0.3),
    "Laplacian(3, accuracy=4)": Laplacian(3, accuracy=4),
    "sum with a constant": Diff(0) + 0.5 * Diff(2, 2) - 2.0,
    "composition": Diff(1, accuracy=4) @ Diff(1),
    "coefficient field": K * Diff(0) + Diff(2, 2),
    "broadcast field": K[:1, :, :1] * Diff(1) + K[0, 0] * Diff(0),
    "chain through a field": Diff(0) @ (K * Diff(0)),
    "coordinates": Diff(1, dx=coords(17)) + Diff(0),
    "DivKGrad": DivKGrad(K, dx=0.5),
    "forward": Diff(2, scheme="forward", accuracy=3),
    "Gradient(3)": Gradient(3, dx=0.2),
}


@pytest.mark.parametrize("chunks", [(10, (3, 14), (20, 3)), (4, 6, (1, 7, 15))])
def test_operators(chunks):
    u = RNG.standard_normal(OP_SHAPE)
    du = da.from_array(u, chunks=chunks)
    n = 0
    for name, op in OPS.items():
        for boundary in ("one-sided", "periodic", "valid"):
            try:
                ref = op(u, boundary=boundary)
            except (ValueError, NotImplementedError) as exc:  # refused in memory
                with pytest.raises(type(exc)):
                    op(du, boundary=boundary)
                continue
            got = op(du, boundary=boundary)
            assert isinstance(got, da.Array), name
            assert_bits(threads(got), ref)
            n += 1
    assert n >= 22


def test_multi_field_operators():
    F = RNG.standard_normal((3, 14, 15, 16)).astype(np.float32)
    L = Laplacian(3).on(1) + K[0, :15, :16] * Diff(0).on(2)  # a (15, 16) field, broadcast
    curl = Curl(3, dx=0.5)
    for chunks in [(1, 5, 6, 7), (3, 4, 4, 4)]:
        dF = da.from_array(F, chunks=chunks)
        for boundary in ("one-sided", "periodic"):
            assert_bits(threads(L(dF, boundary=boundary)), L(F, boundary=boundary))
            got = curl(dF, boundary=boundary)
            assert got.shape == (3, 14, 15, 16) and got.dtype == np.float32
            assert_bits(threads(got), curl(F, boundary=boundary))


# ------------------------------------------------------------ the graph

def _layers(x):
    return {name: len(layer) for name, layer in x.__dask_graph__().layers.items()}


K64 = np.random.default_rng(6).uniform(1.0, 2.0, (64, 64, 64))


def test_one_task_per_output_chunk_and_no_extra_pass():
    u = da.zeros((64, 64, 64), chunks=16)  # 4 x 4 x 4 chunks
    nb = math.prod(u.numblocks)
    input_tasks = len(u.__dask_graph__())
    for axis in range(3):
        d = grid.derivative(u, 1, axis=axis)
        layers = _layers(d)
        assert layers[d.name] == nb
        depth = {a: 1 if a == axis else 0 for a in range(3)}
        overlap = da.overlap.overlap(u, depth, "none", allow_rechunk=False)
        # input, the overlap along the one axis, and the output layer: nothing else
        assert len(d.__dask_graph__()) == len(overlap.__dask_graph__()) + nb
        assert len(layers) == 3
        assert len(overlap.__dask_graph__()) - input_tasks == 10 * 4 * 4 + nb
    lap = grid.laplacian(u, 0.1, accuracy=4)
    overlap = da.overlap.overlap(u, 2, "none", allow_rechunk=False)
    assert _layers(lap)[lap.name] == nb
    assert len(lap.__dask_graph__()) == len(overlap.__dask_graph__()) + nb
    assert len(_layers(lap)) == 3
    for part in grid.gradient(u, 0.1):
        assert _layers(part)[part.name] == nb
        assert len(_layers(part)) == 3
    v = Laplacian(3, accuracy=4)(u)
    assert _layers(v)[v.name] == nb and len(_layers(v)) == 3
    # a coefficient field is a dask array overlapped like u, not a copy in every task
    v = (K64 * Diff(0) + Diff(2, 2))(u)
    layers = _layers(v)
    assert layers[v.name] == nb and len(layers) == 5
    assert sum(name.startswith("fastfd-field-") for name in layers) == 1
    task = next(iter(dict(v.__dask_graph__().layers[v.name]).values()))
    assert len(cloudpickle.dumps(task)) < K64.nbytes / 20
    assert len(Laplacian(3, accuracy=4)(u).__dask_graph__()) == len(lap.__dask_graph__())
    grad = Gradient(3)(u)  # the components stacked in the same single layer
    assert grad.shape == (3, 64, 64, 64) and _layers(grad)[grad.name] == nb


def test_periodic_is_dasks_periodic_halo():
    u = da.zeros((32, 32), chunks=8)
    d = grid.derivative(u, 2, axis=1, accuracy=4, boundary="periodic")
    overlap = da.overlap.overlap(u, {0: 0, 1: 2}, {0: "none", 1: "periodic"},
                                 allow_rechunk=False)
    assert len(d.__dask_graph__()) == len(overlap.__dask_graph__()) + 16
    assert _layers(d)[d.name] == 16


def test_small_chunks_are_merged_with_a_neighbour():
    u = RNG.standard_normal(40)
    du = da.from_array(u, chunks=((1, 2, 15, 1, 20, 1),))
    d = grid.derivative(du, 2, accuracy=6)  # reach 3, one-sided ends need 8 points
    assert all(c >= 3 for c in d.chunks[0]) and sum(d.chunks[0]) == 40
    assert d.chunks[0][0] + 3 >= 8 and d.chunks[0][-1] + 3 >= 8
    assert any("rechunk" in name for name in _layers(d))
    assert_bits(threads(d), grid.derivative(u, 2, accuracy=6))
    fine = grid.derivative(da.from_array(u, chunks=10), 1)
    assert not any("rechunk" in name for name in _layers(fine))
    assert fine.chunks == ((10, 10, 10, 10),)
    valid = grid.derivative(da.from_array(u, chunks=10), 1, boundary="valid")
    assert valid.chunks == ((9, 10, 10, 9),)


# ------------------------------------------------------------ the API

def test_lazy_and_errors_before_any_compute():
    calls = []

    def tracked(b):
        calls.append(1)
        return b

    du = da.from_array(RNG.standard_normal((6, 8)), chunks=3).map_blocks(
        tracked, meta=np.empty((0, 0)))
    lazy = grid.derivative(du, 1)
    assert isinstance(lazy, da.Array) and not calls
    # the in-memory validation, on the whole array, at graph-build time
    with pytest.raises(ValueError, match=r"u has 8 points along axis 1, but order=1, "
                                         r"accuracy=8"):
        grid.derivative(du, 1, accuracy=8)
    with pytest.raises(ValueError, match=r"boundary must be one of"):
        grid.laplacian(du, boundary="wrap")
    with pytest.raises(ValueError, match=r"accuracy=20 is too high .* on the coordinates dx "
                                         r"in float64: at point 59"):
        grid.derivative(da.from_array(np.zeros(60), chunks=30), 1, accuracy=20,
                        dx=1.15 ** np.arange(60))
    with pytest.raises(TypeError, match=r"u must have a numeric dtype .* got dtype <U1"):
        grid.derivative(da.from_array(np.array(["a", "b", "c"]), chunks=2))
    assert not calls
    with pytest.raises(TypeError, match=r"out= cannot be used with a dask array u: the "
                                        r"result is itself a lazy dask array"):
        grid.centered_diff(du, out=np.empty((6, 8)))
    with pytest.raises(TypeError, match=r"out= cannot be used with a dask array"):
        grid.laplacian(du, out=np.empty((6, 8)))
    with pytest.raises(ValueError, match=r"a coefficient field of shape \(5, 1\) does not "
                                         r"broadcast to the grid's shape \(6, 8\)"):
        (np.ones((5, 1)) * Diff(0))(du)
    with pytest.raises(TypeError, match=r"u is a masked dask array.*dask.array.ma.filled"):
        grid.derivative(da.ma.masked_greater(da.arange(20.0, chunks=5), 10.0))
    with pytest.raises(ValueError, match=r"at least 1 dimension.*0-d dask array"):
        grid.derivative(da.from_array(np.array(3.5)))
    with pytest.raises(TypeError, match=r"coefficient field must be an in-memory array"):
        da.ones((6, 8), chunks=3) * Diff(0)
    for op in (DivKGrad(np.ones((6, 9))), Diff(0) @ (np.ones((6, 9)) * Diff(0))):
        with pytest.raises(ValueError, match=r"shape \(6, 9\) does not broadcast"):
            op(du)
    unknown = da.from_array(np.arange(10.0), chunks=5)
    unknown = unknown[unknown > 3]
    with pytest.raises(ValueError, match=r"unknown chunk sizes .*compute_chunk_sizes"):
        grid.gradient(unknown)
    assert not calls


def test_numba_workqueue_layer_runs_blocks_one_at_a_time():
    """Numba's workqueue threading layer aborts the process when two threads
    launch parallel kernels at once (measured: "Concurrent access has been
    detected"): the threaded scheduler's blocks then take turns."""
    proc = run_python("""
        import numpy as np, dask.array as da
        from fastfd import grid, Laplacian
        u = np.random.default_rng(0).standard_normal((8, 64, 64))
        du = da.from_array(u, chunks=(2, 64, 64))
        for _ in range(3):
            a = grid.derivative(du, 1, axis=1).compute(scheduler="threads", num_workers=4)
            b = Laplacian(3)(du).compute(scheduler="threads", num_workers=4)
        print(np.array_equal(a, grid.derivative(u, 1, axis=1)), np.array_equal(b, Laplacian(3)(u)))
    """, env={"NUMBA_THREADING_LAYER": "workqueue", "FASTFD_PARALLEL_MIN": "100"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True"]


def test_inputs_that_broke_it():
    # float16 and byte-swapped samples on coordinates: converted as in memory
    x = np.cumsum(np.linspace(1.0, 2.0, 10))
    for v in (np.linspace(0, 1, 10).astype("f2"), np.linspace(0, 1, 10).astype(">f8")):
        assert_bits(threads(grid.derivative(da.from_array(v, chunks=4), dx=x)),
                    grid.derivative(v, dx=x))
    # a complex coefficient on a real field: refused at graph build, as in memory
    with pytest.raises(TypeError, match=r"a complex coefficient needs a complex field u"):
        (1j * Diff(0))(da.ones((6, 6), chunks=3))
    # a periodic operator reaching further than the axis is long
    op = Diff(0, 3, accuracy=3, scheme="forward") @ Diff(0, 2, accuracy=4)
    op(np.ones(6), boundary="periodic")
    with pytest.raises(ValueError, match=r"axis 0 has 6 points, the operator reaches 7"):
        op(da.ones(6, chunks=6), boundary="periodic")
    # one-point chunks along a long axis: merged in one sweep
    u = da.zeros((8000, 3), chunks=(1, 3))
    d = grid.derivative(u, 2, axis=0, accuracy=8)
    assert min(d.chunks[0]) >= 4 and d.chunks[0][0] + 4 >= 10  # reach 4, edge window 10


def test_importing_fastfd_does_not_import_dask():
    proc = run_python("""
        import sys
        import numpy as np
        import fastfd
        from fastfd import Curl, Diff, DivKGrad, Gradient, Laplacian, grid
        grid.derivative(np.arange(5.0)); grid.laplacian(np.ones((4, 4)))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# ------------------------------------------------------ xarray

def test_xarray_apply_ufunc_numpy_and_dask_backed():
    xr = pytest.importorskip("xarray")
    y = coords(12, seed=3)
    x = np.linspace(0.0, 1.0, 15)
    values = np.sin(y)[:, None] * np.cos(3 * x)[None, :]
    A = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x})

    def differentiate(A, dim, **kw):
        return xr.apply_ufunc(grid.derivative, A, 1, dask="allowed",
                              kwargs=dict(dx=A[dim].values, axis=A.get_axis_num(dim), **kw))

    ref = grid.derivative(values, 1, dx=y, axis=0, accuracy=4)
    eager = differentiate(A, "y", accuracy=4)
    assert isinstance(eager, xr.DataArray) and eager.dims == ("y", "x")
    assert_bits(eager.values, ref)
    chunked = differentiate(A.chunk({"y": 5, "x": 7}), "y", accuracy=4)
    assert isinstance(chunked.data, da.Array)
    assert_bits(chunked.data.compute(scheduler="threads"), ref)
    assert_bits(chunked.data.compute(scheduler="threads"), eager.values)
    # a scalar spacing taken from the coordinates is a 0-d DataArray
    h = A["x"][1] - A["x"][0]
    assert_bits(grid.derivative(values, dx=h), grid.derivative(values, dx=float(h)))
    assert_bits(grid.laplacian(values, h), grid.laplacian(values, float(h)))
    # an in-memory DataArray is a coefficient field like its values; a dask-backed one is not
    assert_bits((Diff(0) * A)(values), (Diff(0) * values)(values))
    with pytest.raises(TypeError, match=r"coefficient field must be an in-memory array"):
        Diff(0) * A.chunk({"y": 5})
    # passed directly, a dask-backed DataArray would be computed whole: refused
    for f in (lambda B: grid.derivative(B, 1, dx=y, axis=0), grid.laplacian, Laplacian(2)):
        with pytest.raises(TypeError, match=r"u is a dask-backed xarray.DataArray: pass it "
                                            r"through xarray.apply_ufunc"):
            f(A.chunk({"y": 5}))


# ------------------------------------------------ distributed.LocalCluster

def test_local_cluster_equal(dask_client):
    u = RNG.standard_normal((24, 20, 18))
    du = da.from_array(u, chunks=(7, 6, 5))
    x = coords(20)
    cases = [
        (grid.derivative(du, 1, axis=0, accuracy=4), grid.derivative(u, 1, axis=0, accuracy=4)),
        (grid.derivative(du, 2, axis=2, boundary="periodic"),
         grid.derivative(u, 2, axis=2, boundary="periodic")),
        (grid.derivative(du, 1, axis=1, dx=x, boundary="valid"),
         grid.derivative(u, 1, axis=1, dx=x, boundary="valid")),
        (grid.laplacian(du, 0.1, accuracy=4), grid.laplacian(u, 0.1, accuracy=4)),
        (grid.laplacian(du, 0.1, boundary="periodic"), grid.laplacian(u, 0.1, boundary="periodic")),
    ]
    got = dask_client.compute([c for c, _ in cases], sync=True)
    for g, (_, r) in zip(got, cases):
        assert_bits(g, r)


@settings(max_examples=8, **SETTINGS)
@given(data=chunked(), accuracy=st.sampled_from([2, 4]),
       boundary=st.sampled_from(["one-sided", "periodic", "valid"]))
def test_local_cluster_matches_in_memory(dask_client, data, accuracy, boundary):
    u, chunks = data
    du = da.from_array(u, chunks=chunks)
    got = dask_client.compute([grid.laplacian(du, 0.5, accuracy=accuracy, boundary=boundary),
                               grid.derivative(du, 1, accuracy=accuracy, boundary=boundary)],
                              sync=True)
    assert_bits(got[0], grid.laplacian(u, 0.5, accuracy=accuracy, boundary=boundary))
    assert_bits(got[1], grid.derivative(u, 1, accuracy=accuracy, boundary=boundary))


def test_killed_worker_is_retried_and_the_result_is_equal():
    distributed = pytest.importorskip("distributed")
    import time

    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0", silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        u = RNG.standard_normal((48, 40, 40))

        def slow(b):
            time.sleep(0.2)
            return b

        du = da.from_array(u, chunks=16).map_blocks(slow)  # 3 x 3 x 3 slow input chunks
        future = client.compute(grid.laplacian(du, 0.5, accuracy=4))
        deadline = time.monotonic() + 60
        while not any(client.processing().values()):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        victim = next(iter(cluster.workers))
        address = cluster.workers[victim].worker_address
        assert not future.done()
        client.sync(cluster.workers[victim].kill)
        result = future.result(timeout=120)
        assert address not in client.scheduler_info()["workers"]  # it did die
        assert_bits(result, grid.laplacian(u, 0.5, accuracy=4))
