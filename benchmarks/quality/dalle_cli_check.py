"""What an independent check of `minigen sample dalle --prompt ... --out samples.npy` sees: for
each digit and seeds 0-2, the command's own output (the best 16 of 128 candidates by CLIP,
ranked), classified row by row by the shared digit classifier (`minigen.metrics.classify`).

    python benchmarks/quality/dalle_cli_check.py     # ~1 minute; writes results/dalle-cli-check.json
"""
import json
import os
import subprocess
import tempfile

import numpy as np

import minigen
from minigen.metrics import classify
W = "zero one two three four five six seven eight nine".split()
res = {}
for d, w in enumerate(W):
    alls, tops = [], []
    for s in (0, 1, 2):
        out = os.path.join(tempfile.gettempdir(), f"dalle-check-{d}-{s}.npy")
        subprocess.run(["minigen", "sample", "dalle", "--prompt", f"a handwritten {w}", "--n", "16", "--seed", str(s), "--out", out], check=True, capture_output=True)
        p = classify(minigen.tensor(np.load(out)))[1].argmax(1)
        alls.append((p == d).mean()); tops.append(float(p[0] == d))
    res[d] = (float(np.mean(alls)), float(np.mean(tops)))
    print(d, w, "all 16 rows %.3f" % res[d][0], "top-1 %.2f" % res[d][1], flush=True)
print("min all-rows", min(v[0] for v in res.values()), "mean", np.mean([v[0] for v in res.values()]))
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "dalle-cli-check.json")
with open(path, "w") as f:
    json.dump({"command": "minigen sample dalle --prompt 'a handwritten {w}' --n 16 --seed S --out X.npy",
               "seeds": [0, 1, 2], "per_digit": {str(d): {"all_16_rows": a, "top_1": t} for d, (a, t) in res.items()}},
              f, indent=1)
print("wrote", path)
