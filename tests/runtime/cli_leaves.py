"""The leaf subcommands of ``cora`` and their arguments, read from the real parser (shared by
the hostile-argv and strict-JSON tests)."""

from __future__ import annotations

import argparse

from cora.cli import build_parser


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(subcommand path, parser) of every leaf subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _walk(child, (*path, name))


LEAVES = dict(_walk(build_parser()))


def options_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of ``parser`` (``--x``), without --help and --version."""
    return [a for a in parser._actions if a.option_strings
            and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]


def positionals_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The positional arguments of ``parser``."""
    return [a for a in parser._actions if not a.option_strings
            and not isinstance(a, argparse._SubParsersAction)]
