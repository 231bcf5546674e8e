"""Ctrl-C and SIGTERM for a command-line run: stop at once, stop the parse workers, change nothing.

Every file a run writes goes to a temporary name first, and the committed state is written only after
the tables are published, so ending the process at any moment leaves the previous output whole. The
one stretch that must not be cut is the publish itself (a handful of renames and the state files): a
signal that arrives then waits until it is over.

The signals are blocked in every thread and taken by one waiting thread (``sigwait``), so no library's
own handler (Dagster replaces SIGINT's and SIGTERM's while it executes a run) turns them into an
exception that waits for the parse workers to finish their queue."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_lock = threading.Lock()
_handler: Callable[[int, bool], None] | None = None  # (signal number, published) -> never returns
_critical = 0
_pending: int | None = None
_published = False


def install(on_interrupt: Callable[[int, bool], None]) -> None:
    """Call ``on_interrupt(signum, published)`` on SIGINT or SIGTERM (after a publish under way)."""
    global _handler
    _handler = on_interrupt
    if not hasattr(signal, "pthread_sigmask"):  # Windows: plain handlers
        for signum in _SIGNALS:
            signal.signal(signum, lambda number, frame: _arrived(number))
        return
    # multiprocessing's resource tracker unblocks both signals in the thread that starts it (the parse
    # pool's first use): started here, before the block, it never does so later.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    block()
    threading.Thread(target=_wait, name="esf-interrupts", daemon=True).start()


def block() -> None:
    """Block SIGINT and SIGTERM in this thread (and the threads it starts), once ``install`` took them."""
    if _handler is not None and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


def _wait() -> None:
    _arrived(signal.sigwait(_SIGNALS))


def _arrived(signum: int) -> None:
    global _pending
    with _lock:
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
    with _lock:
        _critical += 1
    try:
        yield
        _published = True
    finally:
        with _lock:
            _critical -= 1
            pending = _pending if not _critical else None
        if pending is not None and _handler is not None:
            _handler(pending, _published)


def stop_children() -> None:
    """End the parse workers and their forkserver at once (they hold nothing worth waiting for: every
    cache entry they write is renamed into place whole)."""
    for child in multiprocessing.active_children():
        child.kill()
    from multiprocessing import forkserver, resource_tracker

    # The forkserver, and the resource tracker (which would report the pool's semaphores as leaked).
    for pid in (
        getattr(forkserver._forkserver, "_forkserver_pid", None),
        getattr(resource_tracker._resource_tracker, "_pid", None),
    ):
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
