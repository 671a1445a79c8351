"""The example scripts' own helpers (the scripts run by hand or in bench/)."""

import importlib.util
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("mlp_1m", ROOT / "examples" / "mlp_1m.py")
mlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mlp)


@pytest.mark.parametrize("seconds, text", [
    (2.97e5, "82 h"), (1825.0, "30 min"), (7200.0, "2.0 h"), (45.0, "45 s"),
    (0.5, "0.5 s"), (3.6e6, "1,000 h")])
def test_full_check_estimate_in_readable_units(seconds, text):
    assert mlp.duration(seconds) == text


@pytest.mark.parametrize("scale", [64, 96])
def test_every_planted_bug_exists_at_the_smallest_models(scale):
    import numpy as np
    model = mlp.MLP(scale=scale)
    right = model.grad(model.params)
    for bug in mlp.BUGS[1:]:
        wrong = model.grad(model.params, bug=bug)
        changed = [k for k in right if not np.array_equal(right[k], wrong[k])]
        assert changed == [{"b2_scale": "b2", "w1_entry": "W1", "w3_block": "W3"}[bug]], bug


def test_a_scale_without_every_bug_is_refused(capsys):
    with pytest.raises(SystemExit):
        mlp.main(["--scale", "97"])
    assert "--scale must be between 1 and 96" in capsys.readouterr().err


def _example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gray_scott_example_forms_spots(tmp_path):
    gs = _example("gray_scott")
    uv = gs.main(["--n", "64", "--steps", "1500", "--out", str(tmp_path / "gs.png")])
    assert (tmp_path / "gs.png").stat().st_size > 0
    # v grows from the seeded square and stays a concentration
    assert 0.0 <= uv[1].min() and 0.2 < uv[1].max() < 1.0 and 0.0 < uv[0].min()


def test_wave_example_converges_at_order_4():
    wave = _example("wave_2d")
    errors, orders = wave.main(["--sizes", "17", "33"])
    assert errors[-1] < 2e-5 and all(o > 3.7 for o in orders), orders


def test_poisson_example_converges_at_orders_2_and_4():
    poisson = _example("poisson")
    results = poisson.main(["--sizes", "17", "33", "65"])
    for accuracy, errs in results.items():
        rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        assert (rates > accuracy - 0.3).all(), (accuracy, rates)
