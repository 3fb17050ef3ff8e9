"""Sampling speed: DDIM with the step loop compiled into one graph vs a plain Python (eager) loop.

Both columns run the same small U-Net (`lensddim.unet.build_unet`), the same ladder of levels, the same images, side by
side in one process. Each configuration is run once to warm up (tracing / first-call costs) and then timed
`--repeats` times; the best time counts. Prints images/s and the ratio compiled / eager.

    .venv/bin/python bench/sample.py                      # default: 32 images of 32x32, U-Net 16-32-64, steps 10 20 50
    .venv/bin/python bench/sample.py --n 64 --steps 10 50 --widths 32 64 96 128 --image-size 64
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import time

import numpy as np
import keras
from keras import ops

from lensddim.sampler import ddim_sample, sampling_rates
from lensddim.unet import build_unet


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="images generated per run (one batch)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64], help="U-Net widths")
    parser.add_argument("--block-depth", type=int, default=2)
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--eta", type=float, default=0.0)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per configuration (best counts)")
    return parser.parse_args()


def make_predict(network):
    "The network as a `ddim_sample` predictor: the U-Net takes noise variances (B,1,1,1)."
    def predict(noisy_images, noise_rates, signal_rates):
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


def main():
    args = parse_args()
    keras.utils.set_random_seed(0)
    network = build_unet(args.image_size, widths=tuple(args.widths), block_depth=args.block_depth)
    # the last conv is zero-initialised (output 0); give it small weights so the images actually change
    last = network.layers[-1]
    last.set_weights([w + np.float32(0.01) * np.random.default_rng(0).normal(size=w.shape).astype("float32")
                      for w in last.get_weights()])
    predict = make_predict(network)
    noise = np.random.default_rng(1).normal(size=(args.n, args.image_size, args.image_size, 1)).astype("float32")

    print(f"backend {keras.backend.backend()}, U-Net widths {tuple(args.widths)} block_depth {args.block_depth} "
          f"({network.count_params():,} params), {args.n} images of {args.image_size}x{args.image_size}, eta {args.eta}, "
          f"best of {args.repeats}")
    rows = []
    for steps in args.steps:
        signal_rates, noise_rates = sampling_rates("offset_cosine", steps)
        results = {}
        for compiled in (True, False):
            def run():
                results[compiled] = ddim_sample(predict, noise, signal_rates, noise_rates, eta=args.eta, seed=0,
                                                batch_size=args.n, compile=compiled, verbose=0)
            seconds = best_time(run, args.repeats)
            rows.append((steps, compiled, seconds))
        diff = float(np.abs(results[True] - results[False]).max())
        rows.append((steps, "diff", diff))

    print(f"\n{'steps':>5} | {'compiled img/s':>14} | {'eager img/s':>11} | {'max |diff|':>10} | {'compiled / eager':>16}")
    print("-" * 70)
    for steps in args.steps:
        t_comp = next(s for st, c, s in rows if st == steps and c is True)
        t_eager = next(s for st, c, s in rows if st == steps and c is False)
        diff = next(s for st, c, s in rows if st == steps and c == "diff")
        print(f"{steps:>5} | {args.n / t_comp:>14.1f} | {args.n / t_eager:>11.1f} | {diff:>10.1e} | {t_eager / t_comp:>15.2f}x")


if __name__ == "__main__":
    main()
