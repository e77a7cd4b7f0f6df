#!/usr/bin/env bash
# The README's Quick start, verbatim, in a new embedded store; then its --oci-ref
# variant against a registry on 127.0.0.1 when Debian's docker-registry is installed.
#
#   bash examples/quickstart.sh [DIRECTORY]
#
# DIRECTORY becomes DEPLOYTRACE_HOME (default: a new temporary directory, kept so that
# you can look around afterwards). Needs `deploytrace` on PATH, and for the registry
# part `docker-registry` and a Python with httpx (PYTHON, default python3).
# tests/cli_ux/test_quickstart.py checks that the block between the markers is the
# README's, character for character, and runs both.
set -euo pipefail
cd "$(dirname "$0")/.."
DEPLOYTRACE_HOME="${1:-$(mktemp -d -t deploytrace-quickstart.XXXXXX)}"
export DEPLOYTRACE_HOME
unset DEPLOYTRACE_SERVER DEPLOYTRACE_TOKEN DEPLOYTRACE_DATABASE_URL
echo "# embedded store: DEPLOYTRACE_HOME=$DEPLOYTRACE_HOME" >&2
set -x

# --- README.md Quick start, verbatim ---
# The two builds' image digests, as your build system would report them
V1=sha256:b7818bd2b8d918b1c14c4ea2dbe92827f30e593b9fa0f6c370c07b4c9c24e93a   # v1.0.0
V2=sha256:f50cff2b3248ca081b1d93a2a5d4d5864bf3e1ca9321d8a08f4e10b066c8fe2b   # v1.1.0

# 1. Set up environments (one-time). Logical environments development, staging and
#    production exist already.
deploytrace environment create --name k8s-east --description "Kubernetes US-East"
deploytrace environment create --name k8s-west --description "Kubernetes US-West"

# 2. Store the build's evidence: only attested digests can be recorded (see "Evidence")
deploytrace attestation push examples/api-server.intoto.json

# 3. Deploy to staging
deploytrace deployment record --env k8s-east --logical-env staging \
  --deployment-name api-server --kind CONTAINER_IMAGE --digest $V1 --artifact-version v1.0.0

# 4. Promote to production
deploytrace deployment record --env k8s-east --logical-env production \
  --deployment-name api-server --kind CONTAINER_IMAGE --digest $V1 --artifact-version v1.0.0

# 5. Deploy a new version (v1.0.0 is automatically superseded)
deploytrace deployment record --env k8s-east --logical-env production \
  --deployment-name api-server --kind CONTAINER_IMAGE --digest $V2 --artifact-version v1.1.0

# 6. Check what's running
deploytrace deployment list --logical-env production

# 7. Review deployment history
deploytrace deployment list --env k8s-east --logical-env production --history

# 8. Take it out of staging: decommission what runs in that slot
deploytrace deployment record --env k8s-east --logical-env staging \
  --deployment-name api-server --kind CONTAINER_IMAGE --digest $V1 --status decommissioned
# --- end of the README.md Quick start ---

set +x
if ! command -v docker-registry >/dev/null 2>&1; then
  echo "# docker-registry is not installed: the --oci-ref variant is skipped" \
    "(apt-get install docker-registry)" >&2
  exit 0
fi
registry="$(mktemp -d -t deploytrace-registry.XXXXXX)"
cat > "$registry/config.yml" <<CONFIG
version: 0.1
log: {level: info, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $registry/data}}
http: {addr: "127.0.0.1:0", secret: quickstart}
CONFIG
docker-registry serve "$registry/config.yml" > "$registry/log" 2>&1 &
registry_pid=$!
stop_registry() {
  { set +x; } 2>/dev/null
  kill "$registry_pid" 2>/dev/null || true
  wait "$registry_pid" 2>/dev/null || true
  rm -rf -- "$registry"
}
trap stop_registry EXIT
port=""
for _ in $(seq 100); do  # it picks a free port itself (addr :0) and logs which
  port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$registry/log")"
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "docker-registry did not start:" >&2
  cat "$registry/log" >&2
  exit 1
fi
set -x
"${PYTHON:-python3}" examples/push_image.py "127.0.0.1:$port/my-org/api-server"
deploytrace deployment record --env k8s-west --logical-env production \
  --deployment-name api-server --kind CONTAINER_IMAGE \
  --oci-ref "127.0.0.1:$port/my-org/api-server:v1.1.0"
deploytrace deployment list --env k8s-west
