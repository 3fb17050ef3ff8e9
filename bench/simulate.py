"""Benchmark: images per second of `lensddim.data.simulate_lenses` against lenstronomy on the same parameters.

For each substructure class and image size we draw the parameters once and time, side by side:
  * `simulate_lenses` on `--workers` threads (default 2): wall-clock images/s, the number a user sees;
  * `simulate_lenses` on 1 thread and `render_lenses` (noise-free rendering only, the part lenstronomy does) on 1 thread;
  * lenstronomy's ImageModel on the first `--lt-n` of the same systems (1 thread).
Single-thread rates are measured in CPU time (time.process_time), which stays meaningful when other jobs share the machine;
the ratio column compares simulate_lenses with lenstronomy per CPU core. Best of `--repeats` runs each.
Run: `.venv/bin/python bench/simulate.py` (about a minute on a quiet 2-core machine).
"""
import os
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ[var] = "1"
import argparse, time, warnings
import numpy as np
from lensddim.data import simulate_lenses, render_lenses, sample_lens_params, lenstronomy_images, SUBSTRUCTURES

def best_rate(fn, n, repeats, clock):
    "Best images/s over `repeats` calls of fn() that each make n images, timed with `clock`."
    best = float("inf")
    for _ in range(repeats):
        t = clock(); fn(); best = min(best, clock() - t)
    return n / best

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="images per simulate_lenses call at 64 px (150 px uses n/4)")
    ap.add_argument("--lt-n", type=int, default=30, help="images rendered by lenstronomy per class and size")
    ap.add_argument("--workers", type=int, default=2, help="threads for the wall-clock simulate_lenses column")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (best is kept)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    lenstronomy_images(sample_lens_params(1, seed=0), 16)          # warm up lenstronomy's imports
    wall, cpu = time.perf_counter, time.process_time
    rows = []
    for size in (64, 150):
        n = args.n if size == 64 else max(args.n // 4, 1)
        for sub in SUBSTRUCTURES:
            params = sample_lens_params(n, sub, seed=0)
            lt_params = {k: v[:args.lt_n] for k, v in params.items()}
            sim_wall = best_rate(lambda: simulate_lenses(n, size, sub, seed=0, workers=args.workers), n, args.repeats, wall)
            sim_cpu = best_rate(lambda: simulate_lenses(n, size, sub, seed=0, workers=1), n, args.repeats, cpu)
            ren_cpu = best_rate(lambda: render_lenses(params, size, workers=1), n, args.repeats, cpu)
            lt_cpu = best_rate(lambda: lenstronomy_images(lt_params, size), args.lt_n, args.repeats, cpu)
            rows.append((sub, size, sim_wall, sim_cpu, ren_cpu, lt_cpu, sim_cpu / lt_cpu))
    head = ("class", "size", f"simulate wall {args.workers}thr", "simulate /core", "render /core", "lenstronomy /core", "ratio sim/lenstronomy")
    print(f"{head[0]:8s} {head[1]:>5s} " + " ".join(f"{h:>21s}" for h in head[2:]))
    for sub, size, *vals, ratio in rows:
        print(f"{sub:8s} {size:5d} " + " ".join(f"{v:21.0f}" for v in vals) + f" {ratio:21.1f}")
    print("(images per second; '/core' columns are single-threaded, in CPU time)")

if __name__ == "__main__":
    main()
