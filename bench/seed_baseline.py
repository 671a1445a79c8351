"""The seed chapter's gradient_check (verbose=False): the baseline that
bench_gradcheck.py and bench_scale.py measure fastfd against."""

import numpy as np


def seed_gradient_check(loss_fn, params, analytical_grad, h=1e-5, tol=1e-4):
    n = len(params)
    numerical_grad = np.zeros(n)
    for i in range(n):
        p_plus = params.copy()
        p_plus[i] += h
        p_minus = params.copy()
        p_minus[i] -= h
        numerical_grad[i] = (loss_fn(p_plus) - loss_fn(p_minus)) / (2 * h)
    diff = np.linalg.norm(analytical_grad - numerical_grad)
    denom = np.linalg.norm(analytical_grad) + np.linalg.norm(numerical_grad)
    return diff / (denom + 1e-15), numerical_grad
