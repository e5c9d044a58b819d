"""When the kernel verifier rejects a generated program (a compiler bug), the user gets the
verifier's words and the NF source position that caused them, as one CoraError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.errors import KernelError
from cora.runtime.loader import load_xdp
from cora.targets import get_target

pytestmark = pytest.mark.kernel
FLOWCOUNT = Path(__file__).resolve().parents[2] / "netfuncs" / "flowcount.nf"


def test_verifier_rejection_names_the_nf_line(bcc_module):
    program = compile_file(FLOWCOUNT)
    artifact = get_target("xdp").generate(program)
    c = artifact.files["prog.c"]
    # Break the generated code the way a codegen bug would: read ipv4.saddr from past what
    # the bounds check in front of it proves, so the verifier sees an unsafe packet read.
    assert "(h_ipv4 + 12)" in c
    artifact.files["prog.c"] = c.replace("(h_ipv4 + 12)", "(h_ipv4 + 60)", 1)
    with pytest.raises(KernelError) as err:
        load_xdp(artifact)
    msg = err.value.message
    assert "verifier rejected" in msg and "cora bug" in msg
    assert re.search(rf"{re.escape(str(FLOWCOUNT))}:\d+:\d+", msg)
    assert "packet" in msg or "invalid access" in msg  # the verifier's own words
