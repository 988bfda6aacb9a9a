#!/usr/bin/python3
"""The mode-2 quality gate (issue 18), decided from `make eval`'s measurement and written into the model file.

Mode 2 (the DiffWave refiner on mode 1's output, or any vocoder) is offered as ready only when, on eval.py's
held-out clips (build/eval.json: method "mel2mel_diffwave" is the CLI's mode 2, "mel2mel_phase" its mode 1, both
on the same Mel2Mel):
  - in every degraded condition, mode 2's mean log-mel L1, MR-STFT (16 kHz) and full-band MR-STFT are each no
    worse than mode 1's (NO_WORSE_TOL relative, for the rounding of a mean over 40 clips);
  - on the phone and full-chain conditions, its log-mel L1 is at least 3 % below mode 1's (BETTER_BY);
  - on clean music it moves the sound no more than mode 1 does (log-mel L1 against the clean clip).
decide() returns (passed, report); `vocoder_gate.py EVAL.json --write MODEL` writes the metadata entry
"vocoder_gate" = {"passed": ..., "measured": {...}, "bars": {...}} into MODEL (a temporary file renamed over it,
so a failed write loses nothing); engine/vocoder_gate.c reads "passed".  Without --write it only prints.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

METRICS = ("logmel_l1", "mrstft", "mrstft_fb")
BETTER_ON = ("phone", "full")
BETTER_BY = 0.03
NO_WORSE_TOL = 0.002
MODE1, MODE2 = "mel2mel_phase", "mel2mel_diffwave"


def decide(conditions):
    """conditions: eval.json's "conditions" ({cond: {method: {metric: mean}}}) -> (passed, report), report a
    dict of per-condition measurements and every failed bar in "failed" (empty when passed)."""
    failed, measured = [], {}
    for cond, ms in conditions.items():
        if MODE1 not in ms or MODE2 not in ms:
            failed.append("%s: no %s measurement" % (cond, MODE1 if MODE1 not in ms else MODE2))
            continue
        m1, m2 = ms[MODE1], ms[MODE2]
        measured[cond] = {k: [m1.get(k), m2.get(k)] for k in METRICS}
        if cond == "clean":
            if m2["logmel_l1"] > m1["logmel_l1"] * (1 + NO_WORSE_TOL):
                failed.append("clean: mode 2 moves clean music by %.3f, mode 1 by %.3f" % (
                    m2["logmel_l1"], m1["logmel_l1"]))
            continue
        for k in METRICS:
            if m1.get(k) is None or m2.get(k) is None:
                failed.append("%s: %s not measured" % (cond, k))
            elif m2[k] > m1[k] * (1 + NO_WORSE_TOL):
                failed.append("%s: %s %.3f, mode 1 %.3f" % (cond, k, m2[k], m1[k]))
        if cond in BETTER_ON and m2["logmel_l1"] > m1["logmel_l1"] * (1 - BETTER_BY):
            failed.append("%s: log-mel L1 %.3f, not %d %% under mode 1's %.3f" % (
                cond, m2["logmel_l1"], round(100 * BETTER_BY), m1["logmel_l1"]))
    for cond in BETTER_ON + ("clean",):
        if cond not in conditions:
            failed.append("%s: condition not evaluated" % cond)
    return not failed, {"measured": measured, "failed": failed}


def write_gate(model, passed, report, eval_path):
    """Rewrites MODEL's metadata entry "vocoder_gate"; tensors and other metadata unchanged."""
    from export import load_file, save_file
    tensors, meta = load_file(model)
    meta["vocoder_gate"] = json.dumps({
        "passed": bool(passed), "measured": report["measured"], "failed": report["failed"],
        "bars": {"no_worse_than_mode1": list(METRICS), "better_by": BETTER_BY, "better_on": list(BETTER_ON),
                 "tolerance": NO_WORSE_TOL},
        "eval": os.path.basename(eval_path), "date": time.strftime("%Y-%m-%d")})
    tmp = model + ".gate.tmp"
    save_file(tensors, tmp, meta)
    os.replace(tmp, model)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("eval_json")
    ap.add_argument("--write", metavar="MODEL", help="write the verdict into this model file")
    a = ap.parse_args()
    with open(a.eval_json) as f:
        res = json.load(f)
    passed, report = decide(res.get("conditions", {}))
    for cond, m in report["measured"].items():
        print("%-7s " % cond + "  ".join("%s %.3f -> %.3f" % (k, v[0], v[1]) for k, v in m.items()
                                          if v[0] is not None and v[1] is not None))
    for f in report["failed"]:
        print("not passed: " + f)
    print("vocoder gate: %s" % ("PASSED" if passed else "not passed"))
    if a.write:
        write_gate(a.write, passed, report, a.eval_json)
        print("wrote the verdict into %s" % a.write)


if __name__ == "__main__":
    main()
