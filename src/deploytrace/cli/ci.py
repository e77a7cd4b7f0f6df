"""Who and which pipeline: the CI run a report comes from (SPEC §8).

Read from the CI system's own environment variables, so a pipeline needs no
extra flag for its deployments to link back to the run that made them.
"""

from __future__ import annotations

from collections.abc import Mapping


def ci_run(env: Mapping[str, str]) -> dict[str, str | None] | None:
    """The run described by `env` (GitHub Actions or GitLab CI), or None outside CI."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        repo, run = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
        return {
            "provider": "github",
            "run_url": f"{server.rstrip('/')}/{repo}/actions/runs/{run}" if repo and run else None,
            "commit": env.get("GITHUB_SHA") or None,
            "ref": env.get("GITHUB_REF") or None,
            "actor": env.get("GITHUB_ACTOR") or None,
            "workflow": env.get("GITHUB_WORKFLOW") or None,
        }
    if env.get("GITLAB_CI") == "true" or env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL"):
        return {
            "provider": "gitlab",
            "run_url": env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL") or None,
            "commit": env.get("CI_COMMIT_SHA") or None,
            "ref": env.get("CI_COMMIT_REF_NAME") or None,
            "actor": env.get("GITLAB_USER_LOGIN") or None,
            # The pipeline (the job's URL is the run): its name where GitLab gives one.
            "workflow": env.get("CI_PIPELINE_NAME") or env.get("CI_PIPELINE_URL") or None,
        }
    return None
