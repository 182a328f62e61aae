"""vlmkit's own components, registered through the same hook a third-party plugin uses."""

from vlmkit.registry import Registries, hookimpl


@hookimpl
def vlmkit_register(registry: Registries) -> None:
    from vlmkit.data.builtins import register as register_data
    from vlmkit.eval.builtins import register as register_eval
    from vlmkit.export.builtins import register as register_export
    from vlmkit.model.builtins import register as register_model

    register_model(registry)
    register_data(registry)
    register_eval(registry)
    register_export(registry)
