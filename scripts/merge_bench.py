#!/usr/bin/python3
"""Merges the benchmark pieces into build/bench.json (DESIGN.md section 5) and prints a summary.

Inputs (in --build, each optional except that at least one must exist):
  bench_modes.json     build/menhance-bench: {"modes": {...}, "config": {...}, "skipped": {...},
                       "ring": [...]} (the ring's rates go to the top level as "ring")
  bench_nn.json        build/bench_nn: peak_gflops, gemm, diffwave_step, diffwave_rtf_16k, ...
  bench_mel2mel.json  one JSON object per line (Mel2Mel timings), kept as a list
Keys from bench_nn.json go to the top level; engine modes under "modes"; the mode bench's
config under "modes_config"; the Mel2Mel lines under "mel2mel_runs".
"""
import argparse
import json
import os
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        sys.exit("merge_bench: %s: %s" % (path, e))


def load_jsonl(path):
    rows = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    print("merge_bench: %s:%d: skipped (%s)" % (path, n, e), file=sys.stderr)
    except FileNotFoundError:
        return None
    return rows


def merge(build):
    out = {}
    sources = []
    nn = load_json(os.path.join(build, "bench_nn.json"))
    if nn is not None:
        if not isinstance(nn, dict):
            sys.exit("merge_bench: bench_nn.json is not an object")
        out.update(nn)
        sources.append("bench_nn.json")
    modes = load_json(os.path.join(build, "bench_modes.json"))
    if modes is not None:
        out["modes"] = modes.get("modes", {})
        if "config" in modes:
            out["modes_config"] = modes["config"]
        if modes.get("skipped"):
            out["modes_skipped"] = modes["skipped"]
        if modes.get("ring"):
            out["ring"] = modes["ring"]  # SPSC ring message rates (tests/stress_ring.c's traffic)
        sources.append("bench_modes.json")
    m2m = load_jsonl(os.path.join(build, "bench_mel2mel.json"))
    if m2m is not None:
        out["mel2mel_runs"] = m2m
        sources.append("bench_mel2mel.json")
    if not sources:
        sys.exit("merge_bench: nothing to merge in %s (run build/menhance-bench first)" % build)
    out["sources"] = sources
    return out


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def summary(b):
    lines = []
    if "peak_gflops" in b:
        lines.append("peak fp32, one core: %s GFLOP/s" % fmt(b["peak_gflops"], ".1f"))
    for g in b.get("gemm", []) or []:
        lines.append("  gemm %-28s %8s GFLOP/s  %s of peak" % (
            g.get("name", "?"), fmt(g.get("gflops"), ".1f"), fmt(g.get("fraction_of_peak"), ".2f")))
    for s in b.get("diffwave_step", []) or []:
        lines.append("  diffwave step L=%s C=%s: %s GFLOP/s (%s of peak)" % (
            s.get("L"), s.get("C"), fmt(s.get("gflops"), ".1f"), fmt(s.get("fraction_of_peak"), ".2f")))
    for s in b.get("diffwave_rtf_16k", []) or []:
        lines.append("  diffwave 16 kHz L=%s C=%s T=%s: rtf %s" % (
            s.get("L"), s.get("C"), s.get("steps"), fmt(s.get("rtf"), ".3f")))
    if "modes" in b:
        cfg = b.get("modes_config", {})
        lines.append("engine modes (%s Hz, %s ch, block %s, one thread):" % (
            cfg.get("rate", "?"), cfg.get("channels", "?"), cfg.get("block", "?")))
        lines.append("  %-10s %9s %16s" % ("mode", "rtf", "latency"))
        for name, m in b["modes"].items():
            lines.append("  %-10s %9s %9s samples" % (name, fmt(m.get("rtf"), ".4f"), m.get("latency_samples")))
        for name, why in (b.get("modes_skipped") or {}).items():
            lines.append("  %-10s skipped: %s" % (name, why))
    for r in b.get("ring", []) or []:
        lines.append("ring %s B: %s messages/s" % (r.get("capacity_bytes"), fmt(r.get("messages_per_s"), ".0f")))
    if "mel2mel_runs" in b:
        lines.append("mel2mel runs: %d line(s)" % len(b["mel2mel_runs"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    b = merge(args.build)
    out = args.out or os.path.join(args.build, "bench.json")
    with open(out + ".tmp", "w") as f:
        json.dump(b, f, indent=2)
        f.write("\n")
    os.replace(out + ".tmp", out)
    print(summary(b))
    print("wrote %s (from %s)" % (out, ", ".join(b["sources"])))


if __name__ == "__main__":
    main()
