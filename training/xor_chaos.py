"""CSBP vs BP on XOR with a [2, 5, 2] LIF SNN — the experiment of Fig. 2 in Wang, Tao & Chen,
"Brain-inspired chaotic spiking backpropagation", National Science Review 2024.

    python -m training.xor_chaos --seeds 20 --epochs 10000 --out runs/xor_chaos

Set-up (facts from the paper: [2, 5, 2] SNN, MSE, z0 = 20, β = 0.9995 per epoch, 10,000 epochs;
the rest are choices of this script, recorded in results.json):

* XOR inputs {0, 1}² as constant input currents over T = 8 steps (direct encoding); targets one-hot
  over 2 output neurons; readout = output firing rate r (mean over T of the spikes); task loss =
  squared error summed over the output neurons and averaged over the 4 samples,
  mean_b Σ_k (r_bk − y_bk)² (= 2 × MSE; the same reduction as the chaotic term, which sums over
  neurons and averages over the batch). "MSE" in the results is the plain mean squared error.
* Neurons: snnzoo ``LIF`` with the CSBP/TET dynamics ``mem = 0.5·mem + u; s = Θ(mem − 1);
  mem = (1 − s)·mem`` (reset not detached) and the triangle ("ZIF", γ = 1) surrogate.
* Full-batch SGD (one step per epoch, learning rate ``--lr``), PyTorch-default uniform init.
* CSBP adds ``snnzoo.chaos.ChaoticRegularizer`` (paper form, I0 = 0.65) on the pre-activation of
  both layers; z ← β·z after every epoch. BP is the same run with z = 0 (identical seeds/inits).
* All seeds, both methods and the Lyapunov twins are one vmapped, jitted JAX step (float64),
  scanned over epochs.
* Maximum Lyapunov exponent of the CSBP weight dynamics by Benettin's method: a twin trajectory
  starts δ0 away in a random direction; after every epoch the separation d is measured, the
  per-epoch exponent is ln(d/δ0), and the twin is pulled back to distance δ0 along the same
  direction. The curve reported is the mean over seeds, smoothed with a moving average.

"solved" counts seeds whose final MSE (mean over the last 500 epochs) is below 0.05;
"exact_fraction_final_window" is the fraction of those epochs with all four outputs exactly right.

Writes ``results.json`` and three PNGs (weight trajectory, Lyapunov exponent, loss distributions)
to ``--out``.
"""
import argparse
import json
import os
import sys
import time

if "keras" in sys.modules and sys.modules["keras"].backend.backend() != "jax":
    raise SystemExit("training.xor_chaos runs on the JAX backend; start a fresh process "
                     "(python -m training.xor_chaos ...)")
os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from snnzoo import surrogates  # noqa: E402
from snnzoo.chaos import ChaoticRegularizer  # noqa: E402
from snnzoo.chaos.lyapunov import moving_average  # noqa: E402
from snnzoo.layers.neurons import LIF, tau_from_decay  # noqa: E402

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([[1, 0], [0, 1], [0, 1], [1, 0]], dtype=np.float64)  # one-hot of XOR
SIZES = (2, 5, 2)
PARAM_NAMES = ("w1", "b1", "w2", "b2")


def init_params(key, sizes=SIZES):
    """PyTorch ``nn.Linear`` default: U(−1/√fan_in, 1/√fan_in) for weights and biases."""
    params = {}
    keys = jax.random.split(key, 2 * (len(sizes) - 1))
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1.0 / np.sqrt(fan_in)
        params[f"w{i + 1}"] = jax.random.uniform(keys[2 * i], (fan_in, fan_out), jnp.float64, -bound, bound)
        params[f"b{i + 1}"] = jax.random.uniform(keys[2 * i + 1], (fan_out,), jnp.float64, -bound, bound)
    return params


def flatten(params):
    return jnp.concatenate([params[k].reshape(-1) for k in PARAM_NAMES])


def make_step(time_steps, lr, reg, loss_reduction="batch_mean", loss_scale=1.0, chaos_layers=("hidden", "output"),
              surrogate="triangle"):
    lif1 = LIF(tau=tau_from_decay(0.5), decay_input=False, v_threshold=1.0, v_reset=0.0,
               surrogate=surrogates.get(surrogate), dtype="float64", name="lif1")
    lif2 = LIF.from_config(lif1.get_config() | {"name": "lif2"})
    x_seq = jnp.repeat(jnp.asarray(X)[:, None, :], time_steps, axis=1)  # [4, T, 2]
    y = jnp.asarray(Y)
    lif1(jnp.zeros((4, time_steps, SIZES[1])))  # build outside the trace
    lif2(jnp.zeros((4, time_steps, SIZES[2])))

    def losses(params, z):
        u1 = ops.einsum("bti,ij->btj", x_seq, params["w1"]) + params["b1"]
        s1 = lif1(u1)
        u2 = ops.einsum("bti,ij->btj", s1, params["w2"]) + params["b2"]
        rate = ops.mean(lif2(u2), axis=1)
        mse = ops.mean(ops.square(rate - y))
        task = mse * (Y.shape[1] if loss_reduction == "batch_mean" else 1.0)
        chaos = 0.0
        if "hidden" in chaos_layers:
            chaos = chaos + reg.compute(u1, z)
        if "output" in chaos_layers:
            chaos = chaos + reg.compute(u2, z)
        return loss_scale * task + chaos, mse

    grad_fn = jax.grad(losses, has_aux=True)

    def step(params, z):
        grads, mse = grad_fn(params, z)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), mse

    return step


def run(seeds, epochs, out, lr=1.0, z0=20.0, beta=0.9995, time_steps=8, delta0=1e-8, chunk=500,
        seed_offset=0, smooth=200, loss_reduction="batch_mean", loss_scale=1.0, chaos_layers=("hidden", "output"),
        surrogate="triangle"):
    os.makedirs(out, exist_ok=True)
    reg = ChaoticRegularizer(z0=z0, i0=0.65, form="paper")
    step = make_step(time_steps, lr, reg, loss_reduction, loss_scale, chaos_layers, surrogate)

    # trajectories: [0, S) BP, [S, 2S) CSBP, [2S, 3S) CSBP twins (Benettin)
    inits = [init_params(jax.random.PRNGKey(seed_offset + s)) for s in range(seeds)]
    base = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *inits)
    key = jax.random.PRNGKey(10_000 + seed_offset)
    direction = {k: jax.random.normal(jax.random.fold_in(key, i), base[k].shape, jnp.float64)
                 for i, k in enumerate(PARAM_NAMES)}
    norm = jnp.sqrt(sum(jnp.sum(d.reshape(seeds, -1) ** 2, axis=1) for d in direction.values()))
    twin = jax.tree_util.tree_map(
        lambda p, d: p + delta0 * d / norm.reshape((seeds,) + (1,) * (p.ndim - 1)), base, direction)
    params = jax.tree_util.tree_map(lambda b, t: jnp.concatenate([b, b, t]), base, twin)
    z_scale = jnp.concatenate([jnp.zeros(seeds), jnp.ones(2 * seeds)])
    vstep = jax.vmap(step)

    def epoch(carry, _):
        params, z = carry
        new, mse = vstep(params, z * z_scale)
        flat = jax.vmap(flatten)(new)
        ref, tw = flat[seeds:2 * seeds], flat[2 * seeds:]
        dist = jnp.linalg.norm(tw - ref, axis=1)
        lyap = jnp.log(dist / delta0)
        renorm = ref + (tw - ref) * (delta0 / dist)[:, None]
        # write the renormalised twin back into the parameter tree
        offset, twin_tree = 0, {}
        for k in PARAM_NAMES:
            shape = new[k].shape[1:]
            size = int(np.prod(shape))
            twin_tree[k] = renorm[:, offset:offset + size].reshape((seeds,) + shape)
            offset += size
        new = {k: jnp.concatenate([new[k][:2 * seeds], twin_tree[k]]) for k in PARAM_NAMES}
        return (new, z * beta), (mse[:2 * seeds], lyap, flat[seeds], z)

    @jax.jit
    def run_chunk(params, z):
        return jax.lax.scan(epoch, (params, z), None, length=chunk)

    mse_hist, lyap_hist, w_hist, z_hist = [], [], [], []
    z = jnp.asarray(z0, jnp.float64)
    t0 = time.time()
    for c in range(-(-epochs // chunk)):
        (params, z), (mse, lyap, w0, zs) = run_chunk(params, z)
        mse_hist.append(np.asarray(mse))
        lyap_hist.append(np.asarray(lyap))
        w_hist.append(np.asarray(w0))
        z_hist.append(np.asarray(zs))
        print(f"epoch {(c + 1) * chunk:6d}  z={float(z):8.4f}  median MSE  BP {np.median(mse[-1, :seeds]):.4f}"
              f"  CSBP {np.median(mse[-1, seeds:]):.4f}  ({time.time() - t0:.0f}s)", flush=True)
    mse_hist = np.concatenate(mse_hist)[:epochs]
    lyap_hist = np.concatenate(lyap_hist)[:epochs]
    w_hist = np.concatenate(w_hist)[:epochs]
    z_hist = np.concatenate(z_hist)[:epochs]

    tail = min(500, epochs)
    final_bp = mse_hist[-tail:, :seeds].mean(axis=0)
    final_csbp = mse_hist[-tail:, seeds:].mean(axis=0)
    lyap_mean = lyap_hist.mean(axis=1)
    lyap_smooth = moving_average(lyap_mean, smooth)
    n_early = max(1, epochs // 10)
    results = {
        "config": {"seeds": seeds, "epochs": epochs, "lr": lr, "z0": z0, "beta": beta, "i0": 0.65,
                   "time_steps": time_steps, "sizes": list(SIZES), "delta0": delta0,
                   "seed_offset": seed_offset, "smooth_window": smooth, "final_mse_window": tail,
                   "loss_reduction": loss_reduction, "loss_scale": loss_scale,
                   "chaos_layers": list(chaos_layers), "surrogate": surrogate,
                   "neuron": "LIF tau=2 (decay 0.5), decay_input=False, v_th=1, hard reset to 0, not detached",
                   "readout": "output firing rate over T, MSE to one-hot XOR targets",
                   "chaos": "ChaoticRegularizer(form='paper') on the pre-activations of both layers",
                   "wall_s": time.time() - t0},
        "bp": {"final_mse": final_bp.tolist(), "median_final_mse": float(np.median(final_bp)),
               "solved": int(np.sum(final_bp < 0.05)), "last_epoch_mse": mse_hist[-1, :seeds].tolist(),
               "exact_fraction_final_window": (mse_hist[-tail:, :seeds] == 0).mean(axis=0).tolist()},
        "csbp": {"final_mse": final_csbp.tolist(), "median_final_mse": float(np.median(final_csbp)),
                 "solved": int(np.sum(final_csbp < 0.05)), "last_epoch_mse": mse_hist[-1, seeds:].tolist(),
                 "exact_fraction_final_window": (mse_hist[-tail:, seeds:] == 0).mean(axis=0).tolist(),
                 "lyapunov": lyap_smooth.tolist(),
                 "lyapunov_raw_mean": lyap_mean.tolist(),
                 "lyapunov_first_10pct_mean": float(lyap_mean[:n_early].mean()),
                 "lyapunov_last_10pct_mean": float(lyap_mean[-n_early:].mean()),
                 "lyapunov_positive_until_epoch": int(np.argmax(lyap_smooth <= 0)) if np.any(lyap_smooth <= 0) else None},
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    _plots(out, mse_hist, lyap_mean, lyap_smooth, w_hist, z_hist, final_bp, final_csbp, seeds)
    return results


def _plots(out, mse_hist, lyap_mean, lyap_smooth, w_hist, z_hist, final_bp, final_csbp, seeds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(len(z_hist))
    fig, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for i, label in ((0, "$w^{(1)}_{11}$"), (10, "$b^{(1)}_1$"), (15, "$w^{(2)}_{11}$")):
        axes[0].scatter(epochs, w_hist[:, i], s=0.3, label=label)
    axes[0].set_ylabel("weight (seed 0, CSBP)")
    axes[0].legend(markerscale=12, loc="upper right")
    axes[0].grid(alpha=0.3)
    for name, cols, color in (("BP", slice(0, seeds), "C1"), ("CSBP", slice(seeds, 2 * seeds), "C0")):
        smooth = np.stack([moving_average(m, 50) for m in mse_hist[:, cols].T])
        q25, q50, q75 = np.percentile(smooth, [25, 50, 75], axis=0)
        axes[1].fill_between(epochs, q25, q75, color=color, alpha=0.25, lw=0)
        axes[1].plot(epochs, q50, color=color, lw=1.2, label=f"{name}: median over {seeds} seeds (IQR)")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("MSE (50-epoch average)")
    axes[1].legend()
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "weight_trajectory.png"), dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(epochs, lyap_mean, lw=0.3, color="0.7", label="per epoch (mean over seeds)")
    ax.plot(epochs, lyap_smooth, lw=1.5, color="C3", label="moving average")
    ax.axhline(0, color="k", lw=0.8)
    ax2 = ax.twinx()
    ax2.plot(epochs, z_hist, "--", color="C0", lw=1, label="z")
    ax2.set_ylabel("z", color="C0")
    lo, hi = np.percentile(lyap_mean, [1, 99])
    ax.set_ylim(min(lo, -0.5), max(hi, 0.5))
    ax.set_xlabel("epoch")
    ax.set_ylabel("max. Lyapunov exponent")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "lyapunov.png"), dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, max(final_bp.max(), final_csbp.max(), 0.3) + 1e-3, 31)
    ax.hist(final_bp, bins=bins, alpha=0.6, label=f"BP (median {np.median(final_bp):.3f})")
    ax.hist(final_csbp, bins=bins, alpha=0.6, label=f"CSBP (median {np.median(final_csbp):.3f})")
    ax.set_xlabel("final MSE (mean of the last 500 epochs)")
    ax.set_ylabel(f"seeds (of {seeds})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss_distribution.png"), dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--epochs", type=int, default=10_000)
    p.add_argument("--out", default="runs/xor_chaos")
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--z0", type=float, default=20.0)
    p.add_argument("--beta", type=float, default=0.9995)
    p.add_argument("--time-steps", type=int, default=8)
    p.add_argument("--delta0", type=float, default=1e-8)
    p.add_argument("--seed-offset", type=int, default=0)
    p.add_argument("--loss-reduction", default="batch_mean", choices=["batch_mean", "mean"],
                   help="task loss: squared error summed over outputs and averaged over samples "
                        "(batch_mean, the reduction of the chaotic term) or averaged over both (mean)")
    p.add_argument("--loss-scale", type=float, default=1.0, help="extra factor on the task loss")
    p.add_argument("--chaos-layers", default="hidden,output",
                   help="comma list of layers whose pre-activation gets the chaotic loss")
    p.add_argument("--surrogate", default="triangle", help="snnzoo surrogate name (triangle = ZIF, γ=1)")
    args = p.parse_args(argv)
    if args.seeds < 1 or args.epochs < 1:
        p.error("--seeds and --epochs must be >= 1")
    res = run(args.seeds, args.epochs, args.out, lr=args.lr, z0=args.z0, beta=args.beta,
              time_steps=args.time_steps, delta0=args.delta0, seed_offset=args.seed_offset,
              chunk=min(500, args.epochs), loss_reduction=args.loss_reduction, loss_scale=args.loss_scale,
              chaos_layers=tuple(args.chaos_layers.split(",")), surrogate=args.surrogate)
    print(json.dumps({"bp_median_final_mse": res["bp"]["median_final_mse"],
                      "csbp_median_final_mse": res["csbp"]["median_final_mse"],
                      "bp_solved": res["bp"]["solved"], "csbp_solved": res["csbp"]["solved"],
                      "lyapunov_first_10pct": res["csbp"]["lyapunov_first_10pct_mean"],
                      "lyapunov_last_10pct": res["csbp"]["lyapunov_last_10pct_mean"]}, indent=1))


if __name__ == "__main__":
    main()
