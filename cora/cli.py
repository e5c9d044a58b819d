"""The ``cora`` command line.

Each part of cora registers its own subcommands through a ``register(subparsers)`` function
in a small module (listed in ``_COMMAND_MODULES``); handlers import their heavy
dependencies (bcc, ortools) lazily so ``cora check`` stays fast. A handler returns the exit
status. A :class:`cora.errors.CoraError` is printed as one line and never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cora.errors import CoraError

# module path -> registers subcommands on the top-level parser
_COMMAND_MODULES = [
    "cora.commands",          # check, compile, run, bench, demo
    "cora.runtime.commands",  # deploy, stats, undeploy
    "cora.certify.commands",  # certify ...
    "cora.plan_command",      # plan (offload partitioner)
]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="cora",
        description="Compile, run and deploy stateful network functions on eBPF.",
    )
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CoraError as exc:
        if exc.details:
            sys.stderr.write(exc.details.rstrip("\n") + "\n")
        print(f"cora: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cora: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
