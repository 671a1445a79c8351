"""check_gradient against losses, inputs and environments that try to fool it.

Executors whose workers compute another loss, losses that write to their
input, loss values that are not real scalars, framework tensors, slow
gradients and slow losses against the budget, threads and warning filters,
dying Dask workers. Process-global behaviour runs in a subprocess.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastfd.gradcheck import LossEvaluationError, check_gradient

W = np.array([1.0, -2.0, 0.5, 3.0])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sq(p):
    return float(np.sum(p ** 2))


def run_python(code, timeout=120):
    """Run ``code`` in a fresh interpreter; returns the completed process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT, os.path.join(ROOT, "tests"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- h
@pytest.mark.parametrize("h", ["1e-3", np.array(["1e-3"] * 4), ["1e-3"] * 4, b"1e-3",
                               np.array([True] * 4)])
def test_h_as_text_or_bool_is_a_type_error(h):
    with pytest.raises(TypeError, match=r"h must be a positive number or an array of 4 "
                                        r"positive steps, got (.*not read as a number|an array of dtype '(<U4|\|S4|bool)')"):
        check_gradient(sq, W, 2 * W, coords="all", h=h)


# ---------------------------------------------------------------- budget
def slow_grad(p):
    import time
    time.sleep(0.4)
    return 2 * p


def test_budget_clock_starts_after_a_slow_gradient_callable():
    # the gradient callable took twice the budget: the check still runs
    # (it crashed with AttributeError: 'NoneType' object has no attribute 'n_checked')
    x = np.linspace(-1, 1, 3000)
    r = check_gradient(sq, x, slow_grad, budget=0.2)
    assert r.passed and r.n_checked > 0


def test_default_budget_with_a_gradient_callable_slower_than_it(monkeypatch):
    from fastfd import _sampling
    monkeypatch.setattr(_sampling, "DEFAULT_BUDGET", 0.2)
    x = np.linspace(-1, 1, 3000)
    r = check_gradient(sq, x, slow_grad)
    assert r.passed and r.n_checked > 0


# ---------------------------------------------------------------- threads
def test_concurrent_checks_leave_warning_filters_alone():
    # warnings.catch_warnings is not thread-safe: concurrent calls that used
    # it left ('ignore', NumbaWarning) in the process-wide filters
    proc = run_python("""
        import threading, warnings
        import numba, numpy as np
        from fastfd.gradcheck import check_gradient

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
