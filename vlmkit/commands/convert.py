"""``vlmkit convert KIND INPUT... OUT``: public dataset formats to MDS shards, with a skip report."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a dataset to MosaicML Streaming (MDS) shards",
        description=(
            "Convert records of one KIND to MDS shards in OUT (a folder or s3://... URI). pairs: LLaVA-CC3M JSON, "
            "COYO/LAION jsonl/parquet, webdataset tars; interleaved: MMC4 jsonl; conversations: LLaVA-Instruct JSON; "
            "text: jsonl with 'text' or ShareGPT conversations. Bad records are skipped and counted by reason; the "
            "summary is printed and written to OUT/conversion_report.json."
        ),
    )
    p.add_argument("kind", help="sample kind: pairs, interleaved, conversations, text or one a plugin registers")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="input files (.json, .jsonl, .parquet, .tar) or folders of them")
    p.add_argument("out", metavar="OUT", help="output folder or object-store URI")
    p.add_argument("--image-root", default=None, help="folder image names are relative to (default: the first input's folder)")
    p.add_argument("--workers", type=int, default=1, help="threads that read and check images (order is kept)")
    p.add_argument("--max-image-side", type=int, default=None, metavar="N",
                   help="downscale images whose longer side exceeds N px to N (aspect kept; JPEG stays JPEG, others PNG); "
                        "smaller ones are stored unchanged (default: keep every image's size)")
    p.add_argument("--compression", default=None, help="shard compression, e.g. zstd (default: none)")
    p.add_argument("--shard-size-limit", default="64mb", help="bytes per shard before a new one starts, e.g. 64mb")
    p.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty OUT")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a summary")
    p.set_defaults(func=run)


def _progress(report) -> None:
    print(f"  {report.records_read} records read, {report.samples_written} written", file=sys.stderr, flush=True)


def run(args) -> int:
    from vlmkit.data.convert import convert

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    report = convert(
        args.kind,
        args.inputs,
        args.out,
        image_root=args.image_root,
        workers=args.workers,
        compression=args.compression,
        size_limit=args.shard_size_limit,
        overwrite=args.overwrite,
        max_image_side=args.max_image_side,
        progress=_progress,
    )
    print(report.to_json() if args.json else report.summary())
    return 0
