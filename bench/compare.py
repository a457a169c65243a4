#!/usr/bin/python3
"""HeadSweep against its peers, side by side, on one planted GPT-2-small-shaped checkpoint.

Run through bench/compare.sh (which installs what is missing, builds the jar and plants the
checkpoint). Systems:
  headsweep-cold    the CLI, CPU backend, no cache (every head's A_h computed: stage 1 + stage 2);
                    the sweep's default: a keyword stops as soon as k tokens beat all its targets
  headsweep-cached  the CLI with --cache, the entry already written (stage 2 only)
  headsweep-cold-whole, headsweep-cached-whole
                    the same with --whole-top-k: every row's whole top-k, then the targets looked
                    up in it (the work the PyTorch peers do with topk; numerals only)
  headsweep-build   the first --cache run: cold, plus writing the entry (numerals only)
  torch-batched     bench/peers/torch_peer.py --method batched   (d-wide unembedding, torch.topk)
  torch-factored    bench/peers/torch_peer.py --method factored  (A_h in PyTorch, logits materialized)
  torch-notebook    bench/peers/torch_peer.py --method notebook  (whole model per head and relation;
                    timed on a sample of heads, scaled: estimated)

Part 1, the numerals task (388 keywords, copy + next, k 5): every system, seconds and ratios.
Part 2, scaling: synthetic tasks of N one-token prompts (N keywords); each series runs sizes in
increasing order and stops before a size whose time, extrapolated linearly from its smallest and
largest measured sizes (the numerals run included), would pass its limit (extrapolations are never
plotted).
Every system's hits per head and relation are checked against HeadSweep cold on the same task:
equal, or off by one keyword (a near tie at the k-th place; counted and reported); more is a
failure (exit status 1).
Writes bench/results/compare.json, compare.csv and compare.png.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
JAR = os.path.join(ROOT, "target", "headsweep.jar")
TIMING = re.compile(r"(\d+) heads × (\d+) keywords on .*: load ([\d.]+) s, block 0 ([\d.]+) s, "
                    r"OV chain \+ (?:top-k|targets' rank) ([\d.]+) s, scoring ([\d.]+) s")
CACHE_HIT = re.compile(r"key hashed in ([\d.]+) s, opened and verified in ([\d.]+) s")
CACHE_WRITTEN = re.compile(r"A_h cache written: (\S+) \(([\d.]+ [GM]B), (\d+) heads, in ([\d.]+) s\)")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS MB, stderr text)."""
    full = (["/usr/bin/time", "-f", "PEAK_KB %M"] if os.path.exists("/usr/bin/time") else []) + cmd
    t0 = time.perf_counter()
    p = subprocess.run(full, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        log(p.stderr)
        raise SystemExit(f"compare: failed ({p.returncode}): {' '.join(cmd)}")
    m = re.search(r"PEAK_KB (\d+)", p.stderr)
    return wall, (int(m.group(1)) // 1024 if m else None), p.stderr


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.rows = []       # every run
        self.checks = []     # every score comparison
        self.failures = 0
        self.exported = set()
        os.makedirs(self.work, exist_ok=True)

    # -- tasks ------------------------------------------------------------------------------
    def task(self, n):
        """(task argument for the CLI, ids.json) of the numerals task (n None) or a synthetic one."""
        # Exported afresh by every harness run (the checkpoint or the exporter may have changed).
        if n is None:
            ids = os.path.join(self.work, "numerals.ids.json")
            if n not in self.exported:
                subprocess.run(["java", "-cp", JAR, "bench/tools/ExportTask.java", "--task", "numerals",
                                "--out", ids], cwd=ROOT, check=True)
                self.exported.add(n)
            return "numerals", ids
        t = os.path.join(self.work, f"synthetic-{n}.task.json")
        ids = os.path.join(self.work, f"synthetic-{n}.ids.json")
        if n not in self.exported:
            subprocess.run(["java", "-cp", JAR, "bench/tools/ExportTask.java", "--synthetic", str(n),
                            "--task-out", t, "--out", ids, "--model", self.a.model], cwd=ROOT, check=True)
            self.exported.add(n)
        return t, ids

    @staticmethod
    def read_ids(ids):
        with open(ids) as f:
            return json.load(f)

    # -- systems ----------------------------------------------------------------------------
    def headsweep(self, system, n, run, cache, whole=False):
        task, ids = self.task(n)
        out = os.path.join(self.work, f"{system}-{n or 'numerals'}-{run}.csv")
        cmd = ["./headsweep", "sweep", "--model", self.a.model, "--task", task, "--relations", "copy,next",
               "--k", str(self.a.k), "--threads", str(self.a.threads), "--format", "csv", "--out", out]
        if cache:
            cmd.append("--cache=" + self.a.cache_dir)
        if whole:
            cmd.append("--whole-top-k")
        env = dict(os.environ)
        if self.a.java_opts:
            env["JAVA_OPTS"] = self.a.java_opts
        wall, rss, err = timed(cmd, env)
        m = TIMING.search(err)
        if not m:
            log(err)
            raise SystemExit("compare: no timing line from headsweep")
        load, b0, ov, sc = (float(m.group(i)) for i in range(3, 7))
        row = dict(system=system, task="numerals" if n is None else "synthetic", keywords=int(m.group(2)),
                   run=run, compute_s=round(load + b0 + ov + sc, 3), process_s=round(wall, 3), load_s=load,
                   block0_s=b0, ov_topk_s=ov, scoring_s=sc, peak_rss_mb=rss, estimated=False)
        h = CACHE_HIT.search(err)
        if h:
            row.update(cache_hash_s=float(h.group(1)), cache_verify_s=float(h.group(2)))
        wr = CACHE_WRITTEN.search(err)
        if wr:
            row.update(cache_file=wr.group(1), cache_size=wr.group(2), cache_write_s=float(wr.group(4)))
        if system.startswith("headsweep-cached") and not h:
            log(err)
            raise SystemExit("compare: a cached run did not hit the cache")
        row["hits"] = self.hits_from_csv(out, row["keywords"])
        self.add(row)
        return row

    @staticmethod
    def hits_from_csv(path, n):
        hits = {"copy": [], "next": []}
        with open(path) as f:
            for r in csv.DictReader(f):
                for rel in hits:
                    hits[rel].append(round(float(r[rel]) * n / 100.0))
        return hits

    def torch(self, method, n, run):
        _, ids = self.task(n)
        out = os.path.join(self.work, f"torch-{method}-{n or 'numerals'}-{run}.json")
        cmd = ["/usr/bin/python3", os.path.join("bench", "peers", "torch_peer.py"), "--model", self.a.model,
               "--ids", ids, "--method", method, "--k", str(self.a.k), "--threads", str(self.a.threads),
               "--sample", str(self.a.notebook_sample), "--out", out]
        wall, rss, err = timed(cmd)
        with open(out) as f:
            r = json.load(f)
        row = dict(system="torch-" + method, task="numerals" if n is None else "synthetic",
                   keywords=r["keywords"], run=run, compute_s=round(r["load_s"] + r["compute_s"], 3),
                   process_s=round(wall if not r["estimated"] else wall - r["measured_s"] + r["compute_s"], 3),
                   load_s=round(r["load_s"], 3), peak_rss_mb=rss, estimated=r["estimated"],
                   measured_s=round(r["measured_s"], 3), sampled_heads=r["sampled_heads"], hits=r["hits"])
        self.add(row)
        return row

    def add(self, row):
        la = loadavg()
        row["load_1m"] = la[0] if la else None
        self.rows.append(row)
        extra = ""
        if "cache_hash_s" in row:
            extra = f" (cache: hash {row['cache_hash_s']:.2f} s, verify {row['cache_verify_s']:.2f} s)"
        if "cache_write_s" in row:
            extra = f" (cache written: {row['cache_size']} in {row['cache_write_s']:.2f} s)"
        log(f"  {row['system']:<17} {row['keywords']:>6} keywords: compute {row['compute_s']:8.2f} s, "
            f"process {row['process_s']:8.2f} s{' (estimated)' if row['estimated'] else ''}{extra}"
            f"   [load avg {loadavg()}]")

    # -- checks -----------------------------------------------------------------------------
    def check(self, ref, other):
        """Compares hits per head and relation; records and returns the check."""
        off1, worse, compared = [], [], 0
        for rel in ref["hits"]:
            for i, a in enumerate(ref["hits"][rel]):
                b = other["hits"][rel][i]
                if b is None:  # not sampled
                    continue
                compared += 1
                if abs(a - b) == 1:
                    off1.append((i // 12, i % 12, rel, a, b))
                elif a != b:
                    worse.append((i // 12, i % 12, rel, a, b))
        c = dict(task=ref["task"], keywords=ref["keywords"], reference=ref["system"], system=other["system"],
                 compared=compared, equal=compared - len(off1) - len(worse), off_by_one=len(off1),
                 worse=len(worse), examples=(worse + off1)[:5], ok=not worse)
        self.checks.append(c)
        other["check"] = ("same scores" if not off1 and not worse else
                          f"{len(off1)} off by 1 keyword" if not worse else f"FAIL: {len(worse)} differ by >1")
        if worse:
            self.failures += 1
            log(f"  CHECK FAILED {other['system']} vs {ref['system']} ({ref['keywords']} keywords): "
                f"{len(worse)} head-relations differ by more than one keyword, e.g. {worse[:3]}")
        return c


def extrapolate(points, n):
    """Seconds at n keywords from the measured points (the numerals run included): the line
    through the smallest and the largest (the widest baseline, least hurt by noise; slope at least
    0), or, with one point, that time scaled up to n; None without points."""
    pts = sorted(points)
    if not pts:
        return None
    (n1, t1), (n2, t2) = pts[0], pts[-1]
    if n1 == n2:
        return t2 * max(1.0, n / n2)
    return t2 + max(0.0, (t2 - t1) / (n2 - n1)) * (n - n2)


def median_row(rows):
    rows = sorted(rows, key=lambda r: r["compute_s"])
    return rows[(len(rows) - 1) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True, help="folder for exported tasks and raw outputs")
    ap.add_argument("--cache-dir", required=True, help="HeadSweep's A_h cache for the benchmark (emptied first)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="numerals: HeadSweep cold/cached runs (median)")
    ap.add_argument("--notebook-sample", type=int, default=3, help="heads the notebook method is timed on")
    ap.add_argument("--sizes-headsweep", default="10,100,1000,10000,50257")
    ap.add_argument("--sizes-torch", default="10,100,1000,10000")
    ap.add_argument("--cold-limit", type=float, default=30, help="s: largest extrapolated cold HeadSweep run")
    ap.add_argument("--cached-limit", type=float, default=300, help="s: largest extrapolated cached HeadSweep run")
    ap.add_argument("--torch-limit", type=float, default=60, help="s: largest extrapolated PyTorch run")
    ap.add_argument("--java-opts", default="-Xmx8g")
    ap.add_argument("--skip", default="", help="comma-separated systems to leave out (e.g. torch-notebook)")
    a = ap.parse_args()
    skip = set(s for s in a.skip.split(",") if s)
    b = Bench(a)
    started = time.time()
    load_before = loadavg()
    shutil.rmtree(a.cache_dir, ignore_errors=True)

    # ---- part 1: numerals -----------------------------------------------------------------
    log(f"numerals task, {a.threads} threads (load average before: {load_before})")
    num = {}
    build = b.headsweep("headsweep-build", None, 1, cache=True)
    os.sync()  # the 1.85 GB just written: its write-back would slow the next runs' reads
    runs = {s: [] for s in ("headsweep-cold", "headsweep-cached", "headsweep-cold-whole", "headsweep-cached-whole")}
    for run in range(1, a.repeat + 1):  # interleaved, so that machine noise hits all alike
        for s in runs:
            runs[s].append(b.headsweep(s, None, run, cache="cached" in s, whole=s.endswith("whole")))
    for s in runs:
        num[s] = median_row(runs[s])
    num["headsweep-build"] = build
    for method in ("batched", "factored", "notebook"):
        if "torch-" + method not in skip:
            num["torch-" + method] = b.torch(method, None, 1)
    ref = num["headsweep-cold"]
    for r in [r for rs in runs.values() for r in rs] + [build] + [num[s] for s in num if s.startswith("torch-")]:
        if r is not ref:
            b.check(ref, r)
    ref["check"] = "reference"

    # ---- part 2: scaling ------------------------------------------------------------------
    def sizes(s):
        return [int(x) for x in s.split(",") if x.strip()]

    log("scaling: synthetic tasks of one-token prompts")
    series = {"headsweep-cold": (sizes(a.sizes_headsweep), a.cold_limit),
              "headsweep-cached": (sizes(a.sizes_headsweep), a.cached_limit),
              "torch-batched": (sizes(a.sizes_torch), a.torch_limit),
              "torch-factored": (sizes(a.sizes_torch), a.torch_limit)}
    scaling = {s: [] for s in series if s not in skip}
    skipped = []
    refs = {}
    all_sizes = sorted(set(n for s in scaling for n in series[s][0]))
    # measured (keywords, seconds) per series, the numerals run included, for the extrapolation
    points = {s: ([(num[s]["keywords"], num[s]["compute_s"])] if s in num else []) for s in scaling}
    for n in all_sizes:
        for s in scaling:
            ns, limit = series[s]
            if n not in ns:
                continue
            predicted = extrapolate(points[s], n)
            if predicted is not None:
                if predicted > limit:
                    skipped.append(dict(system=s, keywords=n, predicted_s=round(predicted, 1), limit_s=limit))
                    log(f"  {s:<17} {n:>6} keywords: skipped (about {predicted:.0f} s by extrapolation > {limit:.0f} s)")
                    ns = [x for x in ns if x < n]
                    series[s] = (ns, limit)
                    continue
            if s.startswith("headsweep"):
                r = b.headsweep(s, n, 1, cache=s.endswith("cached"))
            else:
                r = b.torch(s.split("-", 1)[1], n, 1)
            points[s].append((n, r["compute_s"]))
            scaling[s].append(r)
            if s == "headsweep-cold" or (n not in refs and s == "headsweep-cached"):
                refs[n] = r
        ref_n = refs.get(n)
        for s in scaling:
            r = next((x for x in scaling[s] if x["keywords"] == n), None)
            if r is not None and ref_n is not None and r is not ref_n:
                b.check(ref_n, r)
        if ref_n is not None:
            ref_n.setdefault("check", "reference")

    # ---- report ---------------------------------------------------------------------------
    load_after = loadavg()
    machine = dict(
        date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        cpu=cpu_name(), cores=os.cpu_count(), threads=a.threads, memory_gb=mem_gb(),
        java=java_version(), torch=torch_version(), python=platform.python_version(),
        load_average_before=load_before, load_average_after=load_after,
        load_1m_during=[min(r["load_1m"] for r in b.rows), max(r["load_1m"] for r in b.rows)] if load_after else None,
        wall_s=round(time.time() - started, 1), options=vars(a))
    os.makedirs(a.out, exist_ok=True)
    table = numerals_table(num)
    print()
    print(f"numerals task (388 keywords, copy + next, k {a.k}, 144 heads), {machine['cpu']}, {a.threads} threads")
    print(f"1-minute load average during the runs: {machine['load_1m_during']} on {os.cpu_count()} cores"
          + ("  (others were busy too: timings are noisy)" if busy(machine) else ""))
    print(table)
    print()
    print(scaling_table(scaling, skipped))
    ok_checks = sum(1 for c in b.checks if c["ok"])
    near = sum(c["off_by_one"] for c in b.checks)
    print()
    print(f"score checks: {ok_checks} of {len(b.checks)} comparisons agree (per head and relation: equal, or one "
          f"keyword apart at a near tie); {near} head-relations were one keyword apart"
          + ("" if not b.failures else f"; {b.failures} FAILED"))

    with open(os.path.join(a.out, "compare.json"), "w") as f:
        strip = lambda r: {k: v for k, v in r.items() if k != "hits"}
        json.dump(dict(machine=machine, numerals={s: strip(r) for s, r in num.items()},
                       runs=[strip(r) for r in b.rows], scaling={s: [strip(r) for r in rs] for s, rs in scaling.items()},
                       skipped=skipped, checks=b.checks), f, indent=1)
    with open(os.path.join(a.out, "compare.csv"), "w", newline="") as f:
        cols = ["system", "task", "keywords", "run", "compute_s", "process_s", "load_s", "block0_s", "ov_topk_s",
                "cache_hash_s", "cache_verify_s", "cache_write_s", "peak_rss_mb", "estimated", "check"]
        wr = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        wr.writeheader()
        for r in b.rows:
            wr.writerow(r)
    with open(os.path.join(a.out, "compare.md"), "w") as f:
        f.write(f"{machine['date']}, {machine['cpu']}, {machine['cores']} cores, {a.threads} threads, "
                f"{machine['java']}, PyTorch {machine['torch']}; 1-minute load average during the runs "
                f"{machine['load_1m_during']}{' (busy: noisy)' if busy(machine) else ''}\n\n")
        f.write(table + "\n\n" + scaling_table(scaling, skipped) + "\n")
    plot(scaling, num, os.path.join(a.out, "compare.png"), machine)
    log(f"wrote {a.out}/compare.json, compare.csv, compare.md, compare.png in {machine['wall_s']} s")
    sys.exit(1 if b.failures else 0)


def numerals_table(num):
    cold = num["headsweep-cold"]["compute_s"]
    cached = num["headsweep-cached"]["compute_s"]
    out = ["| system | compute | process | × HeadSweep cold | × HeadSweep cached | scores |",
           "|---|---:|---:|---:|---:|---|"]
    for s, r in num.items():
        est = " (est.)" if r["estimated"] else ""
        out.append(f"| {s} | {r['compute_s']:.2f} s{est} | {r['process_s']:.2f} s{est} | "
                   f"{r['compute_s'] / cold:.2f} | {r['compute_s'] / cached:.2f} | {r.get('check', '')} |")
    return "\n".join(out)


def scaling_table(scaling, skipped):
    sizes = sorted(set(r["keywords"] for rs in scaling.values() for r in rs))
    out = ["| keywords | " + " | ".join(scaling) + " |", "|---:|" + "---:|" * len(scaling)]
    for n in sizes:
        cells = []
        for s, rs in scaling.items():
            r = next((x for x in rs if x["keywords"] == n), None)
            sk = next((x for x in skipped if x["system"] == s and x["keywords"] == n), None)
            cells.append(f"{r['compute_s']:.2f} s" if r else ("skipped" if sk else "–"))
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(scaling, num, path, machine):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("compare: matplotlib missing, no plot")
        return
    fig, ax = plt.subplots(figsize=(8, 5.5))
    styles = {"headsweep-cold": ("o-", "C0"), "headsweep-cached": ("s-", "C1"), "torch-batched": ("^-", "C2"),
              "torch-factored": ("v-", "C3")}
    for s, rs in scaling.items():
        st, color = styles.get(s, ("x-", "C4"))
        if rs:
            ax.plot([r["keywords"] for r in rs], [r["compute_s"] for r in rs], st, color=color, label=s)
        if s in num:
            ax.plot([num[s]["keywords"]], [num[s]["compute_s"]], "P", color=color, markersize=10,
                    markeredgecolor="k", label=None)
    if "torch-notebook" in num:
        r = num["torch-notebook"]
        ns = len(r.get("sampled_heads") or [])
        ax.plot([r["keywords"]], [r["compute_s"]], "*", color="C5", markersize=15, markeredgecolor="k",
                label=f"torch-notebook (numerals only; estimated from {ns} head{'s' if ns != 1 else ''})")
    ax.axvline(388, color="0.8", linestyle=":", zorder=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("keywords (lines: synthetic one-token prompts; filled plus: the numerals task, 388)")
    ax.set_ylabel("seconds (load + compute, no process start-up)")
    ax.set_title(f"144 heads, copy + next, k 5 — {machine['cores']} cores, {machine['threads']} threads\n"
                 f"{machine['cpu']}, {machine['date'][:10]}, 1-min load {machine['load_1m_during']}"
                 + (" (busy machine: noisy)" if busy(machine) else ""), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def busy(machine):
    """Whether others loaded the machine: the 1-minute load went well past what the runs' own threads make."""
    la = machine.get("load_1m_during")
    return bool(la) and la[1] > 1.5 * machine["threads"]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def mem_gb():
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError):
        return None


def java_version():
    p = subprocess.run(["java", "-version"], capture_output=True, text=True)
    return (p.stderr.splitlines() or ["?"])[0]


def torch_version():
    p = subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    return p.stdout.strip() or None


if __name__ == "__main__":
    main()
