"""A hand-written attention backward in JAX, checked by fastfd and by
``jax.test_util.check_grads`` side by side.

Fused attention kernels (FlashAttention and its kin) come with a hand-written
backward, here as a ``jax.custom_vjp``. The planted bug is a classic: the
scores are ``q @ k.T / sqrt(d)``, and the backward applies the ``1/sqrt(d)``
to the gradient of ``q`` but forgets it on the gradient of ``k``. The
forward is right, shapes are right, training still moves; only ``dk`` is
``sqrt(d)`` times too large.

Both checkers run in float32, JAX's default, on the same inputs:

* ``check_grads`` compares one random projection of the VJP with a finite
  difference and raises an AssertionError on one number ("VJP cotangent
  projection") when they differ;
* ``fastfd.jax.check_vjp`` checks each input tensor, says which one is wrong
  (``k``; ``q`` and ``v`` pass) and names wrong Jacobian entries
  (``y[i, j] / k[a, b]``).

fastfd checks 384 sampled inputs and 16 random directions (a fixed plan, so
the output does not depend on the machine's speed); times include JAX's
compilation. Run: ``python examples/jax_custom_vjp.py`` (about 5 s; needs
``pip install "fastfd[jax]"``).
"""

import time

import numpy as np

import jax
import jax.numpy as jnp
from jax.test_util import check_grads

import fastfd.jax


def make_attention(*, forget_k_scale):
    """Single-head attention ``softmax(q k^T / sqrt(d)) v`` with a custom VJP."""

    @jax.custom_vjp
    def attention(q, k, v):
        scores = q @ k.T / jnp.sqrt(q.shape[-1])
        return jax.nn.softmax(scores, axis=-1) @ v

    def forward(q, k, v):
        p = jax.nn.softmax(q @ k.T / jnp.sqrt(q.shape[-1]), axis=-1)
        return p @ v, (q, k, v, p)

    def backward(res, g):
        q, k, v, p = res
        c = 1 / jnp.sqrt(q.shape[-1])
        dp = g @ v.T
        ds = p * (dp - jnp.sum(dp * p, axis=-1, keepdims=True))   # softmax backward
        dq = c * ds @ k
        dk = ds.T @ q if forget_k_scale else c * ds.T @ q
        dv = p.T @ g
        return dq, dk, dv

    attention.defvjp(forward, backward)
    return attention


def run_check_grads(f, args):
    t0 = time.perf_counter()
    try:
        check_grads(f, args, order=1, modes=("rev",))
        verdict = "passed"
    except AssertionError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        verdict = "FAILED: " + "; ".join(lines[:3])
    return verdict, time.perf_counter() - t0


def run_fastfd(f, args):
    t0 = time.perf_counter()
    result = fastfd.jax.check_vjp(f, *args, seed=0, coords=384, directions=16)
    return result, time.perf_counter() - t0


def main():
    rng = np.random.default_rng(0)
    n_tokens, d = 32, 64
    q, k, v = (jnp.asarray(rng.standard_normal((n_tokens, d)), jnp.float32)
               for _ in range(3))
    print(f"attention: q, k, v of shape ({n_tokens}, {d}), float32 "
          f"(jax {jax.__version__}, x64 {'on' if jax.config.jax_enable_x64 else 'off'})\n")

    for label, bug in (("correct backward", False), ("dk missing 1/sqrt(d)", True)):
        attention = make_attention(forget_k_scale=bug)
        verdict, t_jax = run_check_grads(attention, (q, k, v))
        result, t_fd = run_fastfd(attention, (q, k, v))
        print(f"== {label}")
        print(f"  jax.test_util.check_grads  {t_jax:6.2f} s  {verdict}")
        tensors = ", ".join(f"{t.name} {t.status}" for t in result.tensors)
        print(f"  fastfd.jax.check_vjp       {t_fd:6.2f} s  {result.status} ({tensors})")
        wrong = [e.name for e in result.entries if e.verdict != "passed"]
        if wrong:
            print(f"  wrong Jacobian entries named by fastfd: {', '.join(wrong[:3])}, ...")
            failures = result.failures()
            ratio = np.median([c.analytical / c.numerical for c in failures])
            print(f"  analytical / numerical over the {len(failures)} failing inputs: median "
                  f"{ratio:.2f} (sqrt(d) = {np.sqrt(d):.0f})")
        print()

    print("fastfd's report for the buggy backward (first lines):\n")
    print("\n".join(result.report(k=3, max_ranges=2).splitlines()[:14]))


if __name__ == "__main__":
    main()
