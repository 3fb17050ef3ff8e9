"""How faithful a class-conditional generator is, one row of the ablation table per run: per class the classifier's agreement, the KID
against the real class beside the nearest between-class KID, the median smooth-lens residual of the generated lenses beside the real
ones', and (with --tstr-steps) the AUC on real lenses of the classifier recipe trained on the generated ones beside the same recipe
trained on real ones.

Real lenses: fresh simulations of the model's DeepLense simulation from the evaluation seed stream (`lensddim.data.data_seeds`), brought
to the model's size as its training data was; never lenses any model or classifier of lensddim was trained on.

    .venv/bin/python bench/faithful.py --model quick --label "shipped quick, ddim 20, guidance 4" --csv runs/faithful.csv
    .venv/bin/python bench/faithful.py --model quick --solver ddpm --label "... ddpm" --csv runs/faithful.csv
    .venv/bin/python bench/faithful.py --model quick --guidance-interval 0.28 5.42 --label "... interval" --csv runs/faithful.csv
    .venv/bin/python bench/faithful.py --replot runs/faithful.csv           # print the table of all rows so far
    .venv/bin/python bench/faithful.py --train '{"embed_every_block": true}' --model runs/exp_embed --label "quick + embedding in every block"

`--train SETTINGS` first trains the quick preset exactly as `lensddim train RUN --preset quick` does (same data, seed, steps), with the
DiffusionModel settings in SETTINGS (JSON) changed: one change at a time against the same baseline. About 17 minutes on 2 cores with
AVX-512, 30 to 35 on 2 AMD EPYC cores without.

A row with 500 generated and 1000 real lenses per class takes about 2 minutes on 2 cores at 32 px (20 DDIM steps), plus about 4 minutes
per 1000 TSTR steps.
"""
import argparse, csv, json, time
from pathlib import Path

import numpy as np

COLUMNS = ["label", "model", "solver", "steps", "guidance_scale", "guidance_interval", "clip", "n"] + \
          [f"{m}_{c}" for m in ("agreement", "kid_ratio", "residual", "real_residual", "tstr_auc", "real_auc")
           for c in ("no_sub", "cdm", "vortex")] + ["seconds"]


def measure(args):
    from lensddim.data import data_seeds
    from lensddim.evaluate import class_scores, prepare_real, train_on_generated
    from lensddim.lensing import SUBSTRUCTURES, simulate_lenses
    from lensddim.presets import load_model
    model = load_model(args.model)
    if model.class_names is None:
        raise SystemExit(f"{args.model} is an unconditional model; this benchmark scores each class of a conditional one")
    simulation = model.simulation or "model_iii"
    classes = model.class_names
    real = lambda seed, n: {c: prepare_real(simulate_lenses(n, c, simulation, seed=s), model.image_size, model.image_fit)
                            for c, s in zip(classes, data_seeds("evaluation", seed, len(classes)))}
    real_test = real(0, args.n_real)
    settings = model.sampling_settings(args.steps, args.solver, None, None, args.guidance_scale, [0], args.guidance_interval)
    start = time.perf_counter()
    generated = {c: model.generate(args.n, seed=args.seed + k, labels=k, clip=args.clip, verbose=0, **settings)
                 for k, c in enumerate(classes)}
    seconds = time.perf_counter() - start
    scores, _ = class_scores(real_test, generated, simulation, subsets=100, subset_size=min(args.n, args.n_real) // 2, seed=args.seed)
    row = dict(label=args.label, model=str(args.model), solver=settings["solver"], steps=settings["steps"],
               guidance_scale=settings["guidance_scale"], guidance_interval=json.dumps(settings["guidance_interval"]), clip=args.clip,
               n=args.n, seconds=round(seconds, 1))
    for c, v in scores.items():
        nearest = min(m for m, _ in v["between"].values())
        row.update({f"agreement_{c}": v["agreement"], f"kid_ratio_{c}": v["kid"][0] / nearest,
                    f"residual_{c}": v.get("residual", float("nan")), f"real_residual_{c}": v.get("real_residual", float("nan"))})
    if args.tstr_steps:
        tstr = train_on_generated(generated, real(1, args.n), real_test, steps=args.tstr_steps, seed=args.seed)
        row.update({f"tstr_auc_{c}": tstr["generated"]["auc"][c] for c in SUBSTRUCTURES})
        row.update({f"real_auc_{c}": tstr["real"]["auc"][c] for c in SUBSTRUCTURES})
    return row


def train_variant(run_dir, changes, epochs=None):
    "Train the quick preset into `run_dir` as `lensddim train --preset quick` does, with the DiffusionModel settings `changes`."
    from lensddim.model import DiffusionModel
    from lensddim.presets import get_preset, preset_data, preset_model
    from lensddim.runs import train
    config = dict(get_preset("quick"), preset="quick", seed=0, changes=changes)
    if epochs: config["epochs"] = epochs
    images, labels, classes = preset_data(config, config["seed"])
    base = preset_model(config, classes, seed=config["seed"])
    model = DiffusionModel.from_config(dict(base.get_config(), **changes))
    model.compile(learning_rate=config["learning_rate"])
    start = time.perf_counter()
    train(model, (images, labels), run_dir, epochs=config["epochs"], batch_size=config["batch_size"], augment=config["augment"],
          drop_remainder=True, seed=config["seed"], sample_steps=config["sampling"]["steps"], sample_count=12, verbose=2,
          run_info=dict(config, classes=classes))
    model.save(Path(run_dir) / "model.keras")
    print(f"trained {run_dir} in {time.perf_counter() - start:.0f} s", flush=True)


def print_table(rows):
    f = lambda v, fmt: "-" if v in ("", None) or (isinstance(v, float) and np.isnan(v)) else format(float(v), fmt)
    print(f"{'run':44s} {'agreement n/c/v':>17s} {'KID / nearest between n/c/v':>29s} {'residual n/c/v (real)':>38s} {'TSTR AUC n/c/v':>17s}")
    for r in rows:
        cls = ("no_sub", "cdm", "vortex")
        print(f"{r['label'][:44]:44s} {'/'.join(f(r[f'agreement_{c}'], '.2f') for c in cls):>17s} "
              f"{'/'.join(f(r[f'kid_ratio_{c}'], '.2f') for c in cls):>29s} "
              f"{'/'.join(f(r[f'residual_{c}'], '.3f') for c in cls) + ' (' + '/'.join(f(r[f'real_residual_{c}'], '.2g') for c in cls) + ')':>38s} "
              f"{'/'.join(f(r.get(f'tstr_auc_{c}', ''), '.3f') for c in cls):>17s}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="quick", help="a shipped model's name, a .keras file or a run folder (default: quick)")
    p.add_argument("--label", default=None, help="the row's name in the table (default: the model and settings)")
    p.add_argument("--n", type=int, default=500, help="generated lenses per class")
    p.add_argument("--n-real", type=int, default=1000, help="real lenses per class")
    p.add_argument("--solver", default=None); p.add_argument("--steps", type=int, default=None)
    p.add_argument("--guidance-scale", type=float, default=None)
    p.add_argument("--guidance-interval", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"))
    p.add_argument("--clip", action="store_true", help="clip the predicted clean images to [0, 1] at every step")
    p.add_argument("--tstr-steps", type=int, default=0, help="train-on-generated: optimizer steps per classifier (0: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", default=None, help="append the row to this CSV and print every row in it")
    p.add_argument("--replot", default=None, metavar="CSV", help="measure nothing: print the table of a CSV")
    p.add_argument("--train", default=None, metavar="SETTINGS", help="first train the quick preset into --model with these DiffusionModel "
                   "settings changed (JSON, e.g. '{\"embed_every_block\": true}')")
    p.add_argument("--epochs", type=int, default=None, help="with --train: epochs (default: the preset's)")
    args = p.parse_args()
    if args.train:
        train_variant(args.model, json.loads(args.train), args.epochs)
    if args.replot:
        with open(args.replot, newline="") as f: return print_table(list(csv.DictReader(f)))
    row = measure(args)
    row["label"] = args.label or f"{args.model} {row['solver']} {row['steps']} g{row['guidance_scale']:g}"
    rows = [row]
    if args.csv:
        path = Path(args.csv); path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
            if new: writer.writeheader()
            writer.writerow(row)
        with open(path, newline="") as f: rows = list(csv.DictReader(f))
    print_table(rows)


if __name__ == "__main__":
    main()
