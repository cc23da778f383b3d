"""The plugin-manager factory and a small typed facade over the hooks (one method per hook)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pluggy
import structlog

from core import hookspecs
from core.errors import ConfigError, UnknownSource
from core.sources import IdentitySource

log = structlog.get_logger()


def make_plugin_manager(
    disabled: Iterable[str] = (), extra: Iterable[object] = (), entry_points: bool = True
) -> pluggy.PluginManager:
    """Build a plugin manager: specs, blocked plugins, entry points, extras, then validate."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    if entry_points:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()  # a misspelt hook name fails here, loudly
    return pm


class Plugins:
    """What the rest of koppel asks of its plugins; built once per process."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._sources: dict[str, IdentitySource] | None = None
        self._policies: list[Any] | None = None

    @property
    def sources(self) -> dict[str, IdentitySource]:
        if self._sources is None:
            self._sources = self._collect(self.pm.hook.koppel_register_identity_sources, "source")
        return self._sources

    @property
    def login_policies(self) -> list[Any]:
        if self._policies is None:
            found = self._collect(self.pm.hook.koppel_register_login_policies, "login policy")
            self._policies = list(found.values())
        return self._policies

    def source(self, name: str) -> IdentitySource:
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise UnknownSource(f"no identity source named {name!r} (installed: {known})") from None

    def before_school_sync(self, *, school_id: int, source: str, run_id: int) -> None:
        self.pm.hook.koppel_before_school_sync(school_id=school_id, source=source, run_id=run_id)

    def after_school_sync(
        self, *, school_id: int, source: str, run_id: int, outcome: str, counts: Mapping[str, int]
    ) -> None:
        self._notify(
            self.pm.hook.koppel_after_school_sync,
            school_id=school_id,
            source=source,
            run_id=run_id,
            outcome=outcome,
            counts=counts,
        )

    def consent_changed(self, *, school_id: int, source: str, granted: bool) -> None:
        self._notify(
            self.pm.hook.koppel_consent_changed, school_id=school_id, source=source, granted=granted
        )

    @staticmethod
    def _collect(hook: Any, what: str) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def register(obj: Any) -> None:
            name = getattr(obj, "name", None)
            if not isinstance(name, str) or not name:
                raise ConfigError(f"a plugin registered a {what} without a name: {obj!r}")
            if name in found:
                raise ConfigError(f"two plugins registered a {what} named {name!r}")
            found[name] = obj

        hook(register=register)
        return found

    @staticmethod
    def _notify(hook: Any, **kwargs: Any) -> None:
        # Observers must not break the work they observe: log and carry on.
        for impl in hook.get_hookimpls():
            try:
                impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except Exception:
                log.exception("plugin_hook_failed", hook=hook.name, plugin=impl.plugin_name)


_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, built on first use from the settings."""
    global _plugins
    if _plugins is None:
        from core.settings import get_settings

        _plugins = Plugins(make_plugin_manager(disabled=get_settings().disabled_plugins))
    return _plugins


def set_plugins(plugins: Plugins | None) -> None:
    """Replace the process-wide plugins (tests, embedded runs)."""
    global _plugins
    _plugins = plugins
