"""hintrag: failure-driven hints, retrieval, and distillation into LLM agents."""

__version__ = "0.1.0"

from hintrag.machine import bound_kernel_caches, register_resolvers

register_resolvers()  # config resolvers (${bf16_if_native:...}) exist wherever hintrag is imported
bound_kernel_caches()  # before torch builds its first CPU kernel
