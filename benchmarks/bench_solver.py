"""Time the engine against plain OR-Tools min-cost flow and plain seat-expanded SciPy LSA.

    .venv/bin/python -m benchmarks.bench_solver [--sizes 1000,20000,145000] [--repeat 3]

Every measurement runs in a fresh subprocess (so its peak RSS is its own) on the same seeded
instance from :mod:`benchmarks.generate`, and the methods take turns (engine, OR-Tools,
SciPy, engine, ...) so that load from other work on the machine hits them alike. Times are
the median of ``--repeat`` runs, as wall seconds and as CPU seconds of the process
(``time.process_time``; the machine is shared, and CPU time is the steadier of the two). All
methods must agree on the optimum: the number placed and the total quantised cost.

- ``engine``: ``placement.matching.solve`` *end to end* from a parsed instance: eligibility,
  costs, components, exact reduction, the flow solve, the tie-break lottery, result records and
  stats. Its row also shows its *solve-only* time (``solver.assign`` on a prepared problem:
  from built pairs and costs to the assignment) and the CPU seconds of each stage.
- ``ortools``: plain ``SimpleMinCostFlow.SolveMaxFlowWithMinCost`` on the same candidate
  pairs and quantised costs (no tie-break, no reduction), arcs added with the vectorised
  API; building the pairs is not timed. It compares with the engine's solve-only time.
- ``seat_lsa``: plain ``min_weight_full_bipartite_matching`` with one column per seat and a
  private "unplaced" column per trainee (penalty large enough for placing most first);
  building the pairs is not timed.

Writes ``docs/benchmarks-solver.png`` and, in ``docs/benchmarks.md``, only the region between
``<!-- solver-benchmarks:start -->`` and ``<!-- solver-benchmarks:end -->`` (created if
missing); the rest of the file (for example the end-to-end run section) is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import markers, write_section

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("engine", "ortools", "seat_lsa")
DOCS = ROOT / "docs"
START, END = markers("solver-benchmarks")
GOAL_TRAINEES = 145_000
GOAL_SECONDS = 5.0
GOAL_RSS_MB = 2048.0
STAGES = ("prepare", "reduce", "flow", "potentials", "lottery", "assemble")
STAGE_NAMES = {
    "prepare": "arrays, eligibility and costs of the ranked pairs",
    "reduce": "components, integer costs, exact reduction",
    "flow": "flow solve (max flow, residual split, OR-Tools min-cost flow)",
    "potentials": "optimal potentials (Bellman-Ford on the folded residual graph)",
    "lottery": "tie-break lottery (second min-cost flow on the zero-reduced-cost arcs)",
    "assemble": "result records and stats (blocking pairs)",
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _plain_inputs(inst: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from placement.matching.prepared import prepare

    prep = prepare(inst)
    e = prep.edges
    idx = prep.solver
    return prep, e.t[idx], e.s[idx], e.q[idx], prep.arr.s_free


def _run_ortools(
    n_t: int, t: np.ndarray, s: np.ndarray, q: np.ndarray, free: np.ndarray
) -> tuple[int, int]:
    from ortools.graph.python import min_cost_flow

    n_s = len(free)
    flow = min_cost_flow.SimpleMinCostFlow()
    sink = n_t + n_s + 1
    flow.add_arcs_with_capacity_and_unit_cost(
        np.zeros(n_t, np.int32), np.arange(1, n_t + 1, dtype=np.int32),
        np.ones(n_t, np.int64), np.zeros(n_t, np.int64),
    )  # fmt: skip
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        (t + 1).astype(np.int32), (s + n_t + 1).astype(np.int32),
        np.ones(len(t), np.int64), q.astype(np.int64),
    )  # fmt: skip
    flow.add_arcs_with_capacity_and_unit_cost(
        np.arange(n_t + 1, n_t + n_s + 1, dtype=np.int32), np.full(n_s, sink, np.int32),
        np.maximum(free, 0).astype(np.int64), np.zeros(n_s, np.int64),
    )  # fmt: skip
    flow.set_node_supply(0, n_t)
    flow.set_node_supply(sink, -n_t)
    if flow.solve_max_flow_with_min_cost() != flow.OPTIMAL:
        raise RuntimeError("OR-Tools failed")
    used = np.asarray(flow.flows(np.asarray(arcs))) > 0
    return int(used.sum()), int(q[used].sum())


def _run_seat_lsa(
    n_t: int, t: np.ndarray, s: np.ndarray, q: np.ndarray, free: np.ndarray
) -> tuple[int, int]:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    seats = np.maximum(free, 0)
    start = np.concatenate([[0], np.cumsum(seats)[:-1]])
    n_seats = int(seats.sum())
    reps = seats[s]
    rows = np.repeat(t, reps)
    cols = np.repeat(start[s], reps) + (
        np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    )
    penalty = float(min(n_t, len(seats)) * (int(q.max()) + 2) + 1) if len(q) else 1.0
    assert 4 * penalty < 2**53, "costs too large for exact float64"
    data = np.concatenate([np.repeat(q + 1.0, reps), np.full(n_t, penalty)])
    rows = np.concatenate([rows, np.arange(n_t)])
    cols = np.concatenate([cols, n_seats + np.arange(n_t)])
    matrix = csr_matrix((data, (rows, cols)), shape=(n_t, n_seats + n_t))
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    placed = col_ind < n_seats
    seat_slot = np.repeat(np.arange(len(seats)), seats)
    keys = row_ind[placed].astype(np.int64) * len(seats) + seat_slot[col_ind[placed]]
    used = np.isin(t.astype(np.int64) * len(seats) + s, keys)
    return int(used.sum()), int(q[used].sum())


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def worker(method: str, path: str) -> dict[str, Any]:
    """Run one method once on the instance at ``path`` (in this process)."""
    # Import what every method may use before any clock starts (a fresh process each run).
    from ortools.graph.python import max_flow, min_cost_flow  # noqa: F401
    from scipy.sparse.csgraph import connected_components  # noqa: F401

    from placement.matching import parse_instance_json, solve
    from placement.matching.assembly import assemble
    from placement.matching.prepared import prepare
    from placement.matching.solver import assign

    inst = parse_instance_json(Path(path).read_bytes())
    rss_loaded = _peak_rss_mb()
    out: dict[str, Any] = {"method": method, "rss_after_load_mb": rss_loaded}
    if method == "engine":
        start = _clock()
        result = solve(inst, method="auto")
        out["wall"], out["cpu"] = _since(start)
        out["peak_rss_mb"] = _peak_rss_mb()
        # The same work again, stage by stage (CPU seconds), and the solve-only time.
        stages: dict[str, float] = {}
        start = _clock()
        prep = prepare(inst)
        stages["prepare"] = _since(start)[1]
        start = _clock()
        slot_of = assign(prep, "auto", timings=stages)
        out["solve_wall"], out["solve_cpu"] = _since(start)
        start = _clock()
        assemble(prep, slot_of, 0.0)
        stages["assemble"] = _since(start)[1]
        out["stages"] = stages
        e = prep.edges
        t_index, s_index = prep.arr.t_index, prep.arr.s_index
        chosen = np.full(len(prep.arr.t_level), -1, dtype=np.int64)
        for a in result.assignments:
            if not a.locked:
                chosen[t_index[a.trainee_id]] = s_index[a.slot_id]
        mask = chosen[e.t] == e.s
        out["placed"], out["q_total"] = int(mask.sum()), int(e.q[mask].sum())
        out["pairs"] = len(prep.solver)
    else:
        _, t, s, q, free = _plain_inputs(inst)
        run = _run_ortools if method == "ortools" else _run_seat_lsa
        start = _clock()
        out["placed"], out["q_total"] = run(len(inst.trainees), t, s, q, free)
        out["wall"], out["cpu"] = _since(start)
        out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _in_subprocess(method: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_solver", "--worker", method, str(path)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one method at one size; peak RSS is the largest."""
    row = dict(runs[-1])
    for key in ("wall", "cpu", "solve_wall", "solve_cpu"):
        if key in row:
            row[key] = statistics.median(r[key] for r in runs)
    row["all_wall"] = [r["wall"] for r in runs]
    row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    if "stages" in row:
        row["stages"] = {
            k: statistics.median(r["stages"].get(k, 0.0) for r in runs) for k in STAGES
        }
    if any((r["placed"], r["q_total"]) != (row["placed"], row["q_total"]) for r in runs):
        row["placed"] = -1  # runs disagree with each other: flagged as not agreeing
    return row


def _plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    series = [("engine", "wall", "engine (end to end)"), ("engine", "solve_wall",
              "engine (solve only)"), ("ortools", "wall", "ortools"), ("seat_lsa", "wall",
              "seat_lsa")]  # fmt: skip
    for method, key, label in series:
        pts = sorted((r["trainees"], r[key]) for r in rows if r["method"] == method)
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("trainees")
    ax.set_ylabel("wall seconds (median of runs)")
    ax.set_title("Exact solve time against round size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _agrees(r: dict[str, Any], ref: dict[str, Any] | None) -> bool:
    return (
        ref is not None
        and r["placed"] >= 0
        and (r["placed"], r["q_total"]) == (ref["placed"], ref["q_total"])
    )


def _goal_notes(rows: list[dict[str, Any]]) -> list[str]:
    """The "where the goal stands" section, written from the measured numbers."""
    n = max((r["trainees"] for r in rows), default=0)
    eng = next((r for r in rows if r["trainees"] == n and r["method"] == "engine"), None)
    ort = next((r for r in rows if r["trainees"] == n and r["method"] == "ortools"), None)
    lines = [f"## Where the {GOAL_TRAINEES:,} goal stands (issue 3, point 5)", ""]
    if eng is None or ort is None or n < GOAL_TRAINEES:
        lines += [f"Not measured in this run (largest size {n:,}).", ""]
        return lines
    agree = _agrees(eng, ort)
    fast = eng["wall"] <= GOAL_SECONDS
    small = eng["peak_rss_mb"] <= GOAL_RSS_MB
    ahead_solve = eng["solve_wall"] <= ort["wall"] and eng["solve_cpu"] <= ort["cpu"]
    ahead_e2e = eng["wall"] <= ort["wall"] and eng["cpu"] <= ort["cpu"]
    fast_cpu = eng["cpu"] <= GOAL_SECONDS
    met = agree and fast and small and ahead_solve
    if met:
        verdict = "**Met.**"
    elif agree and small and ahead_solve and fast_cpu:
        # The 2 cores are shared: wall time counts the other sessions' work too.
        verdict = (
            f"**Met in CPU time ({eng['cpu']:.2f} s), not in wall time ({eng['wall']:.2f} s) "
            "on this shared machine** (other sessions' tests and builds held the cores; on "
            "an idle machine wall time is about CPU time)."
        )
    else:
        verdict = "**Not met.**"
    lines += [
        f"{verdict} Goal: an exact solve of a {GOAL_TRAINEES:,}-trainee round in at most "
        f"{GOAL_SECONDS:g} s and {GOAL_RSS_MB / 1024:g} GB on 2 cores, at or ahead of OR-Tools "
        "min-cost flow on the same instance in the same run. Measured here at "
        f"{n:,} trainees ({eng['pairs']:,} candidate pairs):",
        "",
        "| | engine end to end | engine solve only | plain OR-Tools | goal |",
        "|---|---:|---:|---:|---|",
        f"| wall s (median) | {eng['wall']:.2f} | {eng['solve_wall']:.2f} | {ort['wall']:.2f} "
        f"| <= {GOAL_SECONDS:g} s end to end: {'yes' if fast else 'NO'} |",
        f"| CPU s (median) | {eng['cpu']:.2f} | {eng['solve_cpu']:.2f} | {ort['cpu']:.2f} "
        f"| <= {GOAL_SECONDS:g} s: {'yes' if fast_cpu else 'NO'} |",
        f"| peak RSS MB | {eng['peak_rss_mb']:.0f} | | {ort['peak_rss_mb']:.0f} "
        f"| <= {GOAL_RSS_MB:.0f} MB: {'yes' if small else 'NO'} |",
        f"| same optimum as OR-Tools | {'yes' if agree else 'NO'} | | | exact |",
        "",
        'The fair comparison for "at or ahead of OR-Tools" is solve only against plain '
        "OR-Tools: both start from built pairs and costs and end with the assignment. There "
        f"the engine takes {eng['solve_wall'] / ort['wall']:.2f}x OR-Tools' wall time and "
        f"{eng['solve_cpu'] / ort['cpu']:.2f}x its CPU time ("
        f"{'at or ahead' if ahead_solve else 'behind'}), although it also computes the "
        "components and the exact reduction, and breaks ties with a second solve (the "
        "optimal potentials and the lottery). End to end (from the parsed instance to the "
        "result with every record and the stats) it takes "
        f"{eng['wall'] / ort['wall']:.2f}x OR-Tools' wall time and "
        f"{eng['cpu'] / ort['cpu']:.2f}x its CPU time "
        f"({'at or ahead even so' if ahead_e2e else 'behind: the baseline builds nothing'}).",
        "",
        "CPU seconds per stage of the engine (median of the runs):",
        "",
        "| stage | CPU s |",
        "|---|---:|",
    ]
    for key in STAGES:
        lines.append(f"| {STAGE_NAMES[key]} | {eng['stages'][key]:.2f} |")
    lines += [
        "",
        "What remains between solve only and end to end is Python-level work: reading "
        "the records and translating 1.45 M preference ids into positions (one dictionary "
        "look-up each), and building one frozen record per trainee for the result; it is "
        f"{eng['wall'] - eng['solve_wall']:.2f} s wall here "
        f"({eng['cpu'] - eng['solve_cpu']:.2f} s CPU). Under heavy load from other work "
        "every figure above grows; the CPU seconds are the better guide to an idle machine.",
        "",
        "What the flow solve does that plain OR-Tools does not: the exact reduction "
        "(`solver.reduce_exact`) drops every pair dearer than the trainee's cheapest pair "
        "into a slot that can seat all its candidates and fixes the trainees whose cheapest "
        "pair goes there; then one maximum flow and the strongly connected components of its "
        "residual graph settle the pairs that are in every maximum placement or in none "
        "(`solver._split_by_max_flow`), and OR-Tools solves only the rest. Both steps are "
        "exact (proofs in the docstrings; tested against brute force and against the "
        "unreduced solve).",
        "",
    ]
    return lines


def _region(
    rows: list[dict[str, Any]], skipped: list[tuple[int, str]], meta: dict[str, Any]
) -> str:
    lines = [
        START,
        "# Solver benchmarks",
        "",
        "Written by `python -m benchmarks.bench_solver` (see its docstring for what each",
        "method includes); this section is rewritten on every run. Instances from",
        "`benchmarks/generate.py` (seed 0: 12 English city regions, Zipf popularity, 85 % local",
        "choices, k = 10, capacities 1-5, about 1.1 seats per trainee, every hard rule",
        "exercised, default weights).",
        "",
        f"Machine: {meta['machine']}; {meta['cpus']} CPUs; Python {meta['python']}; median of "
        f"{meta['repeat']} runs, each in a fresh process, the methods taking turns; load "
        f"average {meta['load_before']} before and {meta['load_after']} after the run; "
        f"{time.strftime('%d %b %Y %H:%M UTC', time.gmtime())}. The 2 cores are shared with "
        "several other sessions' tests and builds, so wall times are inflated and noisy; CPU "
        "times are the steadier guide.",
        "Peak RSS is the method's own process (it includes the parsed instance, shown "
        "separately). For the engine, *solve s* is from built pairs and costs to the "
        "assignment: the part that compares with plain OR-Tools.",
        "",
        "| trainees | candidate pairs | method | wall s | CPU s | solve wall s | solve CPU s | x OR-Tools (wall) | peak RSS MB | RSS after load MB | placed | quantised cost | agrees |",  # noqa: E501
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for n in sorted({r["trainees"] for r in rows}):
        group = [r for r in rows if r["trainees"] == n]
        ref = next((r for r in group if r["method"] == "ortools"), None)
        for r in group:
            ratio = f"{r['wall'] / ref['wall']:.2f}" if ref else "-"
            solve_w = f"{r['solve_wall']:.2f}" if "solve_wall" in r else ""
            solve_c = f"{r['solve_cpu']:.2f}" if "solve_cpu" in r else ""
            lines.append(
                f"| {n:,} | {r['pairs']:,} | {r['method']} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                f"{solve_w} | {solve_c} | {ratio} | {r['peak_rss_mb']:.0f} | "
                f"{r['rss_after_load_mb']:.0f} | {r['placed']:,} | {r['q_total']:,} | "
                f"{'yes' if _agrees(r, ref) else 'NO'} |"
            )
    for n, method in skipped:
        lines.append(
            f"| {n:,} | | {method} | skipped (takes minutes; `--seat-lsa-max` to run it) | | | | | | | | | |"  # noqa: E501
        )
    lines += ["", "![time against size](benchmarks-solver.png)", ""]
    lines += _goal_notes(rows)
    lines.append(END)
    return "\n".join(lines)


def write_region(path: Path, region: str) -> None:
    """Replace this benchmark's marked section of ``path``; keep everything else."""
    body = region.replace(START, "").replace(END, "")
    write_section("solver-benchmarks", body, path)


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the matching engine.")
    parser.add_argument("--sizes", default="1000,20000,145000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seat-lsa-max", type=int, default=20000,
                        help="largest size at which the seat-expanded SciPy LSA runs")  # fmt: skip
    parser.add_argument("--out", type=Path, default=DOCS / "benchmarks.md")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1])))
        return 0

    from placement.matching.synthetic import generate

    load_before = _load()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[int, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"round-{n}.json"
            path.write_text(json.dumps(generate(n, seed=0)))
            methods = [m for m in METHODS if not (m == "seat_lsa" and n > args.seat_lsa_max)]
            skipped += [(n, m) for m in METHODS if m not in methods]
            runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
            for _ in range(args.repeat):
                for method in methods:  # take turns, so that load hits every method alike
                    runs[method].append(_in_subprocess(method, path))
            pairs = runs["engine"][0]["pairs"]
            for method in methods:
                row = _summarise(runs[method])
                row.update(trainees=n, pairs=pairs)
                rows.append(row)
                print(
                    f"{n:>7} {method:<9} wall {row['wall']:7.2f}s cpu {row['cpu']:7.2f}s"
                    + (
                        f" (solve {row['solve_wall']:.2f}s / {row['solve_cpu']:.2f}s cpu)"
                        if "solve_wall" in row
                        else ""
                    )
                    + f"  peak {row['peak_rss_mb']:6.0f} MB  placed {row['placed']}"
                    f"  q {row['q_total']}",
                    flush=True,
                )
    meta = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "repeat": args.repeat,
        "load_before": load_before,
        "load_after": _load(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _plot(rows, args.out.parent / "benchmarks-solver.png")
    write_region(args.out, _region(rows, skipped, meta))
    disagree = [
        r for r in rows
        if any(o["trainees"] == r["trainees"] and (o["placed"], o["q_total"]) != (r["placed"], r["q_total"]) for o in rows)  # noqa: E501
    ]  # fmt: skip
    return 1 if disagree else 0


if __name__ == "__main__":
    raise SystemExit(main())
