"""fastfd.torch against torch.autograd.gradcheck on models with one wrong
gradient entry (float64, CPU, one torch thread).

Two models, each with one entry of one weight's gradient planted wrong by
``10 x`` that weight's RMS gradient (a custom autograd.Function on the
weight in the forward pass, so that both checkers see the same backward):

* a TransformerEncoderLayer (d_model 96, 4 heads, feed-forward 384, no
  dropout; 111,840 parameters), input 4 x 16 x 96, wrong entry
  ``linear1.weight[71, 60]``;
* an MLP 784 -> 1024 -> 192 -> 10 with tanh (1,002,570 parameters), batch
  32, wrong entry ``0.weight[12, 7]``.

The loss is the mean square of the output. Per model: fastfd's
``check_module`` with its defaults (10 s budget), ``gradcheck(fast_mode=True)``
and the full ``gradcheck`` of the loss as a function of every parameter
(``functional_call``). The full gradcheck is timed on the transformer (about
2n = 223,680 loss calls); on the MLP (2n = 2e6 calls, over an hour) it is
timed on the last layer's 1,930 parameters and extrapolated per parameter
(``extra_info["extrapolated_s"]``); its verdict there is for that subset.

    .venv/bin/python -m pytest bench/bench_torch.py --benchmark-json=/tmp/torch.json
    .venv/bin/python bench/report.py /tmp/torch.json

Measured here (2026-11-30, AMD EPYC, 2 cores shared, torch 2.13.0+cpu, one run):

=========================  ==================================  ==============  =====================
model                      fastfd check_module (10 s budget)   gradcheck fast  gradcheck full
=========================  ==================================  ==============  =====================
transformer, 111,840       7.8 s, failed: linear1.weight       0.21 s, passed  124 s, failed: "output
                           [71, 60] (1,831 coordinates, 64                     0 with respect to
                           directions, 11,863 loss calls)                      input 4"
MLP, 1,002,570             7.0 s, failed: 0.weight[12, 7]      0.08 s, passed  ~3,190 s extrapolated
                           (592 coordinates, 21 directions,                    (6.1 s for the last
                           2,308 loss calls)                                   layer's 1,930)
=========================  ==================================  ==============  =====================

With the loss as a mean instead of a sum, the full gradcheck passed the
transformer's planted entry (146 s): the weight gradients are about 6e-9
there, far below its atol of 1e-5; fastfd named it (8.0 s).

The third group is the vector case: ``check_function`` on an elementwise
softplus of 1e6 float64 entries whose backward is 1.5x off at one index.
Measured: named ``output[333340] / x[333340]`` in 4.4 s with 712
evaluations of the op and 42 VJP calls (about 2 log2(1e6) = 40 for the
bisection over outputs); gradcheck's fast mode passed it (35 ms), and its
full mode would need a 1e6 x 1e6 Jacobian.
"""

import time

import pytest

torch = pytest.importorskip("torch")

import fastfd.torch  # noqa: E402

class Planted(torch.autograd.Function):
    """Identity on a weight; the backward scales one entry of its gradient
    by ``1 + c`` (linear in the incoming gradient, as gradcheck requires)."""

    @staticmethod
    def forward(ctx, w, at, c):
        ctx.at, ctx.c = at, c
        return w.view_as(w)

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        g[ctx.at] = g[ctx.at] * (1 + ctx.c)
        return g, None, None


class PlantedLinear(torch.nn.Linear):
    """nn.Linear whose weight gradient is wrong at ``at`` when ``c != 0``."""

    at = (0, 0)
    c = 0.0

    def forward(self, x):
        w = Planted.apply(self.weight, self.at, self.c) if self.c else self.weight
        return torch.nn.functional.linear(x, w, self.bias)


def loss_fn(y):
    # a sum, not a mean: with the mean, the transformer's weight gradients are
    # about 6e-9, and gradcheck's atol=1e-5 passed the planted entry (146 s)
    return y.square().sum()


def _plant(model, x, layer, at):
    """Set ``layer.c`` so that the gradient entry ``at`` is off by 10x the
    RMS gradient of ``layer.weight``."""
    layer.at = at
    g = torch.autograd.grad(loss_fn(model(x)), layer.weight)[0]
    rms = float(g.square().mean().sqrt())
    layer.c = 10 * rms / float(g[at])


def transformer():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(96, 4, 384, dropout=0.0, batch_first=True)
    planted = PlantedLinear(96, 384)
    planted.load_state_dict(layer.linear1.state_dict())
    layer.linear1 = planted
    layer = layer.double()
    x = torch.randn(4, 16, 96, dtype=torch.float64)
    _plant(layer, x, planted, (71, 60))
    return layer, x, "linear1.weight[71, 60]"


def mlp():
    torch.manual_seed(0)
    first = PlantedLinear(784, 1024)
    model = torch.nn.Sequential(first, torch.nn.Tanh(), torch.nn.Linear(1024, 192),
                                torch.nn.Tanh(), torch.nn.Linear(192, 10)).double()
    x = torch.randn(32, 784, dtype=torch.float64)
    _plant(model, x, first, (12, 7))
    return model, x, "0.weight[12, 7]"


MODELS = {"transformer": transformer, "mlp": mlp}
GROUP = {"transformer": "torch: TransformerEncoderLayer, 111,840 params, 1 wrong entry",
         "mlp": "torch: MLP 1,002,570 params, 1 wrong entry"}


@pytest.fixture(scope="module", params=list(MODELS))
def case(request):
    model, x, wrong = MODELS[request.param]()
    return request.param, model, x, wrong


def _loss_of(model, x, names):
    from torch.func import functional_call

    fixed = {k: p.detach() for k, p in model.named_parameters() if k not in names}

    def f(*ps):
        return loss_fn(functional_call(model, {**fixed, **dict(zip(names, ps))}, (x,)))

    return f


def _gradcheck(model, x, names, fast_mode):
    params = dict(model.named_parameters())
    inputs = tuple(params[k].detach().clone().requires_grad_() for k in names)
    f = _loss_of(model, x, names)
    try:
        torch.autograd.gradcheck(f, inputs, fast_mode=fast_mode)
        return "passed"
    except RuntimeError as exc:       # torch.autograd.gradcheck.GradcheckError
        return "failed: " + str(exc).strip().splitlines()[0]


def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    return n


def test_fastfd_check_module(benchmark, role, case):
    name, model, x, wrong = case
    b = role("fastfd", GROUP[name])
    threads = _one_thread()
    try:
        r = b.pedantic(lambda: fastfd.torch.check_module(model, loss_fn, x, seed=0),
                       rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)
    b.extra_info["status"] = r.status
    b.extra_info["named"] = ", ".join(c.name for c in r.failures())
    b.extra_info["coverage"] = r.coverage
    b.extra_info["n_evals"] = r.n_evals
    assert [c.name for c in r.failures()] == [wrong]


def test_gradcheck_fast(benchmark, role, case):
    name, model, x, wrong = case
    b = role("torch.gradcheck fast_mode", GROUP[name])
    names = [k for k, _ in model.named_parameters()]
    threads = _one_thread()
    try:
        verdict = b.pedantic(lambda: _gradcheck(model, x, names, True), rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)
    b.extra_info["verdict"] = verdict


def test_gradcheck_full(benchmark, role, case):
    name, model, x, wrong = case
    names = [k for k, _ in model.named_parameters()]
    params = dict(model.named_parameters())
    n = sum(p.numel() for p in params.values())
    subset = names if name == "transformer" else names[-2:]
    m = sum(params[k].numel() for k in subset)
    b = role("torch.gradcheck full" + ("" if m == n else " (subset)"), GROUP[name])
    threads = _one_thread()
    try:
        t = time.perf_counter()
        verdict = b.pedantic(lambda: _gradcheck(model, x, subset, False), rounds=1,
                             iterations=1)
        seconds = time.perf_counter() - t
    finally:
        torch.set_num_threads(threads)
    b.extra_info["verdict"] = verdict
    b.extra_info["checked_params"] = m
    if m < n:
        b.extra_info["extrapolated_s"] = seconds * n / m
        b.extra_info["subset"] = ", ".join(subset)


# ------------------------------------------------ elementwise op, 1e6 outputs
N_ELEMENTWISE = 1_000_000
WRONG_INDEX = 333_340


class Softplus(torch.autograd.Function):
    """softplus with its derivative 1.5x too large at WRONG_INDEX."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.softplus(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        d = torch.sigmoid(x)
        d[WRONG_INDEX] *= 1.5
        return g * d


GROUP_ELEMENTWISE = "torch: elementwise op, 1e6 outputs, 1 wrong entry"


@pytest.fixture(scope="module")
def elementwise():
    torch.manual_seed(0)
    return torch.randn(N_ELEMENTWISE, dtype=torch.float64, requires_grad=True)


def test_fastfd_check_function_elementwise(benchmark, role, elementwise):
    b = role("fastfd", GROUP_ELEMENTWISE)
    threads = _one_thread()
    try:
        r = b.pedantic(lambda: fastfd.torch.check_function(Softplus, elementwise, seed=0),
                       rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)
    b.extra_info["status"] = r.status
    b.extra_info["named"] = ", ".join(e.name for e in r.entries)
    b.extra_info["f_evals"] = r.vjp.n_evals
    b.extra_info["vjp_calls"] = r.vjp.n_analytic
    assert [e.name for e in r.entries] == [f"output[{WRONG_INDEX}] / x[{WRONG_INDEX}]"]


def test_gradcheck_fast_elementwise(benchmark, role, elementwise):
    # the full gradcheck would build a 1e6 x 1e6 Jacobian (8 TB in float64)
    b = role("torch.gradcheck fast_mode", GROUP_ELEMENTWISE)
    threads = _one_thread()

    def run():
        try:
            torch.autograd.gradcheck(Softplus.apply, (elementwise,), fast_mode=True)
            return "passed"
        except RuntimeError as exc:
            return "failed: " + str(exc).strip().splitlines()[0]

    try:
        b.extra_info["verdict"] = b.pedantic(run, rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)
