"""What the framework adapters (:mod:`fastfd.torch`, :mod:`fastfd.jax`)
share: importing their framework on first use, the check options they pass
through, and docstring examples that skip without the framework."""

from __future__ import annotations

import importlib
import importlib.util

__all__ = ["CHECK_OPTIONS", "VECTOR_OPTIONS", "require", "check_adapter_options",
           "skip_examples_without"]

# The options of fastfd.check_gradient an adapter passes through. The others
# do not apply: the loss is a Python closure over the framework's function
# (no `parallel`, `vectorized` or pickling `executor`).
CHECK_OPTIONS = ("h", "tol", "coords", "seed", "raise_on_fail", "progress", "directions",
                 "budget")
# ... and those of the vector checks (fastfd.check_vjp)
VECTOR_OPTIONS = CHECK_OPTIONS + ("projections",)


def require(module, message):
    """``import module``, or an ImportError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(message) from exc


def check_adapter_options(fname, options, allowed):
    """TypeError naming the first of `options` that `fname` does not take."""
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise TypeError(
            f"{fname}() got an unexpected keyword argument {unknown[0]!r}; the check "
            f"options are {', '.join(allowed)}")


def skip_examples_without(package, *functions):
    """Without `package` the examples of `functions` cannot run: mark every
    example line ``+SKIP``, so that doctest runners (pytest --doctest-modules
    over fastfd/) skip them instead of failing at the import."""
    if importlib.util.find_spec(package) is not None:
        return
    for fn in functions:
        lines = []
        for line in (fn.__doc__ or "").splitlines():
            if line.lstrip().startswith(">>> ") and "doctest:" not in line:
                line += "  # doctest: +SKIP"
            lines.append(line)
        fn.__doc__ = "\n".join(lines)
