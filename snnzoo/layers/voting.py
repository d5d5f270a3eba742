"""Population voting readout (Shen et al., Patterns 2022, BP-STA code ``VotingLayer``;
Fang et al., ICCV 2021): the last axis holds ``voters`` neurons per class, consecutively, and each
class output is the mean of its group::

    y[..., k] = (1/V) Σ_{j<V} x[..., k·V + j]        (V = ``voters``)
"""
import keras
from keras import ops

__all__ = ["VotingLayer"]


@keras.saving.register_keras_serializable(package="snnzoo")
class VotingLayer(keras.layers.Layer):
    """[..., classes·voters] → [..., classes]: average over consecutive groups of ``voters``.

    Args:
        voters: V, neurons per class (10 in BP-STA).
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: tensor ``[..., classes·voters]``.

    Returns:
        ``[..., classes]``: the mean of each class's group.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers.voting import VotingLayer

    VotingLayer(voters=2)(np.array([[1.0, 0.0, 1.0, 1.0]], "float32"))   # [[0.5, 1.0]]
    ```
    """

    def __init__(self, voters=10, **kwargs):
        super().__init__(**kwargs)
        voters = int(voters)
        if voters < 1:
            raise ValueError(f"VotingLayer: voters must be >= 1, got {voters}")
        self.voters = voters

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None or features % self.voters:
            raise ValueError(
                f"VotingLayer(voters={self.voters}) needs a last axis that is a multiple of "
                f"{self.voters}, got shape {tuple(input_shape)}; use Dense(num_classes * {self.voters}) before it"
            )
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] // self.voters,)

    def call(self, inputs):
        shape = tuple(inputs.shape)
        lead = [-1 if d is None else d for d in shape[:-1]]
        if lead.count(-1) > 1:  # dynamic shape other than batch: use the runtime shape
            lead = list(ops.shape(inputs)[:-1])
        grouped = ops.reshape(inputs, tuple(lead) + (shape[-1] // self.voters, self.voters))
        return ops.mean(grouped, axis=-1)

    def get_config(self):
        config = super().get_config()
        config["voters"] = self.voters
        return config
