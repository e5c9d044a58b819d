"""The ``cora`` command line.

Each part of cora registers its own subcommands through a ``register(subparsers)`` function
in a small module (listed in ``_COMMAND_MODULES``); handlers import their heavy
dependencies (bcc, ortools) lazily so ``cora check`` stays fast. A handler returns the exit
status. Every value on the command line is checked by argparse (``type=`` validators in
:mod:`cora.argtypes`) before a command runs; a :class:`cora.errors.CoraError` is printed as
one line and never as a traceback; so is an ``OSError`` about a file the user named (a
name too long, a directory where a file belongs).

Exit status (the rule, also in ``cora --help`` and README.md):

- 0: done;
- 1: the command ran and failed: a file is missing, unreadable or malformed, the NF has
  errors, the machine lacks something (root, bcc), the kernel refused, or a result failed
  its own check (kernel/interpreter mismatches, a non-finite figure, no feasible plan);
- 2: usage error, found before anything runs: unknown command or option, missing argument,
  a value of the wrong form or outside its documented range;
- 3: internal error (a bug in cora; ``CORA_DEBUG=1`` shows the traceback);
- 128 + N: ended by signal N (130: Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from cora import __version__
from cora.errors import CoraError, InternalError

# module path -> registers subcommands on the top-level parser
_COMMAND_MODULES = [
    "cora.commands",          # check, compile, run, bench, demo
    "cora.runtime.commands",  # deploy, stats, group, undeploy
    "cora.runtime.daemon_commands",  # runtime start/status/history/replan/stop
    "cora.certify.commands",  # certify ...
    "cora.plan_command",      # plan (offload partitioner)
]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

EXIT_CODES_HELP = """\
exit status:
  0        done
  1        the command ran and failed: a missing, unreadable or malformed file, NF errors,
           no root or bcc, the kernel refused, or a result failed its check (engine
           mismatches, a non-finite figure, no feasible plan)
  2        usage error, found before anything runs: unknown command or option, missing
           argument, a value of the wrong form or outside its range (see each --help)
  3        internal error: a bug in cora (CORA_DEBUG=1 shows the traceback)
  128+N    ended by signal N (130: Ctrl-C)
"""


#: control characters (from file names, values) shown escaped, so an error stays one line
_ESCAPE_CONTROLS = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 9: "\\t", 13: "\\r",
                                                            127: "\\x7f"}


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): one line for stderr."""
    return text.translate(_ESCAPE_CONTROLS)


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, if any (``None`` and ``False`` defaults,
    i.e. "not given", are not shown); a description or epilog with line breaks is kept as
    written, a one-line one is wrapped."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or default is None or default is False
                or default == [] or default is argparse.SUPPRESS or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


class CoraParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit status 2.

    Subparsers are built with this class too (argparse uses the parent's class), so every
    subcommand gets the same formatter and error line.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``cora: error: <message> (see `<prog> --help`)`` and exit 2."""
        sys.stderr.write(f"cora: error: {one_line(message)} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = CoraParser(
        prog="cora",
        description="Compile, run and deploy stateful network functions on eBPF.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"cora {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a part not built yet must not break the others
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def _text_streams_keep_bytes() -> None:
    """Paths given as non-UTF-8 bytes (held as surrogate escapes) print as those bytes
    instead of failing with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="surrogateescape")
            except (ValueError, OSError):  # a detached or closed stream
                pass


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (see the module docstring)."""
    _text_streams_keep_bytes()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except InternalError as exc:  # a consistency check of cora's own failed: a bug
        return _internal_error(exc)
    except CoraError as exc:
        if exc.details:
            sys.stderr.write(exc.details.rstrip("\n") + "\n")
        print(f"cora: error: {one_line(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cora: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.filename is None:  # not about a file the user named: a bug, below
            return _internal_error(exc)
        print(f"cora: error: {one_line(f'{exc.filename}: {exc.strerror or exc}')}",
              file=sys.stderr)
        return EXIT_ERROR
    except MemoryError:
        print("cora: error: out of memory (a size given on the command line or in an input "
              "file is too large for this machine)", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    """Report a bug in one line (exit 3); with ``CORA_DEBUG`` set, re-raise it instead."""
    if os.environ.get("CORA_DEBUG"):
        raise exc
    first = one_line(str(exc))[:300]
    print(f"cora: internal error: {exc.__class__.__name__}: {first} (a bug in cora; "
          "CORA_DEBUG=1 shows the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
