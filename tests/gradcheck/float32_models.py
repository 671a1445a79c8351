"""Reference models with hand-written reverse passes, in float32 or float64.

Each ``make_<name>(seed, dtype=np.float32)`` returns ``(loss, params, grad)``:

* ``params``: dict name -> array of `dtype` (the point to check at);
* ``loss(params)``: a NumPy scalar of `dtype`, every operation in `dtype`
  (long sums included, as a float32 framework computes them);
* ``grad``: dict of the same structure, the analytic gradient at ``params``
  from a reverse pass written by hand, also in `dtype`.

The conv and lstm losses are reordered for speed (the checker calls them
thousands of times); ``loss.reference(params)`` is the same loss through the
forward pass that the reverse pass follows.

The float32 and float64 versions of a model with the same seed evaluate the
same point: parameters and data are drawn in float64, rounded to float32,
then cast to `dtype`. The models are independent of fastfd (NumPy only) and
verified against plain float64 centered differences in
``tests/test_float32_models.py``.

Models and sizes
----------------
conv      two 5x5 convolutions (im2col + matmul), tanh, ReLU, 2x2 max-pool,
          linear head, mean softmax cross-entropy over 4 images of 20x20:
          conv1 16x1x5x5, conv2 28x16x5x5, head 10x1008; 21,734 parameters.
          ``smooth=True``: tanh and average pooling instead (no kinks).
mlp       tanh MLP 20 -> 64 -> 32 -> 5, mean squared error over 16 samples;
          3,589 parameters.
lstm      LSTM cell (input 6, hidden 16), 5 time steps, batch 4, a linear
          readout at every step, mean squared error; 1,523 parameters.
relu_mlp  ReLU MLP 10 -> 32 -> 24 -> 8 (352 + 792 + 200 = 1,344 parameters),
          mean squared error over 8 samples, with 6 first-layer and 4
          second-layer pre-activations moved to within 2 float32 default steps
          (2**-8 for parameters below 1 in magnitude) of zero.
tanh_max  8 parameters: ``sum(w * tanh(c * p + d)) + max(tanh(5 p[0]),
          tanh(-5 p[0]) + k)`` with ``k`` placed so that the max switches at
          ``p[0] - 0.2 h``, ``h`` the float32 default step of ``p[0]``.

``plant(grad, kind, name, index=None)`` returns a planted bug (see there).
"""

from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["make_conv", "make_mlp", "make_lstm", "make_relu_mlp", "make_tanh_max",
           "plant", "Planted", "MODELS", "flat_index", "coordinate_name",
           "FLOAT32_STEP_BELOW_ONE"]

# fastfd.optimal_step(x, dtype=np.float32) for |x| <= 1:
# eps32**(1/3) = 4.9e-3 rounded down to a power of two.
FLOAT32_STEP_BELOW_ONE = 2.0 ** -8


def _cast(arrays, dtype):
    """Round float64 arrays to float32 values, then cast to `dtype`."""
    return {k: np.asarray(v, dtype=np.float64).astype(np.float32).astype(dtype)
            for k, v in arrays.items()}


def _check_params(params, like):
    for k, v in like.items():
        a = params[k]
        if a.shape != v.shape:
            raise ValueError(f"{k}: shape {a.shape}, expected {v.shape}")


# ----------------------------------------------------------------- conv
def _conv_forward(x, w, b):
    """Valid 2-D cross-correlation: x (B, C, H, W), w (O, C, k, k) -> (B, O, Ho, Wo)."""
    B, C, H, W = x.shape
    O, _, k, _ = w.shape
    Ho, Wo = H - k + 1, W - k + 1
    win = sliding_window_view(x, (k, k), axis=(2, 3))          # (B, C, Ho, Wo, k, k)
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(B * Ho * Wo, C * k * k)
    out = cols @ w.reshape(O, C * k * k).T + b                 # (B*Ho*Wo, O)
    return out.reshape(B, Ho, Wo, O).transpose(0, 3, 1, 2), cols


def _conv_backward(dout, cols, x_shape, w, need_dx):
    B, C, H, W = x_shape
    O, _, k, _ = w.shape
    Ho, Wo = H - k + 1, W - k + 1
    d2 = dout.transpose(0, 2, 3, 1).reshape(B * Ho * Wo, O)
    dw = (d2.T @ cols).reshape(w.shape)
    db = d2.sum(axis=0)
    dx = None
    if need_dx:
        dcols = (d2 @ w.reshape(O, C * k * k)).reshape(B, Ho, Wo, C, k, k)
        dx = np.zeros(x_shape, dtype=dout.dtype)
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + Ho, j:j + Wo] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dw, db, dx


def _maxpool_forward(a):
    """2x2 max-pool of (B, O, H, W), H and W even; returns pooled and argmax (first on ties)."""
    B, O, H, W = a.shape
    r = a.reshape(B, O, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    r = r.reshape(B, O, H // 2, W // 2, 4)
    arg = r.argmax(axis=-1)
    return np.take_along_axis(r, arg[..., None], axis=-1)[..., 0], arg


def _maxpool_backward(dp, arg, shape):
    B, O, H, W = shape
    onehot = (np.arange(4) == arg[..., None]).astype(dp.dtype)  # (B, O, H/2, W/2, 4)
    d = onehot * dp[..., None]
    d = d.reshape(B, O, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return d.reshape(B, O, H, W)


def _avgpool_forward(a):
    B, O, H, W = a.shape
    r = a.reshape(B, O, H // 2, 2, W // 2, 2)
    return r.sum(axis=(3, 5)) * a.dtype.type(0.25)


def _avgpool_backward(dp, shape):
    B, O, H, W = shape
    d = np.broadcast_to((dp * dp.dtype.type(0.25))[:, :, :, None, :, None],
                        (B, O, H // 2, 2, W // 2, 2))
    return d.reshape(B, O, H, W)


def _softmax_xent(logits, y):
    """Mean cross-entropy and its gradient with respect to the logits."""
    B = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    lse = np.log(s)[:, 0]
    loss = np.mean(lse - z[np.arange(B), y])
    p = e / s
    p[np.arange(B), y] -= 1
    return loss, p / logits.dtype.type(B)


def make_conv(seed, dtype=np.float32, smooth=False):
    """Two conv layers (tanh, ReLU), 2x2 max-pool, linear head, softmax cross-entropy.

    21,734 parameters; a batch of 4 single-channel 20x20 images, 10 classes.
    ``smooth=True``: tanh after conv2 and 2x2 average pooling instead of ReLU
    and max-pool (same parameters and data), a model without kinks.

    With ReLU and max-pool, a step of the float32 default size (``2**-8``)
    in a conv weight moves hundreds of conv2 pre-activations, and some cross
    zero or swap a pool maximum: even the exact (float64) centered difference
    at that step differs from the gradient by ~1e-2 relative (median over
    conv1.weight, seeds 0-2), at ``h = 6e-6`` (the float64 step) it does not.
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    B, H = 4, 20
    C1, C2, K, NC = 16, 28, 5, 10
    F = C2 * 6 * 6                                             # 20 -> 16 -> 12 -> pool 6
    p64 = {
        "conv1.weight": rng.standard_normal((C1, 1, K, K)) / np.sqrt(K * K),
        "conv1.bias": 0.1 * rng.standard_normal(C1),
        "conv2.weight": rng.standard_normal((C2, C1, K, K)) / np.sqrt(C1 * K * K),
        "conv2.bias": 0.1 * rng.standard_normal(C2),
        "head.weight": rng.standard_normal((NC, F)) / np.sqrt(F),
        "head.bias": 0.1 * rng.standard_normal(NC),
    }
    params = _cast(p64, dtype)
    x = _cast({"x": rng.standard_normal((B, 1, H, H))}, dtype)["x"]
    y = rng.integers(0, NC, size=B)

    def forward(p, want_grad):
        a1, cols1 = _conv_forward(x, p["conv1.weight"], p["conv1.bias"])
        t1 = np.tanh(a1)
        a2, cols2 = _conv_forward(t1, p["conv2.weight"], p["conv2.bias"])
        if smooth:
            r2 = np.tanh(a2)
            pooled = _avgpool_forward(r2)
        else:
            r2 = np.maximum(a2, dtype.type(0))
            pooled, arg = _maxpool_forward(r2)
        flat = pooled.reshape(B, F)
        logits = flat @ p["head.weight"].T + p["head.bias"]
        loss, dlogits = _softmax_xent(logits, y)
        if not want_grad:
            return loss
        g = {"head.weight": dlogits.T @ flat, "head.bias": dlogits.sum(axis=0)}
        dflat = dlogits @ p["head.weight"]
        if smooth:
            dr2 = _avgpool_backward(dflat.reshape(pooled.shape), r2.shape)
            da2 = dr2 * (1 - r2 * r2)
        else:
            dr2 = _maxpool_backward(dflat.reshape(pooled.shape), arg, r2.shape)
            da2 = dr2 * (a2 > 0).astype(dtype)
        g["conv2.weight"], g["conv2.bias"], dt1 = _conv_backward(
            da2, cols2, t1.shape, p["conv2.weight"], need_dx=True)
        da1 = dt1 * (1 - t1 * t1)
        g["conv1.weight"], g["conv1.bias"], _ = _conv_backward(
            da1, cols1, x.shape, p["conv1.weight"], need_dx=False)
        return loss, {k: g[k] for k in params}

    # The loss alone, the checker's hot path (thousands of calls): the same
    # operations as forward(p, False) with activations kept as (B, H, W, C),
    # the layout the im2col matmul produces, so each conv is one window view,
    # one copy and one matmul, with conv1's im2col of the fixed data made once.
    # Every dot product sums in the same (C, k, k) order as forward; measured
    # 0.60 -> 0.48 ms per float32 call (one BLAS thread, loaded 2-core AMD EPYC).
    cols1 = np.ascontiguousarray(
        sliding_window_view(x, (K, K), axis=(2, 3)).transpose(0, 2, 3, 1, 4, 5)
    ).reshape(B * 16 * 16, K * K)
    zero = dtype.type(0)

    def fast_loss(p):
        w1 = p["conv1.weight"].reshape(C1, K * K)
        t1 = np.tanh(cols1 @ w1.T + p["conv1.bias"]).reshape(B, 16, 16, C1)
        cols2 = sliding_window_view(t1, (K, K), axis=(1, 2)).reshape(B * 12 * 12, C1 * K * K)
        a2 = (cols2 @ p["conv2.weight"].reshape(C2, C1 * K * K).T
              + p["conv2.bias"]).reshape(B, 12, 12, C2)
        if smooth:
            pooled = _avgpool_forward(np.tanh(a2).transpose(0, 3, 1, 2))
        else:
            r = np.maximum(a2, zero).reshape(B, 6, 2, 6, 2, C2)
            pooled = np.maximum(np.maximum(r[:, :, 0, :, 0], r[:, :, 0, :, 1]),
                                np.maximum(r[:, :, 1, :, 0], r[:, :, 1, :, 1]))
            pooled = pooled.transpose(0, 3, 1, 2)
        logits = pooled.reshape(B, F) @ p["head.weight"].T + p["head.bias"]
        return _softmax_xent(logits, y)[0]

    def loss(p):
        _check_params(p, params)
        return fast_loss(p)

    loss.reference = lambda p: forward(p, False)
    return loss, params, forward(params, True)[1]


# ------------------------------------------------------------------ mlp
def make_mlp(seed, dtype=np.float32):
    """tanh MLP 20 -> 64 -> 32 -> 5, mean squared error over 16 samples; 3,589 parameters."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    sizes = [20, 64, 32, 5]
    N = 16
    p64 = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        p64[f"fc{i}.weight"] = rng.standard_normal((b, a)) / np.sqrt(a)
        p64[f"fc{i}.bias"] = 0.1 * rng.standard_normal(b)
    params = _cast(p64, dtype)
    data = _cast({"x": rng.standard_normal((N, sizes[0])),
                  "t": rng.standard_normal((N, sizes[-1]))}, dtype)
    x, t = data["x"], data["t"]
    nl = len(sizes) - 1

    def forward(p, want_grad):
        acts = [x]
        h = x
        for i in range(1, nl + 1):
            z = h @ p[f"fc{i}.weight"].T + p[f"fc{i}.bias"]
            h = np.tanh(z) if i < nl else z
            acts.append(h)
        r = h - t
        loss = np.mean(r * r)
        if not want_grad:
            return loss
        g = {}
        d = (2 * r) / dtype.type(r.size)
        for i in range(nl, 0, -1):
            if i < nl:
                d = d * (1 - acts[i] * acts[i])
            g[f"fc{i}.weight"] = d.T @ acts[i - 1]
            g[f"fc{i}.bias"] = d.sum(axis=0)
            d = d @ p[f"fc{i}.weight"]
        return loss, {k: g[k] for k in params}

    def loss(p):
        _check_params(p, params)
        return forward(p, False)

    return loss, params, forward(params, True)[1]


# ----------------------------------------------------------------- lstm
def _sigmoid(z):
    one = z.dtype.type(1)
    return one / (one + np.exp(-z))


def make_lstm(seed, dtype=np.float32):
    """LSTM cell (input 6, hidden 16), 5 steps, batch 4, readout at every step; 1,523 parameters.

    ``z = x_t W_ih^T + h W_hh^T + b`` split into gates i, f, g, o (sigmoid,
    sigmoid, tanh, sigmoid); ``c = f c + i g``, ``h = o tanh(c)``; output
    ``h W^T + b_out`` against targets, mean squared error over all steps.
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    D, Hd, T, B, K = 6, 16, 5, 4, 3
    p64 = {
        "lstm.weight_ih": rng.standard_normal((4 * Hd, D)) / np.sqrt(D),
        "lstm.weight_hh": rng.standard_normal((4 * Hd, Hd)) / np.sqrt(Hd),
        "lstm.bias": 0.1 * rng.standard_normal(4 * Hd),
        "head.weight": rng.standard_normal((K, Hd)) / np.sqrt(Hd),
        "head.bias": 0.1 * rng.standard_normal(K),
    }
    params = _cast(p64, dtype)
    data = _cast({"x": rng.standard_normal((T, B, D)),
                  "t": rng.standard_normal((T, B, K))}, dtype)
    xs, ts = data["x"], data["t"]

    def forward(p, want_grad):
        Wih, Whh, b = p["lstm.weight_ih"], p["lstm.weight_hh"], p["lstm.bias"]
        Wo, bo = p["head.weight"], p["head.bias"]
        h = np.zeros((B, Hd), dtype=dtype)
        c = np.zeros((B, Hd), dtype=dtype)
        tape = []
        sq = []
        for s in range(T):
            z = xs[s] @ Wih.T + h @ Whh.T + b
            i = _sigmoid(z[:, :Hd])
            f = _sigmoid(z[:, Hd:2 * Hd])
            g = np.tanh(z[:, 2 * Hd:3 * Hd])
            o = _sigmoid(z[:, 3 * Hd:])
            c_prev, h_prev = c, h
            c = f * c + i * g
            tc = np.tanh(c)
            h = o * tc
            r = h @ Wo.T + bo - ts[s]
            sq.append(r)
            tape.append((h_prev, c_prev, i, f, g, o, tc, h))
        res = np.stack(sq)
        loss = np.mean(res * res)
        if not want_grad:
            return loss
        gr = {k: np.zeros_like(v) for k, v in p.items()}
        dres = (2 * res) / dtype.type(res.size)
        dh_next = np.zeros((B, Hd), dtype=dtype)
        dc_next = np.zeros((B, Hd), dtype=dtype)
        for s in range(T - 1, -1, -1):
            h_prev, c_prev, i, f, g, o, tc, h = tape[s]
            dy = dres[s]
            gr["head.weight"] += dy.T @ h
            gr["head.bias"] += dy.sum(axis=0)
            dh = dy @ Wo + dh_next
            do = dh * tc
            dc = dh * o * (1 - tc * tc) + dc_next
            di, dg, df = dc * g, dc * i, dc * c_prev
            dc_next = dc * f
            dz = np.concatenate([di * i * (1 - i), df * f * (1 - f),
                                 dg * (1 - g * g), do * o * (1 - o)], axis=1)
            gr["lstm.weight_ih"] += dz.T @ xs[s]
            gr["lstm.weight_hh"] += dz.T @ h_prev
            gr["lstm.bias"] += dz.sum(axis=0)
            dh_next = dz @ Whh
        return loss, gr

    # The loss alone, as forward(p, False) computes it with the input
    # products of all steps in one matmul, the gates' sigmoids in one call
    # and the readout of all steps in one matmul: 0.11 -> 0.07 ms per float32
    # call (one BLAS thread, loaded 2-core AMD EPYC).
    def fast_loss(p):
        Whh, b = p["lstm.weight_hh"], p["lstm.bias"]
        xw = (xs.reshape(T * B, D) @ p["lstm.weight_ih"].T).reshape(T, B, 4 * Hd)
        h = np.zeros((B, Hd), dtype=dtype)
        c = np.zeros((B, Hd), dtype=dtype)
        hs = np.empty((T, B, Hd), dtype=dtype)
        for s in range(T):
            z = xw[s] + h @ Whh.T + b
            sg = _sigmoid(z)
            c = sg[:, Hd:2 * Hd] * c + sg[:, :Hd] * np.tanh(z[:, 2 * Hd:3 * Hd])
            h = hs[s] = sg[:, 3 * Hd:] * np.tanh(c)
        res = hs @ p["head.weight"].T + p["head.bias"] - ts
        return np.mean(res * res)

    def loss(p):
        _check_params(p, params)
        return fast_loss(p)

    loss.reference = lambda p: forward(p, False)
    return loss, params, forward(params, True)[1]


# ------------------------------------------------------------- relu_mlp
def make_relu_mlp(seed, dtype=np.float32, kinks=(6, 4)):
    """ReLU MLP 10 -> 32 -> 24 -> 8, 1,344 parameters, with pre-activations placed near kinks.

    ``kinks=(k1, k2)``: in each of ``k1`` first-layer and ``k2`` second-layer
    units, the pre-activation closest to zero over the batch is moved
    (through the unit's bias) to
    ``delta`` with ``|delta|`` uniform in ``[0.05, 2] * 2**-8`` and a random
    sign: a bias step of the float32 default size ``2**-8`` crosses it when
    ``|delta| < h`` (and a weight step when ``|delta| < h |input|``).
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    sizes = [10, 32, 24, 8]
    N = 8
    p64 = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        p64[f"fc{i}.weight"] = rng.standard_normal((b, a)) * np.sqrt(2.0 / a)
        p64[f"fc{i}.bias"] = 0.1 * rng.standard_normal(b)
    x = rng.standard_normal((N, sizes[0]))
    t = rng.standard_normal((N, sizes[-1]))
    h32 = FLOAT32_STEP_BELOW_ONE
    # move pre-activations near zero, layer by layer, at float32-rounded values
    p64 = {k: v.astype(np.float32).astype(np.float64) for k, v in p64.items()}
    x = x.astype(np.float32).astype(np.float64)
    hin = x
    for layer, count in zip((1, 2), kinks):
        W, b = p64[f"fc{layer}.weight"], p64[f"fc{layer}.bias"]
        z = hin @ W.T + b
        units = rng.choice(W.shape[0], size=count, replace=False)
        for u in units:
            k = int(np.argmin(np.abs(z[:, u])))             # the smallest bias move
            delta = rng.uniform(0.05, 2.0) * h32 * rng.choice([-1.0, 1.0])
            b[u] = np.float32(b[u] - z[k, u] + delta)
        hin = np.maximum(hin @ W.T + b, 0.0)
    params = _cast(p64, dtype)
    data = _cast({"x": x, "t": t}, dtype)
    x, t = data["x"], data["t"]
    nl = len(sizes) - 1

    def forward(p, want_grad):
        acts, pre = [x], []
        h = x
        for i in range(1, nl + 1):
            z = h @ p[f"fc{i}.weight"].T + p[f"fc{i}.bias"]
            pre.append(z)
            h = np.maximum(z, dtype.type(0)) if i < nl else z
            acts.append(h)
        r = h - t
        loss = np.mean(r * r)
        if not want_grad:
            return loss
        g = {}
        d = (2 * r) / dtype.type(r.size)
        for i in range(nl, 0, -1):
            if i < nl:
                d = d * (pre[i - 1] > 0).astype(dtype)
            g[f"fc{i}.weight"] = d.T @ acts[i - 1]
            g[f"fc{i}.bias"] = d.sum(axis=0)
            d = d @ p[f"fc{i}.weight"]
        return loss, {k: g[k] for k in params}

    def loss(p):
        _check_params(p, params)
        return forward(p, False)

    loss.preactivations = lambda p: _relu_pre(x, p, nl)
    return loss, params, forward(params, True)[1]


def _relu_pre(x, p, nl):
    h = x
    out = []
    for i in range(1, nl):
        z = h @ p[f"fc{i}.weight"].T + p[f"fc{i}.bias"]
        out.append(z)
        h = np.maximum(z, 0)
    return out


# ------------------------------------------------------------- tanh_max
def make_tanh_max(seed, dtype=np.float32, kink=-0.2):
    """``sum(w * tanh(c * p + d)) + max(tanh(5 p[0]), tanh(-5 p[0]) + k)``, 8 parameters "p".

    Two curved branches (slopes ``+-5 sech^2(5 p[0])``, a slope jump of
    about 5 at ``p[0]`` in (0.2, 0.4)); ``k`` is chosen so that they cross at
    ``p[0] + kink * h`` with ``h = 2**-8``, the float32 default step of
    ``p[0]``: the max switches along coordinate 0 only, and for ``kink < 0``
    its active branch at ``p`` is ``tanh(5 p[0])``.
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    n = 8
    p0 = rng.uniform(-1.0, 1.0, n)
    p0[0] = rng.uniform(0.2, 0.4)
    consts = {"w": rng.uniform(0.5, 1.5, n), "c": rng.uniform(0.5, 2.0, n),
              "d": rng.uniform(-0.5, 0.5, n)}
    params = _cast({"p": p0}, dtype)
    consts = _cast(consts, dtype)
    w, c, d = consts["w"], consts["c"], consts["d"]
    s = dtype.type(5)
    xk = np.float64(params["p"][0]) + kink * FLOAT32_STEP_BELOW_ONE
    k = dtype.type(np.float32(np.tanh(5 * xk) - np.tanh(-5 * xk)))

    def loss(p):
        q = p["p"]
        return np.sum(w * np.tanh(c * q + d)) + np.maximum(np.tanh(s * q[0]),
                                                           np.tanh(-s * q[0]) + k)

    q = params["p"]
    th = np.tanh(c * q + d)
    g = w * c * (1 - th * th)
    up, down = np.tanh(s * q[0]), np.tanh(-s * q[0])
    if up >= down + k:
        g[0] += s * (1 - up * up)
    else:
        g[0] += -s * (1 - down * down)
    return loss, params, {"p": g}


MODELS = {"conv": make_conv, "mlp": make_mlp, "lstm": make_lstm,
          "relu_mlp": make_relu_mlp, "tanh_max": make_tanh_max}


# ---------------------------------------------------------------- plant
Planted = namedtuple("Planted", "grad tensor name flat_index")


def coordinate_name(params, name, index):
    """The checker's name of entry `index` (a tuple) of tensor `name`, e.g. ``W[3, 0]``."""
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def flat_index(params, name, index):
    """Flat coordinate of ``params[name][index]`` (tensors in dict order, C order)."""
    start = 0
    for k, v in params.items():
        if k == name:
            return start + int(np.ravel_multi_index(index, v.shape))
        start += v.size
    raise KeyError(name)


def plant(grad, kind, name, index=None, factor=1.01):
    """A copy of `grad` with one planted bug; returns :class:`Planted`.

    kind
        "scale": tensor `name` multiplied by `factor` (1.01: a 1% error in one
        tensor). ``Planted.name`` is the tensor name, ``flat_index`` None.
        "entry": one entry of tensor `name` moved by half the tensor's rms
        gradient, in the direction of its sign (default entry: the one whose
        ``|g|`` is closest to the rms, so the error is about 50% of it).
        "flip": one entry's sign flipped (default entry: the largest ``|g|``).
    """
    bad = {k: np.array(v, copy=True) for k, v in grad.items()}
    g = bad[name]
    if kind == "scale":
        bad[name] = (g * g.dtype.type(factor)).astype(g.dtype)
        return Planted(bad, name, name, None)
    rms = np.sqrt(np.mean(np.square(g, dtype=np.float64)))
    if index is None:
        a = np.abs(g.astype(np.float64))
        flat = int(np.argmin(np.abs(a - rms))) if kind == "entry" else int(np.argmax(a))
        index = np.unravel_index(flat, g.shape)
    index = tuple(int(i) for i in index)
    if kind == "entry":
        sign = 1.0 if g[index] >= 0 else -1.0
        g[index] = g.dtype.type(g[index] + sign * 0.5 * rms)
    elif kind == "flip":
        g[index] = -g[index]
    else:
        raise ValueError(f"kind must be 'scale', 'entry' or 'flip', got {kind!r}")
    return Planted(bad, name, coordinate_name(grad, name, index), flat_index(grad, name, index))
