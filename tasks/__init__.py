"""Built-in benchmark tasks, installed as ``deem_eval.tasks``; importing registers them."""

from . import captions, fid, mmvp, pope, refcocog, robustvqa, vqa  # noqa: F401
