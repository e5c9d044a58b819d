"""Issue 8 part 4: every subcommand and option of ``cora`` driven with hostile values.

Huge, negative, NaN and infinite numbers, empty strings, paths to directories, missing and
garbage files, non-UTF-8 bytes, unknown choices and options, missing arguments. Each command
line runs in its own process (forked by ``cli_driver.py``, as the unprivileged user nobody,
so commands needing root or the kernel stop before they touch anything) with a timeout. The
rule checked (see ``cora --help``): no traceback, never an internal error, exit 2 with one
``cora: error:`` line for usage errors, exit 1 ending in a ``cora: error:`` line for other
errors, and strict JSON from ``--json`` when a command succeeds.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .cli_leaves import LEAVES, options_of, positionals_of

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("cli_driver.py")
FLOWCOUNT = REPO / "netfuncs" / "flowcount.nf"
TIMEOUT_S = 60.0

#: hostile values that are not paths
NUMBERS = ["-1", "-5", "0", "-0", "nan", "NaN", "inf", "-inf", "1e999", "1e12", "9" * 40,
           "-" + "9" * 40, "0x10", "1_000", " 3", "2.5", "1e-300", "٣"]
WORDS = ["", " ", ".", "..", "../../etc", "a/b", "x" * 300, "bogus", "-", "a:b", "tab\there",
         "new\nline"]
NON_UTF8 = [b"\xff\xfe", b"caf\xe9.nf", b"\x80"]


@pytest.fixture(scope="module")
def scratch():
    """A world-writable scratch tree (the children run as nobody) with files of every kind:
    a valid NF, pcap, policy and plan, garbage, empty, non-UTF-8, a directory."""
    root = Path(tempfile.mkdtemp(prefix="cora-hostile-"))
    try:
        import dpkt
        import numpy as np

        from cora.certify.nn import init_mlp

        cwd = root / "a" / "b" / "c"  # ../../etc from here stays inside the scratch tree
        cwd.mkdir(parents=True)
        (root / "dir").mkdir()
        shutil.copy(FLOWCOUNT, root / "ok.nf")
        with open(root / "ok.pcap", "wb") as fh:
            w = dpkt.pcap.Writer(fh)
            w.writepkt(bytes(range(60)), ts=1.0)
        init_mlp(6, (4,), 1, np.random.default_rng(0)).save(str(root / "ok.npz"))
        np.save(root / "ok.npy", np.zeros(6))
        (root / "plan.json").write_text(json.dumps({"blocks": {"bb0": "kernel"}}))
        (root / "garbage").write_bytes(os.urandom(512))
        (root / "empty").write_bytes(b"")
        (root / "latin1.nf").write_bytes(b"on packet { drop; } // caf\xe9\n")
        (root / "nan.npy").write_bytes(b"")
        np.save(root / "nan.npy", np.full(6, np.nan))
        for dirpath, _dirnames, filenames in os.walk(root):
            os.chmod(dirpath, 0o777)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o666)
        yield root, cwd
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def driver():
    """The forking driver process (see cli_driver.py)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(DRIVER)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _values(root: Path) -> list:
    paths = [str(root / p) for p in ("dir", "missing.nf", "garbage", "empty", "latin1.nf",
                                     "ok.nf", "ok.pcap", "ok.npz", "ok.npy", "nan.npy",
                                     "plan.json")]
    return NUMBERS + WORDS + NON_UTF8 + paths + [str(root / "dir") + "/"]


def run(driver, cwd: Path, argv: list) -> dict:
    enc = [{"b": base64.b64encode(a).decode()} if isinstance(a, bytes) else {"s": a}
           for a in argv]
    driver.stdin.write(json.dumps({"argv": enc, "cwd": str(cwd), "timeout": TIMEOUT_S}) + "\n")
    driver.stdin.flush()
    res = json.loads(driver.stdout.readline())
    if os.environ.get("CORA_HOSTILE_LOG"):
        with open(os.environ["CORA_HOSTILE_LOG"], "a") as fh:
            fh.write(f"{res['seconds']:.3f} {res['rc']} {argv!r}\n")
    return res


def _strict_json(text: str) -> None:
    """The whole output is JSON documents (one, or one per line), with no NaN/Infinity."""
    def bad(constant):
        raise AssertionError(f"non-JSON constant {constant} in --json output")

    text = text.strip()
    try:
        json.loads(text, parse_constant=bad)
    except json.JSONDecodeError:
        for line in text.splitlines():
            json.loads(line, parse_constant=bad)


def check_outcome(argv: list, res: dict) -> None:
    """The exit-status rule of ``cora --help``."""
    shown = [a if isinstance(a, str) else repr(a) for a in argv]
    err = res["stderr"]
    assert not res["timed_out"], f"cora {shown} ran over {TIMEOUT_S} s"
    assert "Traceback" not in err, f"cora {shown}:\n{err}"
    assert "internal error" not in err, f"cora {shown}:\n{err}"
    rc = res["rc"]
    assert rc in (0, 1, 2), f"cora {shown}: exit {rc}\n{err}"
    lines = err.strip().splitlines()
    if rc == 2:
        assert len(lines) == 1 and lines[0].startswith("cora: error:"), (shown, err)
        assert not res["stdout"], (shown, res["stdout"])
    elif rc == 1:
        assert lines and lines[-1].startswith("cora: error:") or "error(s)" in err \
            or "mismatch" in res["stdout"], (shown, err)
    elif "--json" in argv:
        _strict_json(res["stdout"])


#: options always given (from the hostile pool) so that a command never does real long
#: work: train for its iterations (commands needing root stop at that check: nobody runs them)
FORCED = {("certify", "train"): ["--iterations"]}


@st.composite
def command_lines(draw, root: Path):
    values = _values(root)
    path = draw(st.sampled_from(sorted(LEAVES)))
    parser = LEAVES[path]
    argv: list = list(path)

    def value(action):
        pool = st.sampled_from(values)
        if action.choices:
            pool = st.one_of(pool, st.sampled_from(list(action.choices)))
        return draw(pool)

    for action in positionals_of(parser):
        if draw(st.integers(0, 9)) == 0:  # sometimes leave it out
            continue
        argv.append(value(action))
    options = options_of(parser)
    chosen = draw(st.lists(st.sampled_from(options), max_size=4, unique_by=id)) if options \
        else []
    for flag in FORCED.get(path, []):
        chosen += [a for a in options if flag in a.option_strings and a not in chosen]
    for action in chosen:
        flag = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            argv.append(flag)
        else:
            argv += [flag, value(action)]
    if draw(st.integers(0, 19)) == 0:
        argv.append(draw(st.sampled_from(["--bogus", "-Z", "extra"])))
    return argv


@pytest.mark.slow
@pytest.mark.long  # ~35 s: `make test-long` (CI budget); the other hostile-argv tests stay
def test_every_option_of_every_subcommand(driver, scratch):
    """Deterministic sweep: each option of each subcommand gets each kind of hostile value
    (a number, a word, non-UTF-8 bytes, a directory, a missing file) once."""
    root, cwd = scratch
    numeric = ["-1", "0", "nan", "1e999", "1e-300", "1e12", "", "x"]
    other = ["-1", "nan", "", b"\xff\xfe", str(root / "dir"), str(root / "missing.nf"),
             "../../etc", "x" * 300]
    for path, parser in sorted(LEAVES.items()):
        base = list(path)
        for action in positionals_of(parser):
            base.append(str(root / "ok.nf") if action.dest == "nf" else str(root / "ok.npz"))
        if path == ("certify", "export"):
            base.append("--no-compile")  # clang takes seconds; the C is written all the same
        # a valid value first; the hostile one given later overrides it
        forced = [a for f in FORCED.get(path, []) for a in (f, "0")]
        for action in options_of(parser):
            flag = action.option_strings[-1]
            kinds = numeric if getattr(action.type, "__name__", "") in ("number", "integer") \
                else other
            tries = [[flag]] if action.nargs == 0 else [[flag, k] for k in kinds]
            for extra in tries:
                argv = base + forced + extra
                check_outcome(argv, run(driver, cwd, argv))
        for kind in other:  # every positional hostile in turn
            for i in range(len(path), len(base)):
                argv = base[:i] + [kind] + base[i + 1:] + forced
                check_outcome(argv, run(driver, cwd, argv))


@pytest.mark.slow  # forks each command as nobody: needs root
def test_hypothesis_over_argv(driver, scratch):
    root, cwd = scratch

    @settings(max_examples=int(os.environ.get("CORA_HOSTILE_EXAMPLES", "150")), deadline=None,
              derandomize=not os.environ.get("CORA_HOSTILE_EXAMPLES"),
              suppress_health_check=list(HealthCheck))
    @given(command_lines(root))
    def one(argv):
        check_outcome(argv, run(driver, cwd, argv))

    one()


def test_real_process_non_utf8_argv_and_version(tmp_path):
    """The console entry point itself (no fork driver): non-UTF-8 bytes in argv and in a path
    it prints, --version, and the exit-status rule in --help."""
    def cora(*argv):
        return subprocess.run([sys.executable, "-m", "cora.cli", *argv], capture_output=True,
                              timeout=120, cwd=tmp_path)

    r = cora("--version")
    assert r.returncode == 0 and r.stdout.decode().startswith("cora ")
    r = cora("--help")
    assert r.returncode == 0 and b"exit status" in r.stdout and b"usage error" in r.stdout
    r = cora("check", b"caf\xe9.nf")
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert r.stderr.startswith(b"cora: error:") and b"caf\xe9.nf" in r.stderr
    out = tmp_path / "out"
    r = cora("compile", str(FLOWCOUNT), "-o", os.fsencode(str(out)) + b"\xff")
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr
    assert b"\xff" in r.stdout
    r = cora("stats", "--dev", "../x")
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1 and b"--dev" in r.stderr


def test_every_option_has_help_and_shows_its_default():
    """Issue 8 part 6: help on every option, defaults shown, --netns named alike."""
    from cora.cli import HelpFormatter

    for path, parser in LEAVES.items():
        for action in options_of(parser) + positionals_of(parser):
            assert action.help and action.help.strip(), (path, action.dest)
        helptext = " ".join(parser.format_help().split())
        for action in options_of(parser):
            if action.default not in (None, False, [], argparse.SUPPRESS):
                assert "(default: " in HelpFormatter(parser.prog)._get_help_string(action), \
                    (path, action.dest)
        assert "(default: " in helptext or not any(
            a.default not in (None, False, []) for a in options_of(parser)), path
    netns_help = {LEAVES[(c,)]._option_string_actions["--netns"].help
                  for c in ("deploy", "stats", "undeploy")}
    assert len(netns_help) == 1
    for c in ("run", "bench", "plan", "stats", "demo"):
        assert "--json" in LEAVES[(c,)]._option_string_actions, c
    from cora.targets import target_names
    assert list(LEAVES[("compile",)]._option_string_actions["--target"].choices) == \
        target_names()


@pytest.mark.parametrize("name, ok", [
    ("veth0", True), ("x" * 15, True), ("x" * 16, False), ("", False), (".", False),
    ("..", False), ("../../etc", False), ("a/b", False), ("a:b", False), ("a b", False),
    ("caf\udce9", True),  # non-UTF-8 bytes are legal in a kernel interface name
])
def test_interface_names_as_the_kernel_checks_them(name, ok):
    from cora.argtypes import interface_name
    if ok:
        assert interface_name(name) == name
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            interface_name(name)


@pytest.mark.parametrize("argv", [[], ["certify"], ["nosuch"], ["check"]])
def test_missing_or_unknown_command_is_one_usage_line(argv):
    import io
    from contextlib import redirect_stderr

    from cora.cli import main
    err = io.StringIO()
    with redirect_stderr(err):
        assert main(argv) == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cora: error:")
