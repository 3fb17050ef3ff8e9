"""How much of each class's smooth-lens residual survives one denoising step: real lenses of each class, noised to the noise level
σ (noise rate / signal rate), denoised by one call of a model (guided, conditioned on their true class), then fitted by the smooth
lens (`lensddim.lensing.smooth_lens_residuals`). Every sampler ends with such a call from the lowest noise level of its ladder, the
schedule's floor; if the model's estimate there (a posterior mean) erases a class's signal, no sampler can put it back.

    .venv/bin/python bench/last_step.py --model quick                    # at the floor of the model's schedule and above
    .venv/bin/python bench/last_step.py --model runs/ft995 --sigma 0.1 0.33

Prints per class the median residual of the clean real lenses and of the one-step estimates at each σ. About 30 s on 2 cores.
"""
import argparse
import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="quick", help="a shipped model's name, a .keras file or a run folder (default: quick)")
    p.add_argument("--sigma", type=float, nargs="+", default=None, help="noise levels σ (default: the schedule's floor, 0.4, 0.55)")
    p.add_argument("--guidance-scale", type=float, default=None, help="default: the model's recommended scale")
    p.add_argument("--n", type=int, default=200, help="real lenses per class")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from keras import ops
    from lensddim.data import data_seeds
    from lensddim.evaluate import prepare_real
    from lensddim.lensing import simulate_lenses, smooth_lens_residuals
    from lensddim.presets import load_model
    model = load_model(args.model)
    if model.class_names is None:
        raise SystemExit(f"{args.model} is an unconditional model; this benchmark conditions on each class")
    signal, noise = (float(ops.convert_to_numpy(r).reshape(-1)[0]) for r in model.schedule(ops.convert_to_tensor(np.zeros(1, "float32"))))
    floor = noise / signal
    sigmas = args.sigma or [floor, 0.4, 0.55]
    if min(sigmas) < floor * 0.99:
        raise SystemExit(f"σ = {min(sigmas):g} is below this model's schedule floor {floor:.3g}: it was never trained there")
    scale = model.sampling_settings(labels=[0])["guidance_scale"] if args.guidance_scale is None else args.guidance_scale
    predict = model._predictor(scale)
    simulation = model.simulation or "model_iii"
    rng = np.random.default_rng(args.seed)
    print(f"{args.model}: schedule floor σ = {floor:.3f}; guidance {scale:g}; {args.n} real lenses per class; median smooth-lens residual")
    print(f"{'class':8s} {'clean':>7s} " + " ".join(f"{'σ=' + format(s, '.3g'):>8s}" for s in sigmas))
    for k, (c, s) in enumerate(zip(model.class_names, data_seeds("evaluation", args.seed, len(model.class_names)))):
        real = prepare_real(simulate_lenses(args.n, c, simulation, seed=s), model.image_size, model.image_fit)
        x = np.asarray(ops.convert_to_numpy(model.prepare(real)))
        row = [np.median(smooth_lens_residuals(real, simulation))]
        for sigma in sigmas:
            a, b = 1 / np.sqrt(1 + sigma**2), sigma / np.sqrt(1 + sigma**2)
            noisy = (a * x + b * rng.standard_normal(x.shape)).astype("float32")
            rates = [ops.convert_to_tensor(np.full((args.n, 1, 1, 1), r, "float32")) for r in (a, b)]
            eps = ops.convert_to_numpy(predict(ops.convert_to_tensor(noisy), *rates, ops.convert_to_tensor(np.full(args.n, k, "int32"))))
            row.append(np.median(smooth_lens_residuals(model.denormalize((noisy - b * eps) / a), simulation)))
        print(f"{c:8s} " + " ".join(f"{v:7.3f}" for v in row[:1]) + " " + " ".join(f"{v:8.3f}" for v in row[1:]), flush=True)


if __name__ == "__main__":
    main()
