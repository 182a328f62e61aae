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
    v.register("clip", f"{VISION}.hf_tower:clip", description="Hugging Face CLIP vision tower (hub name or local folder).")
    v.register("siglip", f"{VISION}.hf_tower:siglip", description="Hugging Face SigLIP vision tower (hub name or local folder).")
    v.register("timm", f"{VISION}.timm_encoder:timm_encoder", description="Any timm model: ViT tokens or a CNN feature map as tokens.")
    v.register("efficientnet_lite0", f"{VISION}.efficientnet_lite0:efficientnet_lite0", description="Packaged ImageNet EfficientNet-Lite0 (128 px, 2x2 tokens).")

    p = registry.projectors
    p.register("identity", f"{PROJ}.identity:IdentityProjector", description="No-op; encoder width must equal LLM width.")
    p.register("linear", f"{PROJ}.mlp:linear", description="One Linear layer per token.")
    p.register("mlp", f"{PROJ}.mlp:MLPProjector", description="depth Linear layers with GELU (VILA mlp2x_gelu: depth 2).")
    p.register("downsample", f"{PROJ}.downsample:DownsampleProjector", description="Merge k x k token blocks, then MLP (VILA-1.5 mlp_downsample).")
    p.register("resampler", f"{PROJ}.resampler:ResamplerProjector", description="Perceiver resampler: num_latents learned queries.")
    p.register("transformer", f"{PROJ}.transformer:TransformerProjector", description="Linear + transformer blocks over image tokens.")

    m = registry.llms
    m.register("tiny_llama", f"{LLM}.tiny_llama:tiny_llama", description="Tiny random-init Llama with a byte tokenizer.")
    m.register("hf_causal_lm", f"{LLM}.hf_causal_lm:hf_causal_lm", description="Any Hugging Face causal LM + tokenizer (hub name or local folder).")
    m.register("smollm2_135m", f"{LLM}.smollm2:smollm2_135m", description="Packaged SmolLM2-135M-Instruct (GGUF, cached as safetensors).")
