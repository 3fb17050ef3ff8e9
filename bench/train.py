"""Training throughput of `lensddim.training.DiffusionModel` next to a bare U-Net train step on the same data, as
images/s and as a fraction of this machine's measured matrix-multiply rate.

    .venv/bin/python bench/train.py                      # small (16-32-64 @ 32 px) and default (32-64-96-128 @ 64 px)
    .venv/bin/python bench/train.py --steps 20 --batch 64 --configs small
    .venv/bin/python bench/train.py --jit                # XLA-compiled train steps (worth it on GPUs)

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
import time

import numpy as np
import keras
import tensorflow as tf

from lensddim.training import DiffusionModel
from lensddim.unet import build_unet

CONFIGS = {
    "small": dict(image_size=32, widths=(16, 32, 64), block_depth=2),
    "default": dict(image_size=64, widths=(32, 64, 96, 128), block_depth=2),
}


def training_flops_per_image(network):
    "2 × 3 × (Conv2D and Dense multiply-accumulates) of one image through `network`."
    macs = 0
    for layer in network.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            macs += positions * int(np.prod(layer.kernel.shape))
    return 2 * 3 * macs


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--batch", type=int, default=16, help="images per step (default 16)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per implementation (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps per implementation (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="turns per implementation the timed steps are split into (default 2)")
    parser.add_argument("--jit", action="store_true", help="compile the train steps with XLA")
    args = parser.parse_args()
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
        flops = training_flops_per_image(network)
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
