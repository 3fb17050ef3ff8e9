"""Benchmark: images per second of `lensddim.lensing.fit_smooth_lens` on one core, beside a plain per-image fit.

For Model III at 64 and 32 px and Model I resized to 64 px (its images rendered at 150 px and area-averaged, as the data pipeline does), and each
substructure class, we simulate `--n` images and time, side by side:
  * `fit_smooth_lens(images, model)`: images/s per core (CPU time, best of `--repeats`), after one call that builds the cached grid of renderings
    (its time is printed in its own column: paid once per model and size);
  * the plain recipe on the first `--ref-n` images, one image at a time: the same 15 x 15 grid rendered through `render_lenses` for the image, then
    scipy's Nelder-Mead on the source position with the brightness scale and offset solved by `np.linalg.lstsq` at every evaluation;
  * the ratio of the two rates, and the median relative residual of each (they should agree).
The goal is at least 100 images/s per core at 64 px. Run: `python bench/smooth_fit.py` (about a minute on a quiet core).
"""
import os
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ[var] = "1"
import argparse, time
import numpy as np
from scipy import optimize
from lensddim.lensing import fit_smooth_lens, simulate_lenses, sample_lens_params, render_lenses, DEEPLENSE_SETTINGS, SUBSTRUCTURES
from lensddim.data import fit_images

def plain_fit(image, model):
    "Relative residual of one image's smooth fit, the straightforward way: grid then Nelder-Mead, every evaluation a fresh render."
    base = sample_lens_params(1, "no_sub", model, seed=0)
    size = image.shape[-1]
    def misfit(xy):
        r = render_lenses(dict(base, source_x=np.array([xy[0]]), source_y=np.array([xy[1]])), model)
        r = fit_images(r, size, "resize")[0].ravel()
        A = np.stack([r, np.ones_like(r)], 1)
        ab = np.linalg.lstsq(A, image.ravel(), rcond=None)[0]
        return np.linalg.norm(image.ravel() - A @ ab)
    lo, hi = DEEPLENSE_SETTINGS["source_position"]
    start = min(((x, y) for x in np.linspace(lo, hi, 15) for y in np.linspace(lo, hi, 15)), key=misfit)
    best = optimize.minimize(misfit, start, method="Nelder-Mead", options=dict(xatol=1e-9, fatol=1e-14, maxiter=2000))
    return best.fun / np.linalg.norm(image)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="images per class fitted by fit_smooth_lens")
    ap.add_argument("--ref-n", type=int, default=3, help="images per class fitted by the plain recipe")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (best is kept)")
    args = ap.parse_args()
    cpu = time.process_time
    rows = []
    for model, size in (("model_iii", 64), ("model_iii", 32), ("model_i", 64)):
        for sub in SUBSTRUCTURES:
            images = fit_images(simulate_lenses(args.n, sub, model, seed=0, noise="none")[..., 0].astype(np.float64), size)
            t = cpu(); fit_smooth_lens(images[:1], model); grid_s = cpu() - t      # first call of a model and size builds the grid
            best, rel = float("inf"), None
            for _ in range(args.repeats):
                t = cpu(); rel = fit_smooth_lens(images, model).relative_residual; best = min(best, cpu() - t)
            t = cpu(); ref = [plain_fit(im, model) for im in images[:args.ref_n]]; ref_s = cpu() - t
            rows.append((model, size, sub, grid_s, args.n / best, args.ref_n / ref_s, np.median(rel[:args.ref_n]), np.median(ref)))
    print(f"{'model':10s} {'size':>4s} {'class':7s} {'grid (s, once)':>15s} {'fit_smooth_lens /core':>22s} {'plain /core':>12s} "
          f"{'residual ours':>14s} {'residual plain':>15s} {'ratio /core':>12s}")
    for model, size, sub, grid_s, ours, plain, r_ours, r_plain in rows:
        print(f"{model:10s} {size:4d} {sub:7s} {grid_s:15.2f} {ours:22.0f} {plain:12.1f} {r_ours:14.2e} {r_plain:15.2e} {ours / plain:12.0f}")
    print("(images per second in CPU time, one thread; residuals: median relative residual on the images both fitted; ratio = ours ÷ plain)")

if __name__ == "__main__":
    main()
