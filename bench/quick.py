"""How well a class-conditional model generates each DeepLense class: class agreement and per-class KID beside the yardsticks.

For each guidance scale, `--n` lenses of each class are generated (20 DDIM steps, seed = class index) and judged against
1000 held-out simulated lenses per class (seeds 7000 + class index, never used in training), brought to the model's size:

* agreement: the share of the lenses generated as class c that the shipped classifier (`classify_lenses`) assigns to c;
* KID (lensing features of the shipped classifier of that size; 100 subsets of `--n`) against the real lenses of every class;
* the yardsticks, from the real lenses alone: the floor of each class (half against half) and the between-class KIDs.

The table ends with, per class, the ratio of the generated class's KID to the KID between its real class and the nearest
other real class: below 1 means the generated class is closer to its real class than the nearest other real class is.

    .venv/bin/python bench/quick.py                              # the shipped quick model, guidance 0, 1, 2, 4, 6 (about 8 minutes)
    .venv/bin/python bench/quick.py --model runs/quick --scales 4 --n 200
    .venv/bin/python bench/quick.py --out /tmp/quick_eval        # also writes results.json, a grid per class and scale
"""
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import argparse, json, time
from pathlib import Path

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="quick", help="a shipped model's name, a .keras file or a run folder (default: quick)")
    parser.add_argument("--n", type=int, default=500, help="generated lenses per class and scale (default 500)")
    parser.add_argument("--scales", default="0,1,2,4,6", help="guidance scales, comma-separated (default 0,1,2,4,6)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default=None, help="folder for results.json and the sample grids")
    args = parser.parse_args()
    from lensddim.data import data_seeds
    from lensddim.evaluate import class_agreement, prepare_real
    from lensddim.kid import extract_features, kid_score, fid_score, kid_yardsticks
    from lensddim.lensing import simulate_lenses
    from lensddim.presets import load_model
    from lensddim.runs import save_image_grid
    model = load_model(args.model)
    if model.num_classes is None: raise SystemExit(f"{args.model} is an unconditional model; this benchmark needs a conditional one")
    classes, lens_model, size = model.class_names, model.simulation or "model_iii", model.image_size
    features = f"lensing:{lens_model}"
    seeds = data_seeds("evaluation", 0, len(classes))
    real = {c: prepare_real(simulate_lenses(1000, c, lens_model, seed=s), size, model.image_fit) for c, s in zip(classes, seeds)}
    real_features = {c: extract_features(x, features) for c, x in real.items()}
    yardsticks = kid_yardsticks(real, features, subsets=100, subset_size=500, seed=0)
    nearest = {c: min(v[0] for pair, v in yardsticks["between"].items() if c in pair.split("-")) for c in classes}
    results = dict(model=str(args.model), lens_model=lens_model, size=size, n_generated=args.n, n_real=1000, steps=args.steps,
                   real_agreement={c: class_agreement(real[c], c, lens_model) for c in classes},
                   floor={c: v[0] for c, v in yardsticks["floor"].items()}, between={p: v[0] for p, v in yardsticks["between"].items()},
                   sweep={})
    out = Path(args.out) if args.out else None
    if out: out.mkdir(parents=True, exist_ok=True)
    for g in (float(s) for s in args.scales.split(",")):
        results["sweep"][g] = {}
        for k, c in enumerate(classes):
            start = time.perf_counter()
            generated = model.generate(args.n, steps=args.steps, seed=k, labels=k, guidance_scale=g, verbose=0)
            seconds = time.perf_counter() - start
            f = extract_features(generated, features)
            results["sweep"][g][c] = dict(
                agreement=class_agreement(generated, c, lens_model),
                kid={r: kid_score(real_features[r], f, subsets=100, subset_size=min(500, args.n), seed=0)[0] for r in classes},
                fid=fid_score(real_features[c], f), seconds=seconds)
            if out: save_image_grid(generated[:16], out / f"grid_{c}_g{g:g}.png")
    print(f"{args.model}: {lens_model} at {size} px; {args.n} generated per class, 1000 real per class; KID in {features} features")
    print("real lenses, classifier agreement: " + ", ".join(f"{c} {a:.3f}" for c, a in results["real_agreement"].items()))
    print("floor: " + ", ".join(f"{c} {v:.4f}" for c, v in results["floor"].items()) + ";  between: " +
          ", ".join(f"{p} {v:.3f}" for p, v in results["between"].items()))
    header = f"{'guidance':>8s} {'class':7s} {'agreement':>9s} " + " ".join(f"{'KID vs ' + r:>14s}" for r in classes) + \
             f" {'FID':>7s} {'KID / nearest between':>22s}"
    print(header + "\n" + "-" * len(header))
    for g, row in results["sweep"].items():
        for c, r in row.items():
            print(f"{g:8g} {c:7s} {r['agreement']:9.3f} " + " ".join(f"{r['kid'][o]:14.3f}" for o in classes) +
                  f" {r['fid']:7.1f} {r['kid'][c] / nearest[c]:22.2f}")
    if out: (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
