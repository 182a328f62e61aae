"""Built-in eval components, registered lazily as \"module:attr\" strings (importing nothing heavy)."""

from vlmkit.registry import Registries


def register(registry: Registries) -> None:
    pass
