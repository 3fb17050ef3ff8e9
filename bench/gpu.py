"""Accelerator benchmark: how fast lensddim trains and samples where users train, in one table.

For each image size (default 32 and 64 px, the default U-Net 32-64-96-128, block depth 2, batch 64), in one process:

* training images/s of `lensddim.model.DiffusionModel` in each precision (`float32`, `bfloat16` = Keras' mixed_bfloat16)
  beside a reference trainer written as the Keras DDIM example writes it (keras.io/examples/generative/ddim: its own small
  `train_step` over the same `lensddim.unet.build_unet` network: normalise, draw diffusion times and noise, noisy images,
  network, MAE to the noise, AdamW step, EMA; float32, no metrics), all three trained with `model.fit` on the same numpy
  images and batch, untimed warm-up first, then timed in turns (`--rounds`, the median turn counts);
* sampling images/s of `DiffusionModel.generate` (DDIM, one batch of `--sample-n` images) at 10, 20 and 50 network calls,
  first call (tracing and compiling included) and second call of the same shape (the compiled walk reused), and how many
  times faster the second is (the goal on a GPU: at least 10x);
* training FLOP/s as a share of this chip's bf16 matrix rate, measured in the same run (a large bf16 matrix product,
  timed with `block_until_ready` under JAX, before and after the rest; the higher counts). FLOPs per image: under JAX,
  XLA's cost analysis of the lowered U-Net forward + backward (`jax.jit(grad).lower(...).cost_analysis()`: every
  operation, convolutions 2 FLOPs per multiply-add); under TensorFlow, Conv2D and Dense multiply-adds x 2 x 3 (as
  bench/train.py). The same count serves all three trainers (the same network), so the share compares them.

It ends with the ratios: lensddim bfloat16 / reference and lensddim float32 / reference (training images/s), and
second / first generate.

Where no accelerator is found (or with `--tiny`) it says so and runs at tiny sizes (16 px, widths 8-16, a few steps) that
finish in well under a minute on a CPU: a check that the script works, not a measurement.

    KERAS_BACKEND=jax python bench/gpu.py --tiny                     # CPU check (about 25 s on one core)
    KERAS_BACKEND=jax python bench/gpu.py --sizes 64 --precisions bfloat16 --batch 128
    KERAS_BACKEND=tensorflow python bench/gpu.py --tiny              # the TensorFlow backend works too

On a GPU machine without network access and without TensorFlow (such as the H200 of the device tool: Python 3.12 with JAX
and CUDA, but no keras, optree, namex or fastcore), it needs only JAX and four wheels: importing `lensddim.model`,
`DiffusionModel.fit` on numpy arrays and `generate` import no TensorFlow under KERAS_BACKEND=jax (the line above the
table says so). On a machine with network access, in the repository's root, fetch the wheels once (the versions this
repository is tested with; keras, namex and fastcore are pure Python, optree is built for CPython 3.12) into a folder
git ignores:

    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
        keras==3.15.1 namex==0.1.0 optree==0.20.0 'fastcore<2'

(keras' other needs, absl-py, numpy, rich, h5py, ml-dtypes and packaging, are already there.) lensddim itself travels as
the repository (PYTHONPATH=.), not as a wheel. With the repository and its `.whl` folder on the GPU machine (for the
device tool: carry `.whl`), in the repository's root:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH=/tmp/site:. KERAS_BACKEND=jax PYTHONUNBUFFERED=1 && python3 bench/gpu.py

With the defaults it should take 3 to 4 minutes on an H200. That is an estimate, not yet measured there: XLA's
compilations (per size three trainers, about 5-10 s each on a CPU, and six sampling walks, about 2 s each) take most of
it, the timed work itself is seconds. Progress lines with the time so far come first, the table at the end; give the
command a timeout of 10 minutes. Shorter: `--sizes 64`, `--calls 20`, `--precisions bfloat16`.
"""
import os
os.environ.setdefault("KERAS_BACKEND", "jax")   # the accelerator machine has JAX and no TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import math
import sys
import time

import numpy as np
import keras
from keras import ops

from lensddim.model import PRECISIONS, DiffusionModel
from lensddim.sampler import network_calls, sampling_rates
from lensddim.unet import build_unet, network_flops

FULL = dict(sizes=[32, 64], widths=[32, 64, 96, 128], block_depth=2, batch=64, steps=100, warmup=2, rounds=3,
            calls=[10, 20, 50], sample_n=256, matmul_n=8192)
TINY = dict(sizes=[16], widths=[8, 16], block_depth=1, batch=8, steps=3, warmup=1, rounds=2,
            calls=[4, 8], sample_n=8, matmul_n=256)


# --- the reference: the Keras DDIM example's trainer, compactly -------------------------------------------------------

class ReferenceDDIM(keras.Model):
    """The Keras DDIM example's trainer over `build_unet`: normalise, draw diffusion times and noise, noisy images, network,
    MAE to the noise, gradient step, EMA (offset cosine schedule, signal rates 0.95 to 0.02, as the example). float32."""
    def __init__(self, image_size, widths, block_depth, ema=0.999, max_signal_rate=0.95, min_signal_rate=0.02):
        super().__init__(name="reference")
        self.image_size, self.ema = image_size, ema
        self.angles = (math.acos(max_signal_rate), math.acos(min_signal_rate))
        self.normalizer = keras.layers.Normalization()
        self.network = build_unet(image_size, widths=widths, block_depth=block_depth, name="network")
        self.ema_network = build_unet(image_size, widths=widths, block_depth=block_depth, name="ema_network")
        self.ema_network.set_weights(self.network.get_weights())
        self.ema_network.trainable = False
        self.seed_generator = keras.random.SeedGenerator(0)
        self.built = True

    def adapt(self, images):
        self.normalizer.adapt(images)
        return self

    def noise_loss(self, images):
        "The example's step up to the loss, on any backend."
        images = self.normalizer(images)
        noises = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        times = keras.random.uniform((ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator)
        angles = self.angles[0] + times * (self.angles[1] - self.angles[0])
        noise_rates, signal_rates = ops.sin(angles), ops.cos(angles)
        pred_noises = self.network([signal_rates * images + noise_rates * noises, noise_rates**2], training=True)
        return ops.mean(ops.abs(noises - pred_noises))

    def ema_update(self):
        for weight, ema_weight in zip(self.network.weights, self.ema_network.weights):
            ema_weight.assign(self.ema * ema_weight + (1 - self.ema) * weight)

    def train_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        import tensorflow as tf
        with tf.GradientTape() as tape:
            loss = self.noise_loss(keras.utils.unpack_x_y_sample_weight(args[0])[0])
        gradients = tape.gradient(loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.network.trainable_weights))
        self.ema_update()
        return {"noise_loss": loss}

    def _jax_train_step(self, state, images):
        "The same step on values: JAX's trainer passes the variables' values in and out as `state`."
        import jax
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        images = keras.utils.unpack_x_y_sample_weight(images)[0]

        def scoped(fn, trainable, non_trainable):   # run `fn` on these values; the non-trainable values after it
            mapping = [*zip(self.trainable_variables, trainable), *zip(self.non_trainable_variables, non_trainable)]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                out = fn()
            return out, [scope.get_current_value(v) for v in self.non_trainable_variables]

        (loss, non_trainable), gradients = jax.value_and_grad(
            lambda t, n: scoped(lambda: self.noise_loss(images), t, n), has_aux=True)(trainable, non_trainable)
        trainable, optimizer_variables = self.optimizer.stateless_apply(optimizer_variables, gradients, trainable)
        _, non_trainable = scoped(self.ema_update, trainable, non_trainable)
        return {"noise_loss": loss}, (trainable, non_trainable, optimizer_variables, metrics_variables)


# --- the machine --------------------------------------------------------------------------------------------------------

def accelerator():
    "(True if an accelerator runs the backend's work, a description of the device)."
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        device = jax.devices()[0]
        return device.platform != "cpu", f"jax {jax.__version__} {device.platform}: {getattr(device, 'device_kind', device)}"
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name) if gpus else "CPU"
        return bool(gpus), f"tensorflow {tf.__version__}: {name}"
    raise SystemExit(f"bench/gpu.py runs under KERAS_BACKEND=jax (or tensorflow), not {backend!r}.")


def check_bfloat16(device):
    "A clear SystemExit unless the backend and device compute in bfloat16 (a chip without it, or a backend without kernels)."
    if keras.backend.backend() == "jax":
        import jax
        capability = getattr(jax.devices()[0], "compute_capability", None)
        if jax.devices()[0].platform == "gpu" and capability and float(capability) < 8.0:
            raise SystemExit(f"bfloat16 needs an NVIDIA GPU of compute capability 8.0 (Ampere) or newer; {device} has "
                             f"{capability}. Run with --precisions float32.")
    try:
        x = ops.ones((2, 8, 8, 4), "bfloat16")
        y = ops.matmul(ops.reshape(ops.conv(x, ops.ones((3, 3, 4, 4), "bfloat16"), padding="same"), (-1, 4)),
                       ops.ones((4, 4), "bfloat16"))
        ops.convert_to_numpy(ops.cast(y, "float32"))
    except Exception as error:
        raise SystemExit(f"bfloat16 does not run with the {keras.backend.backend()} backend on {device} "
                         f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
                         f"Run with --precisions float32.") from None


def bf16_matmul_rate(n, repeats=10, tries=5):
    "FLOP/s of an n x n x n bfloat16 matrix product: `repeats` chained products in one compiled call, best of `tries`."
    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, n)).astype("float32")
    b = (rng.normal(size=(n, n)) / math.sqrt(n)).astype("float32")   # keeps the chained products near 1
    if keras.backend.backend() == "jax":
        import jax, jax.numpy as jnp
        a, b = jnp.asarray(a, jnp.bfloat16), jnp.asarray(b, jnp.bfloat16)
        run = jax.jit(lambda a, b: jax.lax.fori_loop(0, repeats, lambda i, c: c @ b, a))
        wait = lambda c: c.block_until_ready()
    else:
        import tensorflow as tf
        a, b = tf.cast(a, tf.bfloat16), tf.cast(b, tf.bfloat16)
        run = tf.function(lambda a, b: tf.while_loop(lambda i, c: i < repeats, lambda i, c: (i + 1, c @ b), (0, a))[1],
                          jit_compile=bool(tf.config.list_physical_devices("GPU")))
        wait = lambda c: c.numpy()
    wait(run(a, b))
    best = math.inf
    for _ in range(tries):
        start = time.perf_counter()
        wait(run(a, b))
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best


# --- FLOPs per image ------------------------------------------------------------------------------------------------------

def xla_flops_per_image(network, batch, training=True):
    "XLA's FLOP count (cost analysis of the lowered computation) of the U-Net's forward (+ backward) on one batch, per image."
    import jax
    size, channels = network.inputs[0].shape[1], network.inputs[0].shape[-1]
    images = jax.ShapeDtypeStruct((batch, size, size, channels), "float32")
    variances = jax.ShapeDtypeStruct((batch, 1, 1, 1), "float32")
    trainable = [v.value for v in network.trainable_variables]
    non_trainable = [v.value for v in network.non_trainable_variables]

    def loss(trainable, non_trainable, images, variances):
        out, _ = network.stateless_call(trainable, non_trainable, [images, variances], training=training)
        return ops.mean(ops.abs(out - images))

    fn = jax.grad(loss) if training else loss
    lowered = jax.jit(fn).lower(trainable, non_trainable, images, variances)
    cost = lowered.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"]) / batch


# --- timing ------------------------------------------------------------------------------------------------------------------

def sync(model):
    "Wait for the model's last step (its last variables' values)."
    for variables in (model.trainable_variables, model.non_trainable_variables):
        if variables:
            ops.convert_to_numpy(variables[-1])


def fit_seconds(model, images, batch):
    "Seconds of one `model.fit` over `images` (len(images) // batch steps), until its last step is done."
    start = time.perf_counter()
    model.fit(images, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    sync(model)
    return time.perf_counter() - start


def steps_for_calls(model, calls, solver="ddim"):
    "The `steps` of `generate(solver=solver)` that make `calls` network calls per image."
    spacing = model.sampling_settings(solver=solver)["spacing"]
    for steps in range(1, calls + 1):
        if network_calls(solver, sampling_rates(model.schedule, steps, spacing)[1]) == calls:
            return steps
    raise ValueError(f"no number of {solver} steps makes {calls} network calls")


def generate_seconds(model, n, steps):
    "Seconds of the first and of the second `generate(n, steps)` (same shape, same seed)."
    times = []
    for _ in range(2):
        start = time.perf_counter()
        model.generate(n, steps=steps, seed=0, batch_size=n, verbose=0)
        times.append(time.perf_counter() - start)
    return times


# --- the run -------------------------------------------------------------------------------------------------------------------

def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (automatic when no accelerator is found)")
    parser.add_argument("--sizes", type=int, nargs="+", help=f"image sizes in px (default {FULL['sizes']})")
    parser.add_argument("--widths", type=int, nargs="+", help=f"U-Net widths (default {FULL['widths']})")
    parser.add_argument("--block-depth", type=int, help=f"residual blocks per level (default {FULL['block_depth']})")
    parser.add_argument("--batch", type=int, help=f"training images per step (default {FULL['batch']})")
    parser.add_argument("--steps", type=int, help=f"timed training steps per trainer and turn (default {FULL['steps']})")
    parser.add_argument("--warmup", type=int, help=f"untimed warm-up steps per trainer (default {FULL['warmup']})")
    parser.add_argument("--rounds", type=int, help=f"timed turns per trainer (default {FULL['rounds']})")
    parser.add_argument("--calls", type=int, nargs="+", help=f"network calls of the timed generations (default {FULL['calls']})")
    parser.add_argument("--sample-n", type=int, help=f"images per generation, one batch (default {FULL['sample_n']})")
    parser.add_argument("--matmul-n", type=int, help=f"size of the bf16 matrix product (default {FULL['matmul_n']})")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), help=f"DiffusionModel precisions (default: "
                        f"{' '.join(PRECISIONS)})")
    args = parser.parse_args(argv)
    for name in args.precisions:
        if name not in PRECISIONS:
            try:
                keras.DTypePolicy(name)
            except ValueError:
                parser.error(f"unknown precision {name!r}: Keras knows no dtype policy of that name; DiffusionModel's "
                             f"precisions are {', '.join(PRECISIONS)}")
            parser.error(f"precision {name!r} is a Keras dtype policy but not a DiffusionModel precision; its precisions are "
                         f"{', '.join(PRECISIONS)}")
    for name in ("sizes", "widths", "calls"):
        if getattr(args, name) is not None and min(getattr(args, name)) < 1:
            parser.error(f"--{name} must be positive")
    for name in ("block_depth", "batch", "steps", "warmup", "rounds", "sample_n", "matmul_n"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    backend = keras.backend.backend()
    found, device = accelerator()
    tiny = args.tiny or not found
    settings = {key: (value if getattr(args, key) is None else getattr(args, key))
                for key, value in (TINY if tiny else FULL).items()}
    widths, depth, batch = tuple(settings["widths"]), settings["block_depth"], settings["batch"]
    if not found:
        print(f"No accelerator found ({device}): running on the CPU at tiny sizes ({settings['sizes']} px, widths "
              f"{'-'.join(map(str, widths))}, {settings['steps']} steps); a check that the script works, not a measurement.")
    elif tiny:
        print("--tiny: tiny sizes on the accelerator.")
    if "bfloat16" in args.precisions:
        check_bfloat16(device)
    print(f"keras {keras.__version__} ({backend}), {device}; widths {'-'.join(map(str, widths))}, block depth {depth}, "
          f"batch {batch}, {settings['warmup']} warm-up + {settings['rounds']} x {settings['steps']} timed steps per trainer, "
          f"generate {settings['sample_n']} images (ddim)", flush=True)
    started = time.perf_counter()
    peak = bf16_matmul_rate(settings["matmul_n"])

    rows, ratios = [], []
    for size in settings["sizes"]:
        images = np.random.default_rng(size).uniform(size=(batch * settings["steps"], size, size, 1)).astype("float32")
        trainers = {}
        for precision in args.precisions:
            model = DiffusionModel(image_size=size, widths=widths, block_depth=depth, precision=precision, seed=0)
            trainers[("lensddim", precision)] = model.adapt(images)
        trainers[("reference", "float32")] = ReferenceDDIM(size, widths, depth).adapt(images)
        for (name, precision), model in trainers.items():
            model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4))
            seconds = fit_seconds(model, images[:batch * settings["warmup"]], batch)    # trace, compile, warm up
            print(f"  {size} px {name} {precision}: first fit (tracing, compiling) {seconds:.1f} s; "
                  f"{time.perf_counter() - started:.0f} s so far", flush=True)
        seconds = {key: [] for key in trainers}
        for _ in range(settings["rounds"]):
            for key, model in trainers.items():
                seconds[key].append(fit_seconds(model, images, batch))
        network = trainers[("reference", "float32")].network
        if backend == "jax":
            flops, inference = xla_flops_per_image(network, batch), xla_flops_per_image(network, batch, training=False)
            method = "XLA cost analysis"
        else:
            flops, inference = network_flops(network), network_flops(network, training=False)
            method = "Conv2D/Dense multiply-adds x 2 x 3"
        print(f"{size} px: training {flops / 1e9:.3f} GFLOP per image ({method}; counted multiply-adds x 6: "
              f"{network_flops(network) / 1e9:.3f}), a network call {inference / 1e9:.3f} GFLOP per image", flush=True)
        rate = {key: len(images) / float(np.median(s)) for key, s in seconds.items()}
        print(f"  {size} px training img/s: " + ", ".join(f"{n} {p} {r:.1f}" for (n, p), r in rate.items()), flush=True)
        for (name, precision), value in rate.items():
            rows.append((size, name, precision, "train", value, None, None, flops, value * flops))
        for precision in args.precisions:
            model = trainers[("lensddim", precision)]
            for calls in settings["calls"]:
                first, second = generate_seconds(model, settings["sample_n"], steps_for_calls(model, calls))
                value = settings["sample_n"] / second
                print(f"  {size} px {precision} generate@{calls}: 1st call {first:.2f} s, 2nd {second:.3f} s; "
                      f"{time.perf_counter() - started:.0f} s so far", flush=True)
                rows.append((size, "lensddim", precision, f"generate@{calls}", value, settings["sample_n"] / first,
                             first / second, inference * calls, value * inference * calls))
        ratios.append((size, {p: rate[("lensddim", p)] / rate[("reference", "float32")] for p in args.precisions}))
        del trainers
    peak = max(peak, bf16_matmul_rate(settings["matmul_n"]))

    header = (f"{'px':>4s} {'model':9s} {'precision':9s} {'measure':12s} {'img/s':>10s} {'1st img/s':>10s} {'2nd/1st':>8s} "
              f"{'GFLOP/img':>10s} {'GFLOP/s':>10s} {'of bf16 mm':>10s}")
    print(f"\nbf16 matmul {settings['matmul_n']}^3: {peak / 1e12:.3f} TFLOP/s (best of before and after); "
          f"train: steady img/s of model.fit; generate@N: N network calls per image, img/s of the 2nd call, "
          f"1st call beside it; tensorflow imported: {'yes' if 'tensorflow' in sys.modules else 'no'}; "
          f"{time.perf_counter() - started:.0f} s\n")
    print(header)
    print("-" * len(header))
    for size, name, precision, measure, value, first, speedup, flop, achieved in rows:
        first = f"{first:10.1f}" if first is not None else f"{'-':>10s}"
        speedup = f"{speedup:7.1f}x" if speedup is not None else f"{'-':>8s}"
        print(f"{size:4d} {name:9s} {precision:9s} {measure:12s} {value:10.1f} {first} {speedup} {flop / 1e9:10.3f} "
              f"{achieved / 1e9:10.1f} {achieved / peak:10.2%}")
    print("\nratios (training img/s against the reference, same run, same batch):")
    for size, by_precision in ratios:
        print(f"  {size} px: " + ", ".join(f"lensddim {p} / reference {r:.2f}x" for p, r in by_precision.items()))
    print("second / first generate (how many times faster the second call is; the goal on a GPU: >= 10x):")
    for size, name, precision, measure, _, _, speedup, _, _ in rows:
        if speedup is not None:
            print(f"  {size} px {precision} {measure}: {speedup:.1f}x")


if __name__ == "__main__":
    main()
