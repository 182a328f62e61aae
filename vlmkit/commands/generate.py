"""``vlmkit generate MODEL --image a.png [--image b.png] --prompt "..."``: one reply from a model.

``<image>`` markers in the prompt place the images (one per ``--image``, in order); without
markers the images go before the text. The recipe's chat template wraps the prompt.
"""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="generate a reply to a prompt with images", description=__doc__)
    p.add_argument("model", metavar="MODEL", help="recipe YAML or exported model folder")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted recipe overrides")
    p.add_argument("--prompt", "-p", required=True, help="the user message (may hold <image> markers)")
    p.add_argument("--image", "-i", action="append", default=[], help="image file (repeatable, in marker order)")
    p.add_argument("--system", default=None, help="system message")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default); > 0 samples")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stage", default=None, help="use this stage's weights instead of the last finished one")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--json", action="store_true", help="print {text, tokens, finish} as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from vlmkit.eval.generate import GenerationConfig, generate
    from vlmkit.eval.images import load_image
    from vlmkit.eval.loading import load_model
    from vlmkit.eval.prompts import PromptBuilder
    from vlmkit.eval.tasks.base import Example

    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens, do_sample=args.temperature > 0, temperature=args.temperature,
        top_k=args.top_k, top_p=args.top_p, stop=tuple(args.stop), seed=args.seed,
    )
    images = [load_image(path) for path in args.image]  # fail on a bad file before loading the model
    loaded = load_model(args.model, args.overrides, stage=args.stage, device=args.device, dtype=args.dtype)
    model = loaded.model
    builder = PromptBuilder(model, loaded.chat_template)
    messages = builder.messages(Example("prompt", args.prompt, list(args.image)))
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    ids = builder.encoder.encode_prompt(messages, images)
    (out,) = generate(model, [ids], [[model.image_transform(im) for im in images]], config)
    if args.json:
        print(json.dumps({"text": out.text, "tokens": len(out.token_ids), "finish": out.finish}, ensure_ascii=False))
    else:
        print(out.text)
    return 0
