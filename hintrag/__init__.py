"""hintrag: failure-driven hints, retrieval, and distillation into LLM agents."""

__version__ = "0.1.0"
