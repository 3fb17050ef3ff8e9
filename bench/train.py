"""Training throughput of `lensddim.training.DiffusionModel`, as images/s and as a fraction of this machine's
measured matrix-multiply rate.

    .venv/bin/python bench/train.py                      # small (16-32-64 @ 32 px) and default (32-64-96-128 @ 64 px)
    .venv/bin/python bench/train.py --steps 20 --batch 64 --configs small
    .venv/bin/python bench/train.py --jit                # XLA-compiled train step (worth it on GPUs)

FLOPs are counted per layer from the built U-Net: multiply-accumulates of every Conv2D and Dense
(output positions × kernel size), × 2 FLOPs per MAC, × 3 for forward + backward (the backward pass costs about twice
the forward). Normalisation, activations, resampling and the EMA update are not counted, so the fraction is a slight
underestimate of the work done. The reference rate is a float32 `tf.matmul` of two 2048 × 2048 matrices, measured in
the same process with the same thread settings, before and after the training runs (the higher of the two is used). A default run takes about 1–3 minutes on a 2-core CPU.
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


def train_rate(config, batch, steps, jit_compile):
    "Images per second of `steps` training steps (best of two passes, after a warm-up pass that traces the step)."
    model = DiffusionModel(**config, seed=0)
    size = config["image_size"]
    images = np.random.default_rng(0).uniform(size=(batch * 4, size, size, 1)).astype("float32")
    model.adapt(images)
    model.compile(jit_compile=jit_compile)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True).repeat().prefetch(2)
    model.fit(dataset, epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)  # trace + warm up
    seconds = float("inf")
    for _ in range(2):   # best of two timed passes: the machine may be shared
        start = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
        seconds = min(seconds, time.perf_counter() - start)
    return batch * steps / seconds, model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--batch", type=int, default=16, help="images per step (default 16)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per configuration (default 6)")
    parser.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    args = parser.parse_args()

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"keras {keras.__version__} ({keras.backend.backend()}), tensorflow {tf.__version__}, devices {devices}, "
          f"batch {args.batch}, {args.steps} timed steps, jit_compile={args.jit}")
    before = matmul_gflops()
    rows = []
    for name in args.configs:
        config = CONFIGS[name]
        rate, model = train_rate(config, args.batch, args.steps, args.jit)
        flops = training_flops_per_image(model.network)
        achieved = rate * flops / 1e9
        rows.append((name, config, model.network.count_params(), flops / 1e9, rate, achieved))
    after = matmul_gflops()
    peak = max(before, after)   # the machine may be shared: the best of the two is the closer to its real rate
    print(f"float32 matmul 2048x2048: {before:.1f} GFLOP/s before, {after:.1f} after the training runs; using {peak:.1f}\n")

    header = f"{'config':8s} {'px':>4s} {'widths':>16s} {'params':>9s} {'train GFLOP/img':>16s} {'img/s':>8s} {'GFLOP/s':>8s} {'of matmul':>10s}"
    print(header)
    print("-" * len(header))
    for name, config, params, gflop, rate, achieved in rows:
        fraction = achieved / peak
        widths = "-".join(map(str, config["widths"]))
        print(f"{name:8s} {config['image_size']:4d} {widths:>16s} {params:9d} {gflop:16.3f} {rate:8.1f} "
              f"{achieved:8.1f} {fraction:10.1%}")
    if len(rows) == 2:
        print(f"\nratio {rows[0][0]}/{rows[1][0]}: {rows[0][4] / rows[1][4]:.1f}x the images/s, "
              f"{rows[1][3] / rows[0][3]:.1f}x fewer FLOPs per image")


if __name__ == "__main__":
    main()
