"""Training benchmarks, two of them.

`objectives`: min-SNR-γ loss weighting against the plain loss, at equal steps, on the command line's quick preset (a
3-class conditional model of DeepLense Model III at 32 px). Two `DiffusionModel`s are trained with `lensddim.runs.train`
from the same seed on the same simulated lenses for the same number of steps, one with `min_snr_gamma=None`, one with
`min_snr_gamma=5` (Hang et al. 2023); both then generate each class (the preset's sampling steps and guidance, same seeds) and
their class agreements (the shipped classifier) and KIDs (lensing features) against held-out lenses of the class are printed
side by side, with the KID difference in units of its error bar. On a 2-core CPU the full preset takes about 30 minutes (two
runs of about 14 minutes and the scores).

    .venv/bin/python bench/train.py objectives                           # quick preset: 3 x 4000 lenses, 32 px, 15 epochs
    .venv/bin/python bench/train.py objectives --epochs 1 --n-train 64 --kid-n 32   # a one-minute check that it runs
    .venv/bin/python bench/train.py objectives --gamma 1

`throughput` (the default): training throughput of `lensddim.model.DiffusionModel` next to a bare U-Net train step on
the same data, as images/s and as a fraction of this machine's measured matrix-multiply rate.

    .venv/bin/python bench/train.py                      # small (16-32-64 @ 32 px) and default (32-64-96-128 @ 64 px)
    .venv/bin/python bench/train.py throughput --steps 20 --batch 64 --configs small
    .venv/bin/python bench/train.py throughput --jit     # XLA-compiled train steps (worth it on GPUs)

Two implementations are timed for each U-Net size, in the same process, one after the other:

* `DiffusionModel`: the library's train step (normalise the batch, draw t and the noise, diffuse, U-Net forward +
  backward, AdamW, EMA update of the second U-Net, two loss metrics);
* `bare U-Net`: the same U-Net (`lensddim.unet.build_unet`, same widths) compiled with the same AdamW and MAE loss,
  fed noisy images, noise variances and noise targets computed once beforehand: forward + backward + AdamW only.

Their ratio is what the diffusion bookkeeping (EMA, normalisation, noise drawing, metrics) costs on top of the
network itself. Each implementation first runs an untimed `model.fit` of `--warmup` steps (tracing, start-up). Then
the two take turns, `--rounds` times each, with one `model.fit` of several steps per turn (taking turns spreads any
change in the load of a shared machine over both). A callback records the time at the end of every batch; the first
step of each fit (which also holds the fit's start-up) is dropped, and the time per step is the median of the rest
(`--steps` of them per implementation; the median ignores the odd slow step).

FLOPs are counted per layer from the built U-Net: multiply-accumulates of every Conv2D and Dense
(output positions × kernel size), × 2 FLOPs per MAC, × 3 for forward + backward (the backward pass costs about twice
the forward). Normalisation, activations, resampling and the EMA update are not counted, so the fraction is a slight
underestimate of the work done. The reference rate is a float32 `tf.matmul` of two 2048 × 2048 matrices, measured in
the same process with the same thread settings, before and after the training runs (the higher of the two is used).
A default run takes about 1–2 minutes on a 2-core CPU.
"""
import os
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")   # numpy BLAS single-threaded; TensorFlow keeps its own thread pool
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import sys
import time

import numpy as np
import keras
import tensorflow as tf

from lensddim.model import DiffusionModel
from lensddim.unet import build_unet, network_flops

CONFIGS = {
    "small": dict(image_size=32, widths=(16, 32, 64), block_depth=2),
    "default": dict(image_size=64, widths=(32, 64, 96, 128), block_depth=2),
}


def matmul_gflops(n=2048, repeats=20):
    "Measured float32 matmul rate in GFLOP/s (best of five timings)."
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))

    @tf.function
    def run(a, b):
        c = a
        for _ in range(repeats):
            c = tf.matmul(c, b) * 1e-3
        return c

    run(a, b).numpy()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        run(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best / 1e9


class StepTimes(keras.callbacks.Callback):
    "Records `time.perf_counter()` at the start of training and at the end of every batch."
    def on_train_begin(self, logs=None):
        self.times = [time.perf_counter()]

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def fit_step_times(model, dataset, steps):
    "Times of steps 2..`steps`+1 of one `model.fit` of `steps + 1` steps (the first, with the fit's start-up, dropped)."
    clock = StepTimes()
    model.fit(dataset, epochs=1, steps_per_epoch=steps + 1, shuffle=False, verbose=0, callbacks=[clock])
    return list(np.diff(clock.times)[1:])


def diffusion_setup(config, images, batch, jit_compile):
    "A compiled `DiffusionModel` and its data set of image batches."
    model = DiffusionModel(**config, seed=0)
    model.adapt(images)
    model.compile(jit_compile=jit_compile)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True).repeat().prefetch(2)
    return model, dataset


def bare_unet_setup(config, images, batch, jit_compile):
    "The same U-Net alone, compiled with AdamW as DiffusionModel.compile and MAE to noise targets computed once."
    network = build_unet(config["image_size"], widths=config["widths"], block_depth=config["block_depth"])
    network.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4), loss="mae",
                    jit_compile=jit_compile)
    rng = np.random.default_rng(1)
    noises = rng.normal(size=images.shape).astype("float32")
    noise_rates = rng.uniform(0.1, 0.99, size=(len(images), 1, 1, 1)).astype("float32")
    noisy = np.sqrt(1 - noise_rates**2) * images + noise_rates * noises
    dataset = (tf.data.Dataset.from_tensor_slices(((noisy, noise_rates**2), noises))
               .batch(batch, drop_remainder=True).repeat().prefetch(2))
    return network, dataset


def step_times(config, batch, warmup, steps, rounds, jit_compile):
    "Median seconds per train step of `DiffusionModel` and of the bare U-Net, timed in turns; and the U-Net."
    images = np.random.default_rng(0).uniform(size=(batch * 4, config["image_size"], config["image_size"], 1))
    images = images.astype("float32")
    runs = {"DiffusionModel": diffusion_setup(config, images, batch, jit_compile),
            "bare U-Net": bare_unet_setup(config, images, batch, jit_compile)}
    for model, dataset in runs.values():
        model.fit(dataset, epochs=1, steps_per_epoch=warmup, shuffle=False, verbose=0)  # trace + warm up
    times = {name: [] for name in runs}
    per_round = [steps // rounds + (r < steps % rounds) for r in range(rounds)]
    for round_steps in per_round:
        for name, (model, dataset) in runs.items():
            times[name] += fit_step_times(model, dataset, round_steps)
    return {name: float(np.median(t)) for name, t in times.items()}, runs["DiffusionModel"][0].network


def objectives(argv):
    "min-SNR against the plain loss on the quick preset: train both conditional models, print their class agreements and KIDs side by side."
    import math, tempfile
    from lensddim.data import data_seeds
    from lensddim.evaluate import class_agreement, prepare_real
    from lensddim.kid import extract_features, kid_score
    from lensddim.lensing import simulate_lenses
    from lensddim.presets import get_preset, preset_data, preset_model
    from lensddim.runs import train
    preset = get_preset("quick")
    parser = argparse.ArgumentParser(prog="bench/train.py objectives", description=objectives.__doc__)
    parser.add_argument("--epochs", type=int, default=preset["epochs"], help=f"epochs per run (quick preset: {preset['epochs']})")
    parser.add_argument("--n-train", type=int, default=preset["n_train"], help=f"training lenses per class (quick preset: {preset['n_train']})")
    parser.add_argument("--gamma", type=float, default=5.0, help="min-SNR gamma (default 5, as Hang et al.)")
    parser.add_argument("--kid-n", type=int, default=500, help="generated and held-out images per class (default 500; the KID is averaged "
                        "over 100 subsets of half of them, its error bar is their standard deviation)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    size, guidance, lens_model, sample_steps = preset["image_size"], preset["sampling"]["guidance_scale"], preset["simulation"], preset["sampling"]["steps"]
    images, labels, classes = preset_data(dict(preset, n_train=args.n_train), seed=args.seed)
    held_out = {c: prepare_real(simulate_lenses(args.kid_n, c, lens_model, seed=s), size, preset["fit"])
                for c, s in zip(classes, data_seeds("evaluation", args.seed, len(classes)))}
    features = f"lensing:{lens_model}"
    real_features = {c: extract_features(x, features) for c, x in held_out.items()}
    print(f"quick preset: {lens_model}, {args.n_train} lenses per class of {size} px, widths {preset['widths']}, batch {preset['batch_size']}, "
          f"{args.epochs} epochs, lr {preset['learning_rate']}, ema {preset['ema']}, intensity {preset['intensity']}; per class {args.kid_n} "
          f"generated ({sample_steps} steps, guidance {guidance:g}) against {args.kid_n} held-out lenses; devices "
          f"{[d.device_type for d in tf.config.list_physical_devices()]}")
    rows = []
    for name, gamma in (("plain", None), (f"min-SNR γ={args.gamma:g}", args.gamma)):
        model = preset_model(preset, classes, seed=args.seed)
        if gamma is not None:                 # the one change: the same model with min-SNR weighting
            model = DiffusionModel.from_config(dict(model.get_config(), min_snr_gamma=gamma))
            model.compile(learning_rate=preset["learning_rate"])
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as run_dir:
            train(model, (images, labels), run_dir, epochs=args.epochs, batch_size=preset["batch_size"], augment=preset["augment"],
                  drop_remainder=True, seed=args.seed, sample_every=0, verbose=0)
        seconds = time.perf_counter() - start
        steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        for k, c in enumerate(classes):
            generated = model.generate(args.kid_n, steps=sample_steps, seed=args.seed + k, labels=k, guidance_scale=guidance, verbose=0)
            agreement = class_agreement(generated, c, lens_model)
            kid, kid_std = kid_score(real_features[c], extract_features(generated, features), subsets=100, subset_size=max(2, args.kid_n // 2), seed=args.seed)
            rows.append((name, c, steps, agreement, kid, kid_std, seconds))
            print(f"  {name} {c}: {steps} steps in {seconds:.0f} s, agreement {agreement:.3f}, KID {kid:.4f} ± {kid_std:.4f}", flush=True)
    header = f"{'objective':16s} {'class':7s} {'steps':>6s} {'agreement':>9s} {'KID':>9s} {'± std':>8s} {'train s':>8s}"
    print("\n" + header + "\n" + "-" * len(header))
    for name, c, steps, agreement, kid, kid_std, seconds in rows:
        print(f"{name:16s} {c:7s} {steps:6d} {agreement:9.3f} {kid:9.4f} {kid_std:8.4f} {seconds:8.0f}")
    plain = {r[1]: r for r in rows if r[0] == "plain"}
    for _, c, _, agreement, kid, kid_std, _ in (r for r in rows if r[0] != "plain"):
        bar = max(math.hypot(plain[c][5], kid_std), 1e-12)
        print(f"{c}: agreement min-SNR / plain {agreement / max(plain[c][3], 1e-9):.2f}; KID min-SNR / plain {kid / plain[c][4]:.2f}, "
              f"difference {(kid - plain[c][4]) / bar:+.1f} error bars")


def main():
    argv = sys.argv[1:]
    if argv and argv[0] == "objectives":
        return objectives(argv[1:])
    if argv and argv[0] == "throughput":
        argv = argv[1:]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--batch", type=int, default=16, help="images per step (default 16)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per implementation (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps per implementation (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="turns per implementation the timed steps are split into (default 2)")
    parser.add_argument("--jit", action="store_true", help="compile the train steps with XLA")
    args = parser.parse_args(argv)
    if min(args.steps, args.warmup, args.batch, args.rounds) < 1 or args.rounds > args.steps:
        parser.error("--steps, --warmup, --batch and --rounds must be >= 1, and --rounds <= --steps")

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"keras {keras.__version__} ({keras.backend.backend()}), tensorflow {tf.__version__}, devices {devices}, "
          f"batch {args.batch}, {args.warmup} warm-up + {args.steps} timed steps per implementation in {args.rounds} turns, "
          f"jit_compile={args.jit}")
    before = matmul_gflops()
    rows, ratios = [], []
    for name in args.configs:
        config = CONFIGS[name]
        seconds, network = step_times(config, args.batch, args.warmup, args.steps, args.rounds, args.jit)
        seconds_ddim, seconds_bare = seconds["DiffusionModel"], seconds["bare U-Net"]
        flops = network_flops(network)
        for label, seconds in (("DiffusionModel", seconds_ddim), ("bare U-Net", seconds_bare)):
            rate = args.batch / seconds
            rows.append((name, label, config, network.count_params(), flops / 1e9, seconds, rate, rate * flops / 1e9))
        ratios.append((name, seconds_ddim / seconds_bare))
    after = matmul_gflops()
    peak = max(before, after)   # the machine may be shared: the best of the two is the closer to its real rate
    print(f"float32 matmul 2048x2048: {before:.1f} GFLOP/s before, {after:.1f} after the training runs; using {peak:.1f}\n")

    header = (f"{'config':8s} {'implementation':15s} {'px':>4s} {'widths':>16s} {'params':>9s} {'train GFLOP/img':>16s} "
              f"{'ms/step':>8s} {'img/s':>8s} {'GFLOP/s':>8s} {'of matmul':>10s}")
    print(header)
    print("-" * len(header))
    for name, label, config, params, gflop, seconds, rate, achieved in rows:
        widths = "-".join(map(str, config["widths"]))
        print(f"{name:8s} {label:15s} {config['image_size']:4d} {widths:>16s} {params:9d} {gflop:16.3f} "
              f"{1e3 * seconds:8.1f} {rate:8.1f} {achieved:8.1f} {achieved / peak:10.1%}")
    print("\nratio DiffusionModel / bare U-Net step time (same U-Net, same data, same run; the cost of EMA, "
          "normalisation, noise drawing and metrics):")
    for name, ratio in ratios:
        print(f"  {name:8s} {ratio:.2f}x")


if __name__ == "__main__":
    main()
