"""``snnzoo.profile(model, x)``: what a spiking model computes, layer by layer, per sample.

>>> p = snnzoo.profile(snnzoo.load("fsnn_fmnist_ide"), x_test[:500], y=y_test[:500])  # doctest: +SKIP
>>> print(p)                 # the table                                              # doctest: +SKIP
>>> p.total["efficiency"]    # E_ANN / E_SNN                                          # doctest: +SKIP

One inference pass per batch records every layer's input and output (:mod:`.record`, the model
unchanged); the counting rules are :mod:`.counts`, the energy per operation :mod:`.energy`, the
latency :mod:`.latency`. Conventions:

* Counts are **per sample** (the batch total divided by the number of samples).
* ``ac``: accumulates driven by spikes, Σ_i s_i · F(i) (fan-out F exact at borders); ``mac``:
  multiply-accumulates on real-valued inputs (the encoding layer, a classifier on rates), every
  element counted, as often as the model runs the layer (a convolution inside ``TimeFold`` on T
  repeated images runs T times; one before ``RepeatTime`` once).
* IDE :class:`~snnzoo.ide.FeedbackEquilibrium`: its T-step simulation is re-run from the
  recorded input current (checked against the layer's output: a warning if a threshold tie
  rounded differently); each step costs the
  feedback module on the previous step's last-layer spikes and each chain module on the current
  spikes (:func:`.counts.count_feedback_equilibrium`).
* ``energy_pj`` = E_AC·ac + E_MAC·mac; ``ann_energy_pj`` = the same network as an ANN evaluated
  once: every synaptic layer's dense MACs for one time step (IDE: each module once) at E_MAC,
  element-wise adds at E_AC; ``efficiency`` = ann_energy_pj / energy_pj.
* Neuron updates, batch norm (folded), reshapes and time means cost nothing; such layers are
  left out of the rows unless ``all_layers=True``.
* ``firing_rate``: spikes / (samples · T · neurons); ``firing_rate_per_step``: per time step;
  ``silent_fraction``: the fraction of the layer's neurons that never spike, on no sample and at
  no step of the profiled data (neurons a spike-gated gradient such as BPSA's cannot revive).
"""
from __future__ import annotations

import csv
import io
import math

import keras
import numpy as np

from snnzoo.ide.equilibrium import FeedbackEquilibrium
from snnzoo.inference import mean_logits
from snnzoo.layers.time import RepeatTime
from snnzoo.metrics import layer_paths
from snnzoo.profiling import counts as C
from snnzoo.profiling.energy import EnergyModel
from snnzoo.profiling.latency import settle_step, step_predictions
from snnzoo.profiling.record import record_calls

__all__ = ["Profile", "leaf_layers", "profile", "profile_dataset"]

ROW_KEYS = ("layer", "kind", "neurons", "firing_rate", "ac", "mac", "energy_pj")


def leaf_layers(model):
    """The layers that compute, in Keras' order: nested models are opened, ``TimeFold`` and
    layers without sub-models are leaves; input layers are skipped."""
    out = []
    for child in model._flatten_layers(include_self=False, recursive=False):
        if isinstance(child, keras.layers.InputLayer):
            continue
        if isinstance(child, keras.Model):
            out.extend(leaf_layers(child))
        else:
            out.append(child)
    return out


class Profile:
    """The result of :func:`profile`: ``rows`` (one dict per layer, in order), ``total`` (per
    sample), ``latency`` (dict or ``None``), ``energy`` (the :class:`EnergyModel` used).

    ``print(p)`` shows the table; :meth:`to_dict` gives plain Python data (JSON-ready);
    :meth:`to_csv` writes the rows and a ``TOTAL`` line.
    """

    def __init__(self, rows, total, latency=None, energy=None, model_name=None):
        self.rows, self.total, self.latency = rows, total, latency
        self.energy = energy or EnergyModel()
        self.model_name = model_name
        self.dataset = None

    def to_dict(self):
        return {"model": self.model_name, "rows": [dict(r) for r in self.rows],
                "total": dict(self.total), "latency": None if self.latency is None
                else dict(self.latency),
                "energy_model": {"e_mac": self.energy.e_mac, "e_ac": self.energy.e_ac}}

    def to_csv(self, path=None):
        """Write ``layer, kind, neurons, firing_rate, ac, mac, energy_pj, ann_mac,
        silent_fraction`` per row and a ``TOTAL`` row to ``path`` (or return the text when
        ``path`` is None)."""
        keys = list(ROW_KEYS) + ["ann_mac", "silent_fraction"]
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(keys)
        for r in self.rows:
            w.writerow([r.get(k) for k in keys])
        t = self.total
        w.writerow(["TOTAL", "", t["neurons"], t["firing_rate"], t["ac"], t["mac"],
                    t["energy_pj"], t["ann_mac"], t["silent_fraction"]])
        text = buf.getvalue()
        if path is None:
            return text
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def __str__(self):
        head = ("layer", "kind", "neurons", "rate", "AC", "MAC", "energy")
        lines = []
        for r in self.rows:
            rate = "-" if r["firing_rate"] is None else f"{r['firing_rate']:.4f}"
            lines.append((r["layer"], r["kind"], str(r["neurons"] or "-"), rate,
                          _num(r["ac"]), _num(r["mac"]), _pj(r["energy_pj"])))
        t = self.total
        rate = "-" if t["firing_rate"] is None else f"{t['firing_rate']:.4f}"
        lines.append(("TOTAL", "", str(t["neurons"]), rate, _num(t["ac"]), _num(t["mac"]),
                      _pj(t["energy_pj"])))
        widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
        fmt = lambda row: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                    for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        out = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(x) for x in lines[:-1]]
        out += [fmt(["-" * w for w in widths]), fmt(lines[-1])]
        eff = t["efficiency"]
        out.append(f"per sample, T = {t['time_steps']}, n = {t['n']}; E_MAC = {self.energy.e_mac} pJ, "
                   f"E_AC = {self.energy.e_ac} pJ; as ANN: {_num(t['ann_mac'])} MAC = "
                   f"{_pj(t['ann_energy_pj'])}; E_ANN / E_SNN = "
                   f"{'-' if eff is None else f'{eff:.2f}'}")
        if t.get("accuracy") is not None:
            out.append(f"accuracy {t['accuracy']:.2f} % on {t['n']} samples")
        if self.latency and "error" in self.latency:
            out.append(f"latency: not measured ({self.latency['error']})")
        elif self.latency:
            lat = self.latency
            line = f"latency: prediction settled after {lat['mean']:.2f} of {lat['time_steps']} steps (mean)"
            if lat.get("accuracy_vs_steps"):
                accs = ", ".join(f"{a:.1f}" for a in lat["accuracy_vs_steps"])
                line += f"; accuracy (%) after 1..T steps: {accs}"
            out.append(line)
        return "\n".join(out)

    __repr__ = __str__


def _num(v):
    if v is None:
        return "-"
    v = float(v)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3f}{unit}"
    return f"{v:.1f}"


def _pj(v):
    v = float(v)
    for unit, scale in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3f} {unit}"
    return f"{v:.1f} pJ"


def _batches(x, y, batch_size):
    n = int(x.shape[0])
    step = n if not batch_size else int(batch_size)
    for i in range(0, n, step):
        yield x[i:i + step], (None if y is None else y[i:i + step])


def _model_time_steps(model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (RepeatTime, FeedbackEquilibrium)):
            return int(layer.time_steps)
    return None


def profile(model, x, batch_size=None, y=None, energy=None, latency=True, all_layers=False,
            progress=False):
    """Synaptic operations, energy, firing and latency of ``model`` on inputs ``x``.

    Args:
        model: a Keras model with snnzoo layers (zoo models, SEW residual models, IDE
            ``FeedbackEquilibrium`` models; functional, Sequential or nested).
        x: inputs as the model takes them (NumPy array or tensor), or an iterable of batches
            (``x`` or ``(x, y)``).
        batch_size: split an array ``x`` into batches of this size (``None``: 64).
        y: integer labels (optional): adds ``total["accuracy"]`` and, with ``latency``, the
            accuracy after 1…T steps.
        energy: :class:`~snnzoo.profiling.energy.EnergyModel` or ``dict(e_mac=, e_ac=)`` (pJ);
            default 45 nm (4.6 / 0.9 pJ).
        latency: also run the model step by step (:mod:`.latency`, one more pass); skipped with
            a note in ``latency["error"]`` when the model cannot be streamed.
        all_layers: also list layers that cost nothing (batch norm, reshapes, ...).
        progress: show a progress bar over the batches.

    Returns:
        :class:`Profile`.
    """
    em = EnergyModel.get(energy)
    if isinstance(x, (list, tuple)) or not hasattr(x, "shape"):
        batches = [(b[0], b[1]) if isinstance(b, (tuple, list)) else (b, None) for b in x]
    else:
        if y is not None and int(np.asarray(y).shape[0]) != int(x.shape[0]):
            raise ValueError(f"profile: x has {x.shape[0]} samples but y has {len(y)}")
        batches = list(_batches(x, None if y is None else np.asarray(y).reshape(-1),
                                batch_size or 64))
    if not batches:
        raise ValueError("profile: x holds no samples")
    leaves = leaf_layers(model)
    paths = layer_paths(model, leaves)
    acc = {id(l): dict(ac=0.0, mac=0.0, ann_ac=0.0, ann_mac=0.0, spikes=0.0, elems=0,
                       per_step=None, neurons=0, calls=0, per_neuron=None) for l in leaves}
    T_model = _model_time_steps(model)
    scales = C.pool_scales(leaves)
    n_total, correct, labelled = 0, 0, 0
    lat_steps, lat_preds, lat_labels, lat_error = [], [], [], None
    bar = keras.utils.Progbar(len(batches), unit_name="batch") if progress else None
    for b, (xb, yb) in enumerate(batches):
        xb = np.asarray(keras.ops.convert_to_numpy(xb)) if not isinstance(xb, np.ndarray) else xb
        batch = int(xb.shape[0])
        if T_model is None:  # no RepeatTime / IDE: the T of the first neuron layer's output
            T_model = _first_neuron_steps(model, xb, leaves)

        def on_call(layer, inp, outp, _batch=batch):
            _count_call(layer, inp, outp, _batch, acc[id(layer)], T_model, scales)

        out, _ = record_calls(model, xb, leaves, inputs=True, on_call=on_call)
        n_total += batch
        if yb is not None:
            pred = mean_logits(out).argmax(axis=-1)
            correct += int(np.sum(pred == np.asarray(yb).reshape(-1)))
            labelled += batch
        if latency and lat_error is None:
            try:
                preds = step_predictions(model, xb)
                lat_preds.append(preds)
                lat_steps.append(settle_step(preds))
                if yb is not None:
                    lat_labels.append(np.asarray(yb).reshape(-1))
            except ValueError as err:
                lat_error = str(err).splitlines()[0]
        if bar is not None:
            bar.update(b + 1)

    rows, tot = [], dict(ac=0.0, mac=0.0, ann_ac=0.0, ann_mac=0.0, spikes=0.0, elems=0,
                         neurons=0, silent=0)
    for layer in leaves:
        a = acc[id(layer)]
        if not a["calls"]:
            continue
        has_ops = a["ac"] or a["mac"] or a["ann_mac"] or a["ann_ac"]
        if not (all_layers or a["neurons"] or has_ops):
            continue
        rate = a["spikes"] / a["elems"] if a["elems"] else None
        per_step = ([float(v) for v in a["per_step"] / (a["elems"] / len(a["per_step"]))]
                    if a["per_step"] is not None and a["elems"] else None)
        silent = (int(sum(int(np.sum(c == 0)) for c in a["per_neuron"]))
                  if a["per_neuron"] is not None else None)
        row = dict(layer=paths[id(layer)], kind=C.layer_kind(layer), neurons=a["neurons"],
                   firing_rate=rate, firing_rate_per_step=per_step,
                   silent_fraction=silent / a["neurons"] if silent is not None else None,
                   ac=a["ac"] / n_total, mac=a["mac"] / n_total,
                   energy_pj=em(a["ac"], a["mac"]) / n_total,
                   ann_mac=a["ann_mac"] / len(batches), ann_ac=a["ann_ac"] / len(batches))
        if "layers" in a:
            row["layers"] = a["layers"]
        rows.append(row)
        for k in ("ac", "mac", "spikes", "elems", "neurons"):
            tot[k] += a[k]
        tot["silent"] += silent or 0
        tot["ann_mac"] += row["ann_mac"]
        tot["ann_ac"] += row["ann_ac"]
    energy_snn = em(tot["ac"], tot["mac"]) / n_total
    energy_ann = em(tot["ann_ac"], tot["ann_mac"])
    total = dict(ac=tot["ac"] / n_total, mac=tot["mac"] / n_total, energy_pj=energy_snn,
                 ann_mac=tot["ann_mac"], ann_ac=tot["ann_ac"], ann_energy_pj=energy_ann,
                 efficiency=(energy_ann / energy_snn) if energy_snn > 0 else None,
                 neurons=tot["neurons"],
                 firing_rate=tot["spikes"] / tot["elems"] if tot["elems"] else None,
                 silent_fraction=tot["silent"] / tot["neurons"] if tot["neurons"] else None,
                 time_steps=T_model, n=n_total,
                 accuracy=100.0 * correct / labelled if labelled else None)
    lat = None
    if latency:
        if lat_error is not None:
            lat = {"error": lat_error}
        elif lat_steps:
            steps = np.concatenate(lat_steps)
            preds = np.concatenate(lat_preds)
            lat = {"time_steps": int(preds.shape[1]), "mean": float(steps.mean()),
                   "per_sample": [int(v) for v in steps], "accuracy_vs_steps": None}
            if lat_labels and len(lat_labels) == len(lat_preds):
                labels = np.concatenate(lat_labels)
                lat["accuracy_vs_steps"] = [100.0 * float(np.mean(preds[:, t] == labels))
                                            for t in range(preds.shape[1])]
    return Profile(rows, total, lat, em, getattr(model, "name", None))


def _first_neuron_steps(model, x, leaves):
    neurons = [layer for layer in leaves if C.is_neuron(layer)]
    if not neurons:
        return None
    found = []

    def first(layer, inp, outp):
        if not found:
            found.append(C.neuron_stats(outp)[4])

    record_calls(model, x[:1], neurons[:1], inputs=False, on_call=first)
    return found[0] if found else None


def _count_call(layer, inp, outp, batch, a, T_model, scales=()):
    a["calls"] += 1
    if C.is_neuron(layer):
        neurons, spikes, per_step, elems, _ = C.neuron_stats(outp)
        counts = [C.spikes_per_neuron(outp)]
        a["per_neuron"] = counts if a["per_neuron"] is None else [
            p + c for p, c in zip(a["per_neuron"], counts)]
        a["neurons"] = neurons
        a["spikes"] += spikes
        a["elems"] += elems
        a["per_step"] = per_step if a["per_step"] is None else a["per_step"] + per_step
        return
    if isinstance(layer, FeedbackEquilibrium):
        spikes, rate = C.feedback_equilibrium_spikes(layer, inp)
        got = np.asarray(outp, dtype=np.float64)
        if not np.allclose(rate, got, atol=1e-4):  # a rounding tie flipped a spike
            import warnings

            warnings.warn(f"profile: the re-run simulation of '{layer.name}' differs from its "
                          f"output by up to {np.max(np.abs(rate - got)):.3g} (a threshold tie "
                          "rounded differently); its counts are those of the re-run", stacklevel=3)
        ops_ = C.count_feedback_equilibrium(layer, spikes)
        shapes = layer.layer_shapes
        neurons = int(sum(math.prod(s) for s in shapes))
        per_step = np.array([sum(float(s.sum()) for s in step) for step in spikes])
        a["neurons"] = neurons
        a["spikes"] += float(per_step.sum())
        a["elems"] += batch * neurons * len(spikes)
        a["per_step"] = per_step if a["per_step"] is None else a["per_step"] + per_step
        counts = [sum(np.sum(step[i], axis=0, dtype=np.float64) for step in spikes)
                  for i in range(len(shapes))]
        a["per_neuron"] = counts if a["per_neuron"] is None else [
            p + c for p, c in zip(a["per_neuron"], counts)]
        a["samples"] = a.get("samples", 0) + batch
        a["layers"] = [dict(shape=list(s), neurons=int(math.prod(s)),
                            firing_rate=float(c.sum()) / (a["samples"] * len(spikes) * math.prod(s)),
                            silent_fraction=float(np.mean(c == 0)))
                       for s, c in zip(shapes, a["per_neuron"])]
        a["ac"] += ops_["ac"]
        a["ann_mac"] += ops_["ann_mac"]
        return
    ops_ = C.count_layer(layer, inp, outp, batch, T_model, scales)
    for k in ("ac", "mac", "ann_ac", "ann_mac"):
        a[k] += ops_[k]


def profile_dataset(name_or_model, data_dir=None, split="test", limit=None, batch_size=None,
                    dataset=None, weights="default", progress=True, **kwargs):
    """:func:`profile` on the real ``split`` of a data set (the zoo manifest's, or ``dataset``),
    the same batches ``snnzoo eval`` uses (``limit``: N samples spread evenly over the split).

    ``name_or_model``: a registry name, a ``.keras`` file or a ``keras.Model``. Returns
    ``(profile, model_name)``. Batches are checked for NaN/inf first, as in ``snnzoo eval``."""
    from snnzoo.data import pipelines
    from snnzoo.evaluate import check_finite_batch
    from snnzoo.inference import input_geometry

    label = name_or_model if isinstance(name_or_model, str) else getattr(name_or_model, "name", "model")
    if isinstance(name_or_model, str) and name_or_model.lower().endswith(".keras"):
        model = keras.saving.load_model(name_or_model, compile=False)
    elif isinstance(name_or_model, str):
        from snnzoo.zoo import load, model_info

        info = model_info(name_or_model)
        if dataset is None:
            if not info.get("dataset"):
                raise ValueError(f"model '{name_or_model}' names no data set; pass --dataset")
            dataset = info["dataset"]
        model = load(name_or_model, weights=weights, progress=progress)
    else:
        model = name_or_model
    if dataset is None:
        raise ValueError("profile: a model file or object needs its data set: --dataset NAME "
                         "(mnist, fashion_mnist, cifar10, nmnist, ...)")
    name = dataset if dataset in pipelines.DATASETS else pipelines.dataset_for(dataset)
    ds = pipelines.DATASETS[name]
    kind, T, geometry = input_geometry(model)
    kw = {}
    if ds.kind == "events":
        if kind != "event_frames":
            raise ValueError(f"{ds.title} gives event frames but the model takes inputs of shape {geometry}")
        kw = dict(time_steps=T, frame_size=geometry[:2])
    elif geometry is not None and tuple(geometry) != tuple(ds.shape):
        raise ValueError(f"{ds.title} images have shape {ds.shape} but the model takes {geometry}")
    bs = int(batch_size or (16 if ds.kind == "events" else 100))
    seq = pipelines.make_dataset(name, split, bs, format="py", data_dir=data_dir, limit=limit,
                                 shuffle=False, **kw)
    batches = []
    for i in range(len(seq)):
        xb, yb = seq[i]
        check_finite_batch(xb, i)
        batches.append((np.asarray(xb), np.asarray(yb).reshape(-1)))
    p = profile(model, batches, progress=progress, **kwargs)
    p.model_name = label
    p.dataset = f"{ds.title} {split}"
    return p
