"""Command line: ``python -m fastfd demo [--outdir DIR] [--no-plots]``."""

from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fastfd",
        description="fastfd: finite differences and gradient checks on Numba kernels.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    demo = sub.add_parser(
        "demo", help="reproduce the seed chapter (tables, gradient checks, figures)",
        description="Reproduce the seed chapter on numerical derivatives with fastfd: "
                    "error table, gradient checks, second-derivative error, and the "
                    "two figures as PNG files when matplotlib is installed.")
    demo.add_argument("--outdir", default=".",
                      help="directory for the PNG figures (default: current directory)")
    demo.add_argument("--no-plots", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 2
    from .demo import run
    run(outdir=args.outdir, plots=not args.no_plots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
