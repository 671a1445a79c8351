"""Stencil operators (fastfd.Diff, Laplacian, DivKGrad, fuse, op.kernel)
against NumPy slicing, the peers when installed, and the np.copyto roofline.

    .venv/bin/python -m pytest bench/bench_operators.py --benchmark-only -q

The peers are optional (``pip install fastfd[peers]``): findiff, py-pde,
pystencils and devito; a missing one, or one whose compiler fails, is
skipped. ``bench/conftest.py`` sets ``OMP_WAIT_POLICY=PASSIVE`` (pystencils
and devito use OpenMP, whose spinning worker threads would take the cores
from Numba's threads).

Rooflines: an update reading k arrays and writing m costs k + m array
passes. ``np.copyto(G, F)`` of the stacked pair of fields is the Gray-Scott
roofline (reads 2, writes 2); ``np.copyto(out, u)`` is that of a one-field
operator (reads 1, writes 1). ``np.copyto`` runs on one thread.
"""

import numba
import numpy as np
import pytest

import fastfd

DU, DV, FEED, KILL, DT = 0.16, 0.08, 0.0367, 0.0649, 1.0


def _warm(f):
    f()  # compile (or load from Numba's cache) and fault pages in
    return f


@numba.njit
def gray_scott(u, v, lu, lv):
    uvv = u * v * v
    return (u + DT * (DU * lu - uvv + FEED * (1.0 - u)),
            v + DT * (DV * lv + uvv - (FEED + KILL) * v))


def numpy_gray_scott(UV, G):
    """The same step by NumPy slicing, periodic (np.roll)."""
    u, v = UV
    lu = np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u
    lv = np.roll(v, 1, 0) + np.roll(v, -1, 0) + np.roll(v, 1, 1) + np.roll(v, -1, 1) - 4 * v
    uvv = u * v * v
    G[0] = u + DT * (DU * lu - uvv + FEED * (1.0 - u))
    G[1] = v + DT * (DV * lv + uvv - (FEED + KILL) * v)


# ------------------------------------------------------------ Gray-Scott, 2048^2

GS = "operators: Gray-Scott step, 2048^2 float64, periodic"
N = 2048


@pytest.fixture(scope="module")
def fields():
    rng = np.random.default_rng(0)
    UV = rng.random((2, N, N))
    return UV, np.empty_like(UV)


@pytest.fixture(scope="module")
def gs_step():
    L = fastfd.Laplacian(2)
    return fastfd.fuse(gray_scott, L.on(0), L.on(1), shape=(N, N), boundary="periodic",
                       parallel=True)


def test_gs_fused(role, fields, gs_step):
    UV, G = fields
    role("fastfd fuse", GS)(_warm(lambda: gs_step(UV, G)))


def test_gs_fused_one_thread(role, fields, gs_step):
    UV, G = fields

    def one():
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            gs_step(UV, G)
        finally:
            numba.set_num_threads(threads)

    role("fastfd fuse, 1 thread", GS)(_warm(one))


def test_gs_numpy(role, fields):
    UV, G = fields
    role("numpy", GS)(_warm(lambda: numpy_gray_scott(UV, G)))


def _pystencils_gs(fields, openmp):
    """pystencils' generated C kernel of the same step, on the interior:
    pystencils leaves the ghost layer to the caller."""
    ps = pytest.importorskip("pystencils")
    UV, G = fields
    u, v, u2, v2 = ps.fields("u, v, u2, v2: double[2D]")
    lap = lambda f: f[1, 0] + f[-1, 0] + f[0, 1] + f[0, -1] - 4 * f[0, 0]  # noqa: E731
    uvv = u[0, 0] * v[0, 0] ** 2
    eqs = [ps.Assignment(u2[0, 0], u[0, 0] + DT * (DU * lap(u) - uvv + FEED * (1 - u[0, 0]))),
           ps.Assignment(v2[0, 0], v[0, 0] + DT * (DV * lap(v) + uvv - (FEED + KILL) * v[0, 0]))]
    try:
        cfg = ps.CreateKernelConfig(target=ps.Target.CPU)
        cfg.cpu.openmp.enable = openmp
        kernel = ps.create_kernel(eqs, cfg).compile()
    except Exception as exc:  # no compiler, or an API change
        pytest.skip(f"pystencils could not build its kernel: {exc}")
    U, V, U2, V2 = (np.ascontiguousarray(a) for a in (UV[0], UV[1], G[0], G[1]))
    return _warm(lambda: kernel(u=U, v=V, u2=U2, v2=V2))


def test_gs_pystencils(role, fields):
    role("pystencils (interior, OpenMP)", GS)(_pystencils_gs(fields, True))


def test_gs_pystencils_serial(role, fields):
    # compiled without OpenMP: limiting OpenMP's threads from Python
    # (threadpoolctl) made the same kernel 1.9x slower than
    # OMP_NUM_THREADS=1 did, so the 1-thread figure is the serial build
    role("pystencils (interior, serial build)", GS)(_pystencils_gs(fields, False))


def test_gs_roofline(role, fields):
    UV, G = fields
    role("roofline", GS)(_warm(lambda: np.copyto(G, UV)))


# ------------------------------------------------------------ 3-D Laplacian, 256^3

L3 = "operators: 3-D Laplacian op(u), 256^3 float64"
L34 = "operators: 3-D Laplacian op(u) accuracy 4, 256^3 float64"


@pytest.fixture(scope="module")
def cube():
    u = np.random.default_rng(1).standard_normal((256, 256, 256))
    return u, np.empty_like(u)


def test_lap3(role, cube):
    u, out = cube
    op = fastfd.Laplacian(3, dx=0.1)
    role("fastfd", L3)(_warm(lambda: op(u, out=out)))


def test_lap3_numpy(role, cube):
    u, out = cube
    c = (slice(1, -1),) * 3

    def f():
        out[c] = (u[2:, 1:-1, 1:-1] + u[:-2, 1:-1, 1:-1] + u[1:-1, 2:, 1:-1]
                  + u[1:-1, :-2, 1:-1] + u[1:-1, 1:-1, 2:] + u[1:-1, 1:-1, :-2]
                  - 6 * u[c]) / 0.01
    role("numpy", L3)(_warm(f))


def test_lap3_pypde(role, cube):
    pde = pytest.importorskip("pde")
    u, out = cube
    grid = pde.CartesianGrid([[0.0, 25.6]] * 3, [256] * 3)  # dx = 0.1
    lap = grid.make_operator("laplace", bc="auto_periodic_neumann")
    role("py-pde (Neumann ghost cells)", L3)(_warm(lambda: lap(u, out)))


def test_lap3_roofline(role, cube):
    u, out = cube
    role("roofline", L3)(_warm(lambda: np.copyto(out, u)))


def test_lap3_acc4(role, cube):
    u, out = cube
    op = fastfd.Laplacian(3, accuracy=4, dx=0.1)
    role("fastfd", L34)(_warm(lambda: op(u, out=out)))


@numba.njit(parallel=True)
def hand_lap3_acc4(u, out, c0, c1, c2):
    """The accuracy-4 Laplacian's interior as a user would write it: one
    expression per point, weights shared by the points at equal distance."""
    n0, n1, n2 = u.shape
    for i in numba.prange(2, n0 - 2):
        for j in range(2, n1 - 2):
            for k in range(2, n2 - 2):
                out[i, j, k] = (c0 * u[i, j, k]
                                + c1 * (u[i - 1, j, k] + u[i + 1, j, k] + u[i, j - 1, k]
                                        + u[i, j + 1, k] + u[i, j, k - 1] + u[i, j, k + 1])
                                + c2 * (u[i - 2, j, k] + u[i + 2, j, k] + u[i, j - 2, k]
                                        + u[i, j + 2, k] + u[i, j, k - 2] + u[i, j, k + 2]))


def test_lap3_acc4_hand_numba(role, cube):
    u, out = cube
    c0, c1, c2 = -7.5 / 0.01, (4 / 3) / 0.01, (-1 / 12) / 0.01
    role("hand-written Numba loop (interior)", L34)(
        _warm(lambda: hand_lap3_acc4(u, out, c0, c1, c2)))


def test_lap3_acc4_roofline(role, cube):
    u, out = cube
    role("roofline", L34)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------------------ axis 0 in user njit code

AX = "operators: axis-0 first derivative of a C 4000^2 array, op.kernel in user njit code"


@pytest.fixture(scope="module")
def plane():
    u = np.random.default_rng(2).standard_normal((4000, 4000))
    return u, np.empty_like(u)


def test_axis0_kernel(role, plane):
    u, out = plane
    k = fastfd.Diff(0, dx=0.1).kernel(u.shape, parallel=True)

    @numba.njit
    def user(u, out):
        k(u, out)

    role("fastfd op.kernel", AX)(_warm(lambda: user(u, out)))


def test_axis0_numpy(role, plane):
    u, out = plane

    def f():
        np.subtract(u[2:], u[:-2], out=out[1:-1])
        out[1:-1] /= 0.2
    role("numpy", AX)(_warm(f))


def test_axis0_roofline(role, plane):
    u, out = plane
    role("roofline", AX)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------------------ div(k grad u), 4096^2

DK = "operators: div(k grad u) 2-D 4096^2 float64 (roofline x1.5 = 3 arrays)"


@pytest.fixture(scope="module")
def kfield():
    rng = np.random.default_rng(3)
    u = rng.standard_normal((4096, 4096))
    return u, 1 + rng.random((4096, 4096)), np.empty_like(u)


def test_divkgrad(role, kfield):
    u, k, out = kfield
    op = fastfd.DivKGrad(k, dx=0.1)
    role("fastfd", DK)(_warm(lambda: op(u, out=out)))


def test_divkgrad_numpy(role, kfield):
    u, k, out = kfield
    c = (slice(1, -1),) * 2

    def f():
        kx = 0.5 * (k[1:, 1:-1] + k[:-1, 1:-1])
        ky = 0.5 * (k[1:-1, 1:] + k[1:-1, :-1])
        gx = (u[1:, 1:-1] - u[:-1, 1:-1]) * kx
        gy = (u[1:-1, 1:] - u[1:-1, :-1]) * ky
        out[c] = (gx[1:] - gx[:-1] + gy[:, 1:] - gy[:, :-1]) / 0.01
    role("numpy", DK)(_warm(f))


def test_divkgrad_roofline(role, kfield):
    u, _, out = kfield
    role("roofline", DK)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------------------ a sum of three terms from Python

S3 = "operators: op(u) of d2/dx0^2 + d2/dx1^2 + d2/dx0dx1, 4096^2 float64"


@pytest.fixture(scope="module")
def square():
    # 4096^2: two 128 MiB arrays. At 2048^2 the copy's two 32 MiB arrays
    # partly stay in the 32 MiB L3 (np.copyto at 59 GB/s, against 43 GB/s
    # here), so the ratio there measured the cache, not the memory roofline
    u = np.random.default_rng(4).standard_normal((4096, 4096))
    return u, np.empty_like(u)


def test_sum3(role, square):
    u, out = square
    op = fastfd.Diff(0, 2) + fastfd.Diff(1, 2) + fastfd.Diff(0) @ fastfd.Diff(1)
    role("fastfd", S3)(_warm(lambda: op(u, out=out)))


def test_sum3_numpy(role, square):
    u, out = square
    c = (slice(1, -1),) * 2

    def f():
        out[c] = (u[2:, 1:-1] - 2 * u[c] + u[:-2, 1:-1] + u[1:-1, 2:] - 2 * u[c]
                  + u[1:-1, :-2] + 0.25 * (u[2:, 2:] - u[2:, :-2] - u[:-2, 2:] + u[:-2, :-2]))
    role("numpy", S3)(_warm(f))


def test_sum3_findiff(role, square):
    findiff = pytest.importorskip("findiff")
    u, _ = square
    d0, d1 = findiff.Diff(0, 1.0), findiff.Diff(1, 1.0)
    op = d0 ** 2 + d1 ** 2 + d0 * d1
    role("findiff", S3)(_warm(lambda: op(u)))


def test_sum3_roofline(role, square):
    u, out = square
    role("roofline", S3)(_warm(lambda: np.copyto(out, u)))


# ------------------------------------------------------------ sparse matrix, 1000^2

MX = "operators: Laplacian(2).matrix((1000, 1000))"


def test_matrix(role):
    pytest.importorskip("scipy.sparse")
    role("fastfd", MX)(lambda: fastfd.Laplacian(2).matrix((1000, 1000)))


def test_matrix_findiff(role):
    findiff = pytest.importorskip("findiff")
    op = findiff.Diff(0, 1.0) ** 2 + findiff.Diff(1, 1.0) ** 2
    role("findiff", MX)(lambda: op.matrix((1000, 1000)))
