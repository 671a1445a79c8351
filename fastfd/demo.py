"""``python -m fastfd demo``: the seed chapter on numerical derivatives, with fastfd.

Reproduces the chapter's printed numbers with fastfd's functions (the seed's
fixed steps give the seed's numbers exactly), shows what the automatic steps
and the new gradient-check report add, and, when matplotlib is installed,
writes the chapter's two figures as PNG files.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from .functions import backward_diff, centered_diff, forward_diff, second_derivative
from .gradcheck import check_gradient, gradient_check

__all__ = ["run", "FIGURES"]

FIGURES = ("fd_error_vs_h.png", "second_derivative.png")


def f(x):
    return x ** 4 - 2 * x ** 2


def fp(x):
    return 4 * x ** 3 - 4 * x


def fpp(x):
    return 12 * x ** 2 - 4


X0 = 1.3


def _mse_problem():
    """The seed's example 1: np.random.seed(42), N = 20, three weights."""
    np.random.seed(42)
    N = 20
    X = np.random.randn(N, 3)
    y = X @ np.array([1.5, -0.5, 2.0]) + 0.1 * np.random.randn(N)

    def mse_loss(w):
        residuals = X @ w - y
        return np.mean(residuals ** 2)

    def mse_grad(w):
        residuals = X @ w - y
        return (2 / N) * X.T @ residuals

    def mse_grad_BUGGY(w):
        residuals = X @ w - y
        return (1 / N) * X.T @ residuals       # missing factor of 2

    return mse_loss, mse_grad, mse_grad_BUGGY, np.array([0.5, 0.5, 0.5])


def _section(title, out):
    print(file=out)
    print(title, file=out)
    print("-" * len(title), file=out)


def difference_table(out):
    """Section 1: forward / backward / centered at h = 1e-5 and automatic steps."""
    true_val = fp(X0)
    _section("1. Three finite difference formulas: f(x) = x**4 - 2*x**2 at x0 = 1.3", out)
    print("At h=1e-5:", file=out)
    print(f" Forward: error = {abs(forward_diff(f, X0, 1e-5) - true_val):.2e}", file=out)
    print(f" Centered: error = {abs(centered_diff(f, X0, 1e-5) - true_val):.2e}", file=out)
    print(file=out)
    print("Absolute error of f'(x0) at the seed's h = 1e-5 and at fastfd's automatic step:",
          file=out)
    print(f"{'scheme':<10} {'error at h=1e-5':>16} {'automatic h':>13} "
          f"{'error at automatic h':>21}", file=out)
    for name, fn, h_auto in _schemes():
        e_fixed = abs(fn(f, X0, 1e-5) - true_val)
        e_auto = abs(fn(f, X0) - true_val)
        print(f"{name:<10} {e_fixed:>16.2e} {h_auto:>13.2e} {e_auto:>21.2e}", file=out)


def _schemes():
    """(name, function, automatic step at X0) of the three first differences."""
    from .steps import optimal_step
    return [("forward", forward_diff, optimal_step(scheme="forward", x=X0, accuracy=1)),
            ("backward", backward_diff, optimal_step(scheme="backward", x=X0, accuracy=1)),
            ("centered", centered_diff, optimal_step(scheme="centered", x=X0))]


def gradient_checks(out):
    """Section 2: the seed's MSE gradient checks, then fastfd's report of each."""
    _section("2. Gradient checking: MSE loss for linear regression (seed 42, N = 20)", out)
    loss, grad, buggy, w = _mse_problem()
    analytical = grad(w)
    print("=== MSE Loss Gradient Check ===", file=out)
    seed = _print_to(out, gradient_check, loss, w, analytical)
    print(file=out)
    print("fastfd.check_gradient (per-coordinate steps, tolerance model, diagnosis):",
          file=out)
    new = check_gradient(loss, w, grad)
    print(new, file=out)
    print(f"The two relative errors of this correct gradient, {seed.rel_error:.2e} "
          f"(gradient_check) and {new.rel_error:.2e} (check_gradient),", file=out)
    print("differ because their numerical gradients do: gradient_check uses the seed's",
          file=out)
    print("h = 1e-5 on every coordinate, check_gradient an automatic step per coordinate.",
          file=out)
    print("Both are finite-difference noise, far below either tolerance.", file=out)
    print(file=out)
    print("=== BUGGY Gradient Check (should FAIL) ===", file=out)
    result = _print_to(out, gradient_check, loss, w, buggy(w))
    rel_error, numerical = result
    print("gradient_check returns a GradCheckResult that unpacks as the seed's "
          "(rel_error, numerical):", file=out)
    print(f"  rel_error = {rel_error:.6f}", file=out)
    print(f"  numerical = {np.array2string(numerical, precision=8)}", file=out)
    print(file=out)
    print("fastfd.check_gradient:", file=out)
    print(check_gradient(loss, w, buggy), file=out)


def _print_to(out, fn, *args):
    saved = sys.stdout
    sys.stdout = out
    try:
        return fn(*args)
    finally:
        sys.stdout = saved


def second_derivative_error(out):
    """Section 3: the second difference on [-2, 2] at the seed's h and the automatic one."""
    _section("3. Second derivative: f''(x) = 12*x**2 - 4 on 200 points in [-2, 2]", out)
    x_vals = np.linspace(-2, 2, 200)
    num_fpp = second_derivative(f, x_vals, 1e-4)
    print("Largest |numerical - exact f''(x)| over the 200 points, at the seed's h = 1e-4:",
          file=out)
    print(f"Max error: {np.abs(num_fpp - fpp(x_vals)).max():.2e}", file=out)
    auto = second_derivative(f, x_vals)
    print(f"Max error with automatic steps (eps**(1/4) * max(1, |x|)): "
          f"{np.abs(auto - fpp(x_vals)).max():.2e}", file=out)
    return x_vals, num_fpp


def figures(outdir, out):
    """The seed's two figures as PNG files in `outdir`; returns their paths or None."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print('Figures need matplotlib: pip install "fastfd[plot]"', file=out)
        return None
    os.makedirs(outdir, exist_ok=True)
    paths = [os.path.abspath(os.path.join(outdir, name)) for name in FIGURES]

    true_val = fp(X0)
    h_vals = np.logspace(-1, -14, 40)
    # fastfd broadcasts x against an array of steps: one call per scheme
    err_fwd = np.abs(forward_diff(f, X0, h_vals) - true_val)
    err_bwd = np.abs(backward_diff(f, X0, h_vals) - true_val)
    err_cen = np.abs(centered_diff(f, X0, h_vals) - true_val)
    fig = Figure(figsize=(10, 6))
    ax = fig.subplots()
    ax.loglog(h_vals, err_fwd, 'o-', color='#e74c3c', markersize=4, linewidth=1.5,
              label='Forward O(h)')
    ax.loglog(h_vals, err_bwd, 's-', color='#e67e22', markersize=4, linewidth=1.5,
              label='Backward O(h)')
    ax.loglog(h_vals, err_cen, '^-', color='#2ecc71', markersize=4, linewidth=2,
              label='Centered O(h²)')
    # the automatic step of each scheme on its curve: near each curve's minimum
    for (name, fn, h_auto), color in zip(_schemes(), ("#e74c3c", "#e67e22", "#2ecc71")):
        ax.loglog([h_auto], [abs(fn(f, X0) - true_val)], marker="*", markersize=16,
                  color=color, markeredgecolor="black", linestyle="none",
                  label=f"{name}, automatic h = {h_auto:.1e}")
    h_ref = np.array([1e-1, 1e-7])
    ax.loglog(h_ref, 2 * h_ref, '--', color='gray', alpha=0.6, label='slope 1 (O(h))')
    ax.loglog(h_ref, 2 * h_ref ** 2, ':', color='gray', alpha=0.6, label='slope 2 (O(h²))')
    ax.set_xlabel('h (step size)')
    ax.set_ylabel('|error|')
    ax.set_title('Finite difference accuracy vs step size\n'
                 'Centered difference is O(h²); the automatic steps (stars) sit near '
                 'each minimum')
    ax.legend()
    ax.invert_xaxis()
    fig.tight_layout()
    fig.savefig(paths[0], dpi=100)

    x_vals = np.linspace(-2, 2, 200)
    num_fpp = second_derivative(f, x_vals, 1e-4)
    true_fpp = fpp(x_vals)
    fig = Figure(figsize=(13, 4))
    axes = fig.subplots(1, 2)
    axes[0].plot(x_vals, true_fpp, color='steelblue', linewidth=2, label="f''(x) analytical")
    axes[0].plot(x_vals, num_fpp, color='darkorange', linewidth=2, linestyle='--',
                 label="f''(x) numerical", alpha=0.8)
    axes[0].set_title('Second derivative: numerical vs analytical')
    axes[0].legend()
    axes[1].semilogy(x_vals, np.abs(num_fpp - true_fpp) + 1e-16, color='steelblue',
                     linewidth=2, label='h = 1e-4 (seed)')
    auto_fpp = second_derivative(f, x_vals)
    axes[1].semilogy(x_vals, np.abs(auto_fpp - true_fpp) + 1e-16, color='#2ecc71',
                     linewidth=1.5, label='automatic h = eps**(1/4) * max(1, |x|)')
    axes[1].set_title('Error in second derivative')
    axes[1].legend()
    axes[1].set_ylabel('|error|')
    axes[1].set_xlabel('x')
    fig.tight_layout()
    fig.savefig(paths[1], dpi=100)
    for p in paths:
        print(f"wrote {p}", file=out)
    return paths


def run(outdir=".", plots=True, out=None):
    """Run the demo, printing to `out` (stdout); returns the figure paths or None.

    Examples
    --------
    >>> import io
    >>> from fastfd.demo import run
    >>> buf = io.StringIO()
    >>> run(plots=False, out=buf)
    >>> " Forward: error = 8.14e-05" in buf.getvalue()
    True
    """
    out = sys.stdout if out is None else out
    print("fastfd demo: the seed chapter on numerical derivatives, computed with fastfd",
          file=out)
    difference_table(out)
    gradient_checks(out)
    second_derivative_error(out)
    if not plots:
        return None
    _section("Figures", out)
    return figures(outdir, out)
