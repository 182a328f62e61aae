"""Built-in eval components, registered lazily as \"module:attr\" strings (importing nothing heavy)."""

from vlmkit.registry import Registries

TASKS = {
    "vqav2": ("vlmkit.eval.tasks.vqa:VQAv2Task", "VQAv2 open-ended VQA (official JSON), VQA accuracy"),
    "okvqa": ("vlmkit.eval.tasks.vqa:OKVQATask", "OK-VQA (VQAv2 format), VQA accuracy"),
    "vizwiz": ("vlmkit.eval.tasks.vqa:VizWizTask", "VizWiz-VQA, VQA accuracy"),
    "textvqa": ("vlmkit.eval.tasks.vqa:TextVQATask", "TextVQA 0.5.1, TextVQA accuracy"),
    "gqa": ("vlmkit.eval.tasks.vqa:GQATask", "GQA balanced questions, exact match"),
    "pope": ("vlmkit.eval.tasks.yesno:POPETask", "POPE hallucination, F1/accuracy per category"),
    "mme": ("vlmkit.eval.tasks.yesno:MMETask", "MME perception + cognition scores"),
    "scienceqa_img": ("vlmkit.eval.tasks.choice:ScienceQATask", "ScienceQA image subset, option accuracy"),
    "seed": ("vlmkit.eval.tasks.choice:SEEDTask", "SEED-Bench image questions, option accuracy"),
    "mmbench": ("vlmkit.eval.tasks.choice:MMBenchTask", "MMBench TSV, circular accuracy"),
    "mmbench_cn": ("vlmkit.eval.tasks.choice:MMBenchCNTask", "MMBench-CN TSV, circular accuracy"),
    "coco_caption": ("vlmkit.eval.tasks.caption:CaptionTask", "COCO captions (COCO or Karpathy JSON), CIDEr-D"),
    "flickr30k": ("vlmkit.eval.tasks.caption:Flickr30kTask", "Flickr30k captions (Karpathy JSON), CIDEr-D"),
    "mmlu": ("vlmkit.eval.tasks.mmlu:MMLUTask", "MMLU, answer-letter log-likelihood"),
    # embedded: no downloads
    "easy_vqa": ("vlmkit.eval.tasks.embedded:EasyVQATask", "easy-vqa test split (packaged), exact-match accuracy"),
    "emoji_caption": ("vlmkit.eval.tasks.embedded:EmojiCaptionTask", "held-out emoji captioning, CIDEr-D"),
    "embedded_text": ("vlmkit.eval.tasks.embedded:EmbeddedTextTask", "held-out embedded text instructions, exact match"),
    "fewshot_names": ("vlmkit.eval.tasks.names:NamesTask", "in-context naming of new images (answer only in the prompt)"),
    # judged: need a judge LLM (task options judge, judge_options)
    "llava_bench": ("vlmkit.eval.tasks.llava_bench:LLaVABenchTask", "LLaVA-Bench (in-the-wild), judge-rated relative score"),
    "mm_vet": ("vlmkit.eval.tasks.mm_vet:MMVetTask", "MM-Vet, judge-graded correctness per capability"),
}
JUDGES = {
    "openai": ("vlmkit.eval.judges.openai:OpenAIJudge", "any OpenAI-compatible chat-completions endpoint (VLMKIT_JUDGE_* environment)"),
    "hf": ("vlmkit.eval.judges.hf:HFJudge", "a local Hugging Face causal LM"),
}


def register(registry: Registries) -> None:
    for name, (factory, description) in TASKS.items():
        registry.tasks.register(name, factory, description=description)
    for name, (factory, description) in JUDGES.items():
        registry.judges.register(name, factory, description=description)
    registry.model_sources.register("recipe", "vlmkit.eval.loading:RecipeSource", description="a recipe YAML (weights of its last finished stage)")
    registry.model_sources.register("exported", "vlmkit.eval.loading:ExportedSource", description="a folder written by `vlmkit export`")
