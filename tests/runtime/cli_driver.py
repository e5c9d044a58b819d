"""Run many ``cora`` command lines fast, each in its own process, with a timeout.

Started once by a test (``python cli_driver.py``); it imports cora and its heavy dependencies
once, then for every request line on stdin forks a child that runs :func:`cora.cli.main` on
the argv exactly as the ``cora`` console script would (an exception escaping ``main`` is
printed as Python prints it: a traceback), as the unprivileged user ``nobody`` so that a
command needing root or the kernel stops before it touches anything. The parent waits up to
the timeout, kills the child's process group if it runs over, and answers one JSON line.

Request: ``{"argv": [{"s": text} | {"b": base64 bytes}, ...], "cwd": dir, "timeout": s}``.
Answer: ``{"rc": int | null, "timed_out": bool, "seconds": wall time, "stdout": str,
"stderr": str}`` (output decoded with surrogate escapes, at most 64 KiB each).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

NOBODY = 65534
MAX_OUTPUT_BYTES = 65536


def _child(argv: list[str], cwd: str, out_fd: int, err_fd: int) -> None:
    """In the forked child: become nobody in a new session, run the CLI, exit."""
    code = 1
    try:
        os.setsid()
        os.chdir(cwd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        from cora.cli import main

        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # what the interpreter would print for the console script
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code if isinstance(code, int) else 1)


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, MAX_OUTPUT_BYTES).decode("utf-8", "surrogateescape")


def run_one(argv: list[str], cwd: str, timeout_s: float) -> dict:
    """Fork, run ``cora <argv>`` in the child, wait at most ``timeout_s`` seconds."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(argv, cwd, out.fileno(), err.fileno())
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        status, timed_out = None, False
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                timed_out = True
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.waitpid(pid, 0)
                break
            time.sleep(0.005)
        rc = None if timed_out else os.waitstatus_to_exitcode(status)
        return {"rc": rc, "timed_out": timed_out, "seconds": round(time.monotonic() - t0, 3),
                "stdout": _read(out.fileno()), "stderr": _read(err.fileno())}


def main() -> None:
    # everything a command may import, imported once before any fork
    import numpy  # noqa: F401

    import cora.certify.absint  # noqa: F401
    import cora.certify.commands  # noqa: F401
    import cora.certify.evaluate  # noqa: F401
    import cora.certify.properties  # noqa: F401
    import cora.cli
    import cora.commands  # noqa: F401
    import cora.plan_command  # noqa: F401
    import cora.runtime.commands  # noqa: F401
    import cora.testbed.replay  # noqa: F401
    from cora.compiler.driver import compile_file

    cora.cli.build_parser()
    # warm the parser and the compiler once, so each forked child starts warm
    compile_file(str(Path(__file__).resolve().parents[2] / "netfuncs" / "flowcount.nf"))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        req = json.loads(line)
        argv = [a["s"] if "s" in a else os.fsdecode(base64.b64decode(a["b"]))
                for a in req["argv"]]
        res = run_one(argv, req["cwd"], float(req.get("timeout", 30)))
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
