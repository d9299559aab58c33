#!/usr/bin/env bash
# Validates the container files as far as can be done without a Docker engine: every file the
# Dockerfiles COPY and the compose file mounts exists, the compose file is valid (docker compose
# or docker-compose `config`), and hadolint passes on both Dockerfiles when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
ok() { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fail=1; }

# COPY sources (not --from stages) must exist inside each build context.
check_copies() {
  local dockerfile=$1 context=$2
  while read -r src; do
    # shellcheck disable=SC2086
    if compgen -G "$context/$src" >/dev/null; then ok "$dockerfile copies $src"; else bad "$dockerfile copies $src, which does not exist in $context"; fi
  done < <(grep -E '^COPY ' "$dockerfile" | grep -v -- '--from=' | awk '{for (i = 2; i < NF; i++) print $i}')
}
check_copies Dockerfile .
check_copies ui/Dockerfile ui
# The Rust build stage copies the whole workspace: cargo reads the copied tree as the image would.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
awk '/^FROM rust/{on=1; next} /^FROM /{on=0} on && /^COPY / && !/--from=/{for (i = 2; i < NF; i++) print $i}' Dockerfile |
  while read -r src; do mkdir -p "$stage/$(dirname "$src")" && cp -r "$src" "$stage/$src"; done
if (cd "$stage" && cargo metadata --locked --offline --no-deps --format-version 1 >/dev/null 2>"$stage/.err"); then
  ok "the Dockerfile's build stage copies every workspace member"
else
  bad "the Dockerfile's build stage misses part of the workspace: $(grep -m1 -i error "$stage/.err")"
fi
[ -x docker/demo-init.sh ] && ok "docker/demo-init.sh is executable" || bad "docker/demo-init.sh is not executable"
sh -n docker/demo-init.sh && ok "docker/demo-init.sh parses" || bad "docker/demo-init.sh does not parse"

# Bind mounts and build contexts named in the compose file.
for src in $(grep -oE '\./[A-Za-z0-9_./-]+' docker-compose.yml | sort -u); do
  [ -e "$src" ] && ok "compose refers to $src" || bad "compose refers to $src, which does not exist"
done

# The compose file itself.
if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml --profile mail --profile s3 config -q && ok "docker compose config" || bad "docker compose config"
elif command -v docker-compose >/dev/null; then
  docker-compose -f docker-compose.yml --profile mail --profile s3 config -q && ok "docker-compose config" || bad "docker-compose config"
else
  python3 -c 'import sys, yaml; yaml.safe_load(open("docker-compose.yml"))' && ok "docker-compose.yml is YAML (no compose CLI here)" || bad "docker-compose.yml"
fi
compose=()
if docker compose version >/dev/null 2>&1; then compose=(docker compose); elif command -v docker-compose >/dev/null; then compose=(docker-compose); fi
if [ ${#compose[@]} -gt 0 ]; then
  services=$("${compose[@]}" -f docker-compose.yml --profile mail --profile s3 config --services | sort | tr '\n' ' ')
  [ "$services" = "api demo-init maildev mysql postgres s3 ui " ] && ok "services: $services" || bad "unexpected services: $services"
fi

if command -v hadolint >/dev/null; then
  hadolint Dockerfile && ok "hadolint Dockerfile" || bad "hadolint Dockerfile"
  hadolint ui/Dockerfile && ok "hadolint ui/Dockerfile" || bad "hadolint ui/Dockerfile"
else
  echo "skip  hadolint is not installed"
fi
exit $fail
