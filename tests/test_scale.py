"""Large-model checks on a ~51,000-parameter version of examples/mlp_1m.py.

The 1,002,570-parameter model is run by hand (``python examples/mlp_1m.py``)
and in bench/bench_scale.py; here the same planted bugs on the small model.
"""

import concurrent.futures as cf
import importlib.util
import pathlib
import re

import numpy as np
import pytest

from fastfd._sampling import check_at_scale as check

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("mlp_1m", ROOT / "examples" / "mlp_1m.py")
mlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mlp)

# Fixed work (not a time budget) so that what is checked never depends on
# the load of the machine; test_budget_path covers budget planning.
WORK = {"coords": 1000, "directions": 16}


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # the small model's matmuls are too small for BLAS threads; on a loaded
    # 2-core machine two BLAS threads made each loss call ~100x slower
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def model():
    return mlp.MLP(scale=16, seed=0)


def test_model_size(model):
    assert model.n == 51_150
    assert mlp.MLP(scale=1).n == 1_002_570


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_gradient_passes(seed):
    m = mlp.MLP(scale=16, seed=seed)
    before = {k: v.copy() for k, v in m.params.items()}
    r = check(m.loss, m.params, m.grad(m.params), seed=seed, **WORK)
    assert r.passed, str(r)
    assert not r.wrong and not r.unresolved
    assert r.coverage == "checked 1,000 of 51,150 coordinates in 6 tensors and 16 directions"
    assert all(t[-1] == "ok" for t in r.tensors)
    for k in before:                       # the user's arrays are untouched
        np.testing.assert_array_equal(m.params[k], before[k])


def test_b2_scaled_names_b2(model):
    r = check(model.loss, model.params, model.grad(model.params, bug="b2_scale"),
              seed=0, **WORK)
    assert not r.passed
    assert r.wrong and all(w.name.startswith("b2[") for w in r.wrong)
    failing = {t[0] for t in r.tensors if t[-1] == "FAIL"}
    assert failing == {"b2"}
    true = model.grad(model.params)["b2"]
    for w in r.wrong:
        k = int(w.name[3:-1])
        assert w.analytical == pytest.approx(1.01 * true[k], rel=1e-12)
        assert w.numerical == pytest.approx(true[k], rel=1e-6)


def test_one_wrong_w1_entry_named_exactly(model):
    r = check(model.loss, model.params, model.grad(model.params, bug="w1_entry"),
              seed=0, **WORK)
    assert not r.passed
    assert [w.name for w in r.wrong] == ["W1[12, 7]"]
    true = model.grad(model.params)["W1"][12, 7]
    bad = model.grad(model.params, bug="w1_entry")["W1"][12, 7]
    assert r.wrong[0].numerical == pytest.approx(true, rel=1e-5)
    assert r.wrong[0].analytical == bad
    assert "W1[12, 7]" in str(r)


def test_swapped_w3_block_names_w3(model):
    r = check(model.loss, model.params, model.grad(model.params, bug="w3_block"),
              seed=0, **WORK)
    assert not r.passed
    assert {t[0] for t in r.tensors if t[-1] == "FAIL"} == {"W3"}
    assert r.wrong and all(w.name.startswith("W3[") for w in r.wrong)
    for w in r.wrong:                       # only off-diagonal entries of the block
        i, j = map(int, w.name[3:-1].split(","))
        assert i < 10 and j < 10 and i != j


def test_budget_path(model):
    r = check(model.loss, model.params, model.grad(model.params, bug="w1_entry"),
              budget=1.0, seed=0)
    assert r.mode == "sampled" and r.n_directions >= 1
    assert re.fullmatch(r"checked [\d,]+ of 51,150 coordinates in 6 tensors and \d+ "
                        r"directions?", r.coverage)
    assert [w.name for w in r.wrong] == ["W1[12, 7]"]
    assert r.full_check_seconds == 2 * 51_150 * r.t_call
    assert f"a full check: 102,300 evaluations" in str(r)


def test_relu_kinks_are_not_gradient_errors():
    m = mlp.MLP(scale=16, seed=0, relu=True)
    r = check(m.loss, m.params, m.grad(m.params), seed=0, **WORK)
    assert r.passed, str(r)
    assert not any(w.verdict.startswith("gradient wrong") for w in r.wrong)


def test_one_wrong_among_200k_with_few_hundred_evaluations():
    m = mlp.MLP(scale=4, seed=3)
    assert m.n == 213_786
    g = m.grad(m.params)
    g["W1"][500, 99] *= -1.0
    r = check(m.loss, m.params, g, coords=0, directions=4, seed=0)
    assert [w.name for w in r.wrong] == ["W1[500, 99]"]
    assert r.n_evals < 400, r.n_evals
    assert r.coverage == "checked 0 of 213,786 coordinates in 6 tensors and 4 directions"


def test_reproducible_with_seed(model):
    g = model.grad(model.params, bug="w1_entry")
    a = check(model.loss, model.params, g, coords=300, directions=4, seed=11)
    b = check(model.loss, model.params, g, coords=300, directions=4, seed=11)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_array_equal(a.numerical, b.numerical)
    assert [w.name for w in a.wrong] == [w.name for w in b.wrong] == ["W1[12, 7]"]


def test_threads_executor_same_result(model):
    g = model.grad(model.params, bug="b2_scale")
    a = check(model.loss, model.params, g, coords=200, directions=2, seed=4)
    with cf.ThreadPoolExecutor(2) as ex:
        b = check(model.loss, model.params, g, coords=200, directions=2, seed=4, executor=ex)
    np.testing.assert_array_equal(a.numerical, b.numerical)
    assert [w.name for w in a.wrong] == [w.name for w in b.wrong]


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
    a = check(one_loss, p, g, coords="all", seed=0)
    b = check(rows_loss, p, g, coords="all", seed=0, vectorized=True, batch_size=32)
    assert a.mode == b.mode == "all" and b.n_checked == 620
    np.testing.assert_allclose(b.numerical, a.numerical, rtol=1e-7, atol=1e-9)
    assert [w.name for w in a.wrong] == [w.name for w in b.wrong] == ["b[3]"]


def test_progress_true_reports(capsys):
    p, g = small_params()
    check(one_loss, p, g, coords="all", seed=0, progress=True)
    assert "eval" in capsys.readouterr().err


# ----------------------------------------------------------------- bad input

@pytest.mark.parametrize("kw, exc, match", [
    ({"directions": -1}, ValueError, r"directions must be >= 0, got -1"),
    ({"directions": 2.5}, TypeError, r"directions must be an integer, got 2.5"),
    ({"directions": "8"}, TypeError, r"directions must be an integer, got '8'"),
    ({"directions": 10**6}, ValueError, r"directions must be at most 10000, got 1000000"),
    ({"coords": "some"}, ValueError, r"coords must be 'auto', 'all', an integer or an "
                                     r"array of flat indices, got 'some'"),
    ({"coords": -3}, ValueError, r"coords=-3 must be between 1 and the number of "
                                 r"parameters \(620\), or 0 with directions > 0"),
    ({"coords": 621}, ValueError, r"coords=621 must be between 1 and the number of "
                                  r"parameters \(620\)"),
    ({"coords": 0}, ValueError, r"coords=0 must be between 1"),
    ({"coords": 1.5}, TypeError, r"coords must be an integer, got 1.5"),
    ({"coords": True}, TypeError, r"coords must be 'auto', 'all'.*got True"),
    ({"coords": 1}, ValueError, r"coords=1 is fewer than the 2 tensors"),
    ({"coords": np.array([0, 620])}, ValueError,
     r"coords has flat indices out of range \[0, 620\): min 0, max 620"),
    ({"coords": np.array([0.5])}, TypeError, r"coords as an array must be a 1-D array of "
                                             r"integer flat indices"),
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
    with pytest.raises(ValueError, match=r"vectorized=True: loss must return 1 values .*"
                                         r"shape \(1,\).*got shape \(\)"):
        check(one_loss, p, g, coords="all", vectorized=True)


def test_executor_cannot_pickle_loss():
    p, g = small_params()
    with cf.ProcessPoolExecutor(1) as ex:
        with pytest.raises(TypeError, match=r"loss cannot be pickled .*ProcessPoolExecutor"
                                            r".*module-level function"):
            check(lambda q: one_loss(q), p, g, coords=50, directions=0, executor=ex)
