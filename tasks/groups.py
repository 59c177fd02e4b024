"""Task groups made of other groups: the hallucination and perception suites.

Members that are not registered (a plugin not installed, a task still to come) are skipped, so
a group always runs the members that exist.
"""

from deem_eval.registry import register_group

register_group("hallucination", ("pope", "hallusionbench", "amber_disc", "chair", "mme"))
register_group("perception", ("mmvp", "cvbench", "naturalbench"))
