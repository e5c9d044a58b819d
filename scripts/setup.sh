#!/usr/bin/env bash
# One-shot, idempotent set-up for cora on a Debian 12 machine running as root.
# Installs only what is missing: Debian packages (bcc, clang/llvm, libbpf, bpftool, kernel
# headers, iproute2, ...), the bcc kernel-header links (see shared/MACHINE.md), bpffs, and a
# virtual environment that sees Debian's bcc. A second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*"; }

if [ "$(id -u)" != 0 ]; then
    echo "setup: error: cora's set-up needs root (it installs Debian packages and loads eBPF); run as root" >&2
    exit 1
fi

# 1. Debian packages -----------------------------------------------------------------------
APT_UPDATED=0
# install_missing [apt-get options...] -- package...
install_missing() {
    local opts=() missing=() p
    while [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
    apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
}
install_missing -- python3-bpfcc bpfcc-tools clang llvm libbpf-dev bpftool linux-headers-amd64 \
    iproute2 tcpdump iperf3 python3-venv python3-dev make ethtool
# Mininet (optional testbed, cora.testbed.mininet_testbed) without Open vSwitch: its hosts
# hang off a Linux bridge, so the recommended openvswitch-switch is not wanted.
install_missing --no-install-recommends -- mininet bridge-utils

# 2. bcc kernel-header links: the running kernel ships no headers, Debian's 6.1 ones work ----
KREL="$(uname -r)"
MODDIR="/lib/modules/$KREL"
if [ ! -e "$MODDIR/build" ] || [ ! -e "$MODDIR/source" ]; then
    hdr_build="$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1)"
    hdr_common="$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n1)"
    if [ -z "$hdr_build" ] || [ -z "$hdr_common" ]; then
        echo "setup: error: no Debian kernel headers under /usr/src (package linux-headers-amd64)" >&2
        exit 1
    fi
    mkdir -p "$MODDIR"
    [ -e "$MODDIR/build" ] || { ln -s "$hdr_build" "$MODDIR/build"; say "linked $MODDIR/build -> $hdr_build"; }
    [ -e "$MODDIR/source" ] || { ln -s "$hdr_common" "$MODDIR/source"; say "linked $MODDIR/source -> $hdr_common"; }
fi

# 3. bpffs ---------------------------------------------------------------------------------
if ! mountpoint -q /sys/fs/bpf; then
    mkdir -p /sys/fs/bpf
    mount -t bpf bpf /sys/fs/bpf
    say "mounted bpffs on /sys/fs/bpf"
fi

# 4. virtual environment that sees Debian's bcc (PyPI has no real bcc) ----------------------
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV (system site packages, for bcc)"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
# Reinstall only when the package metadata changed. Extras: test (pytest, hypothesis, lint) and
# ina (torch for the gloo baseline and the DDP hook: about 50 s and 5 GB the first time).
STAMP="$VENV/.cora-install-stamp"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    say "installing cora and its Python dependencies into $VENV (log: $VENV/pip-install.log)"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip setuptools &&
           "$VENV/bin/python" -m pip install -q -e ".[test,ina]"; } > "$VENV/pip-install.log" 2>&1; then
        tail -n 30 "$VENV/pip-install.log" >&2
        echo "setup: error: pip could not install cora's Python dependencies (see above)" >&2
        exit 1
    fi
    echo "$want" > "$STAMP"
fi
"$VENV/bin/python" -c "import torch.distributed as d; assert d.is_gloo_available()" 2>/dev/null || {
    echo "setup: error: the venv's torch has no gloo backend (extra ina, see $VENV/pip-install.log)" >&2; exit 1; }
"$VENV/bin/python" -c "import bcc" 2>/dev/null || {
    echo "setup: error: the venv cannot import bcc (Debian package python3-bpfcc)" >&2; exit 1; }
