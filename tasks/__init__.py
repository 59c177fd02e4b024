"""Built-in benchmark tasks, installed as ``deem_eval.tasks``; importing registers them.

Every module of this package is imported (in name order), so a new task is one new file here.
"""

import importlib
import pkgutil

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
