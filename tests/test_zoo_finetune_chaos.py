"""Fine-tuning a model loaded through the zoo with the CSBP plug-in (issue 6, item 6): the real
CSBP-trained 7B-Net checkpoint, loaded with ``snnzoo.load``, gets the chaotic loss on every spiking
layer and trains with ``model.fit`` + ``ChaosAnnealing``; z follows z0·β^epoch and the weights move."""
import shutil

import keras
import numpy as np

import snnzoo
from snnzoo.chaos import ChaosAnnealing, attach_chaos
from snnzoo.layers import BaseNeuron
from snnzoo.zoo import weights as zoo_weights


def test_finetune_loaded_csbp_checkpoint_with_chaos(shared_data, tmp_path):
    ckpt = shared_data / "checkpoints" / "csbp_sew7bnet_dvsgesture" / "checkpoint_max_test_acc1.pth"
    spec = snnzoo.model_info("sew7bnet_csbp_dvsgesture")["weights"]
    cache = zoo_weights.checkpoint_cache_path("sew7bnet_csbp_dvsgesture", spec)
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ckpt, cache)
    # T=2 keeps the step cheap; the weights do not depend on T.
    model = snnzoo.load("sew7bnet_csbp_dvsgesture", time_steps=2)
    w_fc = keras.ops.convert_to_numpy(model.get_layer("fc").kernel).copy()
    attach_chaos(model, layers=BaseNeuron, z0=15.0)
    model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.RandomState(0)
    x = rng.poisson(0.3, size=(2, 2, 128, 128, 2)).astype("float32")
    y = rng.randint(0, 11, size=(2,))
    hist = model.fit(x, y, batch_size=2, epochs=2, verbose=0,
                     callbacks=[ChaosAnnealing(beta=0.95, every="epoch")])
    np.testing.assert_allclose(hist.history["chaos_z"], [15.0, 15.0 * 0.95], rtol=1e-6)
    assert all(np.isfinite(hist.history["loss"]))
    assert hist.history["chaos_loss"][0] > 0
    assert not np.allclose(keras.ops.convert_to_numpy(model.get_layer("fc").kernel), w_fc)
