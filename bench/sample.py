"""Sampling benchmarks, two of them:

* `quality`: quality against cost for a trained model. For each solver at 5, 10, 20, 50 and 100 network evaluations
  (NFE), generate `--n` images with `DiffusionModel.generate`, measure their KID (lensddim.kid, lensing features by
  default) against held-out real images and the images/s, and print a table that ends in the ratios that matter: for each
  solver, the fewest evaluations whose KID is within the error bar of DDIM at 50, and how many times fewer network calls
  and how many times more images/s that is. The KID is the mean over 100 random subsets of half the images (at most
  1000), its error bar their standard deviation. Also writes the table as CSV and a plot of KID against NFE.

      python bench/sample.py quality --model runs/quick --simulate 2000          # held-out lenses simulated as in the run
      python bench/sample.py quality --model model.keras --data path/to/npy/folder --n 1000
      python bench/sample.py quality --model runs/quick --solvers ddim dpmpp_2m --nfe 10 50 --spacing logsnr

  `--model` is a `.keras` file or a run folder holding `model.keras` (as `lensddim train` writes). Real images come from
  `--data` (a .npy file or folder, read with `lensddim.data.load_deeplense` and brought to the model's size by its `fit`)
  or are simulated (`--simulate N`, with the run's `config.json` settings when the run folder has one: substructure,
  simulated size; held-out seeds, never the training ones). Each solver runs on its usual ladder unless `--spacing` is
  given: DDIM and DDPM on "leading" (generate's default), DPM-Solver++ on "logsnr", Heun on "karras". The steps for an NFE
  target are the most whose network calls (`lensddim.sampler.network_calls`) do not exceed it; the table shows the NFE
  actually used. Every configuration is generated once untimed on one batch first (tracing), then timed.

* `speed`: the same small U-Net, ladder and images, with the step loop compiled into one graph vs a plain Python
  (eager) loop, side by side in one process; prints images/s and the ratio compiled / eager.

      python bench/sample.py speed                      # 32 images of 32x32, U-Net 16-32-64, steps 10 20 50
      python bench/sample.py speed --n 64 --steps 10 50 --widths 32 64 96 128 --image-size 64 --solver dpmpp_2m
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import keras

from lensddim.sampler import SOLVERS, SPACINGS, network_calls, sample, sampling_rates
from lensddim.unet import build_unet

USUAL_SPACING = {"ddim": "leading", "ddpm": "leading", "dpmpp_2m": "logsnr", "dpmpp_2m_sde": "logsnr", "heun": "karras"}
SOLVER_ETA = {"dpmpp_2m_sde": 1.0, "ddpm": 0.0}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    quality = modes.add_parser("quality", help="KID and images/s of a trained model for each solver and NFE")
    quality.add_argument("--model", required=True, help="a .keras file or a run folder with model.keras")
    source = quality.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="real images: a .npy file or folder (lensddim.data.load_deeplense)")
    source.add_argument("--simulate", type=int, metavar="N", help="simulate N held-out real images")
    quality.add_argument("--n", type=int, default=2000, help="images generated per configuration (default 2000)")
    quality.add_argument("--nfe", type=int, nargs="+", default=[5, 10, 20, 50, 100], help="network evaluations per image")
    quality.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    quality.add_argument("--spacing", choices=list(SPACINGS), help="one ladder for all solvers (default: each solver's usual)")
    quality.add_argument("--features", default="lensing", help="lensddim.kid feature space (default lensing)")
    quality.add_argument("--batch-size", type=int, default=256)
    quality.add_argument("--seed", type=int, default=0)
    quality.add_argument("--out", default="sample_quality", help="prefix of the CSV and PNG written (default sample_quality)")
    speed = modes.add_parser("speed", help="compiled vs eager step loop")
    speed.add_argument("--n", type=int, default=32, help="images generated per run (one batch)")
    speed.add_argument("--image-size", type=int, default=32)
    speed.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64], help="U-Net widths")
    speed.add_argument("--block-depth", type=int, default=2)
    speed.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50])
    speed.add_argument("--solver", default="ddim", choices=list(SOLVERS))
    speed.add_argument("--repeats", type=int, default=1, help="timed runs per configuration (best counts)")
    return parser.parse_args()


# ---------------------------------------------------------------- quality

def real_images(args, model):
    "Held-out real images in [0, 1], (n, size, size, 1), prepared the way the model's training data was."
    from lensddim.data import fit_images, load_deeplense
    fit = model.get_config().get("fit", "resize")
    if args.data:
        loaded = load_deeplense(args.data, size=model.image_size, fit=fit)
        return loaded[0] if isinstance(loaded, tuple) else loaded
    from lensddim.lensing import simulate_lenses
    run_config = Path(args.model) / "config.json"
    config = json.loads(run_config.read_text()) if run_config.is_file() else {}
    size = config.get("simulate_size", model.image_size)
    seed = 1_000_003 + int(config.get("seed", 0)) + args.seed     # never a training seed of lensddim train
    images = simulate_lenses(args.simulate, config.get("substructure", "no_sub"), "varied", size=size, seed=seed)
    return fit_images(images[..., 0], model.image_size, fit)[..., None].astype("float32")


def steps_for(solver, spacing, schedule, nfe):
    "The most steps whose network calls on this ladder do not exceed `nfe`, and those calls (None if even 1 step costs more)."
    best = None
    for steps in range(1, nfe + 1):
        calls = network_calls(solver, sampling_rates(schedule, steps, spacing)[1])
        if calls <= nfe:
            best = (steps, calls)
    return best


def quality(args):
    from lensddim.cli import load_model
    from lensddim.kid import extract_features, kid_score
    model = load_model(args.model)
    real = real_images(args, model)
    real_features = extract_features(real, args.features)
    subset_size = max(2, min(args.n, len(real), 2000) // 2)   # subsets of half the images: an error bar, not 0
    print(f"model {args.model}: {model.image_size} px, schedule {model.schedule.name}, prediction {model.prediction}; "
          f"{len(real)} real images; {args.n} generated per configuration; KID in {args.features} features, "
          f"100 subsets of {subset_size}; backend {keras.backend.backend()}")
    rows = []
    for solver in args.solvers:
        spacing = args.spacing or USUAL_SPACING[solver]
        eta = SOLVER_ETA.get(solver, 0.0)
        for nfe in args.nfe:
            found = steps_for(solver, spacing, model.schedule, nfe)
            if found is None:
                print(f"  {solver}: {nfe} evaluations are fewer than one step costs; skipped")
                continue
            steps, calls = found
            generate = lambda n: model.generate(n, steps=steps, solver=solver, spacing=spacing, eta=eta, seed=args.seed,
                                                batch_size=args.batch_size, verbose=0)
            generate(min(args.n, args.batch_size))                    # trace the walk for this ladder and batch shape
            start = time.perf_counter()
            images = generate(args.n)
            seconds = time.perf_counter() - start
            kid, kid_std = kid_score(real_features, extract_features(images, args.features), subsets=100,
                                     subset_size=subset_size, seed=args.seed)
            rows.append(dict(solver=solver, spacing=spacing, steps=steps, nfe=calls, kid=kid, kid_std=kid_std,
                             images_per_s=args.n / seconds))
            print(f"  {solver:12s} {spacing:8s} {steps:4d} steps {calls:4d} NFE  KID {kid:.5f} ± {kid_std:.5f}  "
                  f"{args.n / seconds:8.1f} img/s", flush=True)
    print_table(rows)
    write_outputs(rows, args.out)


def print_table(rows):
    header = f"{'solver':12s} {'spacing':8s} {'steps':>5s} {'NFE':>4s} {'KID':>10s} {'± std':>9s} {'images/s':>9s}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['solver']:12s} {r['spacing']:8s} {r['steps']:5d} {r['nfe']:4d} {r['kid']:10.5f} {r['kid_std']:9.5f} "
              f"{r['images_per_s']:9.1f}")
    reference = [r for r in rows if r["solver"] == "ddim" and r["nfe"] <= 50]
    if not reference:
        return
    reference = max(reference, key=lambda r: r["nfe"])
    print(f"\nagainst DDIM at {reference['nfe']} NFE (KID {reference['kid']:.5f} ± {reference['kid_std']:.5f}, "
          f"{reference['images_per_s']:.1f} img/s), within the error bar = |ΔKID| <= sqrt(std² + std_ddim²):")
    for solver in dict.fromkeys(r["solver"] for r in rows):
        matches = [r for r in rows if r["solver"] == solver and
                   abs(r["kid"] - reference["kid"]) <= math.hypot(r["kid_std"], reference["kid_std"])]
        if not matches:
            print(f"  {solver:12s} never within the error bar at the NFE measured")
            continue
        best = min(matches, key=lambda r: r["nfe"])
        print(f"  {solver:12s} from {best['nfe']:3d} NFE (KID {best['kid']:.5f} ± {best['kid_std']:.5f}): "
              f"{reference['nfe'] / best['nfe']:.1f}x fewer network calls, "
              f"{best['images_per_s'] / reference['images_per_s']:.1f}x the images/s")


def write_outputs(rows, prefix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(f"{prefix}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader(), writer.writerows(rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    kids = np.array([r["kid"] for r in rows])
    top = 3 * max(float(np.median(kids)), 1e-6)          # a few very bad points (one step of 5) would squash the rest
    for solver in dict.fromkeys(r["solver"] for r in rows):
        mine = [r for r in rows if r["solver"] == solver]
        line = ax.errorbar([r["nfe"] for r in mine], [min(r["kid"], top) for r in mine], yerr=[r["kid_std"] for r in mine],
                           marker="o", capsize=3, label=f"{solver} ({mine[0]['spacing']})")
        for r in mine:
            if r["kid"] > top:
                ax.annotate(f"{r['kid']:.3g}", (r["nfe"], top), textcoords="offset points", xytext=(4, -10), fontsize=8,
                            color=line[0].get_color())
    ax.set(xscale="log", xlabel="network evaluations per image", ylabel="KID (lower is better)",
           title="sample quality against cost", ylim=(min(0.0, float(kids.min()) * 1.1), top * 1.05))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{prefix}.png", dpi=120)
    print(f"\nwrote {prefix}.csv and {prefix}.png")


# ---------------------------------------------------------------- speed

def make_predict(network):
    "The network as a `sample` predictor: the U-Net takes noise variances (B,1,1,1)."
    def predict(noisy_images, signal_rates, noise_rates):
        return network([noisy_images, noise_rates**2], training=False)
    return predict


def best_time(run, repeats):
    run()  # warm-up: tracing, first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def speed(args):
    keras.utils.set_random_seed(0)
    network = build_unet(args.image_size, widths=tuple(args.widths), block_depth=args.block_depth)
    # the last conv is zero-initialised (output 0); give it small weights so the images actually change
    last = network.layers[-1]
    last.set_weights([w + np.float32(0.01) * np.random.default_rng(0).normal(size=w.shape).astype("float32")
                      for w in last.get_weights()])
    predict = make_predict(network)
    noise = np.random.default_rng(1).normal(size=(args.n, args.image_size, args.image_size, 1)).astype("float32")
    eta = 1.0 if args.solver == "dpmpp_2m_sde" else 0.0
    print(f"backend {keras.backend.backend()}, U-Net widths {tuple(args.widths)} block_depth {args.block_depth} "
          f"({network.count_params():,} params), {args.n} images of {args.image_size}x{args.image_size}, solver {args.solver}, "
          f"best of {args.repeats}")
    rows = []
    for steps in args.steps:
        signal_rates, noise_rates = sampling_rates("offset_cosine", steps)
        results, seconds = {}, {}
        for compiled in (True, False):
            def run():
                results[compiled] = sample(predict, noise, signal_rates, noise_rates, solver=args.solver, eta=eta, seed=0,
                                           batch_size=args.n, compile=compiled, verbose=0)
            seconds[compiled] = best_time(run, args.repeats)
        rows.append((steps, seconds[True], seconds[False], float(np.abs(results[True] - results[False]).max())))

    print(f"\n{'steps':>5} | {'compiled img/s':>14} | {'eager img/s':>11} | {'max |diff|':>10} | {'compiled / eager':>16}")
    print("-" * 70)
    for steps, t_comp, t_eager, diff in rows:
        print(f"{steps:>5} | {args.n / t_comp:>14.1f} | {args.n / t_eager:>11.1f} | {diff:>10.1e} | {t_eager / t_comp:>15.2f}x")


if __name__ == "__main__":
    arguments = parse_args()
    quality(arguments) if arguments.mode == "quality" else speed(arguments)
