"""Converter for IDE-FSNN checkpoints (pkuxmq/IDE-FSNN, Xiao et al. NeurIPS 2021) into the models
of :mod:`snnzoo.models.fsnn` — ``convert(state_dict, model) -> None`` (registered as ``"ide_fsnn"``).

Checkpoint layout (``checkpoint.pth.tar`` / ``model_best.pth.tar``, key ``state_dict``; the
``module.`` prefix of DataParallel is dropped):

* ``network_x.{fc|conv}.{weight,bias}``, ``network_x.bn.*`` — the input module;
* single-layer nets: ``network_s.{fc|conv}.weight_{g,w,u,v}`` — the spectral-normalised feedback
  (W_eff = clamp(g, −1, 1)·W/σ, σ from one power iteration from u; the tensors are loaded as they
  are, so the Keras layer recomputes exactly the reference's W_eff, including the power step);
* multi-layer nets (AlexNet-F, CIFARNet-F): ``network_s{1..4}.conv.{weight,bias}`` +
  ``network_s{1..4}.bn.*`` (the chain) and ``network_s5.convT.weight_{g,w,u,v}`` (the feedback);
* ``classifier.{weight,bias}`` — re-ordered from PyTorch's (C, H, W) flattening to Keras' (H, W, C).

The same tensors appear again under ``snn_func.*`` / ``snn_ide_*.snn_func.*`` (checked to be
copies) and ``snn_func_copy.*`` (a non-trainable clone holding the last training step's W_eff;
ignored).
"""
import numpy as np

from snnzoo.convert.torch_checkpoint import (ConversionError, StateDict, assign, assign_variable,
                                             conv_kernel, dense_kernel, flatten_kernel, get_layer)


def _layer(model, name):
    return get_layer(model, name, hint=": not an IDE-FSNN model from snnzoo.models.fsnn")


def _has_layer(model, name):
    return any(layer.name == name for layer in model.layers)


def _convert_weight(sd, prefix, kind):
    weight = sd.take(prefix)
    if kind == "dense":
        return dense_kernel(weight)
    return conv_kernel(weight)  # conv [O,I,k,k] and convT [I,O,k,k] both → transpose(2, 3, 1, 0)


def _feedback(sd, eq, prefix, kind):
    if eq.spectral_norm:
        if f"{prefix}.weight_w" not in sd:
            raise ConversionError(f"the model's feedback is spectral-normalised but the checkpoint "
                                  f"has no '{prefix}.weight_w/_g/_u/_v'")
        assign_variable(eq.feedback_module.kernel, _convert_weight(sd, f"{prefix}.weight_w", kind),
                        f"{prefix}.weight_w")
        assign_variable(eq.fb_g, np.reshape(sd.take(f"{prefix}.weight_g"), ()), f"{prefix}.weight_g")
        assign_variable(eq.fb_u, sd.take(f"{prefix}.weight_u"), f"{prefix}.weight_u")
        assign_variable(eq.fb_v, sd.take(f"{prefix}.weight_v"), f"{prefix}.weight_v")
    else:
        assign_variable(eq.feedback_module.kernel, _convert_weight(sd, f"{prefix}.weight", kind),
                        f"{prefix}.weight")


def convert(state_dict, model):
    """Assign an IDE-FSNN state dict to a model built by :mod:`snnzoo.models.fsnn`."""
    sd = StateDict(state_dict, layout="IDE-FSNN")
    eq = _layer(model, "equilibrium")

    # input module
    if _has_layer(model, "network_x_fc"):
        layer = _layer(model, "network_x_fc")
        weight = sd.take("network_x.fc.weight")
        shape = tuple(_layer(model, "flatten_input").input.shape[1:])
        kernel = flatten_kernel(weight, shape) if len(shape) == 3 else dense_kernel(weight)
        assign(layer, [kernel, sd.take("network_x.fc.bias")], "network_x.fc.*")
    else:
        assign(_layer(model, "network_x_conv"),
               [conv_kernel(sd.take("network_x.conv.weight")), sd.take("network_x.conv.bias")],
               "network_x.conv.*")
    assign(_layer(model, "network_x_bn"), sd.take_bn("network_x.bn"), "network_x.bn.*")

    # equilibrium layer
    if eq.chain:
        for i, spec in enumerate(eq.chain):
            p = f"network_s{i + 1}"
            module = eq.chain_modules[i]
            assign_variable(module.kernel, conv_kernel(sd.take(f"{p}.conv.weight")), f"{p}.conv.weight")
            if spec["use_bias"]:
                assign_variable(module.bias, sd.take(f"{p}.conv.bias"), f"{p}.conv.bias")
            if spec["batch_norm"]:
                for key, name in (("weight", "gamma"), ("bias", "beta"),
                                  ("running_mean", "moving_mean"), ("running_var", "moving_variance")):
                    assign_variable(getattr(module, name), sd.take(f"{p}.bn.{key}"), f"{p}.bn.{key}")
        _feedback(sd, eq, f"network_s{len(eq.chain) + 1}.convT", eq.feedback["kind"])
    else:
        module = "fc" if eq.feedback["kind"] == "dense" else "conv"
        _feedback(sd, eq, f"network_s.{module}", eq.feedback["kind"])

    # classifier
    weight = sd.take("classifier.weight")
    if _has_layer(model, "flatten_rate"):
        kernel = flatten_kernel(weight, tuple(_layer(model, "flatten_rate").input.shape[1:]))
    else:
        kernel = dense_kernel(weight)
    assign(_layer(model, "classifier"), [kernel, sd.take("classifier.bias")], "classifier.*")

    # duplicated module trees
    for prefix in sorted({k.split(".", 1)[0] for k in sd.keys()}):
        if prefix == "snn_func_copy":
            sd.used.update(k for k in sd.keys() if k.startswith("snn_func_copy."))
        elif prefix.startswith("snn_"):
            inner = sorted({".".join(k.split(".")[:2]) for k in sd.keys() if k.startswith(prefix + ".")})
            for sub in inner:
                if sub.endswith("snn_func_copy"):
                    sd.used.update(k for k in sd.keys() if k.startswith(sub + "."))
                else:
                    sd.mark_duplicates(sub)
    sd.check_all_used()
