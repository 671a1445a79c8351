"""check_gradient against losses, inputs and environments that try to fool it.

Executors whose workers compute another loss, losses that write to their
input, loss values that are not real scalars, framework tensors, slow
gradients and slow losses against the budget, threads and warning filters,
dying Dask workers. Process-global behaviour runs in a subprocess.
"""

import numpy as np
import pytest
from conftest import run_python

from fastfd.gradcheck import LossEvaluationError, check_gradient

W = np.array([1.0, -2.0, 0.5, 3.0])


def sq(p):
    return float(np.sum(p ** 2))


# ---------------------------------------------------------------- h
@pytest.mark.parametrize("h", ["1e-3", np.array(["1e-3"] * 4), ["1e-3"] * 4, b"1e-3",
                               np.array([True] * 4)])
def test_h_as_text_or_bool_is_a_type_error(h):
    with pytest.raises(TypeError, match=r"h must be a positive real number or array, got "
                                        r"(b?'1e-3'|\[|array\(\[ ?(b?'1e-3'|True))"):
        check_gradient(sq, W, 2 * W, coords="all", h=h)


# ---------------------------------------------------------------- budget
def slow_grad_on(clock):
    """A gradient callable taking 0.4 s of the scripted clock: twice the budget."""
    def slow_grad(p):
        clock.advance(0.4)
        return 2 * p
    return slow_grad


def test_budget_clock_starts_after_a_slow_gradient_callable(fake_clock):
    # the budget is the check's: counted from the end of the gradient
    # callable, a 10 us loss fits all 3000 coordinates (6,000 calls, 0.06 s)
    # of budget=0.2 (counted from its start, nothing would fit)
    x = np.linspace(-1, 1, 3000)
    r = check_gradient(fake_clock.timed(sq, 1e-5), x, slow_grad_on(fake_clock), budget=0.2)
    assert r.passed and r.mode == "all" and r.n_checked == 3000, str(r)


def test_default_budget_with_a_gradient_callable_slower_than_it(fake_clock, monkeypatch):
    from fastfd.gradcheck import _planner
    monkeypatch.setattr(_planner, "DEFAULT_BUDGET", 0.2)
    x = np.linspace(-1, 1, 3000)
    r = check_gradient(fake_clock.timed(sq, 1e-5), x, slow_grad_on(fake_clock))
    assert r.passed and r.mode == "all" and r.n_checked == 3000, str(r)


# ---------------------------------------------------------------- threads
def test_concurrent_checks_leave_warning_filters_alone():
    # warnings.catch_warnings is not thread-safe: concurrent calls that used
    # it left ('ignore', NumbaWarning) in the process-wide filters
    proc = run_python("""
        import threading, warnings
        import numba, numpy as np
        from fastfd.gradcheck._check import check_gradient

        @numba.njit
        def loss(x):
            return np.sum(np.sin(x) * x)

        x = np.linspace(-1.0, 1.0, 40)
        g = np.sin(x) + x * np.cos(x)
        before = list(warnings.filters)
        results = []
        go = threading.Barrier(4)

        def work():
            go.wait()
            for _ in range(5):
                results.append(check_gradient(loss, x, g, coords="all").passed)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [True] * 20, results
        assert warnings.filters == before, [f for f in warnings.filters if f not in before]
        print("ok")
    """)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


# ---------------------------------------------------------------- loss values
class Scalar0d:
    """A 0-d framework scalar (as a PyTorch or JAX scalar): __float__, shape ()."""

    shape = ()
    dtype = "torch.float64"

    def __init__(self, v):
        self.v = v

    def __float__(self):
        return float(self.v)


class FloatOnly:
    """Anything else with __float__ and no shape."""

    def __init__(self, v):
        self.v = v

    def __float__(self):
        return float(self.v)


class Tensor1:
    """A one-element tensor of shape (1,): __float__ works, but it is not a scalar."""

    shape = (1,)

    def __init__(self, v):
        self.v = v

    def __float__(self):
        return float(self.v)


MODES = {
    "coordinates": dict(coords="all"),
    "directions": dict(coords=0, directions=2, seed=0),
    "sampled": dict(coords=4, directions=1, seed=0),
    "threads": dict(coords="all", executor="threads"),
}


def check(loss, params, grad, mode):
    import concurrent.futures as cf
    kw = dict(MODES[mode])
    if kw.get("executor") == "threads":
        with cf.ThreadPoolExecutor(2) as ex:
            kw["executor"] = ex
            return check_gradient(loss, params, grad, **kw)
    return check_gradient(loss, params, grad, **kw)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("wrap", [Scalar0d, FloatOnly, lambda v: np.array(v),
                                  lambda v: np.array(v, dtype=np.float32)[()] * 0 + v])
def test_zero_d_scalars_are_accepted_in_every_mode(wrap, mode):
    r = check(lambda p: wrap(np.sum(p ** 2)), W, 2 * W, mode)
    assert r.passed


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("value, msg", [
    ("1.0", r"got str: '1\.0'"),
    (True, r"got True of type bool"),
    (np.bool_(False), r"got np.False_ of type bool"),
    (__import__("decimal").Decimal("1.5"), r"got Decimal: Decimal\('1\.5'\); return float"),
    (np.array([1.0, 2.0], dtype=object), r"got an array of shape \(2,\)"),
    (np.array(1.0, dtype=object), r"got a 0-d array of dtype object"),
    (np.ones(2), r"got an array of shape \(2,\)"),
    (np.ones(1), r"got an array of shape \(1,\)"),
    (Tensor1(1.0), r"got a Tensor1 of shape \(1,\)"),
    (1 + 2j, r"got complex"),
])
def test_bad_loss_values_are_the_same_type_error_in_every_mode(value, msg, mode):
    # one loss-calling path in every mode: '1.0', True and Decimal are not
    # taken for numbers (and the gradient blamed), an array is a TypeError
    with pytest.raises(TypeError, match=r"loss must return a real scalar, " + msg):
        check(lambda p: value, W, 2 * W, mode)


@pytest.mark.parametrize("mode", list(MODES))
def test_loss_exception_is_a_loss_evaluation_error_in_every_mode(mode):
    calls = {"n": 0}

    def fragile(p):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyError("state")
        return float(np.sum(p ** 2))

    with pytest.raises(LossEvaluationError,
                       match=r"loss raised KeyError (at params\[\d\] [+-] h|in the "
                             r"directional checks|at the unperturbed params.*): 'state'") as info:
        check(fragile, W, 2 * W, mode)
    assert isinstance(info.value.__cause__, KeyError)


def test_vectorized_bool_values_are_a_type_error():
    with pytest.raises(TypeError, match=r"vectorized=True: loss must return real numbers, "
                                        r"got dtype bool"):
        check_gradient(lambda P: np.sum(P, axis=1) > 0, W, 2 * W, coords="all",
                       vectorized=True)


class RequiresGrad:
    """Mimics a PyTorch tensor that requires grad: NumPy cannot read it."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                           "tensor.detach().numpy() instead.")

    def detach(self):
        return W.copy()


def test_params_needing_detach_say_so():
    with pytest.raises(TypeError, match=r"params\['w'\] must be real numbers; it is a "
                                        r".*RequiresGrad that NumPy cannot "
                                        r"read \(RuntimeError: Can't call numpy\(\).*\)\. "
                                        r"Pass params\['w'\]\.detach\(\)"):
        check_gradient(sq, {"w": RequiresGrad()}, {"w": 2 * W}, coords="all")
    with pytest.raises(TypeError, match=r"grad\['w'\] must be real numbers; it is a .*RequiresGrad .*Pass "
                                        r"grad\['w'\]\.detach\(\)"):
        check_gradient(lambda p: sq(p["w"]), {"w": W}, {"w": RequiresGrad()}, coords="all")


# ---------------------------------------------------------------- writes to the input
def test_python_loss_cannot_reenable_writes_and_hide_them():
    # it sets writeable=True on its view and zeroes another coordinate: the
    # engine's restore of that coordinate erases the write, so the private
    # copy is compared with the original (a gradient wrong at params[3]
    # would pass otherwise)
    def sneaky(p):
        if np.any(p != W):
            p.flags.writeable = True
            p[3] = 0.0
        return float(np.sum(p ** 2))

    g = 2 * W
    g[3] = 0.0
    before = W.copy()
    with pytest.raises(ValueError, match=r"loss modified its input at params\[0\] \+ h "
                                         r"\(cannot set WRITEABLE flag to True of this array\)\. "
                                         r"A loss must not write to the parameters it is given "
                                         r"\(params\[3\] changed\)"):
        check_gradient(sneaky, W, g, coords="all")
    np.testing.assert_array_equal(W, before)


@__import__("numba").njit
def sneaky_jit(x):
    if x[0] != 1.0:
        x[3] = 0.0
    return np.sum(x * x)


def test_jitted_loss_writing_a_coordinate_perturbed_later_is_caught():
    g = 2 * W
    with pytest.raises(ValueError, match=r"loss modified its input: params\[3\] changed from "
                                         r"3\.0\. "):
        check_gradient(sneaky_jit, W, g, coords="all")


def test_directional_stage_gives_read_only_views():
    def writer(p):
        p[0] = 5.0
        return float(np.sum(p ** 2))

    big = np.linspace(1.0, 2.0, 40)
    with pytest.raises(ValueError, match=r"loss modified its input (at the unperturbed params|"
                                         r"in the directional checks) \(assignment destination "
                                         r"is read-only\)"):
        check_gradient(writer, big, 2 * big, coords=0, directions=2)


def test_loss_slower_than_the_budget_is_refused_at_once(fake_clock):
    calls = {"n": 0}

    def slow(p):
        calls["n"] += 1
        fake_clock.now += 1.0
        return float(np.sum(p ** 2))

    # one call decides: re-timing costs 3 to 6 more calls (5 s for
    # budget=0.5 and a 1 s loss), a second call 1 s
    with pytest.raises(ValueError, match=r"budget=0\.5 s is too small for even one loss "
                                         r"evaluation, which takes 1 s \(measured once, on "
                                         r"the first call at params\)"):
        check_gradient(slow, W, 2 * W, budget=0.5)
    assert calls["n"] == 1


def test_stratified_minimum_holds_when_the_deadline_has_passed():
    from fastfd.gradcheck._params import FlatProblem
    from fastfd.gradcheck._sampling import check_sample, stratified_sample
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal(3000), "b": rng.standard_normal(40),
              "c": rng.standard_normal(7)}
    prob = FlatProblem(params, {k: 2 * v for k, v in params.items()},
                       lambda p: sum(float(np.sum(v ** 2)) for v in p.values()))
    idx = stratified_sample(prob.blocks, prob.g, 600, rng)
    r = check_sample(prob, prob._loss, idx, None, None, False, False, None, deadline=0.0)
    assert {t.name: t.checked for t in r.tensors} == {"W": 16, "b": 16, "c": 7}
    assert set(r.index.tolist()) <= set(idx.tolist())


def test_dense_bug_bisection_stays_inside_the_budget(fake_clock):
    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal(4000), "b": rng.standard_normal(50)}
    grad = {k: 2 * v for k, v in params.items()}
    grad["W"][::97] *= 1.5          # 42 wrong coordinates, each bisected apart

    def loss(p):
        fake_clock.now += 1e-3
        return float(np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2))

    r = check_gradient(loss, params, grad, budget=1.0, seed=0)
    assert not r.passed and r.tensors[0].passed is False
    # bisection runs to the end of the budget and stops (without a deadline
    # it takes 2.2 s of the scripted clock); then the stratified minimum of
    # 32 coordinates runs all the same (64 calls, 0.064 s)
    assert r.elapsed < 1.25 and r.n_checked == 32


def test_cold_numba_cache_does_not_eat_the_budget(tmp_path):
    # On a cold cache, compiling the kernels takes seconds: all of it happens
    # in compile_kernels (before the budget clock starts) or in
    # compile_direction_kernels (with the clock stopped, once the plan needs
    # directions), and is reported as compile_seconds. Numba's compile events
    # show that no kernel compiles outside them, whatever the speed of the
    # machine. The loss (at least 0.5 ms: 2n calls take 2.6 s) does not fit
    # budget=1.0 in full: directions, then the stratified sample, run on the
    # clock.
    proc = run_python("""
        import time
        import numpy as np
        from numba.core import event
        from fastfd.gradcheck import _planner
        from fastfd.gradcheck import check_gradient

        inside = []
        listener = event.RecordingListener()

        def spy(real):
            def compiling(*args):
                start = len(listener.buffer)
                out = real(*args)
                inside.extend(range(start, len(listener.buffer)))
                return out
            return compiling

        _planner.compile_kernels = spy(_planner.compile_kernels)
        _planner.compile_direction_kernels = spy(_planner.compile_direction_kernels)
        rng = np.random.default_rng(0)
        P = {"W": rng.standard_normal((50, 50)), "b": rng.standard_normal(50),
             "c": rng.standard_normal(7)}

        def loss(p):
            t = time.perf_counter()
            while time.perf_counter() - t < 5e-4:
                pass
            return sum(float(np.sum(v ** 2)) for v in p.values())

        with event.install_listener("numba:compile", listener):
            r = check_gradient(loss, P, {k: 2 * v for k, v in P.items()}, budget=1.0,
                               seed=0)
        checked = {t.name: t.checked for t in r.tensors}
        assert r.passed and r.mode == "sampled" and r.n_directions >= 1, str(r)
        assert checked["W"] >= 16 and checked["b"] >= 16 and checked["c"] == 7, checked
        assert inside and r.compile_seconds > 0, (inside, r.compile_seconds)
        late = [e.data["dispatcher"].py_func.__qualname__
                for j, (_, e) in enumerate(listener.buffer) if e.is_start and j not in inside]
        assert late == [], late
        print("ok")
    """, env={"NUMBA_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_a_float32_framework_scalar_sets_the_check_precision():
    class Scalar32(Scalar0d):
        dtype = "torch.float32"

    x = np.linspace(0.5, 1.5, 6)
    r64 = check_gradient(lambda p: Scalar0d(np.sum(p ** 2)), x, 2 * x, coords="all")
    r32 = check_gradient(lambda p: Scalar32(np.float32(np.sum(p ** 2))), x, 2 * x,
                         coords="all")
    assert r64.dtype == np.float64 and r32.dtype == np.float32
    assert r32.passed and r32.tol > r64.tol


# ---------------------------------------------------------------- coords
@pytest.mark.parametrize("empty", [[], (), np.array([], dtype=int), np.array([]),
                                   np.empty((0, 2), dtype=int)])
@pytest.mark.parametrize("extra", [{}, dict(directions=2), dict(budget=5.0)])
def test_empty_coords_is_one_value_error(empty, extra):
    # [] has dtype float64, np.array([], int) an integer one: one error for both
    with pytest.raises(ValueError, match=r"coords is empty \(.*\); pass 'auto', 'all', a "
                                         r"count or at least one flat index"):
        check_gradient(sq, W, 2 * W, coords=empty, **extra)


# ---------------------------------------------------------------- loss precision
def f16_rows(P):
    return np.sum(P ** 2, axis=1).astype(np.float16)


def f16_one(p):
    return np.float16(np.sum(p ** 2))


@pytest.mark.parametrize("extra", [dict(coords="all"), dict(coords=4),
                                   dict(coords=4, budget=5.0),
                                   dict(coords=0, directions=4, seed=0)])
def test_vectorized_loss_precision_is_that_of_its_batch(extra):
    # the batch's float16 sets the precision (read as float64: tol=1e-06,
    # every coordinate "gradient wrong"; without vectorized it passes)
    one = check_gradient(f16_one, W, 2 * W, **extra)
    vec = check_gradient(f16_rows, W, 2 * W, vectorized=True, **extra)
    assert vec.status == one.status != "failed"
    assert vec.dtype == one.dtype and vec.tol == one.tol
    if extra.get("directions") is None:
        assert vec.dtype == np.float32
    if "budget" not in extra and "directions" not in extra:
        assert one.passed


@__import__("numba").njit
def jit_f32(p):
    q = p.astype(np.float32)
    return np.sum(q * q) + np.float32(1e4)


def py_f32(p):
    q = p.astype(np.float32)
    return np.sum(q * q) + np.float32(1e4)


def test_jitted_float32_loss_is_checked_in_float32():
    # Numba returns a float32 result as a Python float: the check ran in
    # float64 and failed a correct gradient
    jit = check_gradient(jit_f32, W, 2 * W, coords="all")
    py = check_gradient(py_f32, W, 2 * W, coords="all")
    assert py.passed and jit.passed
    assert jit.dtype == py.dtype == np.float32 and jit.tol == py.tol
    # the directional stage learns it the same way
    jit = check_gradient(jit_f32, W, 2 * W, coords=0, directions=4, seed=0)
    py = check_gradient(py_f32, W, 2 * W, coords=0, directions=4, seed=0)
    assert jit.status == py.status != "failed" and jit.tol == py.tol


def test_jit_return_type_is_shared_with_derivative():
    import importlib
    evaluate = importlib.import_module("fastfd.functions._evaluate")
    from fastfd.gradcheck import _params as _flat
    assert evaluate._jit_return_type is _flat.jit_return_type


# ---------------------------------------------------------------- writes in the directional stage
def raw_writer(p):
    # a write through a raw pointer (ctypes, a C extension): read-only flags
    # do not stop it; only away from W, so that it happens in the
    # directional stage (at W the check's first stage would catch it)
    import ctypes
    raw = np.ctypeslib.as_array((ctypes.c_double * p.size).from_address(p.ctypes.data))
    if p[1] != W[1]:
        raw[3] = 0.0
    return float(np.sum(p ** 2))


def raw_writer_rows(P):
    import ctypes
    raw = np.ctypeslib.as_array((ctypes.c_double * P.size).from_address(P.ctypes.data))
    away = P[:, 1] != W[1]
    if away.all():
        raw.reshape(P.shape)[:, 3] = 0.0
    return np.sum(P ** 2, axis=1)


@pytest.mark.parametrize("loss, extra", [(raw_writer, {}),
                                         (raw_writer_rows, dict(vectorized=True))])
def test_raw_pointer_write_is_caught_in_the_directional_stage(loss, extra):
    # the check's restore of the block it perturbed erases the write: the
    # parameters are compared, or the write reads as "params[3] gradient wrong"
    before = W.copy()
    with pytest.raises(ValueError, match=r"loss modified its input in the directional checks: "
                                         r"params\[3\] changed from 3\.0\d* to 0\.0\. A loss must "
                                         r"not write to the parameters it is given"):
        check_gradient(loss, W, 2 * W, coords=0, directions=4, seed=0, **extra)
    np.testing.assert_array_equal(W, before)


# (writing only away from W: at W the check's first stage catches the write)
@__import__("numba").njit
def jit_writer(p):
    if p[1] != -2.0:
        p[0] = 5.0
    return np.sum(p ** 2)


@__import__("numba").njit
def jit_writer_after(p):
    s = np.sum(p ** 2)
    if p[1] != -2.0:
        p[3] = 0.0
    return s


@pytest.mark.parametrize("loss, name, old, new", [(jit_writer, 0, r"(1\.0|0\.9999)", "5.0"),
                                                  (jit_writer_after, 3, r"3\.0", "0.0")])
def test_jitted_loss_writing_its_input_in_the_directional_stage(loss, name, old, new):
    # Numba cannot compile a write to a read-only array (TypingError: No
    # implementation of function): the write is reported as what it is
    before = W.copy()
    with pytest.raises(ValueError, match=rf"loss modified its input in the directional checks: "
                                         rf"params\[{name}\] changed from {old}\d* to {new}\."):
        check_gradient(loss, W, 2 * W, coords=0, directions=4, seed=0)
    np.testing.assert_array_equal(W, before)


@__import__("numba").njit
def jit_sq(p):
    return np.sum(p * p)


def test_jitted_loss_in_the_directional_stage_passes_and_fails():
    x = np.linspace(-1.0, 1.0, 50)
    assert check_gradient(jit_sq, x, 2 * x, coords=0, directions=4, seed=0).passed
    g = 2 * x
    g[17] += 1.0
    r = check_gradient(jit_sq, x, g, coords=0, directions=4, seed=0)
    assert [c.name for c in r.failures()] == ["params[17]"]


@__import__("numba").njit
def jit_slow_sq(p):
    return np.sum(p * p)


def test_a_python_loss_without_directions_loads_no_kernel():
    # loading the directional kernels from Numba's cache takes ~0.2 s, more
    # than a small Python check: they load only for a check that runs them
    proc = run_python("""
        import numpy as np
        import fastfd
        from fastfd._kernels import directions, gradcheck

        def loaded():
            return sorted(name for mod in (directions, gradcheck)
                          for name, d in vars(mod).items() if getattr(d, "overloads", None))

        x = np.array([1.0, 2.0, 3.0])
        for kw in ({}, {"coords": "all"}, {"coords": 2}, {"coords": [0, 2]}):
            r = fastfd.check_gradient(lambda p: float(np.sum(p ** 2)), x, 2 * x, **kw)
            assert r.passed and loaded() == [], (kw, loaded())
        r = fastfd.check_gradient(lambda p: float(np.sum(p ** 2)), x, 2 * x, directions=2)
        assert r.passed and r.compile_seconds > 0 and "sum_squares" in loaded(), loaded()
        print("ok")
    """)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def signatures_after_compile_kernels(monkeypatch):
    """A list that receives the jitted loss's signatures each time
    fastfd.gradcheck._planner.compile_kernels (run before the budget clock) returns."""
    from fastfd.gradcheck import _planner
    seen = []
    real = _planner.compile_kernels

    def spy(prob, loss, parallel):
        out = real(prob, loss, parallel)
        seen.append(list(loss.signatures))
        return out

    monkeypatch.setattr(_planner, "compile_kernels", spy)
    return seen


def test_jitted_loss_is_compiled_before_its_first_timed_call(monkeypatch):
    # the first call is enough to refuse a loss slower than the budget, so
    # it must not be a compilation: a fresh jitted loss has its signature
    # for the flat array before the budget clock starts
    seen = signatures_after_compile_kernels(monkeypatch)
    x = np.linspace(-1.0, 1.0, 20)
    r = check_gradient(jit_slow_sq, x, 2 * x, budget=5.0)
    import numba
    assert r.passed and (numba.typeof(np.empty(1)),) in seen[0]


# ---------------------------------------------------------------- the deadline of a full check
def slowing_loss(clock, fast_calls, slow, stall_every=None, stall=0.0):
    """sum(p**2) that costs 1 us on the scripted clock for `fast_calls`
    calls and `slow` s after, plus `stall` s on every `stall_every`-th call."""
    calls = {"n": 0}

    def loss(p):
        calls["n"] += 1
        clock.now += 1e-6 if calls["n"] <= fast_calls else slow
        if stall_every and calls["n"] % stall_every == 0:
            clock.now += stall
        return float(np.sum(p ** 2))

    return loss, calls


@pytest.mark.parametrize("fast_calls, slow, stall_every, stall, checked", [
    (20, 5e-3, None, 0.0, 101),     # one chunk of 2,048: 21.9 s and 4,099 calls
    (20, 20e-3, None, 0.0, 34),     # 82 s
    (0, 1e-6, 20, 0.2, 47),         # 0.2 s stalls on 5% of the calls: 43.8 s
])
def test_full_check_obeys_the_deadline_when_the_loss_slows_down(fake_clock, fast_calls, slow,
                                                                 stall_every, stall, checked):
    import re
    x = np.linspace(-1.0, 1.0, 3000)
    loss, calls = slowing_loss(fake_clock, fast_calls, slow, stall_every, stall)
    r = check_gradient(loss, x, 2 * x, budget=1.0, seed=0)
    # a target, re-measured between chunks: the last chunk may run over by
    # a fraction of the time left when it started
    assert r.elapsed <= 1.5, (r.elapsed, calls["n"])
    assert r.passed and r.mode == "sampled" and r.n_checked == checked, r.n_checked
    # cut short, the full check became a sample: a few directions see every
    # coordinate all the same
    assert re.fullmatch(r"checked [\d,]+ of 3,000 coordinates in 1 tensor and 4 directions",
                        r.coverage)
    assert r.coverage.startswith(f"checked {r.n_checked:,} of")


def test_full_check_of_a_steady_loss_is_complete_in_few_chunks(fake_clock, monkeypatch):
    from fastfd.gradcheck import _sampling as S
    runs = []
    real = S.check_coordinates

    def counting(prob, loss, idx, *args, **kwargs):
        if prob.n == 3000:
            runs.append(idx.size)
        return real(prob, loss, idx, *args, **kwargs)

    monkeypatch.setattr(S, "check_coordinates", counting)
    x = np.linspace(-1.0, 1.0, 3000)
    loss, calls = slowing_loss(fake_clock, 0, 1e-5)      # 2n calls: 0.06 s of 1 s
    r = check_gradient(loss, x, 2 * x, budget=1.0, seed=0)
    assert r.passed and r.mode == "all" and r.n_checked == 3000
    # chunks of 16, 64, 256, 1024 and the rest (each at most 4x the one before)
    assert runs == [16, 64, 256, 1024, 3000 - 1360], runs


@pytest.mark.parametrize("budget", [1e308, __import__("sys").float_info.max])
def test_a_huge_budget_is_no_overflow(budget):
    # OverflowError: cannot convert float infinity to integer (chunk sizing)
    x = np.linspace(-1.0, 1.0, 3000)
    r = check_gradient(sq, x, 2 * x, budget=budget)
    assert r.passed and r.n_checked == 3000


@__import__("numba").njit
def jit_sq_2d(p):
    return np.sum(p * p)


def test_jitted_loss_of_a_matrix_is_compiled_before_the_clock(monkeypatch):
    # its first call would compile it (read-only 2-D views), and one call
    # slower than the budget is refused
    import numba

    from fastfd.gradcheck._params import readonly_alias
    seen = signatures_after_compile_kernels(monkeypatch)
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    r = check_gradient(jit_sq_2d, x, 2 * x, budget=5.0)
    view = numba.typeof(readonly_alias(np.empty(12)).reshape(3, 4))
    assert r.passed and (view,) in seen[0]


def test_a_stratified_count_with_a_budget_obeys_it(fake_clock):
    # without the deadline, coords=1000 with budget=1.0 and a 5 ms loss runs
    # all 2,000 calls (10 s)
    x = np.linspace(-1.0, 1.0, 3000)
    loss, calls = slowing_loss(fake_clock, 0, 5e-3)
    r = check_gradient(loss, x, 2 * x, coords=1000, budget=1.0, seed=0)
    assert r.elapsed <= 1.5, (r.elapsed, calls["n"])
    assert r.passed and r.mode == "sampled" and r.n_checked == 90, r.n_checked
    assert r.coverage.startswith(f"checked {r.n_checked:,} of 3,000 coordinates")


def test_small_count_and_explicit_directions_obey_a_budget(fake_clock):
    # without the deadline, coords=200 with budget=0.3 and a 10 ms loss takes
    # 4.2 s, directions=64 2.7 s (the first direction always runs, and the
    # stratified minimum)
    x = np.linspace(-1.0, 1.0, 3000)
    loss, calls = slowing_loss(fake_clock, 0, 10e-3)
    r = check_gradient(loss, x, 2 * x, coords=200, budget=0.3, seed=0)
    assert r.passed and r.n_checked == 16 and r.elapsed <= 0.5, (r.n_checked, r.elapsed)
    loss, calls = slowing_loss(fake_clock, 0, 10e-3)
    r = check_gradient(loss, x, 2 * x, coords=0, directions=64, budget=0.3, seed=0)
    # 8 directions of 4 evaluations fit; the values of a quadratic along a
    # direction look like a grid once, and probing it costs up to 6
    assert r.passed and 6 <= r.n_directions <= 8 and r.elapsed <= 0.5, (r.n_directions,
                                                                         r.elapsed)
    assert r.coverage == ("checked 0 of 3,000 coordinates in 1 tensor and "
                          f"{r.n_directions} directions")


def test_every_input_write_is_an_input_write_error():
    # one exception type for the mistake on every path: the compiled
    # engine's comparison of its private copy included
    from fastfd.gradcheck._params import InputWriteError
    with pytest.raises(InputWriteError, match=r"^loss modified its input: params\[3\] changed "
                                              r"from 3\.0\. A loss must not write "
                                              r"to the parameters it is given; copy them first$"):
        check_gradient(sneaky_jit, W, 2 * W, coords="all")


@pytest.mark.parametrize("fast_calls, slow", [(3, 0.02), (3, 0.005), (10, 0.01), (30, 0.003)])
def test_stratified_minimum_holds_when_the_loss_slows_after_timing(fake_clock, fast_calls,
                                                                    slow):
    # timed at 0.5 ms, the loss then costs 3-20 ms per call: the directions
    # take the budget, the sample's first chunk, sized from the little time
    # left, held 1 coordinate of W and none of b or c, and the check passed
    rng = np.random.default_rng(0)
    P = {"W": rng.standard_normal((50, 50)), "b": rng.standard_normal(50),
         "c": rng.standard_normal(7)}
    calls = {"n": 0}

    def loss(p):
        calls["n"] += 1
        fake_clock.now += 5e-4 if calls["n"] <= fast_calls else slow
        return sum(float(np.sum(v ** 2)) for v in p.values())

    r = check_gradient(loss, P, {k: 2 * v for k, v in P.items()}, budget=1.0, seed=0)
    checked = {t.name: t.checked for t in r.tensors}
    assert r.passed and checked["W"] >= 16 and checked["b"] >= 16 and checked["c"] == 7, checked


def test_a_write_is_told_from_a_value_error_by_rerunning_not_by_its_message():
    x = np.ones(5)

    def rewrites(v):
        v[0] = v[0]                     # changes nothing in a writeable copy
        return float(v @ v)

    with pytest.raises(ValueError, match=r"loss modified its input at the unperturbed params "
                                         r"\(assignment destination is read-only\)"):
        check_gradient(rewrites, x, 2 * x, coords="all")

    def refuses(v):
        raise ValueError("model weights are read-only in eval mode")

    with pytest.raises(LossEvaluationError, match=r"read-only in eval mode") as info:
        check_gradient(refuses, x, 2 * x, coords="all")
    assert "modified its input" not in str(info.value)
