"""The plugin registers its source only when KOPPEL_ONEROSTER_DIR is set."""

from __future__ import annotations

from koppel.plugin import IdentitySource
from koppel_oneroster.hooks import koppel_register_identity_sources


def registered() -> list[object]:
    found: list[object] = []
    koppel_register_identity_sources(register=found.append)
    return found


def test_unconfigured_it_registers_nothing(monkeypatch):
    monkeypatch.delenv("KOPPEL_ONEROSTER_DIR", raising=False)
    assert registered() == []


def test_configured_it_registers_a_source_reading_that_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPEL_ONEROSTER_DIR", str(tmp_path))
    [source] = registered()
    assert isinstance(source, IdentitySource)
    assert (source.name, source.directory) == ("oneroster", tmp_path)
