#!/usr/bin/python3
"""Markdown tables for a model card from `make eval`'s build/eval.json (train/eval.py), so the card's numbers are
the eval's, not copied by hand.  Optionally a second eval.json (--before) adds a column with the same method's
log-mel L1 from an earlier run, to show a change.

Prints: the log-mel L1 table per condition (input, classical, default mode, default at 30 dB, network, default /
input, clips worse by 5 % in brackets), the rock/guitar group's, the MR-STFT table, and the targets.
Run: /usr/bin/python3 train/card_tables.py [build/eval.json] [--before build/eval_old.json]"""
import argparse
import json

METHODS = (("input", "input"), ("ideal_gains", "ideal gains (ceiling)"), ("classical", "classical"),
           ("mel2mel_phase", "default mode"),
           ("mel2mel_phase_30db", "default, 30 dB"), ("mel2mel_net", "network"))


def cell(row, key="logmel_l1"):
    if row is None:
        return "-"
    v = row.get(key)
    if v is None:
        return "-"
    w = row.get("worse_than_input", {})
    if key in w:
        return "%.3f (%d/%d)" % (v, w[key], w["of"])
    return "%.3f" % v


def logmel_table(conds, before=None):
    head = [name for _, name in METHODS] + ["default / input"]
    if before is not None:
        head.append("default, before")
    lines = ["| condition | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for cond, rows in conds.items():
        cells = [cell(rows.get(m)) for m, _ in METHODS]
        d, i = rows.get("mel2mel_phase"), rows.get("input")
        ratio = "-" if cond == "clean" or not d or not i else "%.3f" % (d["logmel_l1"] / i["logmel_l1"])
        cells.append(ratio)
        if before is not None:
            b = before.get(cond, {}).get("mel2mel_phase")
            cells.append(cell(b))
        lines.append("| %s | %s |" % (cond, " | ".join(cells)))
    return "\n".join(lines)


def mrstft_table(conds):
    lines = ["| condition | MR-STFT 16 kHz | full-band MR-STFT |", "|---|---|---|"]
    for cond, rows in conds.items():
        get = lambda m, k: "%.3f" % rows[m][k] if m in rows and rows[m].get(k) is not None else "-"  # noqa: E731
        lines.append("| %s | %s | %s |" % (cond, " / ".join(get(m, "mrstft") for m in ("input", "classical", "mel2mel_phase")),
                                           " / ".join(get(m, "mrstft_fb") for m in ("input", "classical", "mel2mel_phase"))))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("eval_json", nargs="?", default="build/eval.json")
    ap.add_argument("--before", default="")
    a = ap.parse_args()
    d = json.load(open(a.eval_json))
    b = json.load(open(a.before)) if a.before else None
    print("log-mel L1 (clips worse than the input by 5 %%; clean: moved by more than 0.15), %d clips x %g s, "
          "model %s\n" % (d["clips"], d["seconds"], d.get("model")))
    print(logmel_table(d["conditions"], b["conditions"] if b else None))
    if d.get("rock"):
        print("\nrock/guitar group\n")
        print(logmel_table(d["rock"], b.get("rock") if b else None))
    print("\nMR-STFT (input / classical / default mode)\n")
    print(mrstft_table(d["conditions"]))
    print("\ntargets: " + json.dumps(d.get("targets", {}), indent=1))


if __name__ == "__main__":
    main()
