from pathlib import Path

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
