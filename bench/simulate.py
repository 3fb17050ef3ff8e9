"""Benchmark: images per second of `lensddim.lensing.simulate_lenses` against DeepLenseSim's recipe run through lenstronomy.

For each DeepLense model (and `varied`) and each substructure class we draw the parameters once and time, side by side:
  * `simulate_lenses(simulation=...)` on `--workers` threads (default 2): wall-clock images/s, the number a user sees;
  * `simulate_lenses` on 1 thread, in CPU time: images/s per core;
  * DeepLenseSim's recipe on the first `--lt-n` of the same systems, one image at a time (what a DeepLense user runs today): lenstronomy's
    rendering as the model was made (`lenstronomy_images`: ImageModel for Model I and `varied`, SimAPI with its multi-plane set-up for
    Models II and III) plus, for Model I, `simple_sim`'s noise (lenstronomy's `add_poisson` and `add_background`, numpy's Poisson draw), 1 thread;
  * the ratio of the two per-core rates.
Per-core rates are measured in CPU time (time.process_time), which stays meaningful when other jobs share the machine. Best of `--repeats` runs.
Run: `.venv/bin/python bench/simulate.py` (a few minutes on a quiet 2-core machine); one model: `--models model_i`.
Measured 4 December 2026 on a shared 2-core CPU (`--workers 1 --repeats 2`), Model I per-core ratio no_sub / cdm / vortex: 2.1 / 2.8 / 3.7 before
the table Poisson draw and the cached lens deflection, 3.1 / 3.6 / 4.1 after (3.2 / 3.6 / 4.1 in a second run with `--models model_i`).
"""
import os
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ[var] = "1"
import argparse, time, warnings
import numpy as np
from lensddim.lensing import simulate_lenses, sample_lens_params, lenstronomy_images, MODELS, SUBSTRUCTURES

def best_rate(fn, n, repeats, clock):
    "Best images/s over `repeats` calls of fn() that each make n images, timed with `clock`."
    best = float("inf")
    for _ in range(repeats):
        t = clock(); fn(); best = min(best, clock() - t)
    return n / best

def deeplensesim_recipe(params, model):
    "DeepLenseSim's images of `params`, one at a time through lenstronomy, with Model I's noise as simple_sim adds it."
    import lenstronomy.Util.image_util as image_util
    n = len(params["theta_E"])
    for i in range(n):
        one = {k: v[i:i + 1] for k, v in params.items()}
        image = lenstronomy_images(one, model)[0]
        if model == "model_i":
            t = float(params["exposure_time"][i])
            poisson, background = image_util.add_poisson(image, exp_time=t), image_util.add_background(image, sigma_bkd=0.01)
            np.random.poisson(np.clip(t * (image + poisson + background), 0, None))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=800, help="images per simulate_lenses call at 64 px (150 px uses n/4)")
    ap.add_argument("--lt-n", type=int, default=20, help="images made by the lenstronomy recipe per model and class")
    ap.add_argument("--workers", type=int, default=2, help="threads for the wall-clock simulate_lenses column")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (best is kept)")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS), help="models to measure (default: all)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    deeplensesim_recipe(sample_lens_params(1, seed=0), "model_iii")          # warm up lenstronomy's imports
    wall, cpu = time.perf_counter, time.process_time
    rows = []
    for model in args.models:
        n = args.n if MODELS[model]["size"] <= 64 else max(args.n // 4, 1)
        for sub in SUBSTRUCTURES:
            params = sample_lens_params(n, sub, model, seed=0)
            lt_params = {k: v[:args.lt_n] for k, v in params.items()}
            sim_wall = best_rate(lambda: simulate_lenses(n, sub, model, seed=0, workers=args.workers), n, args.repeats, wall)
            sim_cpu = best_rate(lambda: simulate_lenses(n, sub, model, seed=0, workers=1), n, args.repeats, cpu)
            lt_cpu = best_rate(lambda: deeplensesim_recipe(lt_params, model), len(lt_params["theta_E"]), args.repeats, cpu)
            rows.append((model, sub, MODELS[model]["size"], sim_wall, sim_cpu, lt_cpu, sim_cpu / lt_cpu))
            print(*rows[-1], flush=True) if os.environ.get("BENCH_VERBOSE") else None
    head = ("model", "class", "size", f"simulate wall {args.workers} thr", "simulate /core", "recipe /core", "ratio /core")
    print(f"{head[0]:10s} {head[1]:7s} {head[2]:>5s} " + " ".join(f"{h:>19s}" for h in head[3:]))
    for model, sub, size, *vals, ratio in rows:
        print(f"{model:10s} {sub:7s} {size:5d} " + " ".join(f"{v:19.0f}" for v in vals) + f" {ratio:19.1f}")
    print("(images per second; '/core' columns are single-threaded, in CPU time; ratio = simulate /core ÷ recipe /core)")

if __name__ == "__main__":
    main()
