"""The model adapter interface.

An adapter wraps one model family. It may support any of three abilities, each optional:

- ``generate``: text for a batch of requests (image + prompt), greedy unless told otherwise;
- ``score_options``: log-likelihood of each fixed option (yes/no, (a)/(b)) after the prompt
  and answer prefix, with one forward pass per request;
- ``generate_images``: images from text prompts (for FID), seeded.

An adapter may put a ``SampleError`` in place of one request's result (a server that refuses
that one request, say): the runner records it as that sample's error, does not cache it, and
goes on with the rest.

Adapters that can encode an image separately from the question implement
``encode_images``; the runner then encodes each unique image once per task and passes the
encoded features in ``Request.image``. Otherwise the runner passes the PIL image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import UserError
from ..samples import Request


class ModelAdapter:
    name: ClassVar[str] = ""
    supports_masks: ClassVar[bool] = False  # region masks for mask-aware inputs (DEEM)
    prefix_sharing: ClassVar[str] = "-"  # shares the image prefix across questions: "yes", "per family", "-"

    def __init__(self, **model_args: str):
        self.model_args = dict(model_args)

    # ---- identity (cache keys, results.json) -----------------------------------------
    def fingerprint(self) -> str:
        """Changes whenever the weights or anything that affects outputs changes."""
        raise NotImplementedError

    def checkpoint_sha256(self) -> str | None:
        return None

    def label(self) -> str:
        """Leaderboard name: the adapter name plus the checkpoint it runs, when one is named."""
        from pathlib import PurePath

        ref = self.model_args.get("checkpoint") or self.model_args.get("pretrained")
        return f"{self.name}:{PurePath(ref.rstrip('/')).name}" if ref else self.name

    def versions(self) -> dict[str, str]:
        return {}

    def model_info(self) -> dict[str, Any]:
        """Facts about how this run talked to the model (results.json ``model_info``); {} = none."""
        return {}

    # ---- run set-up ---------------------------------------------------------------------
    min_batch_size: int = 1  # adapters that overlap requests (servers) want batches at least this big

    def resolve_scoring(self, scoring: str) -> str:
        """The scoring this adapter will actually use for a requested one (a server may lack logprobs)."""
        return scoring

    # ---- abilities --------------------------------------------------------------------
    @property
    def can_generate(self) -> bool:
        return type(self).generate is not ModelAdapter.generate

    @property
    def can_score_options(self) -> bool:
        return type(self).score_options is not ModelAdapter.score_options

    @property
    def can_generate_images(self) -> bool:
        return type(self).generate_images is not ModelAdapter.generate_images

    @property
    def can_encode_images(self) -> bool:
        return type(self).encode_images is not ModelAdapter.encode_images

    def encode_images(self, images: Sequence[Any], masks: Sequence[Any] | None = None) -> list[Any]:
        raise NotImplementedError

    # ---- prefill accounting (adapters that share prefixes) ---------------------------
    def begin_task(self) -> None:
        """Called by the runner before each task: reset per-task counters."""

    def prefill_stats(self) -> dict[str, int] | None:
        """``n_prefill_tokens`` (tokens pushed through the LLM) and ``n_prefill_floor`` (each
        unique prefix once plus every suffix) for the task so far, where the adapter counts them."""
        return None

    def generate(self, requests: Sequence[Request]) -> list[str]:
        raise UserError(f"model {self.name!r} cannot generate text")

    def score_options(self, requests: Sequence[Request]) -> list[list[float]]:
        raise UserError(f"model {self.name!r} cannot score options from logits")

    def generate_images(self, prompts: Sequence[str], seed: int) -> list[Any]:
        raise UserError(f"model {self.name!r} cannot generate images")


def parse_model_args(spec: str | None) -> dict[str, str]:
    """'pretrained=path,dtype=float32' -> dict; values may not contain commas."""
    from ..task import key_value_pairs

    return dict(key_value_pairs(spec, "--model-args", "key=value"))
