"""`WWW-Authenticate` parsing (RFC 9110 §11.6.1) and challenge choice."""

from __future__ import annotations

import pytest

from deploytrace.oci.auth import Challenge, parse_challenges, pick


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            [
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                'scope="repository:library/nginx:pull"'
            ],
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/nginx:pull",
                    },
                )
            ],
        ),
        (['Basic realm="basic-realm"'], [Challenge("basic", {"realm": "basic-realm"})]),
        (
            ["basic realm=unquoted , charset=UTF-8"],
            [Challenge("basic", {"realm": "unquoted", "charset": "UTF-8"})],
        ),
        (["Basic"], [Challenge("basic", {})]),
        (
            ['Bearer realm="a\\"b,c", scope="repository:x:pull,push"'],
            [Challenge("bearer", {"realm": 'a"b,c', "scope": "repository:x:pull,push"})],
        ),
        (
            ['Negotiate abc==, Basic realm="r"'],
            [Challenge("negotiate", {}), Challenge("basic", {"realm": "r"})],
        ),
        (
            ['Basic realm="r"', 'Bearer realm="t"'],
            [Challenge("basic", {"realm": "r"}), Challenge("bearer", {"realm": "t"})],
        ),
        (["", "=garbage"], []),
    ],
)
def test_parse_challenges(headers: list[str], expected: list[Challenge]) -> None:
    assert parse_challenges(headers) == expected


def test_pick_prefers_bearer_then_basic() -> None:
    basic, bearer, other = Challenge("basic", {}), Challenge("bearer", {}), Challenge("ntlm", {})
    assert pick([basic, bearer]) == bearer
    assert pick([other, basic]) == basic
    assert pick([other]) is None
