"""Package discovery: tasks/ and builders/ live at the top of the repository but install as
deem_eval.tasks and deem_eval.builders (with all their sub-packages)."""

from setuptools import find_packages, setup


def remap(folder: str, dotted: str) -> list[str]:
    return [dotted] + [f"{dotted}.{p}" for p in find_packages(folder)]


setup(
    packages=find_packages(include=["deem_eval", "deem_eval.*", "deem_model", "deem_model.*"])
    + remap("tasks", "deem_eval.tasks")
    + remap("builders", "deem_eval.builders"),
    package_dir={"deem_eval.tasks": "tasks", "deem_eval.builders": "builders"},
)
