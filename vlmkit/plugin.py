"""vlmkit's own components, registered through the same hook a third-party plugin uses."""

from vlmkit.registry import Registries, hookimpl


@hookimpl
def vlmkit_register(registry: Registries) -> None:
    from vlmkit.data.builtins import register as register_data
    from vlmkit.eval.builtins import register as register_eval
    from vlmkit.export.builtins import register as register_export
    from vlmkit.model.builtins import register as register_model
    from vlmkit.train.builtins import register as register_train

    for register in (register_model, register_data, register_train, register_eval, register_export):
        register(registry)
