"""Training-step cost of the CSBP chaotic loss: spiking ResNet-19 with and without
``snnzoo.chaos.attach_chaos`` on every spiking layer, timed side by side in one process.

    KERAS_BACKEND=torch python -m benchmarks.chaos_overhead --steps 5 --repeats 3

The same model (same weights, same batch) is timed in alternating blocks: ``--steps`` training
steps (``train_on_batch``) without chaos, then with the chaotic loss attached (paper form on the
input of every ``BaseNeuron`` layer, i.e. the pre-activation), then detached again, ``--repeats``
times; which of the two comes first alternates from pair to pair. Each block starts with one
untimed warm-up step. Reported: median seconds per step of each, their ratio, and the median and
a bootstrap 95 % interval of the per-pair ratios (block medians of neighbouring blocks, so slow
drifts of machine load cancel). Defaults: ResNet-19 (TET variant), T = 2, 32×32×3, batch 32, SGD.

``--idle-arm`` adds a control arm to every repeat: the probes attached (wrapped calls, probe
layers and variables, attach/detach before and after, the train function rebuilt) but recording
nothing. Its ratio to the plain arm is what the harness alone costs or biases; the chaos arm's
ratio to it is the cost of the loss itself. The order of the three arms cycles through all six
permutations.

On torch it also times the chaotic loss alone (``--isolated-repeats``): forward and backward of
the probes' summed loss on tensors of the probes' input shapes, with the gradients of the
neurons' time slices flowing in as in the step, minus the same backward without the loss.
``isolated_ratio`` = 1 + that time / the plain step time: an estimate of the overhead that does
not suffer from the step-to-step noise of a shared machine (±10–15 % here: mostly page faults,
counted per step; ``--keep-memory`` removes most), which the paired blocks need many repeats to
average out.
"""
import argparse
import itertools
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from snnzoo.chaos import attach_chaos, chaos_probes, detach_chaos  # noqa: E402
from snnzoo.layers.find import find_layers  # noqa: E402
from snnzoo.layers.neurons import BaseNeuron  # noqa: E402


def build_model(time_steps, num_classes, input_shape):
    try:
        from snnzoo.models.resnet19 import resnet19
    except ImportError:  # pragma: no cover - fallback if the ResNet-19 module is absent
        from snnzoo.models.sew_resnet import sew_resnet18_cifar

        return sew_resnet18_cifar(num_classes=num_classes, time_steps=time_steps), "sew_resnet18_cifar"
    return resnet19(num_classes=num_classes, time_steps=time_steps, input_shape=input_shape), "resnet19_tet"


def _device_name():
    """The accelerator the backend computes on (GPU name), or 'cpu'."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    if keras.backend.backend() == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "cpu"


def _page_faults():
    """Minor page faults of this process so far (None where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def keep_freed_memory():
    """glibc: keep freed memory in the process instead of returning it to the OS (no trimming,
    mmap only above 32 MiB, 256 MiB heap padding). Otherwise a step that re-touches returned
    memory pays a page fault per 4 KiB (~1 µs each in a VM; 10^5–10^6 per step here), the
    largest source of step-to-step noise on this CPU. True if applied."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    return all(libc.mallopt(option, value) == 1 for option, value in (
        (m_trim_threshold, 2**31 - 1), (m_top_pad, 256 << 20), (m_mmap_threshold, 32 << 20)))


def bootstrap_median_ci(values, draws=2000, seed=1):
    """Bootstrap 95 % interval of the median of ``values``."""
    boot = np.random.default_rng(seed)
    medians = sorted(float(np.median(boot.choice(values, len(values)))) for _ in range(draws))
    return [medians[int(0.025 * draws) - 1], medians[int(0.975 * draws) - 1]]


def _idle_observe(inputs, training, split_time=False):
    """A probe's ``observe`` that records nothing (the ``--idle-arm`` control)."""
    return None


def time_block(model, x, y, steps, faults, warmup=1):
    """Seconds per step of ``steps`` training steps after ``warmup`` untimed steps (traces /
    compiles after attach or detach); the page faults of each step are appended to ``faults``."""
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        f0 = _page_faults()
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - t0)
        if f0 is not None:
            faults.append(_page_faults() - f0)
    return times


def neuron_input_shapes(model, x):
    """Shapes of the tensors the probes see: the input of every BaseNeuron in one forward pass."""
    shapes, layers = [], find_layers(model, BaseNeuron)
    for layer in layers:
        def recording(*a, _original=layer.call, **k):
            shapes.append(tuple(int(d) for d in a[0].shape))
            return _original(*a, **k)

        layer.call = recording
    try:
        model(x, training=False)
    finally:
        for layer in layers:
            del layer.__dict__["call"]
    return shapes


def time_isolated(model, x, form, repeats):
    """Seconds per step of the chaotic loss alone (torch), as the probes on the spiking layers
    run it: the difference between (a) forward + backward of the summed loss of every probe on
    tensors of the probes' input shapes, the gradients of the tensors' time slices (the neuron's
    share) flowing in with it, and (b) the same slices without the loss (what a plain step does
    with them). Medians of ``repeats`` alternating runs; short, so much less noisy than the
    difference of two training-step times."""
    import torch

    from snnzoo.chaos import ChaoticRegularizer
    from snnzoo.backend.torch_chaos import Precomputed

    device = model.trainable_variables[0].value.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    reg = ChaoticRegularizer(z0=10.0, form=form)
    gen = torch.Generator(device=device).manual_seed(0)
    shapes = neuron_input_shapes(model, x)
    xs = [torch.randn(s, device=device, generator=gen).requires_grad_() for s in shapes]
    neuron_grads = [torch.randn(s, device=device, generator=gen).unbind(1) for s in shapes]

    def run(chaos):
        for leaf in xs:
            leaf.grad = None
        sync()
        t0 = time.perf_counter()
        heads, grads = [], []
        if chaos:
            entries = [reg._fast_entry(leaf, split_time=True) for leaf in xs]  # as the probes do
            total, _ = reg._fast_batch_loss(entries)
            heads.append(total)
            grads.append(None)
        for k, leaf in enumerate(xs):
            slices = entries[k][1] if chaos and isinstance(entries[k], Precomputed) else None
            heads += slices or leaf.unbind(1)
            grads += neuron_grads[k]
        torch.autograd.backward(heads, grads)
        sync()
        return time.perf_counter() - t0

    times = {True: [], False: []}
    for _ in range(repeats + 1):
        for chaos in (True, False):
            times[chaos].append(run(chaos))
    return statistics.median(times[True][1:]) - statistics.median(times[False][1:]), shapes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps per block")
    p.add_argument("--repeats", type=int, default=3, help="plain/chaos block pairs")
    p.add_argument("--block-warmup", type=int, default=1,
                   help="untimed steps at the start of each block (0 is fine for torch eager, "
                        "which traces nothing after attach/detach: then --steps 1 alternates "
                        "plain and chaos step by step)")
    p.add_argument("--warmup-pairs", type=int, default=0,
                   help="untimed plain/chaos block pairs first (until the process's memory stops "
                        "growing: with --keep-memory a few pairs, see the page-fault counts)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--time-steps", type=int, default=2)
    p.add_argument("--image-size", type=int, default=32,
                   help="input height = width (small sizes make a launch-bound step on CPU, a "
                        "proxy for a GPU step)")
    p.add_argument("--num-classes", type=int, default=100)
    p.add_argument("--form", default="paper", choices=["paper", "code"])
    p.add_argument("--jit", action="store_true", help="compile(jit_compile=True)")
    p.add_argument("--isolated-repeats", type=int, default=20,
                   help="torch: also time the chaotic loss alone this many times (0 = skip)")
    p.add_argument("--idle-arm", action="store_true",
                   help="add a control arm: probes attached but recording nothing (module doc)")
    p.add_argument("--keep-memory", action="store_true",
                   help="glibc: keep freed memory in the process (see keep_freed_memory), for both "
                        "the plain and the chaos steps")
    p.add_argument("--out", default=None, help="optional JSON file for the numbers")
    args = p.parse_args(argv)
    kept = keep_freed_memory() if args.keep_memory else False

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, 3)
    model, name = build_model(args.time_steps, args.num_classes, shape)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=args.jit)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size,) + shape).astype("float32")
    y = rng.integers(0, args.num_classes, args.batch_size)
    n_neurons = len(find_layers(model, BaseNeuron))

    def chaos_block(faults, idle=False):
        attach_chaos(model, BaseNeuron, z0=10.0, form=args.form)
        probes = chaos_probes(model)
        assert len(probes) == n_neurons
        if idle:  # the control arm: attached probes that record nothing
            for probe in probes:
                probe.observe = _idle_observe
        times = time_block(model, x, y, args.steps, faults, args.block_warmup)
        detach_chaos(model)
        return times

    arms = {"plain": lambda faults: time_block(model, x, y, args.steps, faults, args.block_warmup),
            "chaos": chaos_block}
    if args.idle_arm:
        arms["idle"] = lambda faults: chaos_block(faults, idle=True)
    orders = list(itertools.permutations(arms)) if args.idle_arm else [("plain", "chaos"),
                                                                      ("chaos", "plain")]
    for _ in range(args.warmup_pairs):
        time_block(model, x, y, args.steps, [])
        chaos_block([])
    times = {arm: [] for arm in arms}
    faults = {arm: [] for arm in arms}
    ratios = {arm: [] for arm in arms if arm != "plain"}
    if args.idle_arm:
        ratios["chaos_to_idle"] = []
    for r in range(args.repeats):
        block = {arm: arms[arm](faults[arm]) for arm in orders[r % len(orders)]}
        for arm in arms:
            times[arm] += block[arm]
        line = [f"plain {statistics.median(block['plain']):.4f} s/step"]
        for arm in arms:
            if arm == "plain":
                continue
            ratios[arm].append(statistics.median(block[arm]) / statistics.median(block["plain"]))
            line.append(f"{arm} {statistics.median(block[arm]):.4f} s/step, ratio {ratios[arm][-1]:.4f}")
        if args.idle_arm:
            ratios["chaos_to_idle"].append(
                statistics.median(block["chaos"]) / statistics.median(block["idle"]))
        print(f"pair {r + 1}/{args.repeats}: " + ", ".join(line), flush=True)
    plain, chaos, pair_ratios = times["plain"], times["chaos"], ratios["chaos"]
    plain_faults, chaos_faults = faults["plain"], faults["chaos"]

    result = {
        "model": name, "backend": keras.backend.backend(), "device": _device_name(),
        "jit_compile": args.jit, "keep_memory": kept, "warmup_pairs": args.warmup_pairs,
        "block_warmup": args.block_warmup,
        "batch_size": args.batch_size, "time_steps": args.time_steps, "input_shape": list(shape),
        "spiking_layers_with_chaos": n_neurons, "form": args.form,
        "timed_steps_each": len(plain),
        "plain_s_per_step": statistics.median(plain), "chaos_s_per_step": statistics.median(chaos),
        "ratio": statistics.median(chaos) / statistics.median(plain),
        "pair_ratios": pair_ratios,
        "pair_ratio_median": statistics.median(pair_ratios),
        "pair_ratio_95ci": bootstrap_median_ci(pair_ratios),
    }
    if args.idle_arm:
        result.update({
            "idle_s_per_step": statistics.median(times["idle"]),
            "idle_pair_ratios": ratios["idle"],
            "idle_pair_ratio_median": statistics.median(ratios["idle"]),
            "idle_pair_ratio_95ci": bootstrap_median_ci(ratios["idle"]),
            "chaos_to_idle_pair_ratios": ratios["chaos_to_idle"],
            "chaos_to_idle_ratio_median": statistics.median(ratios["chaos_to_idle"]),
            "chaos_to_idle_ratio_95ci": bootstrap_median_ci(ratios["chaos_to_idle"]),
        })
    if plain_faults:
        result["page_faults_per_step_median"] = {"plain": statistics.median(plain_faults),
                                                 "chaos": statistics.median(chaos_faults)}
        result["page_faults_per_step_max"] = {"plain": max(plain_faults), "chaos": max(chaos_faults)}
    if keras.backend.backend() == "torch":
        from snnzoo.backend import torch_chaos

        # the input layouts (shapes, strides) the loss's static CPU kernels were compiled for
        result["compiled_loss_layouts"] = len(torch_chaos._layouts.get(torch_chaos._kernel, ()))
    if args.isolated_repeats and keras.backend.backend() == "torch":
        iso, shapes = time_isolated(model, x, args.form, args.isolated_repeats)
        result["isolated_chaos_s_per_step"] = iso
        result["isolated_ratio"] = 1.0 + iso / result["plain_s_per_step"]
        result["probe_input_shapes"] = [list(s) for s in shapes]
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result | {f"{arm}_all": times[arm] for arm in arms}
                      | {f"{arm}_faults_all": faults[arm] for arm in arms}, f, indent=1)
    return result


if __name__ == "__main__":
    main()
