"""Progress reporting for long gradient checks.

A check shows a bar only when it is expected to take more than
``AUTO_SECONDS`` (about 2 s): shorter checks finish before a bar is useful.
``progress=None`` (the default) shows it only when standard error is a
terminal, so logs and CI output stay clean; ``True`` forces it, ``False``
silences it. The bar is tqdm's when tqdm is installed (an optional
dependency); without tqdm a plain line with percentage and ETA is written to
standard error at most once a second.
"""

from __future__ import annotations

import sys
import time

from .._validation import check_bool

__all__ = ["AUTO_SECONDS", "Progress", "check_progress", "progress_enabled"]

AUTO_SECONDS = 2.0


def check_progress(progress):
    """``progress`` must be None, True or False."""
    return check_bool("progress", progress, allow_none=True)


def progress_enabled(progress, expected_seconds, stream=None):
    """Whether a check expected to take ``expected_seconds`` shows progress."""
    if progress is not None:
        return progress
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return bool(tty) and expected_seconds > AUTO_SECONDS


class Progress:
    """A progress counter: tqdm when available, else plain lines, or nothing.

    Use as a context manager and call :meth:`update` with the number of loss
    evaluations done since the last call.
    """

    def __init__(self, total, desc="gradient check", enabled=True, stream=None):
        self.total = int(total)
        self.desc = desc
        self.enabled = bool(enabled)
        self.stream = sys.stderr if stream is None else stream
        self.done = 0
        self._bar = None
        self._start = time.perf_counter()
        self._last = self._start
        if self.enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self.total, desc=desc, unit="eval",
                                 file=self.stream, leave=False)

    def update(self, n=1):
        if not self.enabled or n <= 0:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if now - self._last >= 1.0 or self.done >= self.total:
            self._last = now
            elapsed = now - self._start
            frac = min(self.done / self.total, 1.0) if self.total else 1.0
            eta = elapsed * (1.0 - frac) / frac if frac > 0 else float("nan")
            print(f"{self.desc}: {100 * frac:3.0f}% ({self.done:,}/{self.total:,} "
                  f"evaluations), ETA {eta:.1f} s", file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
