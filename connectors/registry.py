"""Find connector plugins through the ``mediagate.connectors`` entry-point group.

The built-in connectors are registered there too (``pyproject.toml``), so a third-party plugin
is loaded exactly like WeChat. Only entry points named in the allow-list are imported; each
loaded class is checked against the contract at registration (like pluggy), and any problem
raises :class:`ConnectorLoadError` naming the entry point and the problem.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import aiohttp

from connectors.base import Connector, Limits

logger = logging.getLogger(__name__)

GROUP = "mediagate.connectors"
_ASYNC_METHODS = ("publish", "status", "update", "delete", "ping")


class ConnectorLoadError(Exception):
    """A connector plugin could not be loaded or does not satisfy the contract."""

    def __init__(self, entry_point: str, problem: str) -> None:
        super().__init__(f"connector entry point {entry_point!r}: {problem}")
        self.entry_point = entry_point
        self.problem = problem


def available() -> dict[str, str]:
    """Every registered entry point name → its ``module:attr`` value (nothing is imported)."""
    found: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found and found[ep.name] != ep.value:
            raise ConnectorLoadError(
                ep.name, f"registered twice, as {found[ep.name]!r} and {ep.value!r}"
            )
        found[ep.name] = ep.value
    return found


def contract_problems(cls: Any) -> list[str]:
    """What keeps ``cls`` from satisfying :class:`connectors.base.Connector` (empty if none)."""
    if not inspect.isclass(cls):
        return [f"is {type(cls).__name__}, not a class"]
    problems: list[str] = []
    platform = getattr(cls, "platform", None)
    if not isinstance(platform, str) or not platform:
        problems.append("class attribute 'platform' must be a non-empty str")
    if not isinstance(getattr(cls, "limits", None), Limits):
        problems.append("class attribute 'limits' must be a connectors.base.Limits")
    if not isinstance(getattr(cls, "asynchronous", None), bool):
        problems.append("class attribute 'asynchronous' must be a bool")
    from_config = inspect.getattr_static(cls, "from_config", None)
    if not isinstance(from_config, classmethod):
        problems.append("'from_config' must be a classmethod")
    else:
        params = inspect.signature(getattr(cls, "from_config")).parameters  # noqa: B009
        session = params.get("session")
        if session is None or session.kind is not inspect.Parameter.KEYWORD_ONLY:
            problems.append("'from_config' must take the keyword-only argument 'session'")
    if not callable(getattr(cls, "validate", None)):
        problems.append("method 'validate' is missing")
    elif inspect.iscoroutinefunction(getattr(cls, "validate")):  # noqa: B009
        problems.append("'validate' must be a plain (synchronous) method")
    for name in _ASYNC_METHODS:
        method = getattr(cls, name, None)
        if method is None:
            problems.append(f"method {name!r} is missing")
        elif not inspect.iscoroutinefunction(method):
            problems.append(f"{name!r} must be an async method")
    return problems


def load_class(ep: EntryPoint) -> type[Connector]:
    """Import one entry point and check its class; errors name the entry point."""
    try:
        cls = ep.load()
    except Exception as exc:  # any import-time failure of a plugin
        raise ConnectorLoadError(
            ep.name, f"cannot load {ep.value!r}: {type(exc).__name__}: {exc}"
        ) from exc
    problems = contract_problems(cls)
    if problems:
        raise ConnectorLoadError(ep.name, f"{ep.value!r} " + "; ".join(problems))
    loaded: type[Connector] = cls
    return loaded


def load_classes(allow: Sequence[str] | None = None) -> dict[str, type[Connector]]:
    """The connector classes by entry point name; only ``allow``-ed ones are imported
    (``None`` = every registered one). An allowed name with no entry point is an error."""
    available()  # reject duplicate registrations first
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    wanted = list(eps) if allow is None else list(dict.fromkeys(allow))
    classes: dict[str, type[Connector]] = {}
    for name in wanted:
        ep = eps.get(name)
        if ep is None:
            raise ConnectorLoadError(
                name, f"no such entry point in group {GROUP!r} (known: {sorted(eps)})"
            )
        classes[name] = load_class(ep)
        logger.info("connector %s loaded from %s", name, ep.value)
    return classes


def load_connectors(
    allow: Sequence[str] | None,
    sections: Mapping[str, Mapping[str, Any]],
    session: aiohttp.ClientSession,
) -> dict[str, Connector]:
    """Build each allowed connector with ``from_config(sections[name], session=session)``."""
    connectors: dict[str, Connector] = {}
    for name, cls in load_classes(allow).items():
        try:
            connector = cls.from_config(sections.get(name, {}), session=session)
        except Exception as exc:  # a plugin's own configuration check
            raise ConnectorLoadError(
                name, f"from_config failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(connector, Connector):
            raise ConnectorLoadError(name, "from_config did not return a Connector")
        connectors[name] = connector
    return connectors


__all__ = [
    "GROUP",
    "ConnectorLoadError",
    "available",
    "contract_problems",
    "load_class",
    "load_classes",
    "load_connectors",
]
