"""Built-in data components, registered lazily as \"module:attr\" strings (importing nothing heavy)."""

from vlmkit.registry import Registries

CHAT = "vlmkit.model.llm.chat_templates"
MIX = "vlmkit.data.mixers"


def register(registry: Registries) -> None:
    t = registry.chat_templates
    t.register("tokenizer", f"{CHAT}.jinja:TokenizerTemplate", description="The tokenizer's own jinja chat template.")
    t.register("vicuna_v1", f"{CHAT}.formats:VicunaV1", description="LLaVA/VILA vicuna_v1: 'USER: .. ASSISTANT: ..</s>'.")
    t.register("llama_2", f"{CHAT}.formats:Llama2", description="Llama-2 chat: '[INST] .. [/INST] .. </s>'.")
    t.register("llama_3", f"{CHAT}.formats:Llama3", description="Llama-3 headers and <|eot_id|>.")
    t.register("chatml", f"{CHAT}.formats:ChatML", description="ChatML: '<|im_start|>role\\n..<|im_end|>'.")

