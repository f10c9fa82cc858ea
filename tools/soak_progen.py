"""Soak retrograd with random in-place / view programs (tests/progen.py); outside CI.

    python tools/soak_progen.py --n 5000 --backend python --remat none --seed 0 [--out DIR]

Prints: programs, invalid (NumPy itself raised / non-finite: discarded), accepted-correct,
refused (top reasons), fd_unreliable, failures by class; writes every failing program (source,
inputs, outcome) to --out.
"""
import argparse
import collections
import os
import pathlib
import random
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402

import progen  # noqa: E402
from fd import load_module  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--backend", default="python", choices=["python", "numba"])
    ap.add_argument("--remat", default="none", choices=list(progen.REMATS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-stmts", type=int, default=8)
    ap.add_argument("--out", default=None, help="directory for failing programs")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--keep-refused", default=None, metavar="TEXT",
                    help="also write refused programs whose message contains TEXT to --out/refused/")
    ap.add_argument("--replay", default=None, help="re-check the failing programs saved in this directory")
    a = ap.parse_args()
    if a.replay:
        return replay(pathlib.Path(a.replay), a.backend, a.remat)
    out = pathlib.Path(a.out or f"progen_failures_{a.backend}_{a.remat}_{a.seed}")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="progen_"))
    counts, refusals, failures, feats = collections.Counter(), collections.Counter(), collections.Counter(), collections.Counter()
    t0 = time.time()
    for i in range(a.n):
        rng = random.Random(a.seed * 1_000_003 + i)
        src, inputs, features = progen.generate(rng, a.max_stmts)
        try:
            compile(src, "<progen>", "exec")
        except SyntaxError:         # a generator bug: count it, never hide it
            counts["generator_error"] += 1
            print("generator produced invalid syntax:\n" + src, file=sys.stderr)
            continue
        fn = load_module(src, tmp).f
        o = progen.check(fn, inputs, a.backend, a.remat)
        counts[o.kind] += 1
        if o.kind == "refused":
            refusals[o.cls] += 1
            if not o.located:
                counts["refused_without_line"] += 1
        if o.kind in ("ok", "refused", "failure"):
            feats.update(features)
        keep = o.kind == "refused" and a.keep_refused is not None and a.keep_refused in f"{o.cls} {o.detail}"
        if o.kind == "failure" or keep:
            if o.kind == "failure":
                failures[o.cls] += 1
            where = out / "refused" if keep else out
            where.mkdir(parents=True, exist_ok=True)
            with open(where / f"{o.cls if not keep else 'refused'}_{a.seed}_{i}.py", "w") as fh:
                fh.write(src)
                fh.write(f"\n# config: backend={a.backend} remat={a.remat} seed={a.seed} index={i}\n")
                fh.write("# " + o.detail.replace("\n", "\n# ") + "\n")
                fh.write("import numpy as _np\nINPUTS = {\n")
                for k, v in inputs.items():
                    fh.write(f"    {k!r}: _np.array({v.tolist()!r}),\n")
                fh.write("}\n")
    n_valid = a.n - counts["invalid"] - counts["generator_error"]
    print(f"config: backend={a.backend} remat={a.remat} seed={a.seed}  ({time.time() - t0:.0f} s)")
    print(f"programs: {a.n}  invalid(discarded): {counts['invalid']}  checked: {n_valid}")
    print(f"accepted-correct: {counts['ok']}  refused: {counts['refused']} "
          f"({100.0 * counts['refused'] / max(n_valid, 1):.1f}%)  fd_unreliable: {counts['fd_unreliable']}  "
          f"FAILURES: {counts['failure']}  generator_error: {counts['generator_error']}")
    print(f"refusals that name no line of the user's file: {counts['refused_without_line']}")
    for cls, c in failures.most_common():
        print(f"  failure {cls}: {c}")
    print("top refusal reasons:")
    for r, c in refusals.most_common(a.top):
        print(f"  {c:5d}  {r}")
    print("feature coverage (checked programs):", dict(sorted(feats.items())))
    if counts["failure"]:
        print(f"failing programs written to {out}/")
    return 1 if counts["failure"] or counts["generator_error"] else 0


def replay(directory, backend, remat):
    """Re-run saved failing programs (e.g. after a fix); prints each one's outcome now."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="progen_replay_"))
    counts = collections.Counter()
    for path in sorted(directory.glob("*.py")):
        src = path.read_text()
        code = src.split("\n# config:")[0] + "\n"
        ns = {}
        exec(compile(src, str(path), "exec"), ns)
        o = progen.check(load_module(code, tmp).f, ns["INPUTS"], backend, remat)
        counts[o.kind] += 1
        print(f"{path.name}: {o.kind} {o.cls or ''} {o.detail.splitlines()[0][:160] if o.detail else ''}")
    print(dict(counts))
    return 1 if counts["failure"] else 0


if __name__ == "__main__":
    sys.exit(main())
