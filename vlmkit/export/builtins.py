"""Built-in export formats and the components that read exported or foreign folders, registered
lazily as "module:attr" strings."""

from vlmkit.registry import Registries

LLAVA = "vlmkit.export.llava_import"


def register(registry: Registries) -> None:
    described = "a llava-hf folder (LlavaForConditionalGeneration); model.init_from: PATH sets all three"
    registry.vision_encoders.register("llava_hf", f"{LLAVA}:llava_vision", description=f"The vision tower of {described}.")
    registry.projectors.register("llava_hf", f"{LLAVA}:llava_projector", description=f"The projector of {described}.")
    registry.llms.register("llava_hf", f"{LLAVA}:llava_llm", description=f"The language model of {described}.")
    registry.export_formats.register("vlmkit", "vlmkit.export.vlmkit_format:export_vlmkit",
                                     description="config + safetensors, reloaded by vlmkit.from_pretrained (any components)")
    registry.export_formats.register("llava-hf", "vlmkit.export.llava_hf:export_llava_hf",
                                     description="transformers LlavaForConditionalGeneration + processor (CLIP/SigLIP, MLP/linear, Llama-family)")
