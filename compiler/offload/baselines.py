"""Baseline partitions, costed by the same code as the CP-SAT plan (:class:`Problem.evaluate`).

- :func:`all_host`: nothing offloaded (host kernel, user space only where the kernel cannot).
- :func:`greedy`: offload as much as fits, in program order: walk the blocks in topological
  order and move each (with everything it drags along, see below) to the NIC if the result
  still satisfies every constraint, including NIC utilisation <= 1 at the target rate.
- :func:`state_split` and :func:`traffic_split`: Cora's two naive baselines (Xi et al.,
  arXiv 2410.22229: "naively partitioning the program by state or traffic can result in a
  suboptimal partition plan with higher CPU usage or even packet drops"), as issue 9 defines
  them:
    * state_split (state-based): state objects in decreasing order of accesses per packet,
      each moved to the NIC with every block that touches it (and their ancestors) while
      it fits (NIC memory full, or any other limit); every packet takes that cut.
    * traffic_split (traffic-based): a share of the flows goes to the NIC by hash: the NIC
      path runs as much of the NF as the NIC can under a split (blocks in program order, as
      greedy), and the flow buckets ``0..k-1`` (hash order, blind to how heavy each is) take
      it, with the largest ``k`` that fits (memory and NIC rate); all flows (no split) first.
      Without flow groups in the profile: the hot path, blocks by decreasing frequency.
- :func:`exhaustive`: every monotone block assignment (DFS in topological order, each block's
  stage >= its predecessors'), each state following its blocks and NIC tiers chosen by
  enumeration, and, when the problem has at most ``max_groups`` flow groups, every subset
  of them as a traffic split; exact, for small programs; gives up after ``max_leaves``
  assignments.

"Drags along" (the closure of a NIC set): the ancestors of every NIC block (a packet never
goes back from host to NIC) and every block touching a written state one NIC block touches
(all accesses on the state's stage), and every block using ``rand`` when one does (one PRNG
state). The rest of the program is completed on the host by
:func:`complete_host`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from cora.compiler.offload.partition import KERNEL, NIC, USER, Plan, Problem, result_figures
from cora.compiler.offload.traffic import TrafficSplit


@dataclass
class BaselineResult:
    """One baseline's plan and figures (same meanings as :class:`PlanResult`).

    ``plan`` is None when the baseline finds no feasible plan (``host_cores`` None).
    For :func:`exhaustive`: ``finished`` False when it gave up (``plan`` is then the best
    seen, not a proven optimum), ``assignments`` complete assignments costed, ``nodes``
    search nodes visited.
    """

    name: str
    plan: Plan | None
    host_cores: float | None
    nic_utilization: float | None
    rate_mpps: float | None
    host_ns_per_packet: float | None
    nic_ns_per_packet: float | None
    seconds: float
    finished: bool = True
    assignments: int = 0
    nodes: int = 0


def _result(name: str, pb: Problem, plan: Plan | None, rate_mpps, cores, t0: float,
            finished: bool = True, n: int = 0, nodes: int = 0) -> BaselineResult:
    secs = time.perf_counter() - t0
    if plan is None:
        return BaselineResult(name, None, None, None, None, None, None, secs, finished, n,
                              nodes)
    fig = result_figures(pb, plan, rate_mpps, cores)
    return BaselineResult(name, plan, fig["host_cores"], fig["nic_utilization"],
                          fig["rate_mpps"], fig["host_ns_per_packet"], fig["nic_ns_per_packet"],
                          secs, finished, n, nodes)


# ------------------------------------------------------------------------------ helpers

def complete_host(pb: Problem, nic: set[str]) -> dict[str, int]:
    """Stages for every block given the NIC set: host blocks on the kernel, or user space
    from the first one the kernel cannot run (and after it); a written state touched from
    both host stages pulls its kernel accessors (and their descendants) to user space."""
    bs: dict[str, int] = {}
    force_user: set[str] = set()
    for _ in range(len(pb.labels) + 1):
        bs = {}
        for lab in pb.labels:
            if lab in nic:
                bs[lab] = NIC
                continue
            k = max([bs[p] for p in pb.preds[lab]] + [KERNEL])
            if k == KERNEL and (lab in force_user or pb.block_can_run(lab, KERNEL)):
                k = USER
            bs[lab] = k
        changed = False
        groups = [[lab for lab in pb.labels if name in pb.touch_any[lab]]
                  for name in pb.states if name not in pb.replicable] + [pb.rand_blocks]
        for group in groups:
            users = [lab for lab in group if bs[lab] != NIC]
            if {bs[lab] for lab in users} == {KERNEL, USER}:
                new = {lab for lab in users if bs[lab] == KERNEL} - force_user
                if new:
                    force_user |= new
                    changed = True
        if not changed:
            break
    return bs


def closure(pb: Problem, nic: set[str]) -> set[str]:
    """``nic`` plus its ancestors and every block sharing a written state with it."""
    out = set(nic)
    stack = list(nic)
    by_state: dict[str, list[str]] = {}
    for lab in pb.labels:
        for st in pb.touch_any[lab]:
            if st not in pb.replicable:
                by_state.setdefault(st, []).append(lab)
    rand = set(pb.rand_blocks)
    while stack:
        lab = stack.pop()
        more = list(pb.preds[lab])
        if lab in rand:
            more += pb.rand_blocks
        for st in pb.touch_any[lab]:
            more += by_state.get(st, [])
        for m in more:
            if m not in out:
                out.add(m)
                stack.append(m)
    return out


def _feasible(pb: Problem, nic: set[str], rate_mpps, cores,
              traffic: TrafficSplit | None = None) -> Plan | None:
    plan = pb.make_plan(complete_host(pb, nic), traffic=traffic)
    ev = pb.evaluate(plan, rate_mpps)        # baselines report cores; they meet no budget
    return plan if ev.feasible else None


def _grow(pb: Problem, units: list[set[str]], rate_mpps, cores,
          traffic: TrafficSplit | None = None) -> Plan | None:
    nic: set[str] = set()
    best = _feasible(pb, nic, rate_mpps, cores, traffic)
    for unit in units:
        if unit <= nic:
            continue
        cand = closure(pb, nic | unit)
        plan = _feasible(pb, cand, rate_mpps, cores, traffic)
        if plan is not None:
            nic, best = cand, plan
    return best


# ---------------------------------------------------------------------------- baselines

def all_host(pb: Problem, rate_mpps: float | None = None,
             cores: float | None = None) -> BaselineResult:
    """Nothing on the NIC (see :meth:`Problem.all_host_stages`)."""
    t0 = time.perf_counter()
    return _result("all_host", pb, pb.make_plan(pb.all_host_stages()), rate_mpps, cores, t0)


def greedy(pb: Problem, rate_mpps: float | None = None,
           cores: float | None = None) -> BaselineResult:
    """Offload as much as fits, blocks in program (topological) order."""
    t0 = time.perf_counter()
    plan = _grow(pb, [{lab} for lab in pb.labels], rate_mpps, cores)
    return _result("greedy", pb, plan, rate_mpps, cores, t0)


def state_split(pb: Problem, rate_mpps: float | None = None,
                cores: float | None = None) -> BaselineResult:
    """Offload whole state objects (with their accessors), most accessed first."""
    t0 = time.perf_counter()
    names = sorted(pb.touched_states, key=lambda n: (-pb.access_count[n], n))
    units = [{lab for lab in pb.labels if n in pb.touch_any[lab]} for n in names]
    plan = _grow(pb, units, rate_mpps, cores)
    return _result("state_split", pb, plan, rate_mpps, cores, t0)


def traffic_split(pb: Problem, rate_mpps: float | None = None,
                  cores: float | None = None) -> BaselineResult:
    """Cora's traffic-based split: buckets ``0..k-1`` (by hash) take the NIC path, the
    largest ``k`` that fits; the NIC path is as much of the NF as the NIC runs under a split.
    Without flow groups: the hot path (blocks by decreasing packet frequency)."""
    t0 = time.perf_counter()
    pos = {lab: i for i, lab in enumerate(pb.labels)}
    if not pb.traffic_ok:
        order = sorted(pb.labels, key=lambda lab: (-pb.freq[lab], pos[lab]))
        plan = _grow(pb, [{lab} for lab in order], rate_mpps, cores)
        return _result("traffic_split", pb, plan, rate_mpps, cores, t0)
    units = [{lab} for lab in pb.labels]
    whole = _grow(pb, units, None, cores)                      # every flow, no rate yet
    if whole is not None and pb.evaluate(whole, rate_mpps).feasible:
        return _result("traffic_split", pb, whole, rate_mpps, cores, t0)
    one = pb.make_traffic([0])
    cut_plan = _grow(pb, units, None, cores, one)
    best = None
    if cut_plan is not None:
        sidx = {s: i for i, s in enumerate(("nic", "kernel", "user"))}
        cut = {lab: sidx[st] for lab, st in cut_plan.block_stage.items()}
        # feasibility only shrinks as k grows (more NIC packets and entries): bisect
        lo, hi = 0, pb.n_buckets - 1          # largest feasible k in [lo, hi]; 0: none
        while lo < hi:
            mid = (lo + hi + 1) // 2
            plan = pb.make_plan(cut, traffic=pb.make_traffic(range(mid)))
            if pb.evaluate(plan, rate_mpps).feasible:
                lo = mid
            else:
                hi = mid - 1
        if lo > 0:
            best = pb.make_plan(cut, traffic=pb.make_traffic(range(lo)))
    if best is None:
        best = pb.make_plan(pb.all_host_stages())
    return _result("traffic_split", pb, best, rate_mpps, cores, t0)


def _objective(pb: Problem, host: float, nic: float, rate_mpps,
               cores) -> tuple[float, float]:
    """The solver's objective as a tuple compared lexicographically: at a rate (host, 0);
    under a core budget (bottleneck ``max(N x host, C x nic)``, the inverse of the rate,
    then host): the lexicographic max-rate objective."""
    if rate_mpps is not None:
        return (host, 0)
    c100 = int(round((cores or 0) * 100))
    n100 = int(round(pb.stages[NIC].cores * 100))
    if c100 <= 0:
        return (nic, 0) if host == 0 else (math.inf, math.inf)
    return (max(n100 * host, c100 * nic), host)


def exhaustive(pb: Problem, rate_mpps: float | None = None, cores: float | None = None,
               max_leaves: int = 200_000, time_limit_s: float = 20.0,
               max_groups: int = 10) -> BaselineResult:
    """The exact optimum by enumeration (small programs only): depth-first over the blocks in
    topological order, each block's stage >= its predecessors', pruned by capability, shim,
    instruction and NIC-rate limits and by a lower bound on the objective (branch and
    bound, the incumbent seeded with the baselines' plans; exact). Each complete assignment is
    costed and checked by :meth:`Problem.evaluate` with the cheapest fitting NIC tiers.

    With at most ``max_groups`` flow groups (buckets + heavy candidates) every traffic split
    is enumerated at each leaf too (each subset of groups; a heavy flow never together with
    its own bucket), and the bounds are off (a split changes every term). With more groups
    only plans without a split are searched: then not exact over the whole plan space.

    Returns ``finished=False`` (and the best plan seen) when more than ``max_leaves``
    complete assignments or ``time_limit_s`` seconds would be needed.
    """
    groups = pb.n_buckets + len(pb.heavy_keys)
    splits: list[TrafficSplit] = []
    if pb.traffic_ok and groups <= max_groups:
        for mask in range(1 << groups):
            bk = [b for b in range(pb.n_buckets) if mask >> b & 1]
            hv = [j for j in range(len(pb.heavy_keys)) if mask >> (pb.n_buckets + j) & 1]
            if any(pb.heavy_bucket[j] in bk for j in hv):
                continue
            splits.append(pb.make_traffic(bk, [pb.heavy_keys[j] for j in hv]))
    prune = not splits
    t0 = time.perf_counter()
    labels = pb.labels
    allowed = {lab: [k for k in range(3) if not pb.block_can_run(lab, k)] for lab in labels}
    written_users = {n: [lab for lab in labels if n in pb.touch_any[lab]]
                     for n in pb.states if n not in pb.replicable}
    first_touch: dict[str, list[str]] = {}
    for n, us in written_users.items():
        for lab in us:
            first_touch.setdefault(lab, []).append(n)
    for lab in pb.rand_blocks:              # one stage for the PRNG, as a written state
        first_touch.setdefault(lab, []).append(" rand")
    best: list[Any] = [(math.inf, math.inf), None]  # [objective, plan]
    leaves = [0]
    nodes = [0]
    finished = [True]
    bs: dict[str, int] = {}
    state_stage: dict[str, int] = {}
    # Branch and bound: the block and crossing units placed so far on each stage only grow
    # as more blocks are placed (tier and per-packet terms are added at the leaf and are
    # never negative in total), so they bound the objective from below.
    partial = [0, 0, 0]
    insns = [0, 0, 0]
    nic_limit = pb.nic_limit_units(rate_mpps) if rate_mpps and prune else None
    max_insns = [st.max_insns for st in pb.stages]

    # Seed the incumbent with the baselines' plans (feasible, so the optimum is no worse).
    for fn in (all_host, greedy, state_split, traffic_split):
        seed = fn(pb, rate_mpps, cores).plan
        if seed is None:
            continue
        ev = pb.evaluate(seed, rate_mpps, cores)
        if ev.feasible:
            obj = _objective(pb, ev.host_units, ev.nic_units, rate_mpps, cores)
            if obj < best[0]:
                best[0], best[1] = obj, seed

    on_host = [0]
    # once a block is on the host, the kernel's per-packet cost is paid for every frame the
    # NIC does not end: at least for those no leaving block could end
    kernel_pp_min = max(0, pb.stages[KERNEL].per_packet - sum(
        pb.leave_units(lab) for lab in labels if pb.verdict[lab] in ("drop", "tx", "redirect")))

    def bound() -> tuple[float, float]:
        if not prune:
            return (-math.inf, -math.inf)
        host = partial[1] + partial[2] + (kernel_pp_min if on_host[0] else 0)
        return _objective(pb, pb.q * host, pb.q * partial[0], rate_mpps, cores)

    def consider(traffic: TrafficSplit | None) -> None:
        flows = None if traffic is None else pb.traffic_figures(traffic)[1]
        st = pb.best_nic_tiers(bs, flows=flows)
        if st is None:
            return
        plan = pb.make_plan(bs, st, traffic)
        ev = pb.evaluate(plan, rate_mpps, cores)
        if not ev.feasible:
            return
        obj = _objective(pb, ev.host_units, ev.nic_units, rate_mpps, cores)
        if obj < best[0]:
            best[0], best[1] = obj, plan

    def leaf():
        leaves[0] += 1
        consider(None)
        if splits and bs[pb.entry] == NIC:
            for ts in splits:
                consider(ts)

    def dfs(i: int) -> None:
        if not finished[0]:
            return
        nodes[0] += 1
        if leaves[0] >= max_leaves or (nodes[0] % 256 == 0 and
                                       time.perf_counter() - t0 > time_limit_s):
            finished[0] = False
            return
        if best[1] is not None and bound() >= best[0]:
            return
        if i == len(labels):
            leaf()
            return
        lab = labels[i]
        lo = max([bs[p] for p in pb.preds[lab]] + [0])
        for k in allowed[lab]:
            if k < lo:
                continue
            add = pb.block_cost[lab][k]
            crossing_ok = True
            for p in pb.preds[lab]:
                a = bs[p]
                if a < k:
                    if pb.crossing_allowed((p, lab), a, k):
                        crossing_ok = False
                        break
                    add += pb.cross_units((p, lab), k)
                    if k == USER:
                        add += pb.user_arrive_units(pb.edge_freq[(p, lab)])
            if not crossing_ok:
                continue
            mi = max_insns[k]
            if mi is not None and insns[k] + pb.insns[lab] > mi:
                continue
            if k == NIC and nic_limit is not None and partial[0] + add > nic_limit:
                continue
            clash = False
            fixed = []
            for n in first_touch.get(lab, []):
                if n in state_stage:
                    if state_stage[n] != k:
                        clash = True
                        break
                else:
                    state_stage[n] = k
                    fixed.append(n)
            if not clash:
                bs[lab] = k
                partial[k] += add
                insns[k] += pb.insns[lab]
                on_host[0] += k != NIC
                dfs(i + 1)
                on_host[0] -= k != NIC
                partial[k] -= add
                insns[k] -= pb.insns[lab]
                del bs[lab]
            for n in fixed:
                del state_stage[n]
            if not finished[0]:
                return

    dfs(0)
    return _result("exhaustive", pb, best[1], rate_mpps, cores, t0, finished[0], leaves[0],
                   nodes[0])


BASELINES = {"all_host": all_host, "greedy": greedy, "state_split": state_split,
             "traffic_split": traffic_split}


def run_baselines(pb: Problem, rate_mpps: float | None = None,
                  cores: float | None = None) -> dict[str, BaselineResult]:
    """Every baseline of :data:`BASELINES` on ``pb``, by name."""
    return {name: fn(pb, rate_mpps, cores) for name, fn in BASELINES.items()}
