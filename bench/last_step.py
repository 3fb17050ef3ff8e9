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
    from lensddim.forward import rates_from_log_snr, split_prediction
    from lensddim.lensing import simulate_lenses, smooth_lens_residuals
    from lensddim.presets import load_model
    from lensddim.sampler import sampling_rates
    model = load_model(args.model)
    if model.class_names is None:
        raise SystemExit(f"{args.model} is an unconditional model; this benchmark conditions on each class")
    signal, noise = sampling_rates(model.schedule, 1)      # the ladder's two levels: t = 1 and the floor, t = 0
    floor = float(noise[-1] / signal[-1])
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
        x = model.prepare(real)
        row = [np.median(smooth_lens_residuals(real, simulation))]
        for sigma in sigmas:
            a, b = (ops.full((args.n, 1, 1, 1), r) for r in rates_from_log_snr(-2 * np.log(sigma)))   # σ = b / a
            noisy = a * x + b * rng.standard_normal(tuple(x.shape)).astype("float32")
            output = predict(noisy, a, b, ops.full((args.n,), k, "int32"))
            estimate, _ = split_prediction(output, noisy, a, b, model.prediction)
            row.append(np.median(smooth_lens_residuals(model.denormalize(estimate), simulation)))
        print(f"{c:8s} " + " ".join(f"{v:7.3f}" for v in row[:1]) + " " + " ".join(f"{v:8.3f}" for v in row[1:]), flush=True)


if __name__ == "__main__":
    main()
