"""Built-in model adapters; importing this module registers them."""

from . import deem, hf_vlm  # noqa: F401
