"""Built-in data components, registered lazily as \"module:attr\" strings (importing nothing heavy)."""

from vlmkit.registry import Registries

CHAT = "vlmkit.data.tokenize.chat_templates"
MIX = "vlmkit.data.mixers"
KIND = "vlmkit.data.kinds"


def register(registry: Registries) -> None:
    k = registry.sample_kinds
    k.register("pairs", f"{KIND}.pairs:Pairs", description="Image + caption; pairs_per_sample joins N per sample (VILA: 4 for COYO).")
    k.register("interleaved", f"{KIND}.interleaved:Interleaved", description="MMC4 documents: images before their matched sentences (min_similarity, max_images).")
    k.register("conversations", f"{KIND}.conversations:Conversations", description="Chat turns with <image> markers; loss on assistant turns.")
    k.register("text", f"{KIND}.text:Text", description="Text or conversations without images (FLAN, ShareGPT).")

    t = registry.chat_templates
    t.register("tokenizer", f"{CHAT}.jinja:TokenizerTemplate", description="The tokenizer's own jinja chat template.")
    t.register("vicuna_v1", f"{CHAT}.formats:VicunaV1", description="LLaVA/VILA vicuna_v1: 'USER: .. ASSISTANT: ..</s>'.")
    t.register("llama_2", f"{CHAT}.formats:Llama2", description="Llama-2 chat: '[INST] .. [/INST] .. </s>'.")
    t.register("llama_3", f"{CHAT}.formats:Llama3", description="Llama-3 headers and <|eot_id|>.")
    t.register("chatml", f"{CHAT}.formats:ChatML", description="ChatML: '<|im_start|>role\\n..<|im_end|>'.")

    m = registry.mixers
    m.register("proportional", f"{MIX}.proportional:ProportionalMixer", description="{dataset: share} -> Streaming proportion per stream.")
    m.register("repeat", f"{MIX}.repeat:RepeatMixer", description="{dataset: weight} -> whole-dataset repeats relative to the smallest.")

    d = registry.datasets
    d.register("embedded_pairs", "vlmkit.data.embedded.named:embedded_pairs", description="Embedded pairs: easy-vqa, emoji, photos (options: scale, seed).")
    d.register("embedded_interleaved", "vlmkit.data.embedded.named:embedded_interleaved", description="Embedded MMC4-style documents of 2-4 pictures.")
    d.register("embedded_conversations", "vlmkit.data.embedded.named:embedded_conversations", description="easy-vqa train questions as conversations (options: scale, seed, turns, types).")
    d.register("embedded_names", "vlmkit.data.embedded.named:embedded_names", description="In-context naming episodes over training emoji (options: scale, seed, ways, shots_per_way).")
    d.register("embedded_text", "vlmkit.data.embedded.named:embedded_text", description="Text-only arithmetic and word-game conversations.")
    d.register("embedded_vqa_test", "vlmkit.data.embedded.named:embedded_vqa_test", description="easy-vqa test split with answers (evaluation).")
    d.register("embedded_emoji_test", "vlmkit.data.embedded.named:embedded_emoji_test", description="Held-out emoji captions (evaluation).")
