"""Termination signals as exceptions, so ``finally`` blocks clean up on SIGTERM and SIGHUP.

Python turns SIGINT into :class:`KeyboardInterrupt`, but SIGTERM and SIGHUP kill the process
by default without running any ``finally`` block: whatever a testbed or a deployment had
made (namespaces, attached programs, pins) would stay behind. Inside
:func:`signals_raise`, SIGTERM and SIGHUP raise :class:`Terminated` (a ``SystemExit`` with
the shell's status ``128 + signal number``) and SIGINT raises ``KeyboardInterrupt``, each
once: a repeated signal while the clean-up runs is ignored (SIGKILL still ends the process).
A process forked inside the block (pyroute2 forks one per namespace socket) keeps the default
actions. An exception raised where Python swallows exceptions (an at-fork callback, a
``__del__``: reported through ``sys.unraisablehook``) would be lost; then the signal is sent
again, to be raised at the next point of ordinary code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: the signals handled inside :func:`signals_raise`
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
#: delay before a swallowed signal is sent again (s): long enough for the swallowing callback
#: to return, short against any clean-up
RESEND_DELAY_S = 0.01


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM or SIGHUP arrives inside :func:`signals_raise`.

    Attributes:
        signum: the signal number; ``code`` (the exit status) is ``128 + signum``.
    """

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


_depth = 0
_saved: dict[int, Any] = {}
_saved_unraisablehook: Callable[[Any], Any] | None = None
_fired = 0  # the signal raised (0: none yet)
_deferred_depth = 0
_pending = 0  # a signal that came inside deferred(), raised at its end
_announced = False
_owner_pid = 0


def _unraisable(unraisable) -> None:
    """``sys.unraisablehook`` inside the block: our exception was swallowed, so re-send."""
    global _fired
    if (_fired and os.getpid() == _owner_pid
            and isinstance(unraisable.exc_value, (Terminated, KeyboardInterrupt))):
        signum, _fired = _fired, 0
        # re-send from another thread a moment later: sent from here, the handler would run
        # (and raise) inside this hook, where the exception is lost again
        timer = threading.Timer(RESEND_DELAY_S, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()
        return
    if _announced and os.getpid() == _owner_pid:
        # after a signal: a library cut short (e.g. pyroute2's asyncio set-up) may fail again
        # while it is torn down; say so in one line, not with a traceback
        _quiet_after_signal(unraisable)
        return
    (_saved_unraisablehook or sys.__unraisablehook__)(unraisable)


def _handler(signum: int, frame) -> None:
    global _fired, _announced, _pending
    if os.getpid() != _owner_pid:
        # a forked child (pyroute2 runs one per namespace socket and ends it with SIGTERM):
        # die as by default, never unwind the parent's stack copy (its finally blocks would
        # undo the parent's work)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _fired:  # the first one is being handled (clean-up is running): ignore repeats
        return
    _fired = signum
    if not _announced:
        _announced = True
        os.write(2, f"cora: {signal.Signals(signum).name} received: cleaning up\n".encode())
    if _deferred_depth:
        _pending = signum
        return
    _raise_for(signum)


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Inside :func:`signals_raise`: a signal arriving in this block is held and raised when
    the block ends, so the block is never cut in the middle (used around code that must run
    whole, such as bcc's clean-up, which an exception half-way leaves to free memory twice
    at exit)."""
    global _deferred_depth, _pending
    if threading.current_thread() is not threading.main_thread():
        # signals are handled in the main thread only: a background thread (the runtime
        # daemon's compile ahead) must neither hold the main thread's signal nor raise it
        yield
        return
    _deferred_depth += 1
    try:
        yield
    finally:
        _deferred_depth -= 1
        if _deferred_depth == 0 and _pending:
            signum, _pending = _pending, 0
            _raise_for(signum)


@contextlib.contextmanager
def uninterrupted(make: Callable[[], Any]) -> Iterator[Any]:
    """Enter the context manager ``make()`` returns, and later exit it, each under
    :func:`deferred` (a signal waits until the enter or exit is done); the body between
    stays interruptible.

    Args:
        make: builds the context manager (called under :func:`deferred`, since building is
            often the part that must not be cut, e.g. ``lambda: TrafficGen(dev, ns)``).
    Yields:
        what the context manager's ``__enter__`` returns.
    """
    with deferred():
        cm = make()
        value = cm.__enter__()
    try:
        yield value
    except BaseException:
        with deferred():
            if not cm.__exit__(*sys.exc_info()):
                raise
    else:
        with deferred():
            cm.__exit__(None, None, None)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise :class:`Terminated` and SIGINT raises
    ``KeyboardInterrupt`` (once; repeats are ignored until the outermost block ends).

    Nests: only the outermost block installs and restores the handlers. Outside the main
    thread (where Python cannot set handlers) it does nothing. Handlers someone else set
    (not the defaults) are left alone.
    """
    global _depth, _fired, _owner_pid, _saved_unraisablehook, _announced
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        _fired, _announced, _pending, _owner_pid = 0, False, 0, os.getpid()
        _saved_unraisablehook, sys.unraisablehook = sys.unraisablehook, _unraisable
        for sig in HANDLED_SIGNALS:
            current = signal.getsignal(sig)
            if current in (signal.SIG_DFL, signal.default_int_handler):
                _saved[sig] = current
                signal.signal(sig, _handler)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for signum, old in _saved.items():
                signal.signal(signum, old)
            _saved.clear()
            saved = _saved_unraisablehook or sys.__unraisablehook__
            _saved_unraisablehook = None
            # after a signal the process is on its way out: a library cut short (pyroute2's
            # asyncio set-up) may still be garbage-collected at exit; one line, not a traceback
            sys.unraisablehook = _quiet_after_signal if _announced else saved


def _quiet_after_signal(unraisable) -> None:
    """``sys.unraisablehook`` after a block that handled a signal: one line per swallowed
    exception (the process is exiting because of the signal)."""
    os.write(2, f"cora: ignored while cleaning up: "
                f"{type(unraisable.exc_value).__name__} in {unraisable.object!r}\n"
             .encode(errors="replace"))
