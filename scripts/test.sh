#!/usr/bin/env bash
# All the tests in one command, on a fresh Debian machine or a warm one:
#
#   scripts/test.sh [extra cargo test arguments]
#
# 1. installs the Debian packages the tests need when they are missing (apt-get, as root or
#    through sudo);
# 2. builds the Go tools the tests run (the pulumi CLI and its YAML host, esc-eval, Flux's
#    selection and setters code for the differential tests, kube-apiserver and etcd, Flux's
#    source-, image-reflector- and image-automation-controller) into a cache outside the
#    checkout, or reuses them (scripts/install-pulumi.sh,
#    scripts/build-flux-diff.sh, scripts/test-cluster.sh);
# 3. runs `cargo test --workspace` with those tools on the PATH;
# 4. without extra arguments, runs every fuzz target a fixed number of times from its seeds
#    (`scripts/fuzz.sh smoke`, issue #15).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# --- 1. Debian packages (servers are started by the tests themselves, on loopback) ------------
PACKAGES=(
    # Git write-back (provider/git, tests/tests/git_*.rs): smart HTTP server with
    # Basic auth and TLS, private sshd and its keys, test CA; libgit2's HTTPS
    # transport builds against OpenSSL.
    git lighttpd lighttpd-mod-openssl apache2-utils openssh-server openssh-client openssl
    # Signed commits (tests/tests/git_signing.rs): gpg makes the test key and verifies.
    gnupg
    libssl-dev pkg-config
    # schema.json check (provider/rpc): Pulumi's metaschema validated with jsonschema.
    python3 python3-jsonschema
    # Registry scanning (tests/tests/registry_*.rs): distribution 2.8 registry, htpasswd
    # (apache2-utils, above), test CA (openssl, above), token server and proxy (python3).
    docker-registry
    # Registry traffic through a real proxy (tests/tests/registry_proxy.rs, tests/src/tinyproxy.rs).
    tinyproxy
    # Git over HTTPS through a proxy with Basic authentication (tests/src/squid.rs): libgit2
    # cannot follow tinyproxy's 407, squid's it can.
    squid
    # moto's virtualenv (below).
    python3-venv
    # The engine harness (tests/src/engine.rs) sends SIGINT to the plugin with kill(1).
    procps
    # The real Kubernetes API server (scripts/test-cluster.sh): readiness, CRD install.
    curl
    # The setters on a full disk and a read-only mount (provider/cli/tests/update_faults.rs):
    # unshare and mount in a user namespace.
    util-linux mount
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# moto in server mode, the AWS APIs on loopback for the ECR login tests
# (tests/tests/registry_cloud_auth.rs, tests/src/moto.rs): a pinned version in its own
# virtualenv under the cache, installed once.
MOTO_VERSION=5.2.5
MOTO_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/imageautomation/moto-$MOTO_VERSION"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    rm -rf "$MOTO_VENV"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
export IMAGEAUTOMATION_MOTO_SERVER="$MOTO_VENV/bin/moto_server"

# --- 2. Go tools --------------------------------------------------------------------------------
# The real pulumi CLI (tests/tests/pulumi_cli_*.rs) finds its language hosts on the PATH.
PULUMI_BIN=$(scripts/install-pulumi.sh | tail -n 1)
export PATH="$PULUMI_BIN:$PATH"
export IMAGEAUTOMATION_PULUMI_BIN=$PULUMI_BIN
# Flux's own selection and setters code, the oracle of the differential tests
# (provider/{policy,update}/tests/differential.rs, tools/flux-diff).
IMAGEAUTOMATION_FLUX_DIFF_BIN=$(scripts/build-flux-diff.sh | tail -n 1)
export IMAGEAUTOMATION_FLUX_DIFF_BIN
# kube-apiserver and etcd (tools/kube), which the cluster-mode tests start through
# scripts/test-cluster.sh (tests/src/kube_cluster.rs), and Flux's controllers (tools/flux), which
# tests/tests/flux_reference.rs runs against them; built here so the build is not timed inside a
# test.
scripts/test-cluster.sh build --flux >/dev/null

# --- 3. The tests -------------------------------------------------------------------------------
cargo test --workspace "$@"

# --- 4. Fuzz smoke ------------------------------------------------------------------------------
# Each fuzz target from its seeds, 2,000 runs with a fixed random seed (scripts/fuzz.sh). Skipped
# when arguments select some of the tests.
if [ "$#" -eq 0 ]; then
    scripts/fuzz.sh smoke
fi
