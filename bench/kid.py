"""Benchmark of `lensddim.kid.kid_score` against a straightforward per-subset loop (torch-fidelity / torchmetrics style).

Part 1: KID with 100 subsets of 1000 on random 2048-d features (score only), at two sample sizes:
        2000 per set (the full kernel matrices fit in memory: computed once, subsets indexed into them) and
        5000 per set (too many for full kernels: batched per-subset kernels).
Part 2: end to end per image: feature extraction (batched) + KID, for the lensing features (the Model III classifier, 64 px) and
        InceptionV3 at 75 px (random weights, offline), on random 64 px single-channel images.

Run:  .venv/bin/python bench/kid.py            (about 2-3 minutes on a 2-core machine)
      .venv/bin/python bench/kid.py --quick    (smaller sizes, a few seconds)
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import time

import numpy as np


def kid_loop(real, generated, subsets=100, subset_size=1000, seed=0):
    "Straightforward reference: one subset at a time, three kernel matrices each (as torch-fidelity does)."
    rng = np.random.RandomState(seed)
    d = real.shape[1]
    scores = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), subset_size, replace=False)].astype(np.float64)
        y = generated[rng.choice(len(generated), subset_size, replace=False)].astype(np.float64)
        k_xx, k_yy, k_xy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        m = subset_size
        scores.append((k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1)) - 2 * k_xy.mean())
    return float(np.mean(scores)), float(np.std(scores))


def timed(fn, *args, **kwargs):
    "(wall seconds, process CPU seconds, result); CPU time is less disturbed by other jobs on a shared machine."
    start, start_cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, time.process_time() - start_cpu, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--subsets", type=int, default=100)
    parser.add_argument("--subset-size", type=int, default=1000)
    parser.add_argument("--images", type=int, default=1000, help="images per set in part 2")
    args = parser.parse_args()
    subsets, subset_size, n_images = args.subsets, args.subset_size, args.images
    sizes = (2000, 5000)
    if args.quick:
        subsets, subset_size, n_images, sizes = 10, 200, 200, (400, 1000)

    from lensddim.kid import kid_score, extract_features, inception_feature_extractor, lensing_feature_extractor

    rows = []
    print(f"Part 1: KID score only, {subsets} subsets of {subset_size}, 2048-d random features, float64 maths")
    rng = np.random.default_rng(0)
    for n in sizes:
        real = rng.normal(size=(n, 2048)).astype(np.float32)
        generated = (rng.normal(size=(n, 2048)) * 1.05 + 0.02).astype(np.float32)
        kid_score(real[:300], generated[:300], 2, 100, seed=0), kid_loop(real[:300], generated[:300], 2, 100)  # warm-up
        t_ours, c_ours, ours = timed(kid_score, real, generated, subsets, subset_size, seed=0)
        t_loop, c_loop, loop = timed(kid_loop, real, generated, subsets, subset_size, seed=0)
        assert abs(ours[0] - loop[0]) <= 1e-9 * max(1.0, abs(loop[0])), (ours, loop)  # same subsets, same numbers
        rows.append((f"score only, n={n} per set (s)", t_ours, t_loop, c_ours, c_loop))

    print(f"Part 2: feature extraction (batched) + KID, {n_images} real + {n_images} generated 64 px images")
    images_real = rng.uniform(size=(n_images, 64, 64, 1)).astype(np.float32)
    images_generated = (rng.uniform(size=(n_images, 64, 64, 1)) ** 1.2).astype(np.float32)
    spaces = {"lensing features (128-d, Model III classifier)": lensing_feature_extractor("model_iii", 64),
              "InceptionV3 75 px (2048-d, random weights)": inception_feature_extractor(75, weights=None)}
    part2_size = min(subset_size, n_images)
    for name, extractor in spaces.items():
        extract_features(images_real[:8], extractor)  # build/trace once
        t_extract, c_extract, (f_real, f_generated) = timed(
            lambda: (extract_features(images_real, extractor), extract_features(images_generated, extractor)))
        t_ours, c_ours, ours = timed(kid_score, f_real, f_generated, subsets, part2_size, seed=0)
        t_loop, c_loop, loop = timed(kid_loop, f_real, f_generated, subsets, part2_size, seed=0)
        assert abs(ours[0] - loop[0]) <= 1e-9 * max(1.0, abs(loop[0])), (ours, loop)
        per_image = 1e3 / (2 * n_images)
        print(f"  {name}: extraction {t_extract:.2f} s ({t_extract * per_image:.2f} ms/image)")
        rows.append((f"{name}: extract + KID, per image (ms)", (t_extract + t_ours) * per_image,
                     (t_extract + t_loop) * per_image, (c_extract + c_ours) * per_image, (c_extract + c_loop) * per_image))
        rows.append((f"{name}: KID only (s)", t_ours, t_loop, c_ours, c_loop))

    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'case':<{width}}  {'ours wall':>9}  {'loop wall':>9}  {'ours cpu':>9}  {'loop cpu':>9}  "
          f"{'loop/ours wall':>14}  {'loop/ours cpu':>13}")
    for label, ours, loop, ours_cpu, loop_cpu in rows:
        print(f"{label:<{width}}  {ours:>9.3f}  {loop:>9.3f}  {ours_cpu:>9.3f}  {loop_cpu:>9.3f}  "
              f"{loop / ours:>13.1f}x  {loop_cpu / ours_cpu:>12.1f}x")
    print("'ours' = lensddim.kid.kid_score; 'loop' = one subset at a time with three kernel matrices each "
          "(torch-fidelity style); cpu = process CPU time, all threads (1 BLAS thread; TensorFlow uses its own pool)")


if __name__ == "__main__":
    main()
