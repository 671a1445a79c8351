"""``python -m fastfd demo``: run in a subprocess, check the seed chapter's numbers."""

import os
import re
import struct
import subprocess
import sys

import pytest

SEED_PASS = """=== MSE Loss Gradient Check ===
Gradient check:
 Analytical grad: [-0.53916839  1.96213827 -2.35129187]
 Numerical grad: [-0.53916839  1.96213827 -2.35129187]
 Relative error: 8.84e-12
 Status: PASS (tol=0.0001)
"""
SEED_FAIL = """=== BUGGY Gradient Check (should FAIL) ===
Gradient check:
 Analytical grad: [-0.26958419  0.98106914 -1.17564593]
 Numerical grad: [-0.53916839  1.96213827 -2.35129187]
 Relative error: 3.33e-01
 Status: FAIL (tol=0.0001)
gradient_check returns a GradCheckResult that unpacks as the seed's (rel_error, numerical):
  rel_error = 0.333333
  numerical = [-0.53916839  1.96213827 -2.35129187]
"""


# The relative error of a correct gradient is finite-difference noise: a few
# ulps of the loss over h, and the loss's last ulps depend on the BLAS kernel
# the CPU selects (8.84e-12 here, 8.17e-12 with OpenBLAS's Sandybridge
# kernels). Such numbers are checked as a bound and masked.
NOISE = re.compile(r"\d\.\d\de-(?:1\d|[2-9]\d)")


def mask_noise(text):
    for m in NOISE.finditer(text):
        assert float(m.group(0)) < 1e-9, m.group(0)
    return NOISE.sub("<noise>", text)


def run(args, cwd, code=None):
    cmd = [sys.executable, "-m", "fastfd", *args] if code is None else [sys.executable, "-c", code]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("figs")
    proc = run(["demo", "--outdir", str(outdir)], cwd=outdir)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, outdir


def test_demo_prints_the_seed_numbers(demo):
    out, _ = demo
    assert "At h=1e-5:\n Forward: error = 8.14e-05\n Centered: error = 5.32e-10\n" in out
    assert mask_noise(SEED_PASS) in mask_noise(out)
    assert SEED_FAIL in out
    assert "\nMax error: 4.43e-07\n" in out


def test_demo_labels_every_number(demo):
    out, _ = demo
    assert "np.float64(" not in out and "array(" not in out
    assert ("The two relative errors of this correct gradient, <noise> (gradient_check) "
            "and <noise> (check_gradient)" in mask_noise(out))
    assert "differ because their numerical gradients do" in out
    assert "at the seed's h = 1e-4:\nMax error: 4.43e-07" in out


def test_demo_error_table_matches_the_seed_formulas(demo):
    out, _ = demo
    f = lambda x: x ** 4 - 2 * x ** 2            # noqa: E731
    true = 4 * 1.3 ** 3 - 4 * 1.3
    h = 1e-5
    expected = {"forward": abs((f(1.3 + h) - f(1.3)) / h - true),
                "backward": abs((f(1.3) - f(1.3 - h)) / h - true),
                "centered": abs((f(1.3 + h) - f(1.3 - h)) / (2 * h) - true)}
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines()
            if ln.split()[:1] and ln.split()[0] in expected}
    for name, err in expected.items():
        fixed, h_auto, auto = (float(v) for v in rows[name][1:])
        assert rows[name][1] == f"{err:.2e}"
        assert auto < fixed                          # the automatic step is better here
        assert h_auto < 1e-5
    # eps**(1/2) steps for one-sided, eps**(1/3) for centered
    assert float(rows["forward"][2]) < 1e-7 < float(rows["centered"][2])


def test_demo_prints_the_new_reports(demo):
    out, _ = demo
    assert "Gradient check passed: 3 coordinates (tol=1e-06, float64)" in out
    assert "Gradient check FAILED: 3 of 3 coordinates in 1 of 1 tensors (params)" in out
    assert out.count("gradient wrong") == 3
    auto = [ln for ln in out.splitlines() if ln.startswith("Max error with automatic steps")]
    assert len(auto) == 1 and float(auto[0].split()[-1]) < 4.43e-07


def test_demo_writes_the_two_figures(demo):
    out, outdir = demo
    paths = [ln[len("wrote "):] for ln in out.splitlines() if ln.startswith("wrote ")]
    assert [os.path.basename(p) for p in paths] == ["fd_error_vs_h.png", "second_derivative.png"]
    assert all(os.path.dirname(p) == str(outdir) for p in paths)
    # the seed's figure sizes (10 x 6 and 13 x 4 inches) at 100 dpi
    assert png_size(paths[0]) == (1000, 600)
    assert png_size(paths[1]) == (1300, 400)


def test_demo_without_matplotlib_says_how_to_get_figures(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "from fastfd.__main__ import main; sys.exit(main(['demo']))")
    proc = run([], cwd=tmp_path, code=code)
    assert proc.returncode == 0, proc.stderr
    assert 'Figures need matplotlib: pip install "fastfd[plot]"' in proc.stdout
    assert " Centered: error = 5.32e-10" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_demo_no_plots_and_usage(tmp_path):
    proc = run(["demo", "--no-plots"], cwd=tmp_path)
    assert proc.returncode == 0 and "wrote" not in proc.stdout and "Figures" not in proc.stdout
    assert list(tmp_path.iterdir()) == []
    proc = run([], cwd=tmp_path)
    assert proc.returncode == 2 and "demo" in proc.stdout
    proc = run(["nonsense"], cwd=tmp_path)
    assert proc.returncode == 2 and "invalid choice: 'nonsense'" in proc.stderr


def test_demo_run_in_process():
    import io

    from fastfd.demo import run as run_demo
    buf = io.StringIO()
    assert run_demo(plots=False, out=buf) is None
    assert SEED_FAIL in buf.getvalue()
