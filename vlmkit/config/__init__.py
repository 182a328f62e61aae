"""Recipe configuration: pydantic models, YAML loading, ``base:`` inheritance, dotted overrides."""

from vlmkit.config.loading import RecipeError, apply_overrides, deep_merge, load_recipe, validate_recipe
from vlmkit.config.mixture import parse_mixture
from vlmkit.config.models import (
    ComponentConfig,
    DataConfig,
    DatasetConfig,
    EvalConfig,
    LoraConfig,
    ModelConfig,
    OptimizerConfig,
    Recipe,
    SchedulerConfig,
    StageConfig,
    TaskConfig,
    TrainerConfig,
)

__all__ = [
    "ComponentConfig", "DataConfig", "DatasetConfig", "EvalConfig", "LoraConfig", "ModelConfig",
    "OptimizerConfig", "Recipe", "RecipeError", "SchedulerConfig", "StageConfig", "TaskConfig",
    "TrainerConfig", "apply_overrides", "deep_merge", "load_recipe", "parse_mixture", "validate_recipe",
]
