"""The README's Python examples run as written (all but the one that needs a
Dask cluster), in one namespace, in order."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(blocks()) >= 4


@pytest.mark.parametrize("i", range(len(blocks())))
def test_readme_example_runs(i, capsys):
    code = blocks()[i]
    if "dask.distributed" in code:
        pytest.skip("needs a running Dask scheduler; tests/test_distributed.py covers executors")
    if "import torch" in code:
        pytest.importorskip("torch")
    exec(compile(code, f"README.md block {i}", "exec"), {"__name__": "readme"})
