"""First call and warm start of the numba backend, for one or more source trees, interleaved.

    python benchmarks/bench_startup.py                       # this checkout
    python benchmarks/bench_startup.py /path/to/old/tree .   # before / after, in one run

For each workload of bench_numba_backend.py (small sizes) and each tree: a new process with empty
RETROGRAD_CACHE_DIR and NUMBA_CACHE_DIR times `rg.differentiate` + the first `.grad` (cold); a second new
process with the same directories times import + differentiate + first `.grad` (warm).  The trees take
turns per workload, so a change in the machine's load hits both."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_numba_backend as B  # noqa: E402

CASES = [("lorenz", 1000), ("heat", 50), ("lj", 40), ("mlp", 16), ("spring", 20)]


def main(trees):
    print("| workload | tree | cold first call (s) | warm: import + first call (s) | warm first call (s) |")
    print("|---|---|---:|---:|---:|")
    for case, n in CASES:
        for tree in trees:
            os.environ["PYTHONPATH"] = os.path.join(os.path.abspath(tree), "src")
            cache = tempfile.mkdtemp(prefix="retrograd-startup-")
            os.environ["NUMBA_CACHE_DIR"] = os.path.join(cache, "numba-cache")
            try:
                cold = B._run_startup(case, n, cache)
                warm = B._run_startup(case, n, cache)
                print(f"| {case} | {tree} | {cold['first_call_s']:.2f} | {warm['total_s']:.2f} | "
                      f"{warm['first_call_s']:.2f} |", flush=True)
            except Exception as exc:
                print(f"| {case} | {tree} | failed: {str(exc)[:80]} | | |", flush=True)
            finally:
                shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
