"""Reference parsing and normalization, as Docker / go-containerregistry do it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from deploytrace.errors import InvalidInput
from deploytrace.oci import Reference

D256 = "sha256:" + "ab" * 32
D512 = "sha512:" + "cd" * 64

VALID = [
    # text, registry, repository, tag, digest
    ("nginx", "index.docker.io", "library/nginx", "latest", None),
    ("nginx:1.25", "index.docker.io", "library/nginx", "1.25", None),
    ("oci://nginx:1.25", "index.docker.io", "library/nginx", "1.25", None),
    ("OCI://nginx", "index.docker.io", "library/nginx", "latest", None),
    ("  nginx  ", "index.docker.io", "library/nginx", "latest", None),
    ("bitnami/nginx", "index.docker.io", "bitnami/nginx", "latest", None),
    ("docker.io/x", "index.docker.io", "library/x", "latest", None),
    ("docker.io/org/x:v1", "index.docker.io", "org/x", "v1", None),
    ("index.docker.io/library/nginx", "index.docker.io", "library/nginx", "latest", None),
    ("registry-1.docker.io/org/x", "index.docker.io", "org/x", "latest", None),
    ("docker.io:443/org/x", "docker.io:443", "org/x", "latest", None),
    ("localhost:5000/a:b", "localhost:5000", "a", "b", None),
    ("localhost/a", "localhost", "a", "latest", None),
    ("127.0.0.1:5001/demo/app:1.0", "127.0.0.1:5001", "demo/app", "1.0", None),
    ("[::1]:5000/a/b:c", "[::1]:5000", "a/b", "c", None),
    ("ghcr.io/o/r@" + D256, "ghcr.io", "o/r", None, D256),
    ("GHCR.io/o/r:T_1", "ghcr.io", "o/r", "T_1", None),
    ("r:t@" + D256, "index.docker.io", "library/r", "t", D256),
    ("r@" + D256.upper().replace("SHA256", "sha256"), "index.docker.io", "library/r", None, D256),
    ("r@" + D512, "index.docker.io", "library/r", None, D512),
    ("Quay.IO/a/b", "quay.io", "a/b", "latest", None),
    ("LOCALHOST/a", "localhost", "a", "latest", None),
    ("Foo/bar", "Foo", "bar", "latest", None),  # upper case makes it a host (as in Docker)
    ("ghcr.io:0443/a", "ghcr.io:443", "a", "latest", None),
    (
        "my-reg.example.com:8443/a/b/c/d:1.0-rc.1",
        "my-reg.example.com:8443",
        "a/b/c/d",
        "1.0-rc.1",
        None,
    ),
    ("example.com/a__b/c-d---e/f.g_h", "example.com", "a__b/c-d---e/f.g_h", "latest", None),
    ("localhost:5000", "index.docker.io", "library/localhost", "5000", None),
]


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID)
def test_parses_and_normalizes(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.name == f"{registry}/{repository}"


def test_digest_wins_over_tag_in_the_request_path() -> None:
    ref = Reference.parse("ghcr.io/o/r:t@" + D256)
    assert ref.identifier == D256
    assert str(ref) == f"ghcr.io/o/r:t@{D256}"
    assert Reference.parse("ghcr.io/o/r").identifier == "latest"


INVALID = [
    ("", "empty"),
    ("   ", "empty"),
    ("oci://", "empty"),
    ("Nginx", "lower case"),
    ("ghcr.io/Org/repo", "lower case"),
    ("nginx:", "tag"),
    ("nginx:-bad", "tag"),
    ("nginx:" + "t" * 129, "tag"),
    ("nginx@sha256:abc", "digest"),
    ("nginx@md5:" + "a" * 32, "digest"),
    ("nginx@" + D256 + "@" + D256, "digest"),
    ("https://ghcr.io/o/r", "scheme"),
    ("docker://nginx", "scheme"),
    ("ghcr.io/", "repository path component"),
    ("ghcr.io//r", "repository path component"),
    ("ghcr.io/o/r/", "repository path component"),
    ("a b", "repository path component"),
    ("ghcr.io/o/-r", "repository path component"),
    ("ghcr.io/o/r_", "repository path component"),
    ("ghcr.io:99999/o/r", "out of range"),
    ("ghcr.io:0/o/r", "out of range"),
    ("-ghcr.io/o/r", "registry"),
    ("[::g]:5000/o/r", "registry"),
    ("[1.2.3.4]/o/r", "IPv6"),
    ("ghcr.io/" + "a" * 250, "longer than 255"),
    ("ghcr.io/o/r\u00e9", "repository path component"),
    ("ghcr.io/o/r:t\u00e9", "tag"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_rejects_malformed_references(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match="invalid OCI reference") as caught:
        Reference.parse(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize("value", [None, 42, b"nginx"])
def test_rejects_non_strings(value: Any) -> None:
    with pytest.raises(InvalidInput):
        Reference.parse(value)


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_invalid_input(text: str) -> None:
    try:
        ref = Reference.parse(text)
    except InvalidInput:
        return
    assert Reference.parse(str(ref)) == ref


@given(st.text(alphabet="abcAB01:/@.-_[]sha256 ", max_size=80))
def test_reference_like_text_parses_or_raises_invalid_input(text: str) -> None:
    try:
        ref = Reference.parse(text)
    except InvalidInput:
        return
    assert Reference.parse(str(ref)) == ref


_component = st.from_regex(r"\A[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_hosts = st.sampled_from(["", "ghcr.io/", "localhost:5000/", "127.0.0.1:5001/", "docker.io/"])
_tags = st.one_of(
    st.none(), st.from_regex(r"\A\w[\w.-]{0,20}\Z", alphabet=st.characters(codec="ascii"))
)
_digests = st.one_of(st.none(), st.from_regex(r"\Asha256:[a-f0-9]{64}\Z"))


@given(_hosts, st.lists(_component, min_size=1, max_size=4), _tags, _digests)
def test_generated_valid_references_round_trip(
    host: str, components: list[str], tag: str | None, digest: str | None
) -> None:
    # Without a host, a first component with a dot would itself be read as a host.
    assume(host or len(components) == 1 or "." not in components[0])
    text = host + "/".join(components)
    text += f":{tag}" if tag else ""
    text += f"@{digest}" if digest else ""
    if len(text) > 200:
        return
    ref = Reference.parse(text)
    assert ref.repository.endswith("/".join(components))
    assert ref.digest == digest
    assert ref.tag == (tag or (None if digest else "latest"))
    assert Reference.parse(str(ref)) == ref
    assert Reference.parse("oci://" + str(ref)) == ref
