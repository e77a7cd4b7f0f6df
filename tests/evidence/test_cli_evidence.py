"""The evidence commands of the CLI (embedded): push, list, describe, artifact, trust."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.statements import CORPUS

RELEASE = CORPUS / "chainloop/wasm-policy-sdk-release-attestation.json"
CAS_IMAGE = "sha256:757af6163c378f2f364a1d1b6f9a85cade0535b19e2fbadfd0dfb630272c0476"


def test_push_prints_one_entry_per_json_line(cli: CliRunner) -> None:
    r = cli(
        "attestation",
        "push",
        str(CORPUS / "gh-cli/sigstore-js-2.1.0_with_2_bundles.jsonl"),
        "-o",
        "json",
    )
    assert r.code == 0, r.err
    items = r.json()
    assert len(items) == 2 and items[0]["digest"] == items[1]["digest"]


def test_push_several_files_and_table_output(cli: CliRunner) -> None:
    r = cli("attestation", "push", str(RELEASE), str(CORPUS / "chainloop/statement.json"))
    assert r.code == 0, r.err
    assert "chainloop" in r.out
    listed = cli("attestation", "list", "-o", "json").json()
    assert len(listed) == 2


def test_a_bad_file_among_several_stores_nothing(cli: CliRunner) -> None:
    r = cli("attestation", "push", str(RELEASE), str(CORPUS / "witness/testpub.pem"))
    assert r.code == 7
    assert r.err.startswith("error: found a PEM public key")
    assert cli("attestation", "list", "-o", "json").json() == []


def test_non_attestation_exit_code_and_message(cli: CliRunner) -> None:
    for path, words in [
        ("sigstore-python/trusted_root.public-good.json", "trusted root"),
        (
            "slsa-verifier/container_workflow_dispatch.cosign-att-manifest.sha256-31cc4fb6.json",
            "OCI image manifest",
        ),
    ]:
        r = cli("attestation", "push", str(CORPUS / path))
        assert r.code == 7, (path, r.err)
        assert words in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1


def test_missing_file_is_a_usage_error(cli: CliRunner) -> None:
    assert cli("attestation", "push", "/nonexistent.json").code == 2


def test_describe_and_content_are_byte_exact(cli: CliRunner, capfdbinary: object) -> None:
    data = (CORPUS / "witness/cdx-att.json").read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert cli("attestation", "push", str(CORPUS / "witness/cdx-att.json")).code == 0
    described = cli("attestation", "describe", digest, "-o", "json").json()
    assert described["digest"] == digest
    assert any(ref["role"] == "subject" for ref in described["references"])
    table = cli("attestation", "describe", digest)
    assert "predicate type" in table.out
    assert cli("attestation", "describe", "sha256:" + "0" * 64).code == 3


def test_content_to_stdout(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DEPLOYTRACE_HOME": str(tmp_path)}
    env.pop("DEPLOYTRACE_SERVER", None)
    source = CORPUS / "chainloop/statement.json"
    run = [sys.executable, "-m", "deploytrace"]
    subprocess.run(
        [*run, "attestation", "push", str(source)], env=env, check=True, capture_output=True
    )
    digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    out = subprocess.run(
        [*run, "attestation", "describe", digest, "--content"],
        env=env,
        check=True,
        capture_output=True,
    ).stdout
    assert out == source.read_bytes()


def test_artifact_describe_traces_a_recorded_image(cli: CliRunner) -> None:
    assert cli("attestation", "push", str(RELEASE)).code == 0
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    rec = cli(
        "deployment",
        "record",
        "--env",
        "k8s-east",
        "--logical-env",
        "production",
        "--deployment-name",
        "artifact-cas",
        "--kind",
        "CONTAINER_IMAGE",
        "--digest",
        CAS_IMAGE,
        "-o",
        "json",
    )
    assert rec.code == 0, rec.err
    found = cli("artifact", "describe", CAS_IMAGE, "-o", "json").json()
    assert set(found) >= {"digest", "attestations", "deployments"}
    assert found["workflows"] == ["release"] and found["projects"] == ["chainloop"]
    assert [d["deployment_name"] for d in found["deployments"]] == ["artifact-cas"]
    table = cli("artifact", "describe", CAS_IMAGE)
    assert table.code == 0 and "release" in table.out and "artifact-cas" in table.out
    described = cli("deployment", "describe", rec.json()["id"], "-o", "json").json()
    assert described["evidence"]["project_versions"] == [
        {"project": "chainloop", "version": "v1.59.0+next"}
    ]
    assert "chainloop@v1.59.0+next" in cli("deployment", "describe", rec.json()["id"]).out
    by_project = cli("deployment", "list", "--project", "chainloop", "-o", "json").json()
    assert len(by_project) == 1


def test_recording_an_unattested_digest_exits_3(cli: CliRunner) -> None:
    cli("environment", "create", "--name", "k8s-east")
    r = cli(
        "deployment",
        "record",
        "--env",
        "k8s-east",
        "--logical-env",
        "production",
        "--deployment-name",
        "api",
        "--kind",
        "CONTAINER_IMAGE",
        "--digest",
        "sha256:" + "1" * 64,
    )
    assert r.code == 3
    assert "not attested" in r.err


def test_trust_commands(cli: CliRunner) -> None:
    pem = str(CORPUS / "chainloop/release-cosign.pub")
    assert cli("trust", "add-key", pem, "--name", "chainloop-release").code == 0
    assert cli("trust", "add-key", pem, "--name", "chainloop-release").code == 4
    assert (
        cli(
            "trust",
            "add-key",
            str(CORPUS / "chainloop/verifier-testdata-ca.crt.pem"),
            "--name",
            "x",
        ).code
        == 7
    )
    root = str(CORPUS / "sigstore-python/trusted_root.staging.json")
    assert cli("trust", "add-root", root, "--name", "staging").code == 0
    names = [t["name"] for t in cli("trust", "list", "-o", "json").json()]
    assert names == ["public-good", "chainloop-release", "staging"]
    assert "built in" in cli("trust", "list").out
    pushed = cli(
        "attestation",
        "push",
        str(CORPUS / "chainloop/attestation-dsse.json"),
        "--key",
        "chainloop-release",
        "-o",
        "json",
    ).json()
    assert pushed[0]["verification"]["status"] == "verified"
    staged = cli(
        "attestation",
        "push",
        str(CORPUS / "sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json"),
        "-o",
        "json",
    ).json()
    assert staged[0]["verification"]["status"] == "verified"
    assert cli("trust", "remove", "staging").code == 0
    assert cli("trust", "remove", "staging").code == 3


def test_arguments_with_a_slash_get_a_clear_error(cli: CliRunner) -> None:
    for args, code, words in [
        (("attestation", "describe", "a/b"), 3, "attestation 'a/b' not found"),
        (("attestation", "describe", "a/b", "--content"), 3, "attestation 'a/b' not found"),
        (("attestation", "verify", "sha256:x/y"), 3, "attestation 'sha256:x/y' not found"),
        (("trust", "remove", "a/b"), 3, "trust material 'a/b' not found"),
    ]:
        r = cli(*args)
        assert r.code == code, (args, r.err)
        assert r.err.startswith("error: ") and words in r.err, (args, r.err)


def test_the_api_answers_a_slash_in_a_digest_itself(api: ApiHarness) -> None:
    r = api.get("/v1/artifacts/sha256%3Aab%2Fcd")
    assert r.status == 422
    assert "invalid digest 'sha256:ab/cd'" in r.json()["error"]["message"]
    r = api.get("/v1/attestations/a%2Fb/content")
    assert (r.status, r.error_code) == (404, "not_found")
    assert "attestation 'a/b' not found" in r.json()["error"]["message"]


def test_artifact_describe_tells_a_reference_from_a_digest() -> None:
    from deploytrace.cli.artifacts import is_reference

    for digest in (CAS_IMAGE, CAS_IMAGE.upper(), "sha256:abc", "gce_image_id:123", "gitCommit:x"):
        assert not is_reference(digest), digest
    for ref in ("ghcr.io/acme/api:1.2", "nginx", "nginx@" + CAS_IMAGE, "localhost:5000/a"):
        assert is_reference(ref), ref


def test_artifact_describe_hints_at_a_short_reference(cli: CliRunner) -> None:
    r = cli("artifact", "describe", "nginx:1.25")
    assert r.code == 3
    assert "docker.io/library/nginx:1.25" in r.err
