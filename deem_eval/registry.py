"""One lazy registry per kind of plugin (tasks, models), filled by decorators and entry points.

Built-in plugins and third-party packages both register through the entry-point groups
``deem_eval.tasks`` and ``deem_eval.models``: each entry point names a module whose import
runs the ``@register`` decorators. Nothing is imported until a name is looked up. ``DEEM_EVAL_PLUGINS=mod1,mod2`` imports extra
plugin modules without packaging them (handy for a local task file).
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from .errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str, builtin: Iterable[str] = (), lazy: dict[str, str] | None = None):
        self.kind = kind
        self.group = group
        self._builtin = tuple(builtin)
        self._lazy = dict(lazy or {})  # name -> module imported only when that name is used
        self._items: dict[str, T] = {}
        self._groups: dict[str, list[str]] = {}
        self._loaded = False

    def register(self, name: str, *, group: str | None = None) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if name in self._groups:
                raise ValueError(f"{self.kind} {name!r} has the name of a group")
            self._items[name] = obj
            if isinstance(obj, type) and not getattr(obj, "name", None):
                obj.name = name  # type: ignore[attr-defined]
            if group:
                members = self._groups.setdefault(group, [])
                if name not in members:
                    members.append(name)
            return obj

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        import os

        extra = [m.strip() for m in os.environ.get("DEEM_EVAL_PLUGINS", "").split(",") if m.strip()]
        for module in (*self._builtin, *extra):
            importlib.import_module(module)
        for ep in entry_points(group=self.group):
            if ep.value in self._builtin:
                continue
            try:
                ep.load()
            except Exception as exc:  # a broken third-party plugin must not break the harness
                import warnings

                warnings.warn(f"could not load {self.kind} plugin {ep.name!r} ({ep.value}): {exc}", stacklevel=2)

    def names(self, pattern: str = "*") -> list[str]:
        self._load()
        return sorted(n for n in {**self._lazy, **self._items} if fnmatch.fnmatchcase(n, pattern))

    def register_group(self, name: str, members: Iterable[str]) -> None:
        """Declare ``name`` as a group of tasks and/or other groups (members may register later)."""
        if name in self._items:
            raise ValueError(f"{self.kind} group {name!r} has the name of a {self.kind}")
        declared = self._groups.setdefault(name, [])
        declared.extend(m for m in members if m not in declared)

    def group_members(self, name: str) -> list[str]:
        """The members of group ``name`` as declared (task and group names, registered or not)."""
        self._load()
        return list(self._groups.get(name, ()))

    def _flatten(self, name: str, trail: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for member in self._groups.get(name, ()):
            if member in self._groups and member not in trail:
                names = self._flatten(member, (*trail, member))
            elif member in self._items or member in self._lazy:
                names = [member]
            else:  # not registered (yet): a group lists the members that exist
                names = []
            out.extend(n for n in names if n not in out)
        return out

    def groups(self) -> dict[str, list[str]]:
        """Every group with its registered member names, nested groups expanded in order."""
        self._load()
        return {g: self._flatten(g, (g,)) for g in sorted(self._groups)}

    def get(self, name: str) -> T:
        self._load()
        if name not in self._items and name in self._lazy:
            try:
                importlib.import_module(self._lazy[name])
            except ImportError as exc:
                raise UserError(f"{self.kind} {name!r} could not be loaded: {exc}") from exc
        if name not in self._items:
            known = ", ".join(self.names()) or "none"
            raise UserError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._items[name]

    def expand(self, spec: str) -> list[str]:
        """Turn 'a,b,group,pattern*' into an ordered list of member names without repeats."""
        self._load()
        out: list[str] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            if part in self._groups:
                names = self._flatten(part, (part,))
                if not names:
                    raise UserError(f"{self.kind} group {part!r} has no registered members "
                                    f"(declared: {', '.join(self._groups[part])})")
            elif part in self._items or part in self._lazy:
                names = [part]
            elif any(c in part for c in "*?["):
                names = self.names(part)
                if not names:
                    raise UserError(f"no {self.kind} matches {part!r}")
            else:
                self.get(part)  # raises with the list of known names
                names = []
            out.extend(n for n in names if n not in out)
        if not out:
            raise UserError(f"no {self.kind} given")
        return out


TASKS: Registry = Registry("task", "deem_eval.tasks", builtin=("deem_eval.tasks",))
MODELS: Registry = Registry(
    "model",
    "deem_eval.models",
    lazy={
        "deem": "deem_eval.models.deem",
        "hf-vlm": "deem_eval.models.hf_vlm",
        "openai": "deem_eval.models.openai_api",
        "openai-compatible": "deem_eval.models.openai_api",
    },
)


def register_task(name: str, *, group: str | None = None):
    """Class decorator: make a Task subclass available as ``name`` (and a member of ``group``)."""
    return TASKS.register(name, group=group)


def register_group(name: str, members: Iterable[str]) -> None:
    """Declare a task group whose members are tasks or other groups, expanded recursively in
    order without repeats; members that are not registered are skipped until they are."""
    TASKS.register_group(name, members)


def register_model(name: str):
    """Class decorator: make a ModelAdapter subclass available as ``name``."""
    return MODELS.register(name)
