"""Turns bench/run's JSON lines into latest.json, latest.md (tables and targets) and chart.png."""

import argparse
import json
from collections import defaultdict
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("out")
ap.add_argument("--machine", default="")
args = ap.parse_args()

rows = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()]
out = Path(args.out)
(out / "latest.json").write_text(json.dumps({"machine": args.machine, "runs": rows}, indent=2) + "\n")

runs = [r for r in rows if "throughput" in r]
rss = {r["label"]: r["rss_kb"] for r in rows if "rss_kb" in r}
# (action, connections) -> target -> the median of its rounds (bench/run measures the three
# targets in turn, several rounds each)
rounds = defaultdict(list)
for r in runs:
    if r["label"] == "main":
        rounds[(r["action"], r["connections"], r["target"])].append(r)
main = defaultdict(dict)
for (a, c, target), rs in rounds.items():
    rs.sort(key=lambda r: r["throughput"])
    main[(a, c)][target] = rs[len(rs) // 2]

actions = ["Encrypt 32 B", "Encrypt 4 KB", "Decrypt", "GenerateDataKey", "GetSecretValue"]
conns = sorted({c for (_, c) in main})
lines = [f"Machine: {args.machine}.", ""]
lines += [
    "| action | conns | kmsd req/s | kmsd p50 / p99 ms | ceiling req/s | OpenBao req/s | OpenBao p99 ms | kmsd / ceiling | kmsd / OpenBao |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
ratios_ceiling, ratios_bao, p99_64 = [], [], []
for a in actions:
    for c in conns:
        t = main.get((a, c), {})
        k, ce, bao = t.get("kmsd"), t.get("ceiling"), t.get("openbao")
        if not k:
            continue
        rc = k["throughput"] / ce["throughput"] if ce else None
        rb = k["throughput"] / bao["throughput"] if bao else None
        if rc is not None:
            ratios_ceiling.append((a, c, rc))
        if rb is not None:
            ratios_bao.append((a, c, rb))
        if c == 64:
            p99_64.append((a, k["p99_ms"]))
        lines.append(
            f"| {a} | {c} | {k['throughput']:,.0f} | {k['p50_ms']:.2f} / {k['p99_ms']:.2f} | "
            f"{ce['throughput']:,.0f} | {bao['throughput']:,.0f} | {bao['p99_ms']:.2f} | {rc:.2f} | {rb:.1f}× |"
            if ce and bao else f"| {a} | {c} | {k['throughput']:,.0f} | {k['p50_ms']:.2f} / {k['p99_ms']:.2f} | | | | | |"
        )

gateway = defaultdict(dict)  # (action, connections) -> target -> run
for r in runs:
    if r["label"] == "gateway":
        gateway[(r["action"], r["connections"])][r["target"]] = r
if gateway:
    lines += [
        "",
        "Instance gateway (instance API over TLS, ClientKey-signed; the classic API of the same kmsd over plain HTTP):",
        "",
        "| action | conns | gateway req/s | gateway p50 / p99 ms | TLS ceiling req/s | classic req/s | gateway / TLS ceiling | gateway / classic |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (a, c), t in sorted(gateway.items()):
        g, ce, cl = t.get("gateway"), t.get("gatewayceiling"), t.get("kmsd")
        if not (g and ce and cl):
            continue
        lines.append(
            f"| {a} | {c} | {g['throughput']:,.0f} | {g['p50_ms']:.2f} / {g['p99_ms']:.2f} | "
            f"{ce['throughput']:,.0f} | {cl['throughput']:,.0f} | {g['throughput'] / ce['throughput']:.2f} | "
            f"{g['throughput'] / cl['throughput']:.2f} |"
        )

lines += ["", "| run | req/s | p50 / p99 ms | note |", "|---|---:|---:|---|"]
def other(label, note, more=lambda r: ""):
    """One row for the runs labelled `label` (the median one when a label ran several times)."""
    same = sorted((r for r in runs if r["label"] == label), key=lambda r: r["throughput"])
    if not same:
        return None
    r = same[len(same) // 2]
    extra = (f"; RSS {rss[label] / 1024:.0f} MiB" if label in rss else "") + more(r)
    runs_note = f" (median of {len(same)})" if len(same) > 1 else ""
    lines.append(
        f"| {r['action']} ({label}) | {r['throughput']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
        f"{note}{runs_note}{extra} |"
    )
    return r
other("acs3", "ACS3-HMAC-SHA256 signatures, 64 connections")
create = other("createkey", "durable (fsync'd before the answer), 64 clients")
scale_labels = sorted({r["label"] for r in runs if r["label"].startswith("scale-")}, key=lambda l: int(l.split("-")[1]))
scale = [other(l, f"Encrypt, {int(l.split('-')[1]):,} keys in the store") for l in scale_labels]
pg1 = other("pg-1-node", "Encrypt, one node on PostgreSQL")
pg_sqlite = other("pg-sqlite", "Encrypt, the SQLite node, in rounds between the PostgreSQL ones")
pg3 = other("pg-3-nodes", "Encrypt, three nodes on one PostgreSQL (same 2 cores)")
quota = next((r for r in rows if r.get("label") == "quota"), None)
q1 = q3 = None
if quota:
    cores = lambda r: f"; cores used: nodes {r['nodes_cores']:.2f}, PostgreSQL {r['postgres_cores']:.2f}"
    each = f"each node held to {quota['node_quota']} of a core, PostgreSQL to {quota['postgres_quota']}"
    q1 = other("quota-1-node", f"Encrypt, one node, {each}", cores)
    q3 = other("quota-3-nodes", f"Encrypt, three nodes, {each}", cores)

def verdict(ok):
    return "met" if ok else "**not met**"
lines += ["", "Targets:", ""]
# The load tool must not be what limits kmsd: the ceiling it drives must be well above kmsd's
# best figure, or every kmsd figure here is only a lower bound.
best_run = max((t["kmsd"] for t in main.values() if "kmsd" in t), key=lambda r: r["throughput"], default=None)
kmsd_best = best_run["throughput"] if best_run else 0
ceiling_best = max((t["ceiling"]["throughput"] for t in main.values() if "ceiling" in t), default=0)
if kmsd_best and ceiling_best:
    bound = ceiling_best / kmsd_best
    lines.append(
        f"- the load tool drives the ceiling ≥ 2.5× kmsd's best figure: {ceiling_best:,.0f} vs {kmsd_best:,.0f} "
        f"req/s = {bound:.1f}× — " + ("met: the figures measure kmsd, not the tool" if bound >= 2.5
                                     else "**not met**: the kmsd figures are lower bounds")
    )
# The tool's own CPU at that figure says how much more it could have sent (kms-bench reads its
# /proc/self/stat over the measured window).
share = best_run.get("tool_cpu_share") if best_run else None
if share:
    lines.append(
        f"- the load tool's CPU at kmsd's best figure ({best_run['action']}, {best_run['connections']} conns): "
        f"{share:.0%} of its core — room for {1 / share:.1f}× the requests"
    )
# The ceiling does the same work for every 32-byte operation, so its figures at one connection
# count should agree; when they do not, something else on the machine took the cores during
# the run, and figures measured at different moments are not comparable.
spreads = []
for c in conns:
    figures = [main[(a, c)]["ceiling"]["throughput"] for a in actions
               if a != "Encrypt 4 KB" and "ceiling" in main.get((a, c), {})]
    if len(figures) > 1:
        spreads.append((c, max(figures) / min(figures)))
if spreads:
    c, spread = max(spreads, key=lambda x: x[1])
    lines.append(
        f"- the machine was steady (the ceiling's 32-byte figures at one connection count within 1.5× of each other): "
        f"widest {spread:.2f}× at {c} conns — " + ("met" if spread <= 1.5
                                                 else "**not met**: other load shared the cores; compare figures with care")
    )
# The throughput targets are set at 64 connections; the worst figure at any count is shown beside.
def at_64_and_anywhere(ratios, fmt):
    at_64 = [r for r in ratios if r[1] == 64]
    worst_64 = min(at_64, key=lambda x: x[2]) if at_64 else None
    worst_all = min(ratios, key=lambda x: x[2])
    shown = f"worst {fmt(worst_64[2])} ({worst_64[0]})" if worst_64 else "not measured"
    return worst_64, f"{shown}; at any connection count {fmt(worst_all[2])} ({worst_all[0]}, {worst_all[1]} conns)"


if ratios_ceiling:
    worst, text = at_64_and_anywhere(ratios_ceiling, lambda r: f"{r:.0%}")
    lines.append(f"- kmsd ≥ 60 % of the ceiling at 64 connections: {text} — {verdict(worst is not None and worst[2] >= 0.6)}")
if ratios_bao:
    worst, text = at_64_and_anywhere(ratios_bao, lambda r: f"{r:.1f}×")
    lines.append(f"- kmsd ≥ 10× OpenBao transit at 64 connections: {text} — {verdict(worst is not None and worst[2] >= 10)}")
if p99_64:
    worst = max(p99_64, key=lambda x: x[1])
    lines.append(f"- p99 ≤ 5 ms at 64 connections: worst {worst[1]:.2f} ms ({worst[0]}) — {verdict(worst[1] <= 5)}")
if create:
    lines.append(f"- durable CreateKey ≥ 10,000/s with 64 clients: {create['throughput']:,.0f}/s — {verdict(create['throughput'] >= 10000)}")
if len(scale) == 2 and all(scale):
    r = scale[1]["throughput"] / scale[0]["throughput"]
    lines.append(f"- Encrypt with {scale_labels[1].split('-')[1]} keys within 10 % of 100 keys: {r:.0%} — {verdict(r >= 0.9)}")
# Against the SQLite node measured in the rounds between the PostgreSQL ones (older runs: the
# main table's figure).
sqlite_enc = pg_sqlite or main.get(("Encrypt 32 B", 64), {}).get("kmsd")
if pg1 and sqlite_enc:
    r = pg1["throughput"] / sqlite_enc["throughput"]
    lines.append(f"- one node on PostgreSQL ≥ 0.7 of the same node on SQLite (Encrypt): {r:.2f} — {verdict(r >= 0.7)}")
cpu = {r["label"]: r for r in rows if "kmsd_us_per_request" in r}
if "cpu-pg" in cpu and "cpu-sqlite" in cpu:
    pg, lite = cpu["cpu-pg"], cpu["cpu-sqlite"]
    lines.append(
        f"- kmsd's CPU at {lite['cpu_throughput']:,.0f} Encrypt/s on SQLite: "
        f"{lite['kmsd_us_per_request'] * lite['cpu_throughput'] / 1e6:.0%} of its core"
    )
    lines.append(
        f"- CPU per Encrypt (kmsd + PostgreSQL's processes): SQLite {lite['kmsd_us_per_request']:.1f} µs; "
        f"PostgreSQL {pg['kmsd_us_per_request']:.1f} + {pg['postgres_us_per_request']:.1f} µs — on one machine "
        f"the database's work shares the cores kmsd and the load tool run on"
    )
if pg1 and pg3:
    lines.append(f"- three nodes on PostgreSQL / one node: {pg3['throughput'] / pg1['throughput']:.2f}× (all on the same 2 cores)")
if q1 and q3:
    lines.append(
        f"- three nodes / one node with a CPU slice each ({quota['node_quota']} of a core per node, "
        f"{quota['postgres_quota']} for PostgreSQL): {q3['throughput'] / q1['throughput']:.2f}× — "
        f"nodes used {q1['nodes_cores']:.2f} → {q3['nodes_cores']:.2f} cores, PostgreSQL "
        f"{q1['postgres_cores']:.2f} → {q3['postgres_cores']:.2f}"
    )
(out / "latest.md").write_text("\n".join(lines) + "\n")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("report.py: matplotlib missing; no chart")
    raise SystemExit(0)

fig, axes = plt.subplots(2, len(actions), figsize=(4 * len(actions), 7), sharex=True)
for i, a in enumerate(actions):
    for target, style in (("kmsd", "o-"), ("ceiling", "s--"), ("openbao", "^-")):
        xs = [c for c in conns if target in main.get((a, c), {})]
        if not xs:
            continue
        axes[0][i].plot(xs, [main[(a, c)][target]["throughput"] for c in xs], style, label=target)
        axes[1][i].plot(xs, [main[(a, c)][target]["p99_ms"] for c in xs], style, label=target)
    axes[0][i].set_title(a)
    axes[1][i].set_xlabel("connections")
    axes[1][i].set_xscale("log", base=2)
    axes[1][i].set_xticks(conns, [str(c) for c in conns])
axes[0][0].set_ylabel("requests/s")
axes[1][0].set_ylabel("p99 latency (ms)")
axes[0][0].legend()
fig.suptitle(f"kmsd, ceiling, OpenBao transit — {args.machine}", fontsize=9)
fig.tight_layout()
fig.savefig(out / "chart.png", dpi=90)
