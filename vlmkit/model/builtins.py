"""Built-in model components, registered lazily as \"module:attr\" strings (importing nothing heavy).

Every name and its options are documented in ``docs/components.md``.
"""

from vlmkit.registry import Registries

VISION = "vlmkit.model.vision"
PROJ = "vlmkit.model.projectors"
LLM = "vlmkit.model.llm"


def register(registry: Registries) -> None:
    v = registry.vision_encoders
    v.register("tiny_vit", f"{VISION}.tiny_vit:tiny_vit", description="Tiny random-init ViT (tests, smoke runs).")

    p = registry.projectors
    p.register("identity", f"{PROJ}.identity:IdentityProjector", description="No-op; encoder width must equal LLM width.")
    p.register("linear", f"{PROJ}.mlp:linear", description="One Linear layer per token.")
    p.register("mlp", f"{PROJ}.mlp:MLPProjector", description="depth Linear layers with GELU (VILA mlp2x_gelu: depth 2).")
    p.register("downsample", f"{PROJ}.downsample:DownsampleProjector", description="Merge k x k token blocks, then MLP (VILA-1.5 mlp_downsample).")
    p.register("resampler", f"{PROJ}.resampler:ResamplerProjector", description="Perceiver resampler: num_latents learned queries.")
    p.register("transformer", f"{PROJ}.transformer:TransformerProjector", description="Linear + transformer blocks over image tokens.")

    m = registry.llms
    m.register("tiny_llama", f"{LLM}.tiny_llama:tiny_llama", description="Tiny random-init Llama with a byte tokenizer.")
