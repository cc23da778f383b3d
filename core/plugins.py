"""The plugin-manager factory and a small typed facade over the hooks (one method per hook)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy
import structlog
from pydantic_settings import BaseSettings

from core import hookspecs
from core.errors import ConfigError, UnknownSource
from core.login.decision import LoginPolicy
from core.saml.method import LoginMethod
from core.sources import IdentitySource

log = structlog.get_logger()

BROKEN_PLUGIN = "fix or update the plugin, or disable it with KOPPEL_DISABLED_PLUGINS"


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
        self._login_methods: dict[str, LoginMethod] | None = None
        self._settings_classes: list[type[BaseSettings]] | None = None
        # Per observer hook: its implementations when last called, and a caller per observer.
        self._observer_calls: dict[str, tuple[list[Any], list[tuple[str, Any]]]] = {}

    @property
    def sources(self) -> dict[str, IdentitySource]:
        if self._sources is None:
            self._sources = self._collect(
                self.pm.hook.koppel_register_identity_sources, "identity source", IdentitySource
            )
        return self._sources

    @property
    def login_policies(self) -> list[Any]:
        if self._policies is None:
            found = self._collect(
                self.pm.hook.koppel_register_login_policies, "login policy", LoginPolicy
            )
            self._policies = list(found.values())
        return self._policies

    @property
    def login_methods(self) -> dict[str, LoginMethod]:
        """The registered login methods (SAML identity providers) by name."""
        if self._login_methods is None:
            self._login_methods = self._collect(
                self.pm.hook.koppel_register_login_methods, "login method", LoginMethod
            )
        return self._login_methods

    @property
    def settings_classes(self) -> list[type[BaseSettings]]:
        """The plugins' settings classes (koppel_register_settings), in registration order."""
        if self._settings_classes is None:
            found: list[type[BaseSettings]] = []

            def register(cls: Any) -> None:
                if not (isinstance(cls, type) and issubclass(cls, BaseSettings)):
                    raise ConfigError(
                        f"a plugin registered settings that are not a pydantic-settings "
                        f"BaseSettings class: {cls!r}",
                        hint=BROKEN_PLUGIN,
                    )
                prefix = str(cls.model_config.get("env_prefix", ""))
                if not prefix.upper().startswith("KOPPEL_"):
                    raise ConfigError(
                        f"the settings {cls.__module__}.{cls.__qualname__} read variables "
                        f"prefixed {prefix!r}; a plugin's variables start with KOPPEL_",
                        hint=BROKEN_PLUGIN,
                    )
                if cls not in found:
                    found.append(cls)

            self.pm.hook.koppel_register_settings(register=register)
            self._settings_classes = found
        return self._settings_classes

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
    def _collect(hook: Any, what: str, protocol: type) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def register(obj: Any) -> None:
            name = getattr(obj, "name", None)
            if not isinstance(name, str) or not name:
                raise ConfigError(
                    f"a plugin registered a {what} without a name: {obj!r}", hint=BROKEN_PLUGIN
                )
            missing = missing_members(obj, protocol)
            if missing:
                raise ConfigError(
                    f"the {what} {name!r} ({type(obj).__module__}.{type(obj).__qualname__}) "
                    f"has no {', '.join(missing)}; a {what} needs "
                    f"{', '.join(protocol_members(protocol))} (koppel.plugin.{protocol.__name__})",
                    hint=BROKEN_PLUGIN,
                )
            if name in found:
                raise ConfigError(f"two plugins registered a {what} named {name!r}")
            found[name] = obj

        hook(register=register)
        return found

    def _notify(self, hook: Any, **kwargs: Any) -> None:
        """Call an observer hook through pluggy, once per observing plugin, isolating each.

        pluggy stops a call at the first exception, and observers must not break the work they
        observe nor each other: so each observing plugin gets its own pluggy call (wrappers,
        ordering and argument matching stay pluggy's), and an exception is logged, not raised.
        """
        impls = hook.get_hookimpls()
        if not impls:
            return  # the usual case, and a hot one: the unchanged-school path calls this
        known = self._observer_calls.get(hook.name)
        if known is None or known[0] != impls:  # plugins came or went since
            known = (impls, self._observer_callers(hook, impls))
            self._observer_calls[hook.name] = known
        for plugin_name, call in known[1]:
            try:
                call(**kwargs)
            except Exception:
                log.exception("plugin_hook_failed", hook=hook.name, plugin=plugin_name)

    def _observer_callers(self, hook: Any, impls: list[Any]) -> list[tuple[str, Any]]:
        """One pluggy hook caller per observing plugin, in pluggy's order of calling them."""
        observers = [impl for impl in impls if not (impl.wrapper or impl.hookwrapper)]
        if len(observers) == 1:
            return [(observers[0].plugin_name, hook)]
        plugins = {impl.plugin for impl in observers}
        return [
            (impl.plugin_name, self.pm.subset_hook_caller(hook.name, plugins - {impl.plugin}))
            for impl in reversed(observers)  # pluggy calls the last registered (and tryfirst) first
        ]


def protocol_members(protocol: type) -> list[str]:
    """The attributes and methods a protocol class declares, in declaration order."""
    methods = [n for n, v in vars(protocol).items() if inspect.isfunction(v) and n[0] != "_"]
    return [*inspect.get_annotations(protocol), *methods]


def missing_members(obj: object, protocol: type) -> list[str]:
    """What ``obj`` lacks of ``protocol`` (a method must be callable); read without calling
    properties, so a source whose settings are wrong still registers and fails when used."""
    missing = []
    for member in protocol_members(protocol):
        try:
            found = inspect.getattr_static(obj, member)
        except AttributeError:
            missing.append(member)
            continue
        method = inspect.isfunction(vars(protocol).get(member))
        if method and not (callable(found) or isinstance(found, classmethod | staticmethod)):
            missing.append(f"{member} (not callable)")
    return missing


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
