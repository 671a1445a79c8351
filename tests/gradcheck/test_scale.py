"""check_gradient at scale on a ~51,000-parameter version of examples/mlp_1m.py.

The 1,002,570-parameter model is run by hand (``python examples/mlp_1m.py``)
and in bench/bench_scale.py; here the same planted bugs on the small model,
plus the large-model options of ``check_gradient`` and their bad input.
"""

import concurrent.futures as cf
import importlib.util
import pathlib
import re

import numpy as np
import pytest

from fastfd.gradcheck import GradientCheckError, check_gradient as check

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mlp_1m", ROOT / "examples" / "mlp_1m.py")
mlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mlp)

# Fixed work (not a time budget) so that what is checked never depends on
# the load of the machine; test_budget_path covers budget planning.
WORK = {"coords": 1000, "directions": 16}


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # the small model's matmuls are too small for BLAS threads: two BLAS
    # threads contending with other processes for 2 cores made each loss
    # call ~100x slower
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def model():
    return mlp.MLP(scale=16, seed=0)


def names(result):
    return [c.name for c in result.failures()]


def failing_tensors(result):
    return {t.name for t in result.tensors if t.passed is False}


def test_model_size(model):
    assert model.n == 51_150
    assert mlp.MLP(scale=1).n == 1_002_570


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_gradient_passes(seed):
    m = mlp.MLP(scale=16, seed=seed)
    before = {k: v.copy() for k, v in m.params.items()}
    r = check(m.loss, m.params, m.grad(m.params), seed=seed, **WORK)
    assert r.passed, str(r)
    assert not r.failures() and not r.unresolved
    assert r.coverage == "checked 1,000 of 51,150 coordinates in 6 tensors and 16 directions"
    assert str(r).startswith("Gradient check passed (sampled): checked 1,000 of 51,150")
    for k in before:                       # the user's arrays are untouched
        np.testing.assert_array_equal(m.params[k], before[k])


def test_b2_scaled_names_b2(model):
    r = check(model.loss, model.params, model.grad(model.params, bug="b2_scale"),
              seed=0, **WORK)
    assert not r.passed
    assert r.failures() and all(n.startswith("b2[") for n in names(r))
    assert failing_tensors(r) == {"b2"}
    true = model.grad(model.params)["b2"]
    for c in r.failures():
        k = int(c.name[3:-1])
        assert c.analytical == pytest.approx(1.01 * true[k], rel=1e-12)
        assert c.numerical == pytest.approx(true[k], rel=1e-6)
        assert c.verdict == "gradient wrong"


def test_one_wrong_w1_entry_named_exactly(model):
    r = check(model.loss, model.params, model.grad(model.params, bug="w1_entry"),
              seed=0, **WORK)
    assert not r.passed
    assert names(r) == ["W1[12, 7]"]
    assert [c.name for c in r.localized] == ["W1[12, 7]"]
    true = model.grad(model.params)["W1"][12, 7]
    bad = model.grad(model.params, bug="w1_entry")["W1"][12, 7]
    assert r.failures()[0].numerical == pytest.approx(true, rel=1e-5)
    assert r.failures()[0].analytical == bad
    assert "W1[12, 7]" in str(r) and failing_tensors(r) == {"W1"}


def test_swapped_w3_block_names_w3(model):
    r = check(model.loss, model.params, model.grad(model.params, bug="w3_block"),
              seed=0, **WORK)
    assert not r.passed
    assert failing_tensors(r) == {"W3"}
    assert r.failures()
    for name in names(r):                  # only off-diagonal entries of the block
        assert name.startswith("W3[")
        i, j = map(int, name[3:-1].split(","))
        assert i < 10 and j < 10 and i != j


def test_budget_path(model, fake_clock):
    # on the scripted clock (each loss call 0.2 ms): what the budget buys
    # does not depend on the machine, so neither do the verdict and the names
    r = check(fake_clock.timed(model.loss, 2e-4), model.params,
              model.grad(model.params, bug="w1_entry"), budget=1.0, seed=0)
    assert r.mode == "sampled" and r.n_directions >= 1
    assert re.fullmatch(r"checked [\d,]+ of 51,150 coordinates in 6 tensors and \d+ "
                        r"directions?", r.coverage)
    assert names(r) == ["W1[12, 7]"]
    assert r.full_check_seconds == 2 * 51_150 * r.t_call
    assert "a full check: 102,300 evaluations" in str(r)


def test_auto_runs_a_full_check_when_it_fits():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(50)
    r = check(lambda v: float(np.sum(np.sin(v))), x, np.cos(x))
    assert r.passed and r.n_checked == 50 and r.n_evals == 2 * 50 + 3


def test_relu_kinks_are_not_gradient_errors():
    m = mlp.MLP(scale=16, seed=0, relu=True)
    r = check(m.loss, m.params, m.grad(m.params), seed=0, **WORK)
    assert r.passed, str(r)
    assert all(c.verdict != "gradient wrong" for c in r.failures())


def test_one_wrong_among_200k_with_few_hundred_evaluations():
    m = mlp.MLP(scale=4, seed=3)
    assert m.n == 213_786
    g = m.grad(m.params)
    g["W1"][500, 99] *= -1.0
    r = check(m.loss, m.params, g, coords=0, directions=4, seed=0)
    assert names(r) == ["W1[500, 99]"]
    assert r.n_evals < 400, r.n_evals
    assert r.coverage == "checked 0 of 213,786 coordinates in 6 tensors and 4 directions"
    with pytest.raises(GradientCheckError, match=r"W1\[500, 99\]"):
        check(m.loss, m.params, g, coords=0, directions=4, seed=0, raise_on_fail=True)


def test_reproducible_with_seed(model):
    g = model.grad(model.params, bug="w1_entry")
    a = check(model.loss, model.params, g, coords=300, directions=4, seed=11)
    b = check(model.loss, model.params, g, coords=300, directions=4, seed=11)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_array_equal(a.numerical, b.numerical)
    assert names(a) == names(b) == ["W1[12, 7]"]


def test_stratified_count(model):
    r = check(model.loss, model.params, model.grad(model.params), coords=200, seed=5)
    per = {t.name: t.checked for t in r.tensors}
    assert sum(per.values()) == 200
    assert per["b2"] == 12 and per["b3"] == 10 and per["b1"] >= 16 and per["W3"] >= 16
    g = np.abs(model.grad(model.params)["W1"]).reshape(-1)
    assert int(np.argmax(g)) in set(r.index.tolist())   # largest |g| of W1 included


def test_threads_executor_same_result(model):
    g = model.grad(model.params, bug="b2_scale")
    a = check(model.loss, model.params, g, coords=200, directions=2, seed=4)
    with cf.ThreadPoolExecutor(2) as ex:
        b = check(model.loss, model.params, g, coords=200, directions=2, seed=4, executor=ex)
    np.testing.assert_array_equal(a.numerical, b.numerical)
    assert names(a) == names(b)


def rows_loss(p):
    """Vectorized: p["W"] is (k, 30, 20), p["b"] is (k, 20); k losses."""
    return np.sum(np.tanh(p["W"]) ** 2, axis=(1, 2)) + np.sum(p["b"] ** 3, axis=1)


def one_loss(p):
    return float(np.sum(np.tanh(p["W"]) ** 2) + np.sum(p["b"] ** 3))


def small_params():
    rng = np.random.default_rng(0)
    p = {"W": rng.standard_normal((30, 20)), "b": rng.standard_normal(20)}
    g = {"W": 2 * np.tanh(p["W"]) / np.cosh(p["W"]) ** 2, "b": 3 * p["b"] ** 2}
    return p, g


def test_vectorized_full_check_matches_scalar():
    p, g = small_params()
    g["b"][3] += 0.01
    a = check(one_loss, p, g, coords="all")
    b = check(rows_loss, p, g, coords="all", vectorized=True)
    assert b.n_checked == 620
    np.testing.assert_allclose(b.numerical, a.numerical, rtol=1e-7, atol=1e-9)
    assert names(a) == names(b) == ["b[3]"]


def test_progress_true_reports(capsys):
    p, g = small_params()
    check(one_loss, p, g, coords="all", directions=1, progress=True)
    assert "eval" in capsys.readouterr().err


# ----------------------------------------------------------------- bad input

@pytest.mark.parametrize("kw, exc, match", [
    ({"directions": -1}, ValueError, r"directions must be >= 0, got -1"),
    ({"directions": 2.5}, TypeError, r"directions must be an integer, got 2.5"),
    ({"directions": "8"}, TypeError, r"directions must be an integer, got '8'"),
    ({"directions": 10**6}, ValueError, r"directions must be at most 10000, got 1000000"),
    ({"coords": "some"}, ValueError, r"coords must be 'auto', 'all', a number of coordinates or "
                                     r"a 1-D sequence of flat indices, got 'some'"),
    ({"coords": -3}, ValueError, r"coords=-3 must be between 1 and the number of "
                                 r"parameters \(620\)"),
    ({"coords": 621}, ValueError, r"coords=621 must be between 1 and the number of "
                                  r"parameters \(620\)"),
    ({"coords": 1}, ValueError, r"coords=1 is fewer than the 2 tensors"),
    ({"coords": 0}, ValueError, r"coords=0 must be between 1.*or 0 with directions > 0"),
    ({"coords": 1.5}, TypeError, r"coords must be 'auto', 'all', a number of coordinates or "
                                 r"a 1-D sequence of flat indices, got 1.5"),
    ({"budget": 0}, ValueError, r"budget must be a positive, finite number of seconds, got 0"),
    ({"budget": "10s"}, TypeError, r"budget must be a positive number of seconds, got '10s'"),
    ({"budget": 1e-9}, ValueError, r"budget=1e-09 s is too small for even one loss "
                                   r"evaluation, which takes [\d.]+ (µs|ms)"),
    ({"vectorized": "yes"}, TypeError, r"vectorized must be True or False, got 'yes'"),
    ({"executor": 4}, TypeError, r"executor must be a concurrent.futures.Executor or a "
                                 r"dask.distributed.Client, got int"),
    ({"progress": 1}, TypeError, r"progress must be None, True or False, got 1"),
])
def test_bad_input(kw, exc, match):
    p, g = small_params()
    with pytest.raises(exc, match=match):
        check(one_loss, p, g, **kw)


def test_vectorized_loss_with_wrong_shape():
    p, g = small_params()
    with pytest.raises(TypeError, match=r"vectorized=True: loss must return 128 values .*"
                                         r"shape \(128,\).*got shape \(\)"):
        check(one_loss, p, g, coords="all", vectorized=True)


def test_executor_cannot_pickle_loss():
    p, g = small_params()
    with cf.ProcessPoolExecutor(1) as ex:
        with pytest.raises(TypeError, match=r"loss cannot be pickled .*ProcessPoolExecutor"
                                            r".*module-level function"):
            check(lambda q: one_loss(q), p, g, coords=50, executor=ex)


def test_sample_in_chunks_until_deadline(model, monkeypatch):
    from fastfd.gradcheck import _engine as E
    from fastfd.gradcheck._params import FlatProblem
    from fastfd.gradcheck._sampling import check_in_chunks, stratified_sample

    g = model.grad(model.params, bug="b2_scale")
    prob = FlatProblem(model.params, g, model.loss)
    idx = stratified_sample(prob.blocks, prob.g, 600, np.random.default_rng(0))
    whole = E.check_coordinates(prob, model.loss, idx, None, None, None, False)
    # a fresh problem: a check confirms CONFIRM_ENOUGH wrong coordinates per
    # tensor over all its runs (kept on the problem), the chunks as one run
    prob = FlatProblem(model.params, g, model.loss)
    merged = check_in_chunks(prob, model.loss, idx, None, None, None, False, None,
                        deadline=float("inf"))
    order = np.argsort(merged.index)
    np.testing.assert_array_equal(merged.index[order], whole.index)
    np.testing.assert_array_equal(merged.numerical[order], whole.numerical)
    np.testing.assert_array_equal(merged.verdicts[order], whole.verdicts)
    # chunks of 64, 256, 280: 3 runs, 3 evaluations more per run; the weakest
    # candidates whose confirmation says whether a failure is dense are
    # those of the run where a tensor reached CONFIRM_ENOUGH
    extra = merged.n_evals - (whole.n_evals + 3 * (3 - 1))
    assert abs(extra) <= 14 * E.CONFIRM_ENOUGH * len(prob.blocks), extra
    assert merged.rel_error == pytest.approx(whole.rel_error, rel=1e-12)
    assert {c.name for c in merged.failures()} == {c.name for c in whole.failures()}
    # a deadline passed during the first chunk: that chunk only, still stratified
    import types

    import fastfd.gradcheck._sampling as S
    clock = iter([0.0, 2.0])           # start, after chunk 1
    monkeypatch.setattr(S, "time", types.SimpleNamespace(
        perf_counter=lambda: next(clock, 3.0)))
    cut = check_in_chunks(prob, model.loss, idx, None, None, None, False, None, deadline=1.0)
    monkeypatch.undo()
    assert cut.n_checked == 64
    per = {t.name: t.checked for t in cut.tensors}
    assert all(per[name] >= 1 for name in per) and per["W1"] > per["W2"] > per["b2"]
    assert check_in_chunks(prob, model.loss, idx, None, None, None, False, None,
                      deadline=0.0) is None


def test_auto_full_check_cut_at_the_budget(monkeypatch):
    # timed, a full check of 5,000 coordinates fits; the loss then "slows
    # down": after the first chunk the clock is past the budget, and the
    # result is an honest partial (stratified) check, not a 30x overrun
    import types

    import fastfd.gradcheck._sampling as S
    import scale_losses as L

    x = np.linspace(-2.0, 2.0, 5000)
    calls = iter(range(10**6))
    monkeypatch.setattr(S, "time", types.SimpleNamespace(
        perf_counter=lambda: 0.0 if next(calls) < 3 else 1e6))
    r = check(L.sin_sum, x, L.sin_sum_grad(x))
    monkeypatch.undo()
    assert r.passed and r.mode == "sampled"
    # chunks of 16 and 64 ran before the clock moved
    # cut short, the sample gets a few directions over every coordinate
    assert r.n_checked == 80 and r.coverage == (
        "checked 80 of 5,000 coordinates in 1 tensor and 4 directions")
    assert np.all(np.diff(r.index) > 0)
    full = check(L.sin_sum, x, L.sin_sum_grad(x))      # unhurried: every coordinate
    assert full.mode == "all" and full.n_checked == 5000
    # chunks of 16, 64, 256, ... (at most 4x the one before, ~budget/8 s):
    # 2n plus the engine's 3 per chunk
    runs = (full.n_evals - 2 * 5000) / 3
    assert runs == int(runs) and 5 <= runs <= 12, full.n_evals
