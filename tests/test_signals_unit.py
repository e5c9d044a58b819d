"""cora.signals without root: what a signal leaves on stderr after the block that handled it."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_an_exception_swallowed_after_a_handled_signal_is_one_line_not_a_traceback():
    """A library object cut short by the signal may be garbage-collected after the block
    (at exit); its swallowed exception is said in one line (before: a traceback)."""
    code = textwrap.dedent("""
        import os, signal, sys
        from cora.signals import Terminated, signals_raise

        class Leftover:
            def __del__(self):
                raise RuntimeError("Event loop is closed")

        try:
            with signals_raise():
                os.kill(os.getpid(), signal.SIGTERM)
                while True:
                    pass
        except Terminated:
            pass
        x = Leftover()
        del x
        sys.exit(3)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "cora: ignored while cleaning up: RuntimeError" in proc.stderr, proc.stderr


def test_without_a_signal_the_previous_hook_is_restored():
    code = textwrap.dedent("""
        import sys
        from cora.signals import signals_raise
        before = sys.unraisablehook
        with signals_raise():
            pass
        assert sys.unraisablehook is before
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
