"""A fused Linear + GELU autograd.Function with a subtle backward bug, checked
by fastfd.torch.check_function and by torch.autograd.gradcheck side by side.

    python examples/torch_custom_op.py

The op computes ``gelu(x @ W.T + b)`` with the exact GELU, ``z * Phi(z)``,
but its backward uses the derivative of GELU's tanh approximation (what
``torch.nn.functional.gelu(z, approximate="tanh")`` differentiates): off by
at most 8.7e-4, at ``|z| = 2``. The model is 16 x 64 inputs into 128
features (9,344 inputs, 2,048 outputs), in float64, as gradcheck wants.

Measured here (2 cores, torch 2.13.0+cpu, one torch thread): gradcheck's
fast mode (one random projection, rtol 1e-3) passes the bug in 0.3 s; the
full gradcheck (every Jacobian entry) fails in 2.1 s and names "output 0
with respect to input 0" with a 2,048 x 1,024 Jacobian; fastfd fails in
about 2 s and names the wrong coordinates and Jacobian entries
(``output[0, 77] / W[77, 55]``). A correct backward passes all three.
Runs in about 10 s.
"""

from __future__ import annotations

import math
import pathlib
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import fastfd.torch  # noqa: E402

BATCH, IN, OUT = 16, 64, 128


def gelu(z):
    return z * 0.5 * (1 + torch.erf(z / math.sqrt(2)))


def gelu_grad(z):
    """d/dz of the exact GELU: Phi(z) + z phi(z)."""
    return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-0.5 * z * z) / math.sqrt(
        2 * math.pi)


def gelu_tanh_grad(z):
    """d/dz of the tanh approximation 0.5 z (1 + tanh(c (z + 0.044715 z^3)))."""
    c = math.sqrt(2 / math.pi)
    t = torch.tanh(c * (z + 0.044715 * z ** 3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * c * (1 + 3 * 0.044715 * z * z)


class LinearGelu(torch.autograd.Function):
    """gelu(x @ W.T + b) in one op; the backward uses the wrong GELU derivative."""

    @staticmethod
    def forward(ctx, x, W, b):
        z = x @ W.T + b
        ctx.save_for_backward(x, W, z)
        return gelu(z)

    @staticmethod
    def backward(ctx, g):
        x, W, z = ctx.saved_tensors
        dz = g * gelu_tanh_grad(z)          # the bug: gelu_grad(z) is right
        return dz @ W, dz.T @ x, dz.sum(0)


class LinearGeluFixed(LinearGelu):
    @staticmethod
    def backward(ctx, g):
        x, W, z = ctx.saved_tensors
        dz = g * gelu_grad(z)
        return dz @ W, dz.T @ x, dz.sum(0)


def gradcheck(op, args, fast_mode):
    t = time.perf_counter()
    try:
        torch.autograd.gradcheck(op.apply, args, fast_mode=fast_mode)
        verdict = "passed"
    except RuntimeError as exc:         # torch.autograd.gradcheck.GradcheckError
        verdict = "failed: " + str(exc).strip().splitlines()[0]
    return verdict, time.perf_counter() - t


def main():
    torch.manual_seed(0)
    x = torch.randn(BATCH, IN, dtype=torch.float64, requires_grad=True)
    W = (torch.randn(OUT, IN, dtype=torch.float64) / IN ** 0.5).requires_grad_()
    b = (0.1 * torch.randn(OUT, dtype=torch.float64)).requires_grad_()
    n = x.numel() + W.numel() + b.numel()
    print(f"fused Linear + GELU: {n:,} inputs, {BATCH * OUT:,} outputs, float64")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # as fastfd runs; gradcheck timed alike
    try:
        for op in (LinearGelu, LinearGeluFixed):
            print(f"\n== {op.__name__} ==")
            for fast in (True, False):
                verdict, seconds = gradcheck(op, (x, W, b), fast)
                print(f"torch.autograd.gradcheck(fast_mode={fast}): {verdict} ({seconds:.2f} s)")
            t = time.perf_counter()
            result = fastfd.torch.check_function(op, x, W, b, budget=3, seed=0)
            seconds = time.perf_counter() - t
            print(f"fastfd.torch.check_function: {result.status} ({seconds:.2f} s)")
            if result.status == "failed":
                wrong = [c.name for c in result.vjp.failures()]
                print(f"  wrong input coordinates: {len(wrong):,}, e.g. {', '.join(wrong[:3])}")
                print(f"  wrong Jacobian entries, e.g. "
                      f"{', '.join(e.name for e in result.entries[:3])}")
                print(f"  forward mode: {result.jvp_skipped or result.jvp.status}")
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
