"""Imported first in the parse pool's forkserver (its preload), and run in each worker it starts: the
process ends when its parent does, however the parent ends (SIGKILL included), instead of living on.
Linux only (prctl PR_SET_PDEATHSIG); elsewhere nothing happens."""

from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def end_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: nothing to do
        return
    if os.getppid() == 1:  # the parent died before the call: nobody would send the signal
        os._exit(1)


if __name__ != "__main__" and os.environ.get("ESF_PIPELINE_MAIN_PID") not in (None, str(os.getpid())):
    end_with_parent()
