"""Shared test setup: make ``tests/reference.py`` importable as ``reference``
whatever the rootdir or import mode pytest runs with; :func:`run_python` for
fresh-process tests (``from conftest import run_python``); the scripted clock
(fixture ``fake_clock``) that budgeted checks run on."""

import os
import subprocess
import sys
import textwrap
import types

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
ROOT = os.path.dirname(_HERE)


def run_python(code, *, timeout=300, env=None):
    """Run ``code`` (dedented) in a fresh interpreter; returns the completed process.

    The child runs from the repository root with this checkout and ``tests/``
    first on ``PYTHONPATH``: it imports the fastfd under test (and the test
    helper modules) with or without an installed fastfd. ``env`` adds to or
    overrides the environment.
    """
    path = [ROOT, _HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, **(env or {}), PYTHONPATH=os.pathsep.join(path))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


class ScriptedClock:
    """``time.perf_counter`` for fastfd's budgeted modules; only the test moves it.

    With it a budgeted check's plan (chunk sizes, how many coordinates and
    directions fit) depends on the seconds the test scripts per loss call,
    not on the speed of the machine running the suite.
    """

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds

    def timed(self, fn, seconds):
        """``fn`` advancing the clock by ``seconds`` on every call (a Python
        function: a jitted ``fn`` is then checked as a Python loss)."""
        def wrapped(*args, **kwargs):
            self.now += seconds
            return fn(*args, **kwargs)
        return wrapped


@pytest.fixture
def fake_clock(monkeypatch):
    """A :class:`ScriptedClock` read by the budget logic of ``check_gradient``
    (``fastfd.gradcheck._engine``, ``._planner``, ``._sampling``, ``._directions``)."""
    from fastfd.gradcheck import _directions, _engine, _planner, _sampling
    clock = ScriptedClock()
    fake = types.SimpleNamespace(perf_counter=clock.perf_counter)
    for mod in (_planner, _sampling, _directions, _engine):
        monkeypatch.setattr(mod, "time", fake)
    return clock


@pytest.fixture(scope="session")
def dask_client():
    """A 2-worker process ``distributed.LocalCluster`` shared by the tests of
    one pytest process; while it exists it is Dask's default scheduler."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
