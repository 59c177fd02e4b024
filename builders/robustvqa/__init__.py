"""RobustVQA builder: ImageNet-A / -R / -V2 trees → yes/no items with CLIP-mined hard negatives."""

from .build import BuildResult, build_robustvqa, run_build

__all__ = ["BuildResult", "build_robustvqa", "run_build"]
