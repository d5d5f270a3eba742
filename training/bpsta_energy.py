"""The BPSA paper's energy claim on data we have (issue 20, item 5).

Shen, Zhao & Zeng ("Backpropagation with biologically plausible spatiotemporal adjustment for
training deep spiking neural networks", Patterns 2022) report that BPSA+BPTA trains SNNs that fire
less, and therefore cost less energy than the same network as an ANN (their Table 5: firing rates
and E_ANN/E_SNN; their Fig. 3: accuracy against the simulation length). This script checks that
direction on MNIST with the same network trained two ways, three seeds each:

* ``bpsta_convnet_mnist_baseline`` — the authors' baseline node (rectangular surrogate, reset not
  detached), i.e. plain BPTT with a surrogate gradient;
* ``bpsta_convnet_mnist`` — BPSA+BPTA (the paper's ``HTGLIFNode``).

Both recipes (``snnzoo.training.recipes``) share everything else: the narrow BP-STA MNIST ConvNet
(C16-MP2-C16-MP2-C32-AP7-FC(32,100)-node-Vote10, direct encoding, T = 4), AdamW 1e-3 / wd 1e-4,
MSE to the one-hot label, batch 64, cosine decay over 12 epochs, initial weights and data order
per seed. Training runs through ``snnzoo train`` (``--resume`` continues an interrupted run, so the
job spans sessions); then every run's final-epoch weights are measured on the full MNIST test set
with :func:`snnzoo.profile`: accuracy, per-layer firing rates, AC/MAC per sample, E_SNN, E_ANN and
E_ANN/E_SNN (45 nm: E_MAC 4.6 pJ, E_AC 0.9 pJ), and accuracy against the number of time steps
(evaluated up to ``--max-steps``, beyond the training T).

    python -m training.bpsta_energy train   [--seeds 0 1 2] [--runs runs/bpsta_energy]
    python -m training.bpsta_energy report  [--runs runs/bpsta_energy]
                                            [--out training/results/bpsta_energy]

``train`` skips finished runs and resumes unfinished ones; ``report`` needs finished runs only
for the seeds it finds and writes ``results.json``, ``README.md`` and the PNGs into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

VARIANTS = {"baseline": "bpsta_convnet_mnist_baseline", "bpsa+bpta": "bpsta_convnet_mnist"}


def _default_data_dir():
    if os.environ.get("SNNZOO_DATA"):
        return None
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"  # the project's checkout layout
    return str(shared) if shared.is_dir() else None


def run_dir(runs, variant, seed):
    return Path(runs) / f"{variant.replace('+', '_')}_s{seed}"


def _finished(out: Path, epochs: int):
    try:
        r = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return int(r.get("epochs_completed", 0)) >= epochs and not r["final"].get("limited")


def train_all(args):
    from snnzoo.training import recipes
    from snnzoo.training.train import train

    for seed in args.seeds:
        for variant, recipe in VARIANTS.items():
            out = run_dir(args.runs, variant, seed)
            epochs = args.epochs or recipes.get(recipe).epochs
            if _finished(out, epochs):
                print(f"=== {variant} seed {seed}: finished ({out})", flush=True)
                continue
            resume = (out / "backup").is_dir() or (out / "history.csv").is_file()
            print(f"=== {variant} seed {seed}: {'resuming' if resume else 'starting'} in {out}",
                  flush=True)
            argv = [recipe, "--seed", str(seed), "--out", str(out)] + (
                ["--epochs", str(args.epochs)] if args.epochs else []) + (
                ["--resume"] if resume else [])
            train(recipe, epochs=args.epochs, out=str(out), seed=seed, resume=resume,
                  data_dir=args.data_dir, verbose=2, argv=argv, prog="snnzoo train")


def _seeds_found(args):
    """``args.seeds`` plus every ``<variant>_s<seed>`` folder found under ``args.runs``."""
    seeds = set(args.seeds)
    for variant in VARIANTS:
        for d in Path(args.runs).glob(f"{variant.replace('+', '_')}_s*"):
            if d.name.rsplit("_s", 1)[-1].isdigit():
                seeds.add(int(d.name.rsplit("_s", 1)[-1]))
    return sorted(seeds)


def _profile_run(args, recipe, out, time_steps, latency):
    """``profile_dataset`` of the run's final-epoch weights at ``time_steps`` on the MNIST test set."""
    from snnzoo.profiling.report import profile_dataset

    model = recipe.build(time_steps)
    model.load_weights(str(out / "final.weights.h5"))
    return profile_dataset(model, data_dir=args.data_dir, dataset="mnist", limit=args.limit,
                           progress=False, latency=latency)


def _summary_of(p):
    """The numbers kept from one :class:`~snnzoo.profiling.report.Profile`."""
    rates = {r["layer"]: r["firing_rate"] for r in p.rows if r["firing_rate"] is not None}
    silent = {r["layer"]: r["silent_fraction"] for r in p.rows if r["firing_rate"] is not None}
    t = p.total
    return {"time_steps": t["time_steps"], "n": t["n"], "accuracy": t["accuracy"],
            "firing_rates": rates, "mean_firing_rate": float(sum(rates.values()) / len(rates)),
            "silent_fractions": silent, "silent_fraction": t["silent_fraction"],
            "firing_rate_all_neurons": t["firing_rate"], "ac": t["ac"], "mac": t["mac"],
            "energy_pj": t["energy_pj"], "ann_energy_pj": t["ann_energy_pj"],
            "efficiency": t["efficiency"],
            "rows": [{k: v for k, v in r.items() if k != "firing_rate_per_step"} for r in p.rows]}


def _measure(args, variant, seed, out):
    """One finished run: profiles at the training T and at ``--max-steps``, plus its history."""
    from snnzoo.training import recipes

    recipe = recipes.get(VARIANTS[variant])
    T = recipe.time_steps
    res = json.loads((out / "results.json").read_text())
    hist = [h.get("test_accuracy") for h in res["history"]]
    p_max = _profile_run(args, recipe, out, args.max_steps, latency=True)
    if not p_max.latency or p_max.latency.get("accuracy_vs_steps") is None:
        raise RuntimeError(f"{out}: no accuracy-vs-steps curve ({p_max.latency})")
    curve = p_max.latency["accuracy_vs_steps"]
    p_T = _profile_run(args, recipe, out, T, latency=False)
    if T <= args.max_steps and abs(curve[T - 1] - p_T.total["accuracy"]) > 1e-9:
        print(f"  warning: accuracy at T={T} from the step-by-step curve ({curve[T - 1]:.2f}) differs "
              f"from the T={T} model's ({p_T.total['accuracy']:.2f})", flush=True)
    return {"variant": variant, "recipe": recipe.name, "seed": seed, "run": str(out),
            "weights": "final.weights.h5", "train_time_steps": T,
            "epochs_completed": res["epochs_completed"], "history_test_accuracy": hist,
            "last3_test_accuracy": hist[-3:], "accuracy_vs_steps": curve,
            "accuracy_train_T": curve[T - 1] if T <= len(curve) else None,
            "accuracy_max_T": curve[-1], "latency_mean_steps": p_max.latency["mean"],
            "at_train_T": _summary_of(p_T), "at_max_T": _summary_of(p_max)}


def _mean_std(values):
    v = [float(x) for x in values if x is not None]
    if not v:
        return None, None
    m = sum(v) / len(v)
    s = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else None
    return m, s


def _summarize(runs):
    """Per variant: mean and (sample) std over seeds of every reported number."""
    out = {}
    for variant in VARIANTS:
        rs = [r for r in runs if r["variant"] == variant]
        if not rs:
            continue
        s = {"seeds": [r["seed"] for r in rs]}
        for key in ("accuracy_train_T", "accuracy_max_T", "latency_mean_steps"):
            s[key] = _mean_std([r[key] for r in rs])
        curves = [r["accuracy_vs_steps"] for r in rs]
        s["accuracy_vs_steps"] = [_mean_std(c[t] for c in curves) for t in range(len(curves[0]))]
        for at in ("at_train_T", "at_max_T"):
            s[at] = {k: _mean_std([r[at][k] for r in rs])
                     for k in ("accuracy", "mean_firing_rate", "firing_rate_all_neurons", "ac",
                               "mac", "energy_pj", "ann_energy_pj", "efficiency", "silent_fraction")}
            s[at]["time_steps"] = rs[0][at]["time_steps"]
            for key in ("firing_rates", "silent_fractions"):
                s[at][key] = {layer: _mean_std([r[at][key][layer] for r in rs])
                              for layer in rs[0][at][key]}
        out[variant] = s
    return out


def _fmt(ms, digits=2, scale=1.0):
    m, s = ms
    if m is None:
        return "–"
    return f"{m * scale:.{digits}f}" + ("" if s is None else f" ± {s * scale:.{digits}f}")


def _table(summary, at, T, T_max, paper_row=True):
    head = ("| variant | seeds | acc. T=%d (%%) | acc. T=%d (%%) | mean firing rate | AC / sample (k) "
            "| MAC / sample (k) | E_SNN (nJ) | E_ANN / E_SNN | silent neurons (%%) |" % (T, T_max))
    lines = [head, "|" + "---|" * 10]
    for variant, s in summary.items():
        a = s[at]
        lines.append(f"| {variant} | {len(s['seeds'])} ({', '.join(map(str, s['seeds']))}) "
                     f"| {_fmt(s['accuracy_train_T'])} | {_fmt(s['accuracy_max_T'])} "
                     f"| {_fmt(a['mean_firing_rate'], 4)} | {_fmt(a['ac'], 1, 1e-3)} "
                     f"| {_fmt(a['mac'], 1, 1e-3)} | {_fmt(a['energy_pj'], 1, 1e-3)} "
                     f"| {_fmt(a['efficiency'], 3)} | {_fmt(a['silent_fraction'], 1, 100.0)} |")
    if paper_row:
        lines.append("| *paper (Shen et al. 2022, Table 5 / Fig. 3)* | – | TODO | TODO | TODO | – | – "
                     "| TODO | TODO | – |")
    return "\n".join(lines)


def _mac_share(summary, at):
    """What the MACs (the first convolution on the repeated image, run every step) cost."""
    share = {v: 4.6 * s[at]["mac"][0] / s[at]["energy_pj"][0] for v, s in summary.items()}
    text = ("Multiply-accumulates on the real-valued input (the first convolution, run on the image "
            "at every step, 4.6 pJ each) make up " + ", ".join(f"{100 * f:.0f} % ({v})" for v, f in
                                                              share.items()) + " of E_SNN at the training T")
    if min(share.values()) > 0.5:
        text += ("; they grow with T like the spikes, so E_ANN/E_SNN stays near 1 and falls with T "
                 "whatever the spiking layers do")
    return text + "."


def _course(runs, variant):
    """How the variant's test accuracy went over the epochs, read off the runs' histories."""
    hists = [r["history_test_accuracy"] for r in runs if r["variant"] == variant]
    peaks = [max(range(len(h)), key=h.__getitem__) for h in hists]
    best = [h[i] for h, i in zip(hists, peaks)]
    last = [h[-1] for h in hists]
    if all(b - l > 10.0 for b, l in zip(best, last)):
        when = (f"epoch {peaks[0] + 1} on every seed" if len(set(peaks)) == 1
                else "epochs " + ", ".join(str(i + 1) for i in peaks))
        return (f"their test accuracy peaked in {when} "
                f"({min(best):.1f}–{max(best):.1f} %) and fell to {min(last):.1f}–{max(last):.1f} % "
                "by the last epoch")
    return (f"their test accuracy ended at {min(last):.1f}–{max(last):.1f} % (best epoch "
            f"{min(best):.1f}–{max(best):.1f} %)")


def _verdict(summary, at, runs):
    """The direction of the paper's claim, read off the numbers only."""
    text = _mac_share(summary, at) + " "
    if not all(v in summary for v in VARIANTS):
        return text + ("Only one variant has finished runs, so the paper's direction (BPSA+BPTA fires less "
                "and is more energy-efficient at comparable accuracy) cannot be checked yet.")
    b, m = summary["baseline"], summary["bpsa+bpta"]
    fr_b, fr_m = b[at]["mean_firing_rate"][0], m[at]["mean_firing_rate"][0]
    e_b, e_m = b[at]["energy_pj"][0], m[at]["energy_pj"][0]
    acc_b, acc_m = b["accuracy_train_T"][0], m["accuracy_train_T"][0]
    fires_less, cheaper = fr_m < fr_b, e_m < e_b
    text += (f"At the training T, BPSA+BPTA's mean firing rate is {fr_m:.4f} against the baseline's "
            f"{fr_b:.4f} ({100 * (fr_m / fr_b - 1):+.0f} %), its E_SNN {e_m / 1e3:.1f} nJ against "
            f"{e_b / 1e3:.1f} nJ ({100 * (e_m / e_b - 1):+.0f} %), its accuracy {acc_m:.2f} % against "
            f"{acc_b:.2f} % ({acc_m - acc_b:+.2f} points; the std over seeds is in the table). ")
    collapsed = acc_m < acc_b - 10.0
    if collapsed:
        text += ("The paper's claim is NOT reproduced here: the BPSA+BPTA networks did not train — "
                 + _course(runs, "bpsa+bpta") + ", far below the baseline's (per-epoch numbers in "
                 "training_curves.png and results.json), so their lower firing and energy are "
                 "those of a network that has mostly stopped firing, not an efficiency gain at "
                 "comparable accuracy. The node's gradients equal the authors' HTGLIFNode "
                 "formulation (tests/test_bpsta_adjust.py, on every backend); BPSA's ∂S/∂U is 0 for "
                 "a neuron that does not fire, so a neuron that falls silent gets no gradient again "
                 f"— {100 * m[at]['silent_fraction'][0]:.1f} % of BPSA+BPTA's spiking neurons never "
                 f"fire on the test set against {100 * b[at]['silent_fraction'][0]:.1f} % of the "
                 "baseline's (per layer in results.json) — which a 16-channel network may not "
                 "survive. Still to try: the authors' widths and T = 16 (a GPU's work).")
    elif fires_less and cheaper:
        text += "The paper's direction holds in these numbers: BPSA+BPTA fires less and costs less energy"
        text += "." if acc_m >= acc_b - 0.5 else ", but at a lower accuracy."
    elif not fires_less and not cheaper:
        text += ("The paper's direction does not hold in these numbers: BPSA+BPTA neither fires less "
                 "nor costs less energy than the baseline.")
    else:
        text += ("The picture is mixed: " + ("fewer spikes" if fires_less else "more spikes") + " but "
                 + ("less" if cheaper else "more") + " energy (the layers' fan-outs differ).")
    lat_b, lat_m = b["latency_mean_steps"][0], m["latency_mean_steps"][0]
    text += (f" Latency (the step from which a test prediction no longer changes, mean over the test "
             f"set, of {b['at_max_T']['time_steps']} steps): {lat_m:.2f} for BPSA+BPTA against "
             f"{lat_b:.2f} for the baseline — the paper's lower-latency claim "
             + ("holds in these numbers." if lat_m < lat_b else "is not seen here."))
    n = min(len(b["seeds"]), len(m["seeds"]))
    if n < 3:
        text += f" With {n} seed(s) per variant this is not a statistical statement."
    return text


def _plot(record, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    summary, runs = record["summary"], record["runs"]
    colors = dict(zip(VARIANTS, ["#888888", "#4c72b0"]))
    T, T_max = record["train_time_steps"], record["max_steps"]

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for variant, s in summary.items():
        t = np.arange(1, len(s["accuracy_vs_steps"]) + 1)
        m = np.array([a[0] for a in s["accuracy_vs_steps"]])
        sd = np.array([a[1] or 0.0 for a in s["accuracy_vs_steps"]])
        ax.plot(t, m, "o-", color=colors[variant], label=f"{variant} (n={len(s['seeds'])})")
        ax.fill_between(t, m - sd, m + sd, color=colors[variant], alpha=0.25)
    ax.axvline(T, color="k", ls="--", lw=1, label=f"training T={T}")
    ax.set(xlabel="time steps t", ylabel="test accuracy after t steps (%)", xticks=range(1, T_max + 1),
           title=f"MNIST, {record['test_samples']} test samples (mean ± std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_steps.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    layers = list(next(iter(summary.values()))["at_train_T"]["firing_rates"])
    width = 0.8 / len(summary)
    panels = (("firing_rates", "firing rate (spikes / neuron / step)", 1.0,
               f"firing rate per spiking layer, T={T}"),
              ("silent_fractions", "neurons that never fire (%)", 100.0,
               f"neurons silent on all {record['test_samples']} test samples, T={T}"))
    for ax, (key, ylabel, scale, title) in zip(axes, panels):
        for i, (variant, s) in enumerate(summary.items()):
            v = s["at_train_T"][key]
            x = np.arange(len(layers)) + (i - (len(summary) - 1) / 2) * width
            ax.bar(x, [scale * v[l][0] for l in layers], width,
                   yerr=[scale * (v[l][1] or 0.0) for l in layers], capsize=3,
                   color=colors[variant], label=variant)
            for r in (r for r in runs if r["variant"] == variant):
                ax.scatter(x, [scale * r["at_train_T"][key][l] for l in layers], color="k", s=8,
                           zorder=3)
        ax.set_xticks(np.arange(len(layers)), layers)
        ax.set(ylabel=ylabel, title=title)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=8)
    fig.suptitle("bars: mean ± std over seeds, dots: seeds", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "firing_rates.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    styles = ["-", "--", ":", "-."]
    for r in runs:
        h = r["history_test_accuracy"]
        ax.plot(range(1, len(h) + 1), h, styles[r["seed"] % len(styles)], marker=".",
                color=colors[r["variant"]], label=f"{r['variant']} seed {r['seed']}")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"test accuracy per epoch (T={T}, full test set)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=120)
    plt.close(fig)


def _versions():
    import importlib.metadata as md
    import platform

    import keras

    out = {"python": platform.python_version(), "keras": keras.__version__,
           "backend": keras.backend.backend()}
    for pkg in ("numpy", "matplotlib", keras.backend.backend(), "snnzoo"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def report(args):
    """Profile every finished run's final-epoch weights and write the report into ``args.out``."""
    import platform

    import keras

    from snnzoo.training import recipes

    out_dir = Path(args.out)
    runs, skipped = [], []
    t0 = time.time()
    for seed in _seeds_found(args):
        for variant, recipe in VARIANTS.items():
            out = run_dir(args.runs, variant, seed)
            if not _finished(out, args.epochs or recipes.get(recipe).epochs):
                skipped.append(str(out))
                print(f"=== {variant} seed {seed}: not finished, skipped ({out})", flush=True)
                continue
            print(f"=== {variant} seed {seed}: profiling {out}/final.weights.h5 at T=1..{args.max_steps}",
                  flush=True)
            r = _measure(args, variant, seed, out)
            a = r["at_train_T"]
            print(f"    acc T={r['train_time_steps']} {r['accuracy_train_T']:.2f} %, T={args.max_steps} "
                  f"{r['accuracy_max_T']:.2f} %; mean rate {a['mean_firing_rate']:.4f}; "
                  f"E_SNN {a['energy_pj'] / 1e3:.1f} nJ, E_ANN/E_SNN {a['efficiency']:.3f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
            runs.append(r)
    if not runs:
        raise SystemExit(f"no finished run under {args.runs}")
    summary = _summarize(runs)
    T = runs[0]["train_time_steps"]
    argv = getattr(args, "argv", None) or sys.argv[1:]
    record = {
        "command": f"KERAS_BACKEND={keras.backend.backend()} python -m training.bpsta_energy "
                   + " ".join(argv),
        "versions": _versions(), "machine": platform.platform(), "date": time.strftime("%Y-%m-%d"),
        "runs_dir": str(args.runs), "skipped_unfinished": skipped,
        "test_samples": runs[0]["at_max_T"]["n"], "train_time_steps": T, "max_steps": args.max_steps,
        "weights": "final.weights.h5 (last epoch; no selection on the test set)",
        "energy_model": {"e_mac_pj": 4.6, "e_ac_pj": 0.9},
        "definitions": "profile (snnzoo.profiling.report) of each run at the training T (at_train_T) and "
                       "at --max-steps (at_max_T); accuracy_vs_steps from the step-by-step run at "
                       "--max-steps (direct encoding: the readout after t steps is the rate over the "
                       "first t steps); mean_firing_rate = unweighted mean over the spiking layers, "
                       "firing_rate_all_neurons = pooled; summary values are [mean, sample std] over "
                       "seeds (std null for one seed)",
        "paper": "TODO: Shen et al. 2022 Table 5 / Fig. 3 numbers not read (no access to the article "
                 "from this machine; its highlights state the direction: BPSA and BPTA reduce energy "
                 "consumption and latency)",
        "runs": runs, "summary": summary, "wall_seconds": round(time.time() - t0, 1)}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(record, indent=2))
    _plot(record, out_dir)
    tables = (f"Energy columns at the training T = {T}:\n\n{_table(summary, 'at_train_T', T, args.max_steps)}"
              f"\n\nThe same networks run for T = {args.max_steps} steps:\n\n"
              f"{_table(summary, 'at_max_T', T, args.max_steps, paper_row=False)}")
    hist = "\n".join(f"* {r['variant']} seed {r['seed']}: "
                     + ", ".join(f"{a:.2f}" for a in r["last3_test_accuracy"]) for r in runs)
    readme = f"""# BPSA+BPTA vs baseline: firing and energy on MNIST (issue 20, item 5)

Regenerate: `{record['command']}`  ({record['date']}, {record['machine']}; versions in `results.json`)

What was trained (`training/bpsta_energy.py train`, CPU): the BP-STA MNIST ConvNet with widths
narrowed to fit CPU sessions (C16-MP2-C16-MP2-C32-AP7-FC(32,100)-node-Vote10 instead of
C128-C128-C256), direct encoding, T = {T}, AdamW 1e-3 / wd 1e-4, MSE to one-hot, batch 64, 12 epochs
of cosine decay, trained two ways: `baseline` (`bpsta_convnet_mnist_baseline`: rectangular
surrogate, reset not detached, i.e. plain BPTT) and `bpsa+bpta` (`bpsta_convnet_mnist`: the paper's
HTGLIFNode), same initial weights and data order per seed. Measured here: each run's last-epoch
weights (`final.weights.h5`, no selection on the test set; the training record's own `final` entry
was evaluated on `best.weights.h5` and is not used) with `snnzoo.profile` on
{record['test_samples']} MNIST test samples: accuracy after t = 1..{args.max_steps} steps (the network
rebuilt at T = {args.max_steps}; t > {T} is beyond the training T), per-layer firing rates, AC and
MAC per sample, E_SNN = 0.9 pJ·AC + 4.6 pJ·MAC, E_ANN (the same network as an ANN) and E_ANN/E_SNN.
Mean firing rate = unweighted mean over the 4 spiking layers; silent neurons = the share of all
spiking neurons that never fire on any of the test samples at any step (`Profile.silent_fraction`).
Values are mean ± sample std over seeds (no ± with one seed).{' Skipped (not finished): ' + ', '.join(skipped) + '.' if skipped else ''}

{tables}

The paper's claim, in its own highlights: BPSA and BPTA reduce the energy consumption and the
latency of BP-trained SNNs (Shen, Zhao & Zeng, Patterns 2022, doi:10.1016/j.patter.2022.100522). Its Table 5 (firing
rates, E_ANN/E_SNN) and Fig. 3 (accuracy vs T) could not be read from this machine (no internet; the
stored copies of the article reachable here hold only its summary and highlights), so there are no
side-by-side paper numbers: the TODO row is to be filled from the article. The authors' network is
wider (C128-C128-C256) and trained far longer (T = 16, 300 epochs), so only the direction can be
compared, not the values.

{_verdict(summary, 'at_train_T', runs)}

Test accuracy (%) of the last 3 epochs (from the runs' `results.json`, full test set, T = {T}):

{hist}

Figures: `accuracy_vs_steps.png` (accuracy after t steps, mean ± std band, dashed line at the
training T), `firing_rates.png` (per-layer firing rates and silent-neuron shares at T = {T}),
`training_curves.png` (test accuracy per epoch per run).
"""
    (out_dir / "README.md").write_text(readme)
    print(tables)
    print(f"wrote {out_dir}/results.json, README.md, accuracy_vs_steps.png, firing_rates.png, "
          f"training_curves.png ({time.time() - t0:.0f} s)", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("phase", choices=["train", "report"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--runs", default="runs/bpsta_energy", help="run folders (default %(default)s)")
    p.add_argument("--out", default="training/results/bpsta_energy",
                   help="report folder (default %(default)s)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipes' 12 epochs")
    p.add_argument("--max-steps", type=int, default=8,
                   help="accuracy vs T is measured for T = 1..max-steps (default %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="test samples for the report (all)")
    p.add_argument("--data-dir", default=None, help="data root (default $SNNZOO_DATA)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.data_dir is None:
        args.data_dir = _default_data_dir()
    if args.phase == "train":
        train_all(args)
    else:
        report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
