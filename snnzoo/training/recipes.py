"""Training recipes, named after the zoo entries they produce (``snnzoo train NAME``, or
``python -m training.train NAME`` in a source checkout).

Each :class:`Recipe` is the seed method's training set-up as given by the authors' training
scripts and checkpoint arguments: architecture builder + config, data set
and augmentation, T, optimiser and learning-rate schedule, loss, and CSBP's chaotic loss where the
method is CSBP. Schedules are the PyTorch ones, evaluated per epoch:

* ``multistep`` (``MultiStepLR``): lr·γ^(number of milestones ≤ epoch);
* ``step`` (``StepLR``): lr·γ^⌊epoch / step_size⌋;
* ``cosine`` (``CosineAnnealingLR``, closed form): η_min + (lr − η_min)·½(1 + cos(π·epoch/T_max));
* ``warmup_cosine`` (BP-STA ``train.py``): lr/(w − epoch) for epoch < w, then
  lr·½(1 + cos(π(epoch − w)/(E − w)));
* ``constant``.

``--epochs E`` below a recipe's epoch count compresses the schedule proportionally (milestones,
step size, T_max and the cosine horizon scale with E / recipe epochs).

SGD weight decay is PyTorch's coupled form (g ← g + wd·θ before momentum), which differs from
Keras' decoupled ``weight_decay`` (θ ← θ − lr·wd·θ) by the momentum factor; AdamW's decay is
decoupled in both frameworks.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import math

import keras
from keras import ops

__all__ = ["RECIPES", "CoupledSGD", "EpochSchedule", "Recipe", "get", "names", "tiny_conv_snn",
           "tiny_snn"]


@dataclasses.dataclass
class Recipe:
    """One training set-up (see the module docstring)."""

    name: str
    description: str
    builder: str                      # "module:function"
    config: dict
    dataset: str                      # pipeline name (snnzoo.data.pipelines.DATASETS)
    time_steps: int
    epochs: int
    batch_size: int
    optimizer: dict
    schedule: dict
    loss: str = "ce"                  # "ce" | "tet" | "rate_mse"
    loss_config: dict = dataclasses.field(default_factory=dict)
    augment: object = False           # False | True (data set's standard) | policy name
    frame_size: tuple | None = None   # resize event frames to (h, w)
    train_time_steps: int | None = None  # T of the training model (event sets: frames sampled
                                         # per training sample); evaluation keeps time_steps
    chaos: dict | None = None         # CSBP: {"layers", "z0", "beta", "every", "form", ...}
    method: str | None = None
    zoo_name: str | None = None       # manifest to publish into (default: the recipe name)
    source: str = ""                  # where the hyper-parameters come from

    def scaled(self, epochs):
        """A copy whose schedule is compressed to ``epochs`` (see module docstring)."""
        r = copy.deepcopy(self)
        if epochs is None or epochs == self.epochs:
            return r
        f = epochs / self.epochs
        s = r.schedule
        if "milestones" in s:
            s["milestones"] = sorted({max(1, int(round(m * f))) for m in s["milestones"]})
        for key in ("step_size", "t_max"):
            if key in s:
                s[key] = max(1, int(round(s[key] * f)))
        if "warmup_epochs" in s:
            s["warmup_epochs"] = min(s["warmup_epochs"], max(0, int(epochs) - 1))
        r.epochs = int(epochs)
        return r

    def build(self, time_steps=None, **overrides):
        """The model (``time_steps`` default: the recipe's T)."""
        from snnzoo.zoo.registry import resolve_callable

        fn = resolve_callable(self.builder, "builder", self.name)
        cfg = dict(self.config, time_steps=int(time_steps or self.time_steps))
        cfg.update(overrides)
        return fn(**cfg)

    def make_loss(self):
        if self.loss == "ce":
            return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if self.loss == "tet":
            from snnzoo.losses import TETLoss

            return TETLoss(**self.loss_config)
        if self.loss == "rate_mse":
            from snnzoo.losses import RateMSE

            return RateMSE(**self.loss_config)
        raise ValueError(f"recipe {self.name}: unknown loss {self.loss!r}")

    def make_optimizer(self, steps_per_epoch):
        o = dict(self.optimizer)
        name = o.pop("name")
        schedule = EpochSchedule(o.pop("lr"), steps_per_epoch, epochs=self.epochs, **self.schedule)
        if name == "sgd":
            return CoupledSGD(learning_rate=schedule, momentum=o.get("momentum", 0.0),
                              nesterov=o.get("nesterov", False),
                              coupled_weight_decay=o.get("weight_decay", 0.0))
        if name == "adam":
            return keras.optimizers.Adam(learning_rate=schedule, epsilon=o.get("epsilon", 1e-8))
        if name == "adamw":
            return keras.optimizers.AdamW(learning_rate=schedule,
                                          weight_decay=o.get("weight_decay", 0.01),
                                          epsilon=o.get("epsilon", 1e-8))
        raise ValueError(f"recipe {self.name}: unknown optimizer {name!r}")

    def to_dict(self):
        return dataclasses.asdict(self)


@keras.saving.register_keras_serializable(package="snnzoo_training")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """PyTorch epoch-wise schedules as a step schedule (epoch = ⌊step / steps_per_epoch⌋)."""

    def __init__(self, lr, steps_per_epoch, kind="constant", epochs=1, milestones=(), gamma=0.1,
                 step_size=1, t_max=None, eta_min=0.0, warmup_epochs=0):
        if kind not in ("constant", "multistep", "step", "cosine", "warmup_cosine"):
            raise ValueError(f"unknown schedule kind {kind!r}")
        self.lr = float(lr)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.kind = kind
        self.epochs = int(epochs)
        self.milestones = [int(m) for m in milestones]
        self.gamma = float(gamma)
        self.step_size = int(step_size)
        self.t_max = int(t_max or epochs)
        self.eta_min = float(eta_min)
        self.warmup_epochs = int(warmup_epochs)

    def lr_at_epoch(self, epoch):
        """The learning rate of ``epoch`` (a float; also used to check the graph version)."""
        e = float(epoch)
        if self.kind == "multistep":
            return self.lr * self.gamma ** sum(e >= m for m in self.milestones)
        if self.kind == "step":
            return self.lr * self.gamma ** math.floor(e / self.step_size)
        if self.kind == "cosine":
            return self.eta_min + (self.lr - self.eta_min) * 0.5 * (1 + math.cos(math.pi * e / self.t_max))
        if self.kind == "warmup_cosine":
            w = self.warmup_epochs
            if e < w:
                return self.lr / (w - e)
            return self.lr * 0.5 * (1 + math.cos(math.pi * (e - w) / max(1, self.epochs - w)))
        return self.lr

    def __call__(self, step):
        e = ops.floor(ops.cast(step, "float32") / float(self.steps_per_epoch))
        lr = ops.convert_to_tensor(self.lr, "float32")
        if self.kind == "multistep":
            n = sum(ops.cast(ops.greater_equal(e, float(m)), "float32") for m in self.milestones) \
                if self.milestones else ops.zeros_like(e)
            return lr * ops.power(self.gamma, n)
        if self.kind == "step":
            return lr * ops.power(self.gamma, ops.floor(e / float(self.step_size)))
        if self.kind == "cosine":
            return self.eta_min + (lr - self.eta_min) * 0.5 * (1.0 + ops.cos(math.pi * e / self.t_max))
        if self.kind == "warmup_cosine":
            w = float(self.warmup_epochs)
            warm = lr / ops.maximum(w - e, 1.0)
            cos = lr * 0.5 * (1.0 + ops.cos(math.pi * (e - w) / max(1.0, self.epochs - w)))
            return ops.where(e < w, warm, cos)
        return lr + 0.0 * e

    def get_config(self):
        return {"lr": self.lr, "steps_per_epoch": self.steps_per_epoch, "kind": self.kind,
                "epochs": self.epochs, "milestones": self.milestones, "gamma": self.gamma,
                "step_size": self.step_size, "t_max": self.t_max, "eta_min": self.eta_min,
                "warmup_epochs": self.warmup_epochs}


@keras.saving.register_keras_serializable(package="snnzoo_training")
class CoupledSGD(keras.optimizers.SGD):
    """SGD with PyTorch's coupled weight decay: g ← g + wd·θ, then the momentum update."""

    def __init__(self, coupled_weight_decay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.coupled_weight_decay = float(coupled_weight_decay)

    def update_step(self, gradient, variable, learning_rate):
        if self.coupled_weight_decay:
            gradient = gradient + self.coupled_weight_decay * ops.cast(variable, gradient.dtype)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["coupled_weight_decay"] = self.coupled_weight_decay
        return config


def tiny_snn(num_classes=10, time_steps=2, hidden=32, input_shape=(28, 28, 1)):
    """A small direct-encoding SNN (smoke tests): repeat T → flatten → Dense(hidden) → LIF →
    Dense(C) → mean over T."""
    from snnzoo.layers.neurons import LIF
    from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold

    inputs = keras.Input(tuple(input_shape), name="image")
    x = RepeatTime(int(time_steps), name="repeat_time")(inputs)
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    x = keras.layers.Dense(hidden, name="fc1")(x)
    x = LIF(tau=2.0, name="sn1")(x)
    x = keras.layers.Dense(num_classes, name="fc2")(x)
    return keras.Model(inputs, MeanOverTime(name="mean_over_time")(x), name="tiny_snn")


def tiny_conv_snn(num_classes=10, time_steps=2, channels=(8, 16), input_shape=(28, 28, 1)):
    """A small convolutional SNN, the test bed of data-parallel training: repeat T → two blocks
    of [Conv2D 3×3 stride 2 (no bias) → batch norm (tdBN in the first, a plain Keras
    BatchNormalization on the B·T frames in the second) → LIF (τ = 2, input not decayed: it fires
    where the normalised current exceeds 1)] → flatten → Dense(C) → mean over T."""
    from snnzoo.layers.neurons import LIF
    from snnzoo.layers.normalization import TDBatchNorm
    from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold

    inputs = keras.Input(tuple(input_shape), name="image")
    x = RepeatTime(int(time_steps), name="repeat_time")(inputs)
    for i, c in enumerate(channels, 1):
        x = TimeFold(keras.layers.Conv2D(int(c), 3, strides=2, padding="same", use_bias=False),
                     name=f"conv{i}")(x)
        if i == 1:
            x = TDBatchNorm(name=f"bn{i}")(x)
        else:  # a plain Keras BN on the folded frames (B·T): both BN kinds in the test bed
            x = TimeFold(keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                         name=f"bn{i}")(x)
        x = LIF(tau=2.0, decay_input=False, name=f"sn{i}")(x)
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    x = keras.layers.Dense(num_classes, name="fc")(x)
    return keras.Model(inputs, MeanOverTime(name="mean_over_time")(x), name="tiny_conv_snn")


_IDE_SOURCE = ("IDE-FSNN scripts: SGD 0.05/0.9, coupled wd 5e-4, batch 128, cross-entropy, no "
               "augmentation, MultiStep [30,60,90] over 100 epochs")
_SGD_IDE = {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}

#: The BP-STA MNIST ConvNet narrowed to fit CPU sessions (C16-MP2-C16-MP2-C32-AP7-FC(32,100)-
#: node-Vote10); threshold 0.5, decay 0.9 as the authors; no dropout (32 features after the
#: global pooling). Trained by ``training/bpsta_energy.py`` (issue 20, the BPSA paper's energy claim).
_BPSTA_MNIST = {"dataset": "mnist", "num_classes": 10, "adjust": "bpsa+bpta", "widths": (16, 16, 32),
                "dropout": 0.0}
_BPSTA_MNIST_SOURCE = ("BP-STA train.py defaults (AdamW 1e-3, wd 1e-4, MSE to one-hot, θ 0.5, λ 0.9, "
                       "batch 64); widths narrowed, T=4 and 12 epochs of cosine decay (no 5-epoch "
                       "warm-up: it belongs to the 300-epoch schedule) to fit CPU sessions")

RECIPES = {r.name: r for r in [
    Recipe("fsnn_fmnist_ide", "IDE feedback SNN F400 on Fashion-MNIST (T=5, LIF decay 0.95)",
           "snnzoo.models.fsnn:fsnn_fc", {"num_classes": 10, "decay": 0.95}, "fashion_mnist",
           time_steps=5, epochs=100, batch_size=128, optimizer=_SGD_IDE,
           schedule={"kind": "multistep", "milestones": [30, 60, 90], "gamma": 0.1},
           method="IDE", source=_IDE_SOURCE),
    Recipe("fsnn_mnist_ide", "IDE feedback SNN 64C5s on MNIST (T=30, LIF decay 0.95)",
           "snnzoo.models.fsnn:fsnn_conv", {"num_classes": 10, "decay": 0.95}, "mnist",
           time_steps=30, epochs=100, batch_size=128, optimizer=_SGD_IDE,
           schedule={"kind": "multistep", "milestones": [30, 60, 90], "gamma": 0.1},
           method="IDE", source=_IDE_SOURCE),
    Recipe("bpsta_convnet_nmnist", "BP-STA ConvNet on N-MNIST (BPSA+BPTA, T=16, voting readout)",
           "snnzoo.models.bpsta_convnet:bpsta_convnet",
           {"dataset": "nmnist", "num_classes": 10, "adjust": "bpsa+bpta"}, "nmnist",
           time_steps=16, epochs=300, batch_size=64,
           optimizer={"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4},
           schedule={"kind": "warmup_cosine", "warmup_epochs": 5}, loss="rate_mse",
           method="BPSA+BPTA",
           source="BP-STA train.py defaults + train_nmnist.sh"),
    Recipe("bpsta_convnet_mnist", "Narrow BP-STA ConvNet on MNIST with BPSA+BPTA (T=4, voting "
           "readout): the energy-claim reproduction's method arm",
           "snnzoo.models.bpsta_convnet:bpsta_convnet", _BPSTA_MNIST, "mnist",
           time_steps=4, epochs=12, batch_size=64,
           optimizer={"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4},
           schedule={"kind": "warmup_cosine", "warmup_epochs": 0}, loss="rate_mse",
           method="BPSA+BPTA", source=_BPSTA_MNIST_SOURCE),
    Recipe("bpsta_convnet_mnist_baseline", "The same narrow BP-STA ConvNet on MNIST with the "
           "authors' baseline node (rectangular surrogate, reset not detached)",
           "snnzoo.models.bpsta_convnet:bpsta_convnet",
           dict(_BPSTA_MNIST, adjust=None, surrogate={"class_name": "Rectangle",
                                                      "config": {"alpha": 1.0}},
                detach_reset=False), "mnist",
           time_steps=4, epochs=12, batch_size=64,
           optimizer={"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4},
           schedule={"kind": "warmup_cosine", "warmup_epochs": 0}, loss="rate_mse",
           method="BPTT", source=_BPSTA_MNIST_SOURCE),
    Recipe("tebn_cnn7", "TEBN 7-layer CNN on CIFAR10-DVS (T=10, 48x48 frames)",
           "snnzoo.models.tebn_cnn:tebn_cnn7", {"num_classes": 10}, "cifar10dvs",
           time_steps=10, epochs=200, batch_size=32, frame_size=(48, 48), augment="crop_flip",
           optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
           schedule={"kind": "cosine", "t_max": 200}, method="BPTT",
           source="CSBP's TEBN reproduction main.py"),
    Recipe("tebn_cnn7_csbp", "TEBN 7-layer CNN on CIFAR10-DVS trained with CSBP (2 layers)",
           "snnzoo.models.tebn_cnn:tebn_cnn7", {"num_classes": 10}, "cifar10dvs",
           time_steps=10, epochs=200, batch_size=32, frame_size=(48, 48), augment="crop_flip",
           optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
           schedule={"kind": "cosine", "t_max": 200},
           chaos={"layers": ["sn1", "fc1"], "z0": 15.0, "beta": 0.98, "every": "epoch",
                  "form": "code"},
           method="CSBP",
           source="CSBP TEBN reproduction main.py; z0=15, β≈0.98/epoch inferred from its "
                  "training log"),
    Recipe("resnet19_tet_cifar100", "Spiking ResNet-19 (TET variant) on CIFAR-100 with the TET loss",
           "snnzoo.models.resnet19:resnet19",
           {"num_classes": 100, "variant": "tet", "per_step_logits": True,
            "normalization": "cifar100"}, "cifar100",
           time_steps=4, epochs=300, batch_size=128, augment="crop_flip",
           optimizer={"name": "adam", "lr": 1e-3}, schedule={"kind": "cosine", "t_max": 300},
           loss="tet", loss_config={"lamb": 1e-3, "means": 1.0}, method="TET",
           source="TET functions.py/data_loaders.py; 300 epochs as CSBP's logs"),
    Recipe("sew7bnet_dvsgesture", "SEW 7B-Net on DVS128 Gesture (T=16; 12 frames sampled in training)",
           "snnzoo.models.sew7bnet:sew7bnet", {"num_classes": 11, "connect_f": "ADD"}, "dvs_gesture",
           time_steps=16, train_time_steps=12, epochs=192, batch_size=16,
           optimizer={"name": "sgd", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
           schedule={"kind": "step", "step_size": 64, "gamma": 0.1}, method="BPTT",
           zoo_name="sew7bnet",
           source="CSBP DVS-Gesture checkpoint args / SEW"),
    Recipe("sew7bnet_csbp_dvsgesture", "SEW 7B-Net on DVS128 Gesture trained with CSBP (z0=15, β=0.95/epoch)",
           "snnzoo.models.sew7bnet:sew7bnet", {"num_classes": 11, "connect_f": "ADD"}, "dvs_gesture",
           time_steps=16, train_time_steps=12, epochs=192, batch_size=16,
           optimizer={"name": "sgd", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
           schedule={"kind": "step", "step_size": 64, "gamma": 0.1},
           chaos={"layers": ["sn0"], "z0": 15.0, "beta": 0.95, "every": "epoch", "form": "code"},
           method="CSBP", source="CSBP DVS-Gesture checkpoint args"),
    Recipe("tiny_conv_fmnist_csbp", "A small conv SNN (2 × conv → tdBN → LIF, Dense readout) on "
           "Fashion-MNIST with CSBP on both spiking layers, annealed per batch (the test bed of "
           "--distribute)",
           "snnzoo.training.recipes:tiny_conv_snn", {"num_classes": 10}, "fashion_mnist",
           time_steps=2, epochs=2, batch_size=32,
           optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
           schedule={"kind": "cosine", "t_max": 2},
           chaos={"layers": ["sn1", "sn2"], "z0": 1.0, "beta": 0.99, "every": "batch",
                  "form": "code"},
           method="CSBP", source="snnzoo distribution test bed (CSBP code form, per-batch β; SGD, "
                                 "whose update is linear in the gradient, so 1- and N-device runs "
                                 "agree to float rounding — Adam's first steps, ≈ lr·sign(g), would "
                                 "turn rounding in near-zero gradients into ±lr)"),
    Recipe("tiny_fmnist", "A small LIF network on Fashion-MNIST (smoke tests of the entry point)",
           "snnzoo.training.recipes:tiny_snn", {"num_classes": 10, "hidden": 32}, "fashion_mnist",
           time_steps=2, epochs=2, batch_size=32, optimizer={"name": "adam", "lr": 1e-3},
           schedule={"kind": "constant"}, method="BPTT", source="snnzoo smoke test"),
]}


def names():
    return sorted(RECIPES)


def get(name) -> Recipe:
    """A copy of recipe ``name``; unknown names raise ``ValueError`` with close matches."""
    if name not in RECIPES:
        close = difflib.get_close_matches(str(name), names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown recipe {name!r}{hint} (recipes: {', '.join(names())})")
    return copy.deepcopy(RECIPES[name])
