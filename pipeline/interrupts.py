"""Ctrl-C and SIGTERM for a command-line run: stop at once, stop the parse workers, change nothing.

Every file a run writes goes to a temporary name first, and the committed state is written only after
the tables are published, so ending the process at any moment leaves the previous output whole. The
one stretch that must not be cut is the publish itself (a handful of renames and the state files): a
signal that arrives then waits until it is over."""
from __future__ import annotations

import multiprocessing
import os
import signal
from contextlib import contextmanager
from typing import Callable, Iterator

_handler: Callable[[int, bool], None] | None = None  # (signal number, published) -> never returns
_critical = 0
_pending: int | None = None
_published = False


def install(on_interrupt: Callable[[int, bool], None]) -> None:
    """Call ``on_interrupt(signum, published)`` on SIGINT or SIGTERM (outside a critical section)."""
    global _handler
    _handler = on_interrupt
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)


def _on_signal(signum: int, frame: object) -> None:
    global _pending
    if _critical:
        _pending = signum
        return
    if _handler is not None:
        _handler(signum, _published)


@contextmanager
def publishing() -> Iterator[None]:
    """The publish: a signal that arrives during it is handled when it is over (the run then counts
    as published)."""
    global _critical, _published
    _critical += 1
    try:
        yield
        _published = True
    finally:
        _critical -= 1
        if not _critical and _pending is not None and _handler is not None:
            _handler(_pending, _published)


def stop_children(timeout: float = 2.0) -> None:
    """End the parse workers (and their forkserver) of this process: terminate, then kill what stays."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout)
        if child.is_alive():
            child.kill()
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
