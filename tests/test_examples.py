"""The example scripts' own helpers (the scripts run by hand or in bench/)."""

import importlib.util
import pathlib

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
