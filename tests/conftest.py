"""Shared test setup: make ``tests/reference.py`` importable as ``reference``
whatever the rootdir or import mode pytest runs with."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
