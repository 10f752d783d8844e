#!/usr/bin/env bash
# The main job in one command, on real servers on loopback:
#
#   ./scripts/demo.sh
#
# 1. installs the Debian packages it needs when they are missing (apt-get, as root or via sudo),
# 2. builds the release binaries (cargo must be installed),
# 3. starts a registry (Debian docker-registry) and a Git server (lighttpd + git http-backend,
#    HTTP Basic auth with a throw-away token) on free 127.0.0.1 ports, pushes podinfo-like tags
#    5.0.0 .. 5.1.1 and a fleet repository laid out as in the Flux image automation guide,
# 4. runs `imageautomation run --dry-run` (the pending bump as a diff, nothing pushed), then
#    `imageautomation run` (one commit pushed), shows the commit, and runs once more (nothing to do),
# 5. pushes tag 5.0.4 and runs `pulumi preview` and `pulumi up` of examples/local against the
#    same services, with the pulumi CLI that scripts/install-pulumi.sh builds from its Go modules
#    (Go 1.26 and the Go module proxy; cached outside the checkout) and a local state backend,
# 6. stops the servers and removes its temporary directory on exit (KEEP=1 keeps the directory).
#
# Nothing listens on anything but 127.0.0.1; nothing outside the temporary directory is written
# except the packages and cargo's target/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIXTURES=$ROOT/scripts/demo

if [ -t 1 ]; then BOLD=$'\033[1m'; DIM=$'\033[2m'; RESET=$'\033[0m'; else BOLD=; DIM=; RESET=; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
show() { printf '%s$ %s%s\n' "$DIM" "$*" "$RESET"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

# --- 1. Packages -------------------------------------------------------------------------------
# docker-registry: the registry; lighttpd + apache2-utils (htpasswd) + git: the Git server;
# curl: readiness checks; python3: pushing tags; libssl-dev + pkg-config: building git2.
PACKAGES=(docker-registry lighttpd apache2-utils git curl python3 ca-certificates libssl-dev pkg-config)
step "Checking the Debian packages: ${PACKAGES[*]}"
command -v dpkg-query >/dev/null || die "this script needs Debian (dpkg/apt-get); install ${PACKAGES[*]} yourself"
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "missing packages ${missing[*]}: run as root or install sudo"
        SUDO=(sudo)
    fi
    echo "installing: ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "all present"
fi

# --- 2. Build ----------------------------------------------------------------------------------
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs), then rerun"
step "Building the release binaries (cargo build --release; a few minutes the first time)"
(cd "$ROOT" && cargo build --release --quiet -p imageautomation -p pulumi-resource-imageautomation)
BIN=$ROOT/target/release/imageautomation
"$BIN" --version
step "The pulumi CLI (scripts/install-pulumi.sh: built from its Go modules once, then reused)"
PULUMI_BIN=$("$ROOT/scripts/install-pulumi.sh" | tail -n 1)
export PATH="$PULUMI_BIN:$PATH"
pulumi version

# --- 3. Servers and sample data ----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imageautomation-demo.XXXXXX")
cleanup() {
    status=$?
    trap '' INT TERM # a second Ctrl-C must not cut the cleanup short
    "$FIXTURES/git_http_fixture.sh" stop "$WORK/git" >/dev/null 2>&1 || true
    "$FIXTURES/registry_fixture.sh" stop "$WORK/registry" >/dev/null 2>&1 || true
    if [ "${KEEP:-}" = 1 ]; then
        echo "kept $WORK (KEEP=1)"
    else
        rm -rf "$WORK"
    fi
    case $status in
        0) step "Done: servers stopped" ;;
        130) echo "demo.sh interrupted; servers stopped" >&2 ;;
        *) echo "demo.sh failed (exit $status); servers stopped" >&2 ;;
    esac
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
REGISTRY_PORT=$(free_port)
GIT_PORT=$(free_port)
while [ "$GIT_PORT" = "$REGISTRY_PORT" ]; do GIT_PORT=$(free_port); done
REGISTRY=127.0.0.1:$REGISTRY_PORT
IMAGE=$REGISTRY/stefanprodan/podinfo
# A throw-away token for this run only: the Git server accepts x-access-token:<token>.
TOKEN="ghs_demo$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export DEMO_GIT_TOKEN=$TOKEN

step "Starting a registry on $REGISTRY (docker-registry) and pushing podinfo-like tags"
"$FIXTURES/registry_fixture.sh" start "$WORK/registry" "$REGISTRY_PORT" anon
TAGS=(5.0.0 5.0.1 5.0.2 5.0.3 5.1.0 5.1.1 6.0.0-rc.1 latest)
python3 "$FIXTURES/populate_registry.py" --registry "$REGISTRY" --repo stefanprodan/podinfo --tags "${TAGS[@]}" --quiet
echo "pushed $IMAGE: ${TAGS[*]}"

step "Starting a Git server on 127.0.0.1:$GIT_PORT (lighttpd + git http-backend, Basic auth)"
TOKENS="x-access-token:$TOKEN" "$FIXTURES/git_http_fixture.sh" start "$WORK/git" "$GIT_PORT"
BARE=$("$FIXTURES/git_http_fixture.sh" mkrepo "$WORK/git" fluxcd/fleet-infra)
GIT_URL=http://127.0.0.1:$GIT_PORT/fluxcd/fleet-infra.git

# git with the token from the environment (never on a command line).
fleet_git() {
    git -c credential.helper= \
        -c 'credential.helper=!f() { echo username=x-access-token; echo "password=$DEMO_GIT_TOKEN"; }; f' \
        -c user.name="Demo User" -c user.email=demo@example.com -C "$WORK/fleet" "$@"
}

step "Creating the fleet repository $GIT_URL (as in the Flux image automation guide)"
git clone -q "$BARE" "$WORK/fleet" 2>/dev/null
fleet_git remote set-url origin "$GIT_URL"
CLUSTER=$WORK/fleet/clusters/my-cluster
# The example fleet (examples/fleet-infra), pointed at the local registry and Git server.
cp -r "$ROOT/examples/fleet-infra/clusters" "$WORK/fleet/"
find "$WORK/fleet/clusters" -name '*.yaml' -exec sed -i \
    -e "s#ghcr.io/stefanprodan/podinfo#$IMAGE#g" \
    -e "s#https://github.com/example/fleet-infra#$GIT_URL#g" {} +
fleet_git add -A
fleet_git commit -q -m "Add podinfo and its image automation"
fleet_git push -q origin HEAD:main
fleet_git ls-files | sed 's/^/  /'
echo "main is at $(fleet_git rev-parse --short HEAD). The marked line and the policy:"
grep -h -e '\$imagepolicy' -e 'range:' "$CLUSTER/podinfo-deployment.yaml" "$CLUSTER/podinfo-policy.yaml" | sed 's/^ */  /'


# --- 4. The main job without Pulumi ------------------------------------------------------------
step "imageautomation run --dry-run: what would change (nothing is pushed)"
show "imageautomation run fleet/clusters/my-cluster --dry-run --git-token-stdin <<< \"\$TOKEN\""
"$BIN" run "$CLUSTER" --dry-run --git-token-stdin <<<"$TOKEN"
fleet_git fetch -q origin
echo "(remote main is still at $(fleet_git rev-parse --short origin/main))"

step "imageautomation run: scan, select, update, commit and push"
show "imageautomation run fleet/clusters/my-cluster --git-token-stdin <<< \"\$TOKEN\""
"$BIN" run "$CLUSTER" --git-token-stdin <<<"$TOKEN"

step "The pushed commit"
fleet_git pull -q --ff-only origin main
show "git log -1 -p"
fleet_git --no-pager log -1 -p --format='commit %H%nAuthor: %an <%ae>%nDate:   %ad%n%n%w(0,4,4)%B'

step "imageautomation run again: nothing to do"
"$BIN" run "$CLUSTER" --git-token-stdin <<<"$TOKEN"

# --- 5. The same with Pulumi ------------------------------------------------------------------
step "A new tag 5.0.4 for Pulumi to pick up"
python3 "$FIXTURES/populate_registry.py" --registry "$REGISTRY" --repo stefanprodan/podinfo --tags 5.0.4 --quiet
echo "pushed $IMAGE:5.0.4"

step "pulumi preview and pulumi up of examples/local (local state in the temporary directory)"
STACK_DIR=$WORK/pulumi-local
mkdir -p "$STACK_DIR" "$WORK/pulumi-state"
# The example points at ../../target/release; the copy points at this checkout's.
sed "s#path: ../../target/release#path: $ROOT/target/release#" "$ROOT/examples/local/Pulumi.yaml" > "$STACK_DIR/Pulumi.yaml"
# Offline and isolated: CLI home and state in the temporary directory, no update check, no plugin
# downloads (the provider is this checkout's release build, named in Pulumi.yaml).
export PULUMI_HOME="$WORK/pulumi-home"
export PULUMI_BACKEND_URL="file://$WORK/pulumi-state"
export PULUMI_CONFIG_PASSPHRASE=demo-only
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
cd "$STACK_DIR"
pulumi stack init demo --non-interactive
pulumi config set registry "$REGISTRY"
pulumi config set gitUrl "$GIT_URL"
printf '%s' "$TOKEN" | pulumi config set --secret gitToken
show "pulumi preview"
pulumi preview --non-interactive
show "pulumi up --yes"
pulumi up --yes --non-interactive
fleet_git pull -q --ff-only origin main
show "git log -1 -p"
fleet_git --no-pager log -1 -p --format='commit %H%nAuthor: %an <%ae>%nDate:   %ad%n%n%w(0,4,4)%B'

step "pulumi preview again: nothing pending"
show "pulumi preview --expect-no-changes"
pulumi preview --non-interactive --expect-no-changes
