"""Live traffic in the background while the runtime swaps programs, and the accounting after.

:class:`BackgroundTraffic` sends a fixed cycle of frames out of the generator's veth with the
live-frames generator (:class:`cora.testbed.trafficgen.TrafficGen`) from a thread, at a set
rate, until stopped; the frame sequence is the cycle repeated (frame ``i`` is
``frames[i % len(frames)]``), so the reference interpreter can run the very same sequence
(:func:`interpreter_state`). :func:`wait_for_verdicts` polls a deployment's verdict counters
until they account for every generated frame (or a deadline passes): frames generated ==
frames the NF saw, summed over program versions (the counters are shared by every version a
hot swap installs, :mod:`cora.runtime.swap`).
"""

from __future__ import annotations

import threading
import time

from cora.errors import InputError


class BackgroundTraffic:
    """Send ``frames`` in a cycle out of ``ifname`` (namespace ``netns``) at ``rate_pps``
    from a thread, from :meth:`start` until :meth:`stop`.

    Args:
        ifname, netns: the generator's interface (one end of a veth pair).
        frames: the cycle (at most :data:`cora.testbed.trafficgen.MAX_TEMPLATES`).
        rate_pps: frames/s (paced per call of ``chunk`` frames).
        chunk: frames per live-frames call.
    Use with ``with``: leaving the block stops the thread and unloads the generator.
    """

    def __init__(self, ifname: str, netns: str | None, frames: list[bytes],
                 rate_pps: float = 20_000, chunk: int = 1000):
        from cora.testbed.trafficgen import TrafficGen

        if rate_pps <= 0 or chunk < 1:
            raise InputError("rate_pps must be positive and chunk >= 1")
        self.frames = list(frames)
        self.rate_pps, self.chunk = rate_pps, chunk
        self.gen = TrafficGen(ifname, netns)
        try:
            self.gen.load_frames(self.frames)
        except BaseException:
            self.gen.close()
            raise
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.gen.send(count=self.chunk, rate_pps=self.rate_pps)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self) -> BackgroundTraffic:
        """Start sending (returns self)."""
        self._thread = threading.Thread(target=self._run, name="cora-live-traffic",
                                        daemon=True)
        self._thread.start()
        return self

    def wait_generated(self, frames: int, timeout_s: float = 30.0) -> int:
        """Block until at least ``frames`` frames were generated (polled); returns the count.

        Raises:
            TimeoutError: not reached within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while (n := self.gen.generated()) < frames:
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {n} of {frames} frames generated in {timeout_s} s")
            time.sleep(0.01)
        return n

    def stop(self) -> int:
        """Stop sending; returns the frames generated in total.

        Raises:
            whatever the sending thread raised.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise self.error
        return self.gen.generated()

    def sequence(self, n: int) -> list[bytes]:
        """The first ``n`` frames sent, in order."""
        return [self.frames[i % len(self.frames)] for i in range(n)]

    def close(self) -> None:
        """Stop and unload the generator."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.gen.close()

    def __enter__(self) -> BackgroundTraffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def verdict_total(dev: str, netns: str | None) -> int:
    """Frames a deployment's verdict counters have seen (all verdicts, all versions)."""
    from cora.runtime.deploy import read_stats

    verdicts = read_stats(dev, netns)["verdicts"] or {}
    return sum(verdicts.values())


def wait_for_verdicts(dev: str, netns: str | None, frames: int, timeout_s: float = 10.0
                      ) -> int:
    """Poll the deployment's verdict counters until they reach ``frames`` or stop growing
    past the deadline; returns the last total (compare it with ``frames``)."""
    deadline = time.monotonic() + timeout_s
    total = verdict_total(dev, netns)
    while total < frames and time.monotonic() < deadline:
        time.sleep(0.01)
        total = verdict_total(dev, netns)
    return total


def interpreter_state(program, frames: list[bytes]) -> dict:
    """State (``--state-out`` form) of the reference interpreter after ``frames`` in order
    (``now()`` = 0 for every frame; use NFs whose state does not depend on time)."""
    from cora.runtime.engine import InterpEngine

    engine = InterpEngine(program)
    for frame in frames:
        engine.run(frame)
    return engine.dump_state()
