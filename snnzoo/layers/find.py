"""Finding the layers of a given type anywhere inside a Keras model."""

__all__ = ["find_layers"]


def find_layers(model, types, include_self=False):
    """Every layer of ``model`` that is an instance of ``types`` (a class or a tuple of classes),
    searched recursively through nested layers and models, each once, in the order Keras lists
    them (``model`` itself first when ``include_self``). Keras' own walk already lists a layer
    used in several places once."""
    return [layer for layer in model._flatten_layers(include_self=include_self, recursive=True)
            if isinstance(layer, types)]
