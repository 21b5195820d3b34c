"""The version of the plugin contract (``portal.hookspecs`` and ``portal.plugin_api``).

``CONTRACT_VERSION`` is ``"<major>.<minor>"``. A minor release only adds: a new hook, a new
argument to a hook, a new name in ``plugin_api``, a new optional field of a data class. A major
release may break: a hook or a name removed or renamed, an argument or a return type changed.
A plugin says which contract it was built for with a module attribute ``CONTRACT = "1.0"``; the
host refuses it when the major differs, or when it needs a newer minor than this portal has.
"""

from __future__ import annotations

import re

CONTRACT_VERSION = "1.0"
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def _parse(version: str) -> tuple[int, int] | None:
    match = _VERSION.match(version) if isinstance(version, str) else None
    return (int(match[1]), int(match[2])) if match else None


def contract_problem(name: str, declared: object) -> str | None:
    """Why plugin ``name``, which declares ``CONTRACT = declared``, cannot run here; None if it can."""
    ours = _parse(CONTRACT_VERSION)
    assert ours is not None
    if declared is None:
        return (
            f"plugin {name!r} does not say which plugin contract it was built for: add "
            f'CONTRACT = "{CONTRACT_VERSION}" to its module or class (this portal has contract {CONTRACT_VERSION})'
        )
    theirs = _parse(declared)  # type: ignore[arg-type]
    if theirs is None:
        return f"plugin {name!r} declares CONTRACT = {declared!r}, which is not a version like {CONTRACT_VERSION!r}"
    if theirs[0] != ours[0]:
        return (
            f"plugin {name!r} was built for plugin contract {declared}, and this portal has contract "
            f"{CONTRACT_VERSION}: a different major version breaks plugins; use a release of the plugin "
            f"built for {ours[0]}.x"
        )
    if theirs[1] > ours[1]:
        return (
            f"plugin {name!r} was built for plugin contract {declared}, newer than this portal's "
            f"{CONTRACT_VERSION}: it may use hooks this portal lacks; upgrade the portal"
        )
    return None
