"""Feedback spiking networks trained with IDE (Xiao et al., NeurIPS 2021), as Keras models.

Every builder returns an un-weighted ``keras.Model`` mapping RAW inputs (images float32 in [0, 1]
[B, H, W, C], or event frames [B, T, H, W, 2]) to class logits [B, num_classes]; normalisation is
inside the model. Architectures follow the paper's tables and the authors' code (IDE-FSNN):

=================  ============================================  ====================================
builder             input module (network_x)                      equilibrium (FeedbackEquilibrium)
=================  ============================================  ====================================
``fsnn_fc``         Linear(784→400)+BN1d  (F400, F-MNIST)         feedback Linear(400→400)
``fsnn_conv``       Conv(1→64,k5,s2,p2)+BN (64C5s, MNIST)         feedback Conv(64→64,k5,p2)
``fsnn_nmnist``     Conv(2→64,k5,s2,p1)+BN per step (N-MNIST)     feedback Conv(64→64,k5,p2)
``alexnet_f``       Conv(3→96,k3,s2,p1)+BN (CIFAR)                chain 96→256→384(s2)→384→256 (+BN),
                                                                 feedback ConvT(256→96,k3,s2,p1,op1)
``cifarnet_f``      Conv(3→128,k3,s2,p1)+BN (CIFAR)               chain 128→256→512(s2)→1024→512
                                                                 (+BN), feedback ConvT(512→128)
=================  ============================================  ====================================

All modules end in variational dropout (mask fixed over time); the feedback kernel is
spectral-normalised; the classifier reads the last layer's (weighted) firing rate. Weights use the
reference initialisation (U(−1, 1), unit-norm output filters; classifier: PyTorch's default).
Padding is PyTorch's (symmetric) via explicit ``ZeroPadding2D`` + "valid" convolutions, so
converted checkpoints reproduce exactly.
"""
import keras

from snnzoo.ide import FeedbackEquilibrium, RateBatchNorm, UnitNormUniform
from snnzoo.ide.decay import resolve_decay
from snnzoo.layers.time import TimeFold
from snnzoo.models._checks import check_time_steps
from snnzoo.models._stem import normalize_input
from snnzoo.models._torch_init import dense_kwargs

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)


def _bn(name):
    # PyTorch BatchNorm defaults (momentum 0.1 ≡ Keras 0.9, eps 1e-5)
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _classifier(num_classes, fan_in, name="classifier"):
    # PyTorch nn.Linear default init: U(±1/√fan_in) for weight and bias
    return keras.layers.Dense(num_classes, name=name, **dense_kwargs(fan_in))


def _check_common(time_steps, num_classes, dropout, decay, deprecated, name):
    """Validate the common arguments; returns the decay factor k = 1 − 1/τ (``leak``, its
    deprecated name, is accepted with a DeprecationWarning; other unknown keywords raise)."""
    decay = resolve_decay(decay, deprecated, name)
    if deprecated:
        raise TypeError(f"{name}() got unexpected keyword arguments {sorted(deprecated)}")
    check_time_steps(time_steps, "fsnn")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    return decay


def _equilibrium(feedback, chain, time_steps, decay, v_threshold, dropout, solver,
                 solver_iterations, seed, **kwargs):
    # its own seed: the dropout masks of the input module and of the feedback must be independent
    return FeedbackEquilibrium(
        feedback, chain=chain, time_steps=time_steps, v_threshold=v_threshold, decay=decay,
        solver=solver, solver_iterations=solver_iterations, dropout=dropout,
        seed=None if seed is None else int(seed) + 1, name="equilibrium", **kwargs)


def fsnn_fc(num_classes=10, hidden=400, time_steps=5, decay=0.95, v_threshold=2.0, dropout=0.2,
            solver="broyden", solver_iterations=30, input_shape=(28, 28, 1), mean=MNIST_MEAN,
            std=MNIST_STD, seed=None, name="fsnn_fc", **deprecated):
    """F400 (Fashion-MNIST in the paper; T = 5, LIF decay k = 0.95): 478,811 trainable parameters."""
    decay = _check_common(time_steps, num_classes, dropout, decay, deprecated, name)
    inputs = keras.Input(tuple(input_shape), name="image")
    x = normalize_input(inputs, mean, std)
    x = keras.layers.Flatten(name="flatten_input")(x)
    x = keras.layers.Dense(hidden, kernel_initializer=UnitNormUniform(-1, seed), name="network_x_fc")(x)
    x = _bn("network_x_bn")(x)
    x = keras.layers.Dropout(dropout, seed=seed, name="network_x_dropout")(x)
    rate = _equilibrium({"kind": "dense", "filters": hidden}, (), time_steps, decay, v_threshold,
                        dropout, solver, solver_iterations, seed)(x)
    logits = _classifier(num_classes, hidden)(rate)
    return keras.Model(inputs, logits, name=name)


def fsnn_conv(num_classes=10, filters=64, kernel_size=5, time_steps=30, decay=0.95, v_threshold=2.0,
              dropout=0.2, solver="broyden", solver_iterations=30, input_shape=(28, 28, 1),
              mean=MNIST_MEAN, std=MNIST_STD, seed=None, name="fsnn_conv", **deprecated):
    """64C5s / F64C5 (MNIST in the paper; T = 30, LIF decay k = 0.95): 229,643 trainable parameters."""
    decay = _check_common(time_steps, num_classes, dropout, decay, deprecated, name)
    pad = (kernel_size - 1) // 2
    inputs = keras.Input(tuple(input_shape), name="image")
    x = normalize_input(inputs, mean, std)
    x = keras.layers.ZeroPadding2D(pad, name="network_x_pad")(x)
    x = keras.layers.Conv2D(filters, kernel_size, strides=2, padding="valid",
                            kernel_initializer=UnitNormUniform(-1, seed), name="network_x_conv")(x)
    x = _bn("network_x_bn")(x)
    x = keras.layers.Dropout(dropout, seed=seed, name="network_x_dropout")(x)
    feedback = {"kind": "conv", "filters": filters, "kernel_size": kernel_size, "padding": pad}
    rate = _equilibrium(feedback, (), time_steps, decay, v_threshold, dropout, solver,
                        solver_iterations, seed)(x)
    flat = keras.layers.Flatten(name="flatten_rate")(rate)
    logits = _classifier(num_classes, int(flat.shape[-1]))(flat)
    return keras.Model(inputs, logits, name=name)


def fsnn_nmnist(num_classes=10, filters=64, kernel_size=5, time_steps=30, decay=0.95,
                v_threshold=2.0, dropout=0.2, solver="fixed_point", solver_iterations=30,
                sensor_size=(34, 34), seed=None, name="fsnn_nmnist", **deprecated):
    """N-MNIST 64C5s: event frames [B, T, 34, 34, 2] → Conv(2→64,k5,s2,p1)+BN per step (34→16),
    feedback Conv(64→64,k5,p2), classifier Linear(64·16·16, 10).

    The input module's BN uses the statistics of the (decay-weighted) average input current
    (:class:`RateBatchNorm`); the reference trains this net with the damped ``'iter'`` solver —
    ``solver="fixed_point"`` is its exact form, ``"authors_iter"`` the update as coded.
    """
    decay = _check_common(time_steps, num_classes, dropout, decay, deprecated, name)
    h, w = int(sensor_size[0]), int(sensor_size[1])
    inputs = keras.Input((time_steps, h, w, 2), name="event_frames")
    x = TimeFold(keras.layers.ZeroPadding2D(1), name="network_x_pad")(inputs)
    x = TimeFold(keras.layers.Conv2D(filters, kernel_size, strides=2, padding="valid",
                                     kernel_initializer=UnitNormUniform(-1, seed)),
                 name="network_x_conv")(x)
    x = RateBatchNorm(time_steps, decay=decay, name="network_x_bn")(x)
    x = keras.layers.Dropout(dropout, noise_shape=(None, 1) + tuple(x.shape[2:]), seed=seed,
                             name="network_x_dropout")(x)
    feedback = {"kind": "conv", "filters": filters, "kernel_size": kernel_size,
                "padding": (kernel_size - 1) // 2}
    rate = _equilibrium(feedback, (), time_steps, decay, v_threshold, dropout, solver,
                        solver_iterations, seed, input_mode="sequence")(x)
    flat = keras.layers.Flatten(name="flatten_rate")(rate)
    logits = _classifier(num_classes, int(flat.shape[-1]))(flat)
    return keras.Model(inputs, logits, name=name)


def _multilayer(channels, num_classes, time_steps, decay, v_threshold, dropout, solver,
                solver_iterations, input_shape, seed, name):
    c0, chain_channels = channels[0], channels[1:]
    inputs = keras.Input(tuple(input_shape), name="image")
    x = normalize_input(inputs, CIFAR10_MEAN, CIFAR10_STD)
    x = keras.layers.ZeroPadding2D(1, name="network_x_pad")(x)
    x = keras.layers.Conv2D(c0, 3, strides=2, padding="valid",
                            kernel_initializer=UnitNormUniform(-1, seed), name="network_x_conv")(x)
    x = _bn("network_x_bn")(x)
    x = keras.layers.Dropout(dropout, seed=seed, name="network_x_dropout")(x)
    chain = []
    for i, c in enumerate(chain_channels):
        chain.append({"kind": "conv", "filters": c, "kernel_size": 3, "padding": 1,
                      "strides": 2 if i == 1 else 1, "use_bias": True, "batch_norm": True})
    feedback = {"kind": "conv_transpose", "filters": c0, "kernel_size": 3, "strides": 2,
                "padding": 1, "output_padding": 1}
    rate = _equilibrium(feedback, chain, time_steps, decay, v_threshold, dropout, solver,
                        solver_iterations, seed)(x)
    flat = keras.layers.Flatten(name="flatten_rate")(rate)
    logits = _classifier(num_classes, int(flat.shape[-1]))(flat)
    return keras.Model(inputs, logits, name=name)


def alexnet_f(num_classes=10, time_steps=30, decay=0.99, v_threshold=2.0, dropout=0.2,
              solver="broyden", solver_iterations=30, input_shape=(32, 32, 3), seed=None,
              name="alexnet_f", **deprecated):
    """AlexNet-F (CIFAR): 96 → 256 → 384 (s2) → 384 → 256, ConvT feedback 256→96.
    3,709,515 trainable parameters for 10 classes."""
    decay = _check_common(time_steps, num_classes, dropout, decay, deprecated, name)
    return _multilayer((96, 256, 384, 384, 256), num_classes, time_steps, decay, v_threshold,
                       dropout, solver, solver_iterations, input_shape, seed, name)


def cifarnet_f(num_classes=10, time_steps=30, decay=0.99, v_threshold=2.0, dropout=0.2,
               solver="broyden", solver_iterations=30, input_shape=(32, 32, 3), seed=None,
               name="cifarnet_f", **deprecated):
    """CIFARNet-F (CIFAR): 128 → 256 → 512 (s2) → 1024 → 512, ConvT feedback 512→128.
    11,840,011 trainable parameters for 10 classes."""
    decay = _check_common(time_steps, num_classes, dropout, decay, deprecated, name)
    return _multilayer((128, 256, 512, 1024, 512), num_classes, time_steps, decay, v_threshold,
                       dropout, solver, solver_iterations, input_shape, seed, name)

