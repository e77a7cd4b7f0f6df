"""The registry fixtures' own contract: in CI a missing docker-registry fails, never skips."""

from __future__ import annotations

import pytest

from tests.support import registry


@pytest.fixture
def no_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr("os.access", lambda path, mode: False)


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_missing_binary_fails_in_ci(
    no_tools: None, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI must install the registry tools"):
        registry.require_registry_tools()


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_missing_binary_skips_elsewhere(
    no_tools: None, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install .*docker-registry"):
        registry.require_registry_tools()


def test_libtrust_key_id_shape() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    kid = registry.libtrust_key_id(ec.generate_private_key(ec.SECP256R1()).public_key())
    groups = kid.split(":")
    assert len(groups) == 12 and all(len(g) == 4 for g in groups)


def test_deterministic_layers() -> None:
    assert registry.deterministic_tar_gz({"a": b"1"}) == registry.deterministic_tar_gz({"a": b"1"})
