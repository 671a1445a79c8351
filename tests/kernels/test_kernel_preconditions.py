"""fastfd.kernels check their O(1) preconditions inside the kernel: a short
``out``, a short ``u``, mismatched shapes, an unknown ``mode`` and ``out``
overlapping ``u`` raise ValueError, from Python and from user @njit code,
before anything is written."""


import numba
import numpy as np
import pytest
from conftest import run_python
from kernel_callers import call_1d

import fastfd
from fastfd import kernels

# One jitted caller per kernel family, shared by every test. Each distinct
# (kernel, argument types, layout) is one compile of seconds, so the tests
# reuse one set of argument types: C-contiguous float64 u and out, int64 mode,
# read-only int64 offsets and float64 weights (as fastfd.stencil returns
# them). Other layouts and mode types are checked once per kernel family on
# its cheapest kernel: the checks are shared helpers (check_1d / overlaps,
# bad_mode / mode_str) that every kernel of the family calls.


@numba.njit
def call_forward(u, dx, out):
    kernels.forward_diff(u, dx, out)


@numba.njit
def call_stencil(u, offsets, weights, out, mode):
    kernels.apply_stencil(u, offsets, weights, out, mode)


@numba.njit
def call_lap2(u, out, mode):
    kernels.laplacian_2d(u, 1.0, 1.0, out, mode)


@numba.njit
def call_lap3(u, out, mode):
    kernels.laplacian_3d(u, 1.0, 1.0, 1.0, out, mode)


ONE_D = [(0, kernels.forward_diff, 2), (1, kernels.backward_diff, 2),
         (2, kernels.centered_diff, 3), (3, kernels.second_diff, 4)]
NAMES = {0: "forward_diff", 1: "backward_diff", 2: "centered_diff", 3: "second_diff"}


def _ro(*arrays):
    """Read-only copies: the offsets and weights types fastfd.stencil returns."""
    res = []
    for a in arrays:
        a = np.array(a)
        a.flags.writeable = False
        res.append(a)
    return res


def _both(py, jit):
    """The same call directly and through the user's @njit caller."""
    return [py, jit]


def _calls_1d(which, func):
    return _both(lambda u, out: func(u, 0.5, out), lambda u, out: call_1d(which, u, 0.5, out))


# ---------------------------------------------------------------- 1-D kernels

@pytest.mark.parametrize("which, func, minimum", ONE_D)
def test_1d_short_out_raises_and_writes_nothing(which, func, minimum):
    for call in _calls_1d(which, func):
        u = np.arange(10.0)
        buf = np.full(12, -7.0)
        with pytest.raises(ValueError, match=rf"{NAMES[which]}: out has length 5, "
                                             rf"expected 10 \(the length of u\)"):
            call(u, buf[:5])
        assert (buf == -7.0).all()  # buf[5:] (and buf[:5]) untouched
        with pytest.raises(ValueError, match=r"out has length 11, expected 10"):
            call(u, buf[:11])


@pytest.mark.parametrize("which, func, minimum", ONE_D)
def test_1d_short_u_raises(which, func, minimum):
    for call in _calls_1d(which, func):
        u = np.arange(float(minimum - 1))
        out = np.full(minimum - 1, -7.0)
        with pytest.raises(ValueError, match=rf"{NAMES[which]}: u has length {minimum - 1}, "
                                             rf"needs at least {minimum}"):
            call(u, out)
        assert (out == -7.0).all()
        ok = np.empty(minimum)
        call(np.arange(float(minimum)), ok)  # the minimum itself is accepted
        assert np.isfinite(ok).all()


@pytest.mark.parametrize("which, func, minimum", ONE_D)
def test_1d_overlap_raises(which, func, minimum):
    for call in _calls_1d(which, func):
        buf = np.arange(20.0)
        for u, out in [(buf[:10], buf[:10]), (buf[:10], buf[5:15])]:
            before = buf.copy()
            with pytest.raises(ValueError, match=rf"{NAMES[which]}: out overlaps u in memory"):
                call(u, out)
            np.testing.assert_array_equal(buf, before)
        buf = np.arange(20.0) ** 2
        call(buf[:10], buf[10:])  # adjacent halves of one buffer are disjoint
        np.testing.assert_array_equal(buf[:10], np.arange(10.0) ** 2)
        assert np.isfinite(buf[10:]).all()


def test_1d_overlap_of_strided_and_reversed_views():
    # The byte-range test (check_1d -> overlaps) is one helper shared by the
    # four 1-D kernels; its other-layout geometries are checked on
    # forward_diff (each layout is one more compile of every kernel called).
    for call in _both(kernels.forward_diff, call_forward):
        buf = np.arange(20.0)
        for u, out in [(buf[:10], buf[9::-1]), (buf[::2], buf[1:11])]:
            before = buf.copy()
            with pytest.raises(ValueError, match=r"forward_diff: out overlaps u in memory"):
                call(u, 0.5, out)
            np.testing.assert_array_equal(buf, before)
        z = (np.arange(8.0) ** 2).astype(np.complex128)
        call(z.real, 0.5, z.imag)  # interleaved, no shared element
        np.testing.assert_array_equal(z.real, np.arange(8.0) ** 2)
        np.testing.assert_array_equal(z.imag[:-1], (2 * np.arange(7.0) + 1) / 0.5)
        out = np.empty(10)
        call(np.arange(20.0)[::2], 0.5, out)  # strided u
        np.testing.assert_array_equal(out[:-1], np.full(9, 4.0))


# ------------------------------------------------------------- apply_stencil

def _calls_stencil():
    return _both(kernels.apply_stencil, call_stencil)


def test_stencil_unknown_mode_raises():
    offsets, weights = fastfd.stencil(1)
    for call in _calls_stencil():
        out = np.full(10, -7.0)
        for mode in (7, -1, 3):
            with pytest.raises(ValueError, match=rf"apply_stencil: mode must be ONE_SIDED \(0\), "
                                                 rf"PERIODIC \(1\) or INTERIOR \(2\), got {mode}"):
                call(np.arange(10.0), offsets, weights, out, mode)
        assert (out == -7.0).all()


def test_stencil_lengths_raise():
    offsets, weights = fastfd.stencil(1)
    u = np.arange(10.0)
    for call in _calls_stencil():
        buf = np.full(12, -7.0)
        with pytest.raises(ValueError, match=r"apply_stencil: out has length 5, expected 10 "
                                             r"\(the length of u\)"):
            call(u, offsets, weights, buf[:5], kernels.INTERIOR)
        assert (buf == -7.0).all()
        with pytest.raises(ValueError, match=r"apply_stencil: weights has length 2, expected 3 "
                                             r"\(the length of offsets\)"):
            call(u, offsets, weights[:2], buf[:10], kernels.PERIODIC)
        with pytest.raises(ValueError, match=r"apply_stencil: offsets and weights are empty; a "
                                             r"stencil needs at least one point"):
            call(u, offsets[:0], weights[:0], buf[:10], kernels.PERIODIC)
        assert (buf == -7.0).all()


def test_stencil_one_sided_needs_enough_points():
    offsets, weights = fastfd.stencil(2, 4)  # 5 points, edges need d + p = 6
    for call in _calls_stencil():
        for n in (3, 5):
            out = np.full(n, -7.0)
            with pytest.raises(ValueError, match=rf"apply_stencil: u has length {n}, "
                                                 rf"ONE_SIDED needs at least 6"):
                call(np.arange(float(n)), offsets, weights, out, kernels.ONE_SIDED)
            assert (out == -7.0).all()
        out = np.empty(6)
        call(np.arange(6.0) ** 2, offsets, weights, out, kernels.ONE_SIDED)
        np.testing.assert_allclose(out, 2.0, rtol=1e-9)
        # the other modes need no minimum (periodic wraps, interior skips)
        out = np.full(3, -7.0)
        call(np.arange(3.0), offsets, weights, out, kernels.INTERIOR)
        assert (out == -7.0).all()
        call(np.arange(3.0), offsets, weights, out, kernels.PERIODIC)
        assert np.isfinite(out).all()


def test_stencil_offsets_wider_than_u_one_sided():
    offsets, weights = _ro(np.array([-4, 0, 4]), np.array([1.0, -2.0, 1.0]) / 16.0)
    for call in _calls_stencil():
        out = np.full(8, -7.0)
        with pytest.raises(ValueError, match=r"apply_stencil: u has length 8, ONE_SIDED needs "
                                             r"at least 9 \(the stencil spans 9 points, "
                                             r"offsets -4\.\.4; its one-sided edge stencils, "
                                             r"derivative 2 of accuracy 2, take 4\)"):
            call(np.arange(8.0), offsets, weights, out, kernels.ONE_SIDED)
        assert (out == -7.0).all()


def test_stencil_overlap_raises():
    offsets, weights = fastfd.stencil(1)
    for call in _calls_stencil():
        buf = np.arange(20.0)
        with pytest.raises(ValueError, match=r"apply_stencil: out overlaps u in memory"):
            call(buf[:10], offsets, weights, buf[3:13], kernels.PERIODIC)
        np.testing.assert_array_equal(buf, np.arange(20.0))


# ---------------------------------------------------------------- Laplacians

LAPS = [(kernels.laplacian_2d, call_lap2, 2), (kernels.laplacian_3d, call_lap3, 3)]


def _lap_calls(py, jit, ndim):
    h = (1.0,) * ndim
    return _both(lambda u, out, mode: py(u, *h, out, mode), jit)


def _shape_re(shape):
    return r"\(" + r", ".join(map(str, shape)) + (r",\)" if len(shape) == 1 else r"\)")


@pytest.mark.parametrize("py, jit, ndim", LAPS)
def test_laplacian_shape_mismatch_raises(py, jit, ndim):
    name = f"laplacian_{ndim}d"
    shape = (6,) * ndim
    short = (6,) * (ndim - 1) + (5,)
    for call in _lap_calls(py, jit, ndim):
        buf = np.full(7 ** ndim, -7.0)
        out = buf[:6 ** (ndim - 1) * 5].reshape(short)
        with pytest.raises(ValueError, match=rf"{name}: out has shape {_shape_re(short)}, "
                                             rf"expected {_shape_re(shape)} \(the shape of u\)"):
            call(np.ones(shape), out, kernels.ONE_SIDED)
        assert (buf == -7.0).all()


@pytest.mark.parametrize("py, jit, ndim", LAPS)
def test_laplacian_minimum_sizes(py, jit, ndim):
    name = f"laplacian_{ndim}d"
    for call in _lap_calls(py, jit, ndim):
        for mode, need in ((kernels.ONE_SIDED, 4), (kernels.PERIODIC, 3), (kernels.INTERIOR, 3)):
            shape = (need,) * (ndim - 1) + (need - 1,)
            out = np.full(shape, -7.0)
            with pytest.raises(ValueError, match=rf"{name}: u has shape {_shape_re(shape)}; "
                                                 rf"this mode needs every axis at least {need} "
                                                 rf"long \(axis {ndim - 1} has {need - 1}\)"):
                call(np.ones(shape), out, mode)
            assert (out == -7.0).all()
            ok = np.full((need,) * ndim, -7.0)
            call(np.ones((need,) * ndim), ok, mode)


@pytest.mark.parametrize("py, jit, ndim", LAPS)
def test_laplacian_unknown_mode_and_overlap(py, jit, ndim):
    name = f"laplacian_{ndim}d"
    for call in _lap_calls(py, jit, ndim):
        u = np.ones((5,) * ndim)
        out = np.full_like(u, -7.0)
        with pytest.raises(ValueError, match=rf"{name}: mode must be ONE_SIDED \(0\), "
                                             rf"PERIODIC \(1\) or INTERIOR \(2\), got 7"):
            call(u, out, 7)
        assert (out == -7.0).all()
        with pytest.raises(ValueError, match=rf"{name}: out overlaps u in memory"):
            call(u, u, kernels.PERIODIC)
        big = np.ones((10,) * ndim)
        with pytest.raises(ValueError, match=rf"{name}: out overlaps u in memory"):
            call(big[:5], big[2:7], kernels.PERIODIC)
        assert (big == 1.0).all()
        call(big[:5], big[5:], kernels.PERIODIC)  # disjoint halves of one buffer


# ------------------------------------------------------------ the segfault case

def test_forward_diff_huge_u_tiny_out_in_subprocess():
    # without the check the kernel writes 8e7 bytes past a 1-element buffer
    # and the interpreter dies (SIGSEGV): hence the fresh process
    code = (
        "import numpy as np, numba\n"
        "from fastfd import kernels\n"
        "@numba.njit\n"
        "def user(u, out):\n"
        "    kernels.forward_diff(u, 1.0, out)\n"
        "for call in (lambda u, o: kernels.forward_diff(u, 1.0, o), user):\n"
        "    try:\n"
        "        call(np.zeros(10**7), np.empty(1))\n"
        "    except ValueError as exc:\n"
        "        assert 'out has length 1, expected 10000000' in str(exc), exc\n"
        "    else:\n"
        "        raise SystemExit('accepted')\n"
        "print('ok')\n")
    res = run_python(code, timeout=300)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.strip() == "ok"


# ------------------------------------------------- offsets of any integer type

# Every offset is read as int64 in the kernel. uint64: wraps above 2**63 - 1
# (and uint64 with int64 arithmetic would promote to float64); uint8: narrow
# unsigned; int8 and int16: negating their minimum overflows (the
# fresh-process tests below). int32 is the same case as int16 (one more
# compile of apply_stencil).
NARROW = (np.uint8, np.uint64, np.int8, np.int16)


def test_stencil_unsigned_and_narrow_offsets_match_int64():
    # runs before the fresh-process tests below: they load these compiles
    # (read-only offsets and weights of each type) from the disk cache
    u = np.arange(30.0) ** 3
    (w,) = _ro([1.0, -3.0, 3.0, -1.0])
    for mode in (kernels.INTERIOR, kernels.PERIODIC, kernels.ONE_SIDED):
        ref = np.full(30, -7.0)
        kernels.apply_stencil(u, *_ro(np.array([0, 1, 2, 3])), w, ref, mode)
        for dt in NARROW:
            out = np.full(30, -7.0)
            kernels.apply_stencil(u, *_ro(np.array([0, 1, 2, 3], dt)), w, out, mode)
            np.testing.assert_array_equal(out, ref)


_GUARDED = (
    "import numpy as np\n"
    "from fastfd import kernels\n"
    "def guarded(n, fill=1.0):\n"
    "    # u and out in the middle of buffers whose other elements are poison\n"
    "    ub = np.full(3 * n, 1e300); u = ub[n:2 * n]; u[:] = fill\n"
    "    ob = np.full(3 * n, -7.0); out = ob[n:2 * n]\n"
    "    return ub, u, ob, out\n"
    "def ro(a, dt=None):\n"
    "    a = np.array(a, dt); a.flags.writeable = False\n"
    "    return a\n")


def _run_code(code):
    res = run_python(_GUARDED + code, timeout=300)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    return res.stdout


def test_stencil_narrow_offsets_at_their_minimum_read_only_u():
    # int8: -(-128) is -128 again; computed in the offsets' own type, the
    # first point whose stencil fits is 0 and the kernel reads 128 elements
    # before u (the poison 1e300). One fresh process for int8 and int16.
    code = (
        "for name in ('int8', 'int16'):\n"
        "    dt = np.dtype(name); lo = int(np.iinfo(dt).min); n = -lo + 72\n"
        "    ub, u, ob, out = guarded(n)\n"
        "    offsets = ro([lo, 0, 1], dt); w = ro([1.0, -2.0, 1.0])\n"
        "    for mode in (kernels.INTERIOR, kernels.PERIODIC, kernels.ONE_SIDED):\n"
        "        out[:] = 0.0\n"
        "        kernels.apply_stencil(u, offsets, w, out, mode)\n"
        "        assert np.abs(out).max() < 1e-9, (name, mode, np.abs(out).max())\n"
        "        assert (ob[:n] == -7).all() and (ob[2 * n:] == -7).all(), (name, mode)\n"
        "    print(name, 'ok')\n")
    assert _run_code(code).split() == ["int8", "ok", "int16", "ok"]


def test_stencil_offsets_near_int64_limits():
    # a stencil spanning 2**63 points does not fit n=20: the span must be
    # compared with n without overflowing int64. The three cases: hi - lo + 1
    # overflows int64, -lo overflows int64, i + hi overflows int64 (one
    # fresh process for the three).
    cases = [[-2**62, 0, 2**62], [-2**63, 0, 1], [0, 1, 2**63 - 1]]
    code = (
        f"for offs in {cases!r}:\n"
        "    offsets = ro(offs, np.int64); n = 20\n"
        "    w = ro([1.0, -2.0, 1.0])\n"
        "    ub, u, ob, out = guarded(n)\n"
        "    u[:] = np.arange(n) ** 2.0\n"
        "    try:\n"
        "        kernels.apply_stencil(u, offsets, w, out, kernels.ONE_SIDED)\n"
        "    except ValueError as exc:\n"
        "        assert 'apply_stencil: u has length 20, ONE_SIDED needs the stencil to '\\\n"
        "            'span at most 20 points' in str(exc), (offs, exc)\n"
        "    else:\n"
        "        raise SystemExit(f'ONE_SIDED accepted {offs}')\n"
        "    assert (ob == -7).all(), offs\n"
        "    kernels.apply_stencil(u, offsets, w, out, kernels.INTERIOR)\n"
        "    assert (ob == -7).all(), offs  # no point's stencil fits: nothing written\n"
        "    kernels.apply_stencil(u, offsets, w, out, kernels.PERIODIC)\n"
        "    ref = [sum(wk * u[(i + int(o)) % n] for o, wk in zip(offsets.tolist(), w))\n"
        "           for i in range(n)]\n"
        "    assert np.array_equal(out, ref), (offs, out, ref)\n"
        "    assert (ob[:n] == -7).all() and (ob[2 * n:] == -7).all(), offs\n"
        "    print('ok')\n")
    assert _run_code(code).split() == ["ok"] * 3


# ------------------------------------------------------ mode and ndim by type

def _stencil_mode_calls():
    offsets, weights = fastfd.stencil(1)
    return [lambda u, out, mode: call_stencil(u, offsets, weights, out, mode),
            lambda u, out, mode: kernels.apply_stencil(u, offsets, weights, out, mode)]


MODE_KERNELS = {
    "apply_stencil": (1, _stencil_mode_calls),
    "laplacian_2d": (2, lambda: _lap_calls(kernels.laplacian_2d, call_lap2, 2)),
    "laplacian_3d": (3, lambda: _lap_calls(kernels.laplacian_3d, call_lap3, 3)),
}
MODE_MSG = r"mode must be ONE_SIDED \(0\), PERIODIC \(1\) or INTERIOR \(2\), got "


@pytest.mark.parametrize("name", list(MODE_KERNELS))
def test_bool_mode_is_refused(name):
    # True == PERIODIC: a bool would run as a mode. True, False and
    # np.bool_(True) are one Numba type: one compile per kernel, which checks
    # that every kernel routes its mode through the shared type check.
    ndim, calls = MODE_KERNELS[name]
    u = np.ones((5,) * ndim)
    for call in calls():
        for mode, text in ((True, "True"), (False, "False"), (np.bool_(True), "True")):
            out = np.full(u.shape, -7.0)
            with pytest.raises(ValueError, match=rf"{name}: {MODE_MSG}{text} \(a bool; pass "
                                                 rf"one of the integer constants\)"):
                call(u, out, mode)
            assert (out == -7.0).all()


@pytest.mark.parametrize("name", ["apply_stencil", "laplacian_2d"])
def test_float_mode_is_refused_naming_its_type(name):
    # a float is refused naming its type, 1.0 too (it equals PERIODIC). Each
    # mode type is a compile of the whole kernel, so the types are checked on
    # the cheapest kernel of each family (the check, bad_mode and mode_str,
    # is shared: laplacian_3d routes through it, test_bool_mode_is_refused).
    ndim, calls = MODE_KERNELS[name]
    u = np.ones((5,) * ndim)
    for call in calls():
        for mode in (0.5, 1.0, np.float32(2.0)):
            out = np.full(u.shape, -7.0)
            with pytest.raises(ValueError, match=rf"{name}: {MODE_MSG}a value of type "
                                                 rf"float(64|32) \(mode is an integer\)"):
                call(u, out, mode)
            assert (out == -7.0).all()
        out = np.full(u.shape, -7.0)
        call(u, out, np.int8(1))  # any integer type is a mode
        assert (out == 0.0).all()  # the periodic Laplacian / derivative of a constant


@pytest.mark.parametrize("shape", [(6,), (6, 6, 6)])
def test_laplacian_2d_wrong_ndim_is_a_value_error(shape):
    # a 1-D or 3-D u is a ValueError naming u, not a Numba TypingError from
    # deep in the kernel
    u = np.ones(shape)
    for call in (lambda u, out: kernels.laplacian_2d(u, 1.0, 1.0, out, kernels.PERIODIC),
                 lambda u, out: call_lap2(u, out, kernels.PERIODIC)):
        with pytest.raises(ValueError, match=rf"laplacian_2d: u and out must be 2-D arrays, "
                                             rf"got a {len(shape)}-d u and a {len(shape)}-d out"):
            call(u, np.zeros(shape))
    with pytest.raises(ValueError, match=r"laplacian_2d: u and out must be 2-D arrays, got a "
                                         r"2-d u and a 1-d out"):
        kernels.laplacian_2d(np.ones((6, 6)), 1.0, 1.0, np.zeros(36), kernels.PERIODIC)


def test_laplacian_3d_wrong_ndim_is_a_value_error():
    with pytest.raises(ValueError, match=r"laplacian_3d: u and out must be 3-D arrays, got a "
                                         r"2-d u and a 2-d out"):
        kernels.laplacian_3d(np.ones((6, 6)), 1.0, 1.0, 1.0, np.zeros((6, 6)), kernels.PERIODIC)


def test_integer_or_mixed_dtypes_and_bad_spacings_are_value_errors():
    # an integer u made 1/dx an integer: centered_diff of 10 * arange(5) with
    # dx=2.5 gave 5 (not 4), dx=0.1 a ZeroDivisionError; dx=0 divided by zero
    u = np.arange(5) * 10
    with pytest.raises(ValueError, match=r"^centered_diff: u and out must be float32, float64, "
                                         r"complex64 or complex128 arrays of one dtype, got "
                                         r"int64 and int64$"):
        kernels.centered_diff(u, 2.5, np.zeros(5, np.int64))
    out = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match=r"got float64 and float32$"):
        kernels.centered_diff(np.arange(5.0), 1.0, out)
    assert not out.any()
    for dx in (0.0, -0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"^forward_diff: dx must be positive and finite"):
            kernels.forward_diff(np.arange(5.0), dx, np.zeros(5))
    # spacings in axis order (dy, dx): the second one is axis 1's, dx
    with pytest.raises(ValueError, match=r"^laplacian_2d: dx must be positive and finite"):
        kernels.laplacian_2d(np.ones((5, 5)), 1.0, 0.0, np.zeros((5, 5)), kernels.ONE_SIDED)
    with pytest.raises(ValueError, match=r"^laplacian_2d: dy must be positive and finite"):
        kernels.laplacian_2d(np.ones((5, 5)), 0.0, 1.0, np.zeros((5, 5)), kernels.ONE_SIDED)
    out = np.zeros(5)
    kernels.centered_diff(np.arange(5.0) ** 2, 2, out)          # an integer dx is fine
    assert np.array_equal(out, [0.0, 1.0, 2.0, 3.0, 4.0])
