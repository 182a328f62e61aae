"""Official scoring rules of the VILA paper's benchmarks (contract: names re-exported here).

Each function reproduces the reference code behind the published numbers, quirks included; the
docstrings name the reference. Pure Python: importing this imports no torch.
"""

from vlmkit.eval.metrics.choice import (
    MMBENCH_RULES,
    gqa_match,
    gqa_normalize,
    mmbench_circular_accuracy,
    mmbench_extract_choice,
    mmbench_opencompass_choice,
    mmlu_choice,
    option_letters,
    scienceqa_parse,
    seed_match,
)
from vlmkit.eval.metrics.cider import cider, coco_tokenize
from vlmkit.eval.metrics.vqa import evalai_answer_processor, leave_one_out_accuracy, vqa_accuracy, vqa_normalize
from vlmkit.eval.metrics.yesno import MME_COGNITION, MME_PERCEPTION, mme_parse, mme_scores, pope_metrics, pope_parse

__all__ = [
    "MMBENCH_RULES",
    "MME_COGNITION",
    "MME_PERCEPTION",
    "cider",
    "coco_tokenize",
    "evalai_answer_processor",
    "gqa_match",
    "gqa_normalize",
    "leave_one_out_accuracy",
    "mmbench_circular_accuracy",
    "mmbench_extract_choice",
    "mmbench_opencompass_choice",
    "mme_parse",
    "mme_scores",
    "mmlu_choice",
    "option_letters",
    "pope_metrics",
    "pope_parse",
    "scienceqa_parse",
    "seed_match",
    "vqa_accuracy",
    "vqa_normalize",
]
