"""The ablation manifest (``recipes/ablations/ablations.yaml``): comparisons, their arms, the
metrics to report and the direction of each effect the paper reports."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vlmkit.config.loading import RecipeError, format_validation_error, read_yaml
from vlmkit.experiments.verdict import Relation, parse_chain

MANIFEST = "ablations.yaml"


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")
    finding: str = Field(description="What the paper found, in one sentence.")
    source: str = Field("", description="Where in the paper.")
    arms: dict[str, str] = Field(description="Arm name -> recipe file (relative to the manifest).")
    metrics: list[str] = Field(description="Abstract metrics to report (mapped by the scale).")
    expect: dict[str, str] = Field(default_factory=dict, description="Metric -> direction, e.g. 'a > b'.")

    @model_validator(mode="after")
    def _consistent(self) -> "Comparison":
        if len(self.arms) < 2:
            raise ValueError("a comparison needs at least two arms")
        for metric, chain in self.expect.items():
            if metric not in self.metrics:
                raise ValueError(f"expect names metric {metric!r}, which is not under metrics ({', '.join(self.metrics)})")
            parse_chain(chain, list(self.arms))
        return self

    def relations(self, metric: str) -> list[Relation]:
        return parse_chain(self.expect[metric], list(self.arms))


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tolerance: float = Field(0.02, ge=0, description="Score difference that counts as a tie.")
    comparisons: dict[str, Comparison]


def load_manifest(folder_or_file: str | Path) -> tuple[Manifest, Path]:
    """The manifest and the folder its arm paths are relative to; checks every arm file exists."""
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no ablation manifest at {str(path)!r}; give a folder holding {MANIFEST} or the manifest file")
    try:
        manifest = Manifest.model_validate(read_yaml(path))
    except ValidationError as err:
        raise RecipeError(format_validation_error(err, Manifest), str(path)) from None
    missing = [f"comparisons.{c}.arms.{a}: {f!r} does not exist" for c, cmp in manifest.comparisons.items()
               for a, f in cmp.arms.items() if not (path.parent / f).is_file()]
    if missing:
        raise RecipeError(missing, str(path))
    return manifest, path.parent


def select(manifest: Manifest, only: list[str] | None) -> dict[str, Comparison]:
    """The comparisons named in ``only`` (all when ``None``), in manifest order."""
    if not only:
        return dict(manifest.comparisons)
    unknown = [n for n in only if n not in manifest.comparisons]
    if unknown:
        raise ValueError(f"--only names unknown comparisons {unknown}; known: {', '.join(manifest.comparisons)}")
    return {n: c for n, c in manifest.comparisons.items() if n in only}
