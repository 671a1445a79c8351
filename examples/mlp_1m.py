"""Check the hand-written gradient of a one-million-parameter NumPy MLP.

    python examples/mlp_1m.py               # the 1,002,570-parameter model
    python examples/mlp_1m.py --scale 16    # a ~51,000-parameter version
    python examples/mlp_1m.py --relu        # ReLU activations (kinks)

The model: 784 -> 1024 -> 192 -> 10, tanh activations (or ReLU), softmax
cross-entropy on a batch of 32, parameters in a dict (W1, b1, W2, b2, W3,
b3) and a backward pass written by hand. ``--scale s`` divides the hidden
widths by ``s`` (1 to 96, so that every planted bug below exists).

Each case is checked with default settings (a time budget; directions,
stratified sample and bisection when a full check does not fit):

* the correct gradient;
* b2's gradient scaled by 1.01;
* one entry of W1's gradient off by a typical gradient magnitude;
* a 10x10 block of W3's gradient transposed (k x k when W3 has k < 10 rows).

For each, it prints the report, the loss evaluations used, the time taken,
and what a full per-coordinate check would cost (per-call time x 2n).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

BUGS = (None, "b2_scale", "w1_entry", "w3_block")
# 192 // 96 = 2 units in the second hidden layer: the smallest W3 whose
# transposed block is a bug
MAX_SCALE = 96
W1_ENTRY = (12, 7)


class MLP:
    """Three-layer MLP with softmax cross-entropy and a hand-written backward pass.

    Parameters
    ----------
    scale : int
        Divides the hidden widths 1024 and 192 (1 gives 1,002,570 parameters,
        16 gives 51,150).
    seed : int
        Seeds the data and the initial parameters.
    relu : bool
        ReLU instead of tanh.
    batch : int
        Batch size of the cross-entropy.
    """

    def __init__(self, scale=1, seed=0, relu=False, batch=32):
        rng = np.random.default_rng(seed)
        h1, h2 = 1024 // scale, 192 // scale
        sizes = [(784, h1), (h1, h2), (h2, 10)]
        self.relu = relu
        self.X = rng.standard_normal((batch, 784))
        self.y = rng.integers(0, 10, size=batch)
        self.params = {}
        for k, (m, n) in enumerate(sizes, start=1):
            self.params[f"W{k}"] = rng.standard_normal((m, n)) / np.sqrt(m)
            self.params[f"b{k}"] = 0.1 * rng.standard_normal(n)

    @property
    def n(self):
        return sum(p.size for p in self.params.values())

    def _act(self, z):
        return np.maximum(z, 0.0) if self.relu else np.tanh(z)

    def _act_grad(self, z, a):
        return (z > 0).astype(z.dtype) if self.relu else 1.0 - a * a

    def loss(self, p):
        """Mean softmax cross-entropy of the batch."""
        a1 = self._act(self.X @ p["W1"] + p["b1"])
        a2 = self._act(a1 @ p["W2"] + p["b2"])
        z3 = a2 @ p["W3"] + p["b3"]
        zmax = z3.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.exp(z3 - zmax).sum(axis=1))
        return float(np.mean(lse - z3[np.arange(z3.shape[0]), self.y]))

    def grad(self, p, bug=None):
        """The hand-written gradient, optionally with a planted bug (see BUGS)."""
        B = self.X.shape[0]
        z1 = self.X @ p["W1"] + p["b1"]
        a1 = self._act(z1)
        z2 = a1 @ p["W2"] + p["b2"]
        a2 = self._act(z2)
        z3 = a2 @ p["W3"] + p["b3"]
        e = np.exp(z3 - z3.max(axis=1, keepdims=True))
        dz3 = e / e.sum(axis=1, keepdims=True)
        dz3[np.arange(B), self.y] -= 1.0
        dz3 /= B
        g = {"W3": a2.T @ dz3, "b3": dz3.sum(axis=0)}
        dz2 = (dz3 @ p["W3"].T) * self._act_grad(z2, a2)
        g["W2"] = a1.T @ dz2
        g["b2"] = dz2.sum(axis=0)
        dz1 = (dz2 @ p["W2"].T) * self._act_grad(z1, a1)
        g["W1"] = self.X.T @ dz1
        g["b1"] = dz1.sum(axis=0)
        g = {k: g[k] for k in self.params}
        if bug == "b2_scale":
            g["b2"] = g["b2"] * 1.01
        elif bug == "w1_entry":
            g["W1"][W1_ENTRY] += np.median(np.abs(g["W1"]))
        elif bug == "w3_block":
            k = min(10, *g["W3"].shape)
            g["W3"][:k, :k] = g["W3"][:k, :k].T.copy()
        elif bug is not None:
            raise ValueError(f"bug must be one of {BUGS}, got {bug!r}")
        return g


def full_check_seconds(model, repeats=5):
    """What a full per-coordinate check would cost: per-call time x 2n."""
    p = model.params
    model.loss(p)
    t = min(_timed(model.loss, p) for _ in range(repeats))
    return t, 2 * model.n * t


def duration(seconds):
    """``seconds`` in the unit a reader would use: "12 s", "30 min", "82 h".

    >>> duration(2.97e5)
    '82 h'
    >>> duration(1825.0)
    '30 min'
    """
    for unit, size in (("h", 3600.0), ("min", 60.0)):
        if seconds >= 2 * size:
            value = seconds / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _timed(fn, arg):
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0


def run_case(model, bug, *, seed=0, check=None, **options):
    """Check one case; returns (result, seconds)."""
    if check is None:
        from fastfd import check_gradient as check
    grad = model.grad(model.params, bug=bug)
    t0 = time.perf_counter()
    result = check(model.loss, model.params, grad, seed=seed, **options)
    return result, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1,
                        help="divide the hidden widths by this (1: 1,002,570 parameters)")
    parser.add_argument("--relu", action="store_true", help="ReLU activations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per check (default: fastfd's default)")
    args = parser.parse_args(argv)
    if not 1 <= args.scale <= MAX_SCALE:
        parser.error(f"--scale must be between 1 and {MAX_SCALE} (the second hidden layer "
                     f"needs 2 units for the W3 block bug), got {args.scale}")

    model = MLP(scale=args.scale, seed=args.seed, relu=args.relu)
    t_call, t_full = full_check_seconds(model)
    print(f"MLP 784-{1024 // args.scale}-{192 // args.scale}-10, "
          f"{'ReLU' if args.relu else 'tanh'}, {model.n:,} parameters; one loss call "
          f"{1e3 * t_call:.2f} ms, a full per-coordinate check would take "
          f"{2 * model.n:,} calls, about {duration(t_full)}\n")
    options = {} if args.budget is None else {"budget": args.budget}
    bugs = (None,) if args.relu else BUGS
    for bug in bugs:
        result, seconds = run_case(model, bug, seed=args.seed, **options)
        title = "correct gradient" if bug is None else f"planted bug: {bug}"
        print(f"=== {title} ===")
        print(result)
        print(f"-> {result.status} in {seconds:.1f} s with "
              f"{result.n_evals:,} loss evaluations "
              f"(full check: {2 * model.n:,} evaluations, about {duration(t_full)})\n")


if __name__ == "__main__":
    main()
