"""Turn sparse integer labels or one-hot rows into one-hot targets matching the prediction."""
from keras import ops


def one_hot_targets(y_true, num_classes, batch_rank, loss_name):
    """One-hot [B, C] from labels [B] / [B, 1] (integers) or one-hot / soft targets [B, C].

    ``batch_rank`` is the rank of a per-sample label vector (1 here: [B]).
    """
    shape = tuple(y_true.shape)
    rank = len(shape)
    if rank == batch_rank or (rank == batch_rank + 1 and shape[-1] == 1 and num_classes != 1):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        return ops.one_hot(labels, num_classes)
    if rank == batch_rank + 1 and shape[-1] == num_classes:
        return y_true
    raise ValueError(
        f"{loss_name}: labels of shape {shape} do not match {num_classes} classes; pass integer "
        f"labels [batch] (or [batch, 1]) or one-hot targets [batch, {num_classes}]"
    )
