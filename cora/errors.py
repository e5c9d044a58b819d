"""Errors a user can cause, and how the CLI reports them.

Every error that is the user's (a bad file, a missing interface, no root) is a
:class:`CoraError`; the CLI prints it as one line ``cora: error: <message>`` and exits with
``exit_code`` (1 unless said otherwise). Anything else escaping to the CLI is a bug in cora.
"""

from __future__ import annotations


class CoraError(Exception):
    """A user-facing error: one clear line saying what is wrong and what to do.

    Attributes:
        message: the line printed after ``cora: error:``.
        exit_code: the process exit status (default 1).
        details: text the CLI prints to stderr before that line (e.g. compiler diagnostics
            with their source lines and carets); ``""`` when there is none.
    """

    def __init__(self, message: str, exit_code: int = 1, details: str = ""):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.details = details


class EnvironmentProblem(CoraError):
    """The machine lacks something cora needs (root, bcc, bpffs, an interface)."""


class InputError(CoraError):
    """A file the user gave cannot be used (unreadable pcap, bad JSON, bad plan)."""


class KernelError(CoraError):
    """The kernel refused something (verifier rejection, attach failure).

    Attributes:
        errno: the kernel's error number (``errno.ENOENT``, ...), or ``None`` when the refusal
            did not come with one (e.g. a verifier log without a syscall failure).
    """

    def __init__(self, message: str, exit_code: int = 1, errno: int | None = None):
        super().__init__(message, exit_code)
        self.errno = errno


class InternalError(CoraError):
    """An internal consistency check failed: a bug in cora, not in the user's input.

    The message says what was inconsistent; the CLI prints it as one line like any other
    error instead of a traceback.
    """
