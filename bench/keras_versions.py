"""The lowest Keras 3 that lensddim runs on: for each Keras version, install it alone into a scratch folder (pip, no dependencies: the
TensorFlow and JAX installed here stay), then in a fresh process train a tiny conditional model for 2 epochs, and 1 epoch resumed to 2,
check the two end bit-identical, save and load it in safe mode, generate with guidance, and train one epoch in bfloat16.

Run: `.venv/bin/python bench/keras_versions.py --versions 3.6.0 3.7.0 3.15.1 --backends tensorflow jax` (about 30 s a version and backend,
plus the download). Measured on 4 December 2026 (TensorFlow 2.21, JAX 0.10.2): TensorFlow backend fails on 3.0.5 (no `tree` module), 3.3.3
and 3.6.0 (`BackupAndRestore(double_checkpoint=)` is newer) and passes from 3.7.0 (3.7.0, 3.8.0, 3.9.2, 3.12.4, 3.15.1); the JAX backend
needs a Keras made for that JAX (3.7–3.9 call `jax.spmd_mode`, gone from JAX 0.10; 3.12.4 passes). Hence `keras>=3.7` in settings.ini.
"""
import argparse, os, subprocess, sys, tempfile
from pathlib import Path

SMOKE = '''
import tempfile, warnings
warnings.filterwarnings("ignore")
import numpy as np, keras
from lensddim.model import DiffusionModel
from lensddim.runs import train
images = np.random.default_rng(0).uniform(size=(40, 16, 16, 1)).astype("float32") ** 3
labels = np.arange(40) % 2
config = dict(image_size=16, widths=(8, 16), block_depth=1, num_classes=2, class_names=["a", "b"], seed=0)
run = lambda m, d, e: train(m, (images, labels), d, epochs=e, batch_size=16, augment="rot180", sample_every=1, sample_count=4,
                            sample_steps=2, verbose=0)
with tempfile.TemporaryDirectory() as d:
    a = DiffusionModel(**config); run(a, d + "/a", 2)
    run(DiffusionModel(**config), d + "/b", 1); b = DiffusionModel(**config); run(b, d + "/b", 2)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.weights, b.weights)), "resume not exact"
    a.save(d + "/m.keras"); m = keras.saving.load_model(d + "/m.keras", safe_mode=True)
    assert m.generate(4, steps=3, seed=0, labels=[0, 1, 0, 1], guidance_scale=2.0, verbose=0).shape == (4, 16, 16, 1)
    p = DiffusionModel(**{**config, "precision": "bfloat16"}).adapt(images); p.compile()
    p.fit(images, labels, batch_size=16, epochs=1, verbose=0)
    print("PASS", keras.__version__)
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", nargs="+", default=["3.6.0", "3.7.0", "3.15.1"])
    parser.add_argument("--backends", nargs="+", default=["tensorflow"], choices=["tensorflow", "jax", "torch"])
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for version in args.versions:
            target = Path(scratch) / version
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), f"keras=={version}"],
                                 capture_output=True, text=True)
            for backend in args.backends:
                if pip.returncode:
                    rows.append((version, backend, "not installed: " + pip.stderr.strip().splitlines()[-1])); continue
                env = dict(os.environ, PYTHONPATH=f"{target}{os.pathsep}{root}", KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
                           JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
                run = subprocess.run([sys.executable, "-c", SMOKE], capture_output=True, text=True, env=env, timeout=900)
                errors = [l for l in run.stderr.splitlines() if "Error" in l]
                rows.append((version, backend, "pass" if "PASS" in run.stdout else "FAIL: " + (errors[-1] if errors else "no result")))
                print(f"{version:8s} {backend:10s} {rows[-1][2][:110]}", flush=True)
    print(f"\n{'keras':8s} {'backend':10s} result")
    for version, backend, result in rows:
        print(f"{version:8s} {backend:10s} {result[:110]}")


if __name__ == "__main__":
    main()
