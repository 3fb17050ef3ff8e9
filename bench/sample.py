"""Sampling benchmarks, two of them:

* `quality`: quality against cost for a trained model (default: the shipped `quick` model). For each solver at 5, 10, 20,
  50 and 100 network evaluations (NFE), generate `--n` images with `DiffusionModel.generate` (a conditional model: `--n`
  of each class, at its own guidance scale), measure their KID against held-out real images and the images/s, and print
  a table that ends in the ratios that matter: for each solver, the fewest evaluations whose KID is as good as DDIM's at 50
  (lower, or higher by at most the two error bars combined), and how many times fewer network calls and how many times
  more images/s that is. The KID is the mean
  over 100 random subsets of half the images, its error bar their standard deviation; for a conditional model the KID of
  each class is taken against the real lenses of that class, in the features of the shipped classifier of the model's
  DeepLense model (`lensing:<model>`), and the table's KID is their mean over classes (error bar: of that mean), beside
  each class's KID and the classifier's agreement (the share of lenses generated as class c that it calls c). Also
  writes the table as CSV and a plot of KID against NFE.

      python bench/sample.py quality --n 400 --out nbs/images/sample_quality   # the shipped quick model, all five solvers, 400 per
                                                                               # class: 59 minutes on 2 CPU cores (measured)
      python bench/sample.py quality --replot nbs/images/sample_quality.csv    # the table and plot again, generating nothing
      python bench/sample.py quality --model runs/quick --data path/to/class/folders --n 1000
      python bench/sample.py quality --model runs/quick --solvers ddim dpmpp_2m --nfe 10 50 --spacing logsnr

  `--model` is a shipped model's name, a `.keras` file or a run folder holding `model.keras` (as `lensddim train`
  writes). Real images come from `--data` (a .npy file or folder, class folders for a conditional model, read with
  `lensddim.data.load_deeplense` and brought to the model's size as its training data was) or are simulated
  (`--simulate N`, default 1000: per class for a conditional model, of its DeepLense model, seeds 7000 + class index as
  in bench/quick.py; for an unconditional run, with its `config.json` settings; never a training seed). Each solver runs
  on its usual ladder unless `--spacing` is given: DDIM and DDPM on generate's default (`default_spacing` of the
  model's schedule: "uniform" for the offset cosine schedule), DPM-Solver++ on "logsnr", Heun on "karras". The steps
  for an NFE target are the most whose network calls (`lensddim.sampler.network_calls`) do not exceed it; the table
  shows the NFE actually used. With guidance each network evaluation is one guided pair (conditional and unconditional
  in one batch), the same for every solver. Every configuration is generated once untimed on one batch first
  (tracing), then timed.

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

from lensddim.sampler import SOLVERS, SPACINGS, network_calls, sample, sampling_rates, solver_settings
from lensddim.unet import build_unet


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    quality = modes.add_parser("quality", help="KID and images/s of a trained model for each solver and NFE")
    quality.add_argument("--model", default="quick", help="a shipped model's name, a .keras file or a run folder with model.keras "
                         "(default: the shipped quick model)")
    source = quality.add_mutually_exclusive_group()
    source.add_argument("--data", help="real images: a .npy file or folder, class folders for a conditional model "
                        "(lensddim.data.load_deeplense)")
    source.add_argument("--simulate", type=int, metavar="N", default=1000,
                        help="simulate N held-out real images (per class for a conditional model; default 1000)")
    quality.add_argument("--n", type=int, default=500, help="images generated per configuration, per class for a conditional "
                         "model (default 500)")
    quality.add_argument("--nfe", type=int, nargs="+", default=[5, 10, 20, 50, 100], help="network evaluations per image")
    quality.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    quality.add_argument("--spacing", choices=list(SPACINGS), help="one ladder for all solvers (default: each solver's usual)")
    quality.add_argument("--features", help="lensddim.kid feature space (default: lensing:<the model's DeepLense model> for a "
                         "conditional model, lensing otherwise)")
    quality.add_argument("--guidance-scale", type=float, help="classifier-free guidance (default: the model's own, from its config)")
    quality.add_argument("--batch-size", type=int, default=256)
    quality.add_argument("--seed", type=int, default=0)
    quality.add_argument("--out", default="sample_quality", help="prefix of the CSV and PNG written (default sample_quality)")
    quality.add_argument("--replot", metavar="CSV", help="generate nothing: print the table and redraw the plot of a CSV this "
                         "benchmark wrote (to --out)")
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
    """Held-out real images in [0, 1], prepared the way the model's training data was: {class: (n, size, size, 1)} for a
    conditional model (its classes), {None: images} for an unconditional one."""
    from lensddim.data import data_seeds
    from lensddim.evaluate import load_real, prepare_real
    from lensddim.lensing import simulate_lenses
    from lensddim.runs import read_run
    size, fit, classes = model.image_size, model.image_fit, model.class_names
    if args.data:
        real = load_real(args.data)
        if None in real:
            if classes:
                raise SystemExit(f"--data {args.data}: a conditional model needs class folders ({', '.join(classes)})")
            return {None: prepare_real(real[None], size, fit)}
        if not classes:
            return {None: prepare_real(np.concatenate(list(real.values())), size, fit)}
        missing = [c for c in classes if c not in real]
        if missing:
            raise SystemExit(f"--data {args.data}: no folder for class(es) {', '.join(missing)} (found {', '.join(real)})")
        return {c: prepare_real(real[c], size, fit) for c in classes}
    simulation = model.simulation or "model_iii"
    if classes:   # the evaluation seeds, never training seeds of lensddim train
        return {c: prepare_real(simulate_lenses(args.simulate, c, simulation, seed=s), size, fit)
                for c, s in zip(classes, data_seeds("evaluation", 0, len(classes)))}
    run = Path(args.model) / "run.json"
    config = (read_run(args.model).get("run") or {}) if run.is_file() else {}
    seed = data_seeds("evaluation", 1 + int(config.get("seed", 0)) + args.seed, 1)[0]
    images = simulate_lenses(args.simulate, config.get("substructure", "no_sub"), simulation, seed=seed)
    return {None: prepare_real(images, size, fit)}


def steps_for(solver, spacing, schedule, nfe):
    "The most steps whose network calls on this ladder do not exceed `nfe`, and those calls (None if even 1 step costs more)."
    best = None
    for steps in range(1, nfe + 1):
        calls = network_calls(solver, sampling_rates(schedule, steps, spacing)[1])
        if calls <= nfe:
            best = (steps, calls)
    return best


def replot(args):
    "The table and the plot again from a CSV of `quality` (numbers back from text)."
    with open(args.replot, newline="") as f:
        rows = [{k: v if k in ("solver", "spacing") else int(v) if k in ("steps", "nfe") else float(v) for k, v in r.items()}
                for r in csv.DictReader(f)]
    print_table(rows)
    write_outputs(rows, args.out)


def quality(args):
    if args.replot:
        return replot(args)
    from lensddim.evaluate import class_agreement
    from lensddim.kid import extract_features, kid_score
    from lensddim.presets import load_model
    model = load_model(args.model)
    real = real_images(args, model)
    conditional = model.class_names is not None
    guidance = model.sampling_settings(guidance_scale=args.guidance_scale, labels=[0] if conditional else None)["guidance_scale"]
    features = args.features or (f"lensing:{model.simulation or 'model_iii'}" if conditional else "lensing")
    real_features = {c: extract_features(x, features) for c, x in real.items()}
    n_real = min(len(x) for x in real.values())
    subset_size = max(2, min(args.n, n_real, 2000) // 2)   # subsets of half the images: an error bar, not 0
    print(f"model {args.model}: {model.image_size} px, schedule {model.schedule.name}, prediction {model.prediction}; "
          + (f"classes {', '.join(model.class_names)}, guidance {guidance:g} (each network evaluation is a guided pair); "
             if conditional else "") +
          f"{n_real} real images{' per class' if conditional else ''}; {args.n} generated{' per class' if conditional else ''} "
          f"per configuration; KID in {features} features, 100 subsets of {subset_size}; backend {keras.backend.backend()}")
    rows = []
    for solver in args.solvers:
        eta, spacing = solver_settings(solver, model.schedule, spacing=args.spacing)   # the solver's usual ladder and its eta
        for nfe in args.nfe:
            found = steps_for(solver, spacing, model.schedule, nfe)
            if found is None:
                print(f"  {solver}: {nfe} evaluations are fewer than one step costs; skipped")
                continue
            steps, calls = found
            def generate(n, k):
                return model.generate(n, steps=steps, solver=solver, spacing=spacing, eta=eta, seed=args.seed + (k or 0),
                                      labels=k, guidance_scale=guidance, batch_size=args.batch_size, verbose=0)
            labels = {c: k if conditional else None for k, c in enumerate(real)}
            generate(min(args.n, args.batch_size), next(iter(labels.values())))   # trace the walk for this ladder and batch shape
            kids, stds, agreements, seconds = {}, {}, {}, 0.0
            for c, label in labels.items():
                start = time.perf_counter()
                images = generate(args.n, label)
                seconds += time.perf_counter() - start
                kids[c], stds[c] = kid_score(real_features[c], extract_features(images, features), subsets=100,
                                             subset_size=subset_size, seed=args.seed)
                if c is not None:
                    agreements[c] = class_agreement(images, c, model.simulation or "model_iii")
            kid = float(np.mean(list(kids.values())))
            kid_std = float(np.sqrt(np.sum(np.square(list(stds.values()))))) / len(kids)   # error bar of the mean over classes
            row = dict(solver=solver, spacing=spacing, steps=steps, nfe=calls, kid=kid, kid_std=kid_std,
                       images_per_s=args.n * len(real) / seconds)
            if conditional:
                row.update({f"kid_{c}": kids[c] for c in real})
                row.update({f"agreement_{c}": agreements[c] for c in real}, agreement=float(np.mean(list(agreements.values()))))
            rows.append(row)
            extra = ("  per class " + " / ".join(f"{kids[c]:.3f}" for c in real) +
                     f"  agreement {row['agreement']:.3f}") if conditional else ""
            print(f"  {solver:12s} {spacing:8s} {steps:4d} steps {calls:4d} NFE  KID {kid:.5f} ± {kid_std:.5f}  "
                  f"{row['images_per_s']:8.1f} img/s{extra}", flush=True)
    print_table(rows)
    write_outputs(rows, args.out)


def ddim_reference(rows):
    "The row everything is compared with: DDIM at the most evaluations up to 50 (None without DDIM rows)."
    ddim = [r for r in rows if r["solver"] == "ddim" and r["nfe"] <= 50]
    return max(ddim, key=lambda r: r["nfe"]) if ddim else None


def print_table(rows):
    classes = [key[4:] for key in rows[0] if key.startswith("kid_") and key != "kid_std"]
    header = (f"{'solver':12s} {'spacing':8s} {'steps':>5s} {'NFE':>4s} {'KID':>9s} {'± std':>8s} {'images/s':>9s}" +
              "".join(f" {'KID ' + c:>11s}" for c in classes) + (f" {'agreement':>9s}" if classes else ""))
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['solver']:12s} {r['spacing']:8s} {r['steps']:5d} {r['nfe']:4d} {r['kid']:9.4f} {r['kid_std']:8.4f} "
              f"{r['images_per_s']:9.1f}" + "".join(f" {r['kid_' + c]:11.4f}" for c in classes) +
              (f" {r['agreement']:9.3f}" if classes else ""))
    reference = ddim_reference(rows)
    if reference is None:
        return
    print(f"\nagainst DDIM at {reference['nfe']} NFE (KID {reference['kid']:.5f} ± {reference['kid_std']:.5f}, "
          f"{reference['images_per_s']:.1f} img/s), as good or better = KID - KID_ddim <= sqrt(std² + std_ddim²):")
    for solver in dict.fromkeys(r["solver"] for r in rows):
        matches = [r for r in rows if r["solver"] == solver and
                   r["kid"] - reference["kid"] <= math.hypot(r["kid_std"], reference["kid_std"])]
        if not matches:
            print(f"  {solver:12s} never as good at the NFE measured")
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
        line = ax.errorbar([r["nfe"] for r in mine], [min(r["kid"], top) for r in mine],
                           yerr=[0.0 if r["kid"] > top else r["kid_std"] for r in mine],
                           marker="o", capsize=3, label=f"{solver} ({mine[0]['spacing']})")
        for r in mine:
            if r["kid"] > top:
                ax.annotate(f"{r['kid']:.3g}", (r["nfe"], top), textcoords="offset points", xytext=(4, -10), fontsize=8,
                            color=line[0].get_color())
    reference = ddim_reference(rows)
    if reference is not None:                            # the goal: DDIM at 50 evaluations and its error bar
        ax.axhspan(reference["kid"] - reference["kid_std"], reference["kid"] + reference["kid_std"], color="0.85", zorder=0,
                   label=f"DDIM at {reference['nfe']} ± std")
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
    eta = SOLVERS[args.solver].eta
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
