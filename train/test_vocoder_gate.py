#!/usr/bin/python3
"""Self-test of the mode-2 quality gate (train/vocoder_gate.py): the decision on hand-made eval results, and the
verdict written into a copy of a model file (tensors kept, the C engine's "passed" key set).  numpy only.
Prints "test_vocoder_gate: N passed, N failed", exits nonzero on failure."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export import load_file  # noqa: E402
from selftest import Checks  # noqa: E402
import vocoder_gate as G  # noqa: E402

check = Checks("test_vocoder_gate")
ROOT = os.path.dirname(HERE)


def conds(scale2=1.0, clean2=0.03, override=None):
    """eval.json-like conditions: mode 1 fixed, mode 2 = mode 1 x scale2 (clean: its own log-mel L1)."""
    out = {}
    for c in ("clean", "noise", "reverb", "eq", "full", "phone"):
        m1 = {"logmel_l1": 0.03 if c == "clean" else 1.5, "mrstft": 0.2 if c == "clean" else 1.0,
              "mrstft_fb": 0.3 if c == "clean" else 1.2}
        m2 = {k: v * scale2 for k, v in m1.items()}
        if c == "clean":
            m2["logmel_l1"] = clean2
        out[c] = {"input": dict(m1), G.MODE1: m1, G.MODE2: m2}
    for (c, k), v in (override or {}).items():
        out[c][G.MODE2][k] = v
    return out


ok, rep = G.decide(conds(1.0))
check(not ok and any("phone" in f for f in rep["failed"]) and any("full" in f for f in rep["failed"]),
      "mode 2 equal to mode 1 is not 3 %% better on phone and full: %s" % rep["failed"])
ok, rep = G.decide(conds(0.96))
check(ok and not rep["failed"], "4 %% better everywhere passes: %s" % rep["failed"])
ok, rep = G.decide(conds(0.96, override={("reverb", "mrstft_fb"): 1.3}))
check(not ok and rep["failed"] == ["reverb: mrstft_fb 1.300, mode 1 1.200"],
      "worse on one metric in one condition fails, named: %s" % rep["failed"])
ok, rep = G.decide(conds(0.96, clean2=0.05))
check(not ok and rep["failed"][0].startswith("clean:"), "moves clean music more than mode 1: %s" % rep["failed"])
c = conds(0.96)
del c["phone"][G.MODE2]
ok, rep = G.decide(c)
check(not ok and any("phone: no" in f for f in rep["failed"]), "a missing mode-2 measurement fails: %s" %
      rep["failed"])
c = conds(0.96)
del c["full"]
ok, rep = G.decide(c)
check(not ok and "full: condition not evaluated" in rep["failed"], "a missing condition fails: %s" % rep["failed"])

# The verdict written into a model file: tensors unchanged, "passed" as decided, read by the CLI's gate check.
src = os.path.join(ROOT, "tests", "golden", "engine_refiner_id.safetensors")
with tempfile.TemporaryDirectory() as d:
    model = os.path.join(d, "m.safetensors")
    shutil.copy(src, model)
    t0, m0 = load_file(src)
    ev = os.path.join(d, "eval.json")
    for scale, want in ((1.0, False), (0.96, True)):
        with open(ev, "w") as f:
            json.dump({"conditions": conds(scale)}, f)
        r = subprocess.run([sys.executable, os.path.join(HERE, "vocoder_gate.py"), ev, "--write", model],
                           capture_output=True, text=True)
        t1, m1 = load_file(model)
        g = json.loads(m1.get("vocoder_gate", "{}"))
        check(r.returncode == 0 and g.get("passed") is want,
              "written verdict passed=%s, want %s (rc %d: %s)" % (g.get("passed"), want, r.returncode, r.stderr))
        check(set(t1) == set(t0) and all((t1[k] == t0[k]).all() for k in t0) and
              all(m1[k] == m0[k] for k in m0 if k != "vocoder_gate"),
              "tensors and other metadata kept (scale %g)" % scale)
        check(("PASSED" if want else "not passed") in r.stdout, "printed verdict: %s" % r.stdout[-200:])
    check(not [f for f in os.listdir(d) if f.endswith(".tmp")], "no temporary file left")
check.finish()
