"""Fine-tune a trained conditional model on a schedule with a lower noise floor: the same quick-preset data and learning rate, the
offset-cosine schedule's `max_signal_rate` raised (0.95, the Keras example's, is a floor of σ = 0.33; 0.995 is σ = 0.10), for a few
epochs, starting from the model's weights (network, EMA network and normaliser). The experiment of tutorial section 12 ("where
cdm's signal goes"):

    .venv/bin/python bench/lower_floor.py --model quick runs/ft995 --max-signal-rate 0.995 --epochs 8     # 13 min on 2 cores
    .venv/bin/python bench/last_step.py --model runs/ft995 --sigma 0.1 0.2 0.33 0.55
    .venv/bin/python bench/faithful.py --model runs/ft995 --n 300 --n-real 600 --solver ddpm --steps 20 --guidance-scale 1.5 --tstr-steps 1000

The run folder is a normal run (`lensddim train`'s files); a fresh optimizer starts, the data order comes from `--seed`.
"""
import argparse
import time
from pathlib import Path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="the new run folder")
    p.add_argument("--model", default="quick", help="the model to start from: a shipped name, a .keras file or a run folder")
    p.add_argument("--max-signal-rate", type=float, default=0.995, help="the schedule's signal rate at t = 0 (floor σ = √(1 − r²)/r)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=1, help="seed of the data order (the data are the quick preset's, seed 0)")
    args = p.parse_args()
    import numpy as np
    from keras import ops
    from lensddim.model import DiffusionModel
    from lensddim.presets import get_preset, load_model, preset_data
    from lensddim.runs import train
    start_model = load_model(args.model)
    if start_model.class_names is None:
        raise SystemExit(f"{args.model} is unconditional; this fine-tunes a conditional model on the quick preset's three classes")
    config = dict(get_preset("quick"), preset="quick", seed=0)
    images, labels, classes = preset_data(config, 0)
    if list(classes) != list(start_model.class_names):
        raise SystemExit(f"{args.model} has classes {start_model.class_names}, the quick preset's data {classes}")
    model = DiffusionModel.from_config(dict(start_model.get_config(),
                                            schedule={"name": "offset_cosine", "max_signal_rate": args.max_signal_rate}))
    model.normalizer.set_weights(start_model.normalizer.get_weights()); model.normalizer.finalize_state()
    model.network.set_weights(start_model.network.get_weights())
    model.ema_network.set_weights(start_model.ema_network.get_weights())
    assert np.allclose(ops.convert_to_numpy(model.normalizer.mean), ops.convert_to_numpy(start_model.normalizer.mean))
    model.compile(learning_rate=config["learning_rate"])
    start = time.perf_counter()
    train(model, (images, labels), args.run_dir, epochs=args.epochs, batch_size=config["batch_size"], augment=config["augment"],
          drop_remainder=True, seed=args.seed, sample_steps=20, sample_count=12, verbose=2,
          run_info=dict(config, classes=classes, finetuned_from=str(args.model), max_signal_rate=args.max_signal_rate))
    model.save(Path(args.run_dir) / "model.keras")
    print(f"fine-tuned {args.run_dir} in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
