#!/usr/bin/env bash
# Builds the pulumi CLI, its YAML language host and esc-eval (ESC environments evaluated offline)
# from their Go modules (pinned in tools/pulumi/*/go.mod) into a cache outside the checkout, and
# reuses them when present:
#
#   scripts/install-pulumi.sh        # prints the bin directory as its last line
#
# Cache: ${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}/pulumi-v3.274.1/bin.
# A binary is rebuilt when the go.mod or go.sum of its module changed since it was built
# (a .stamp file beside it records their hash). Needs Go (1.26) and the Go module proxy.
# A cold build takes several minutes on 2 cores; a warm one, well under a second.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PULUMI_VERSION=v3.274.1
BIN=${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}/pulumi-$PULUMI_VERSION/bin
mkdir -p "$BIN"

command -v go >/dev/null || { echo "install-pulumi.sh: 'go' not found: install Go 1.26" >&2; exit 1; }

# build MODULE_DIR PACKAGE NAME [LDFLAGS]: go build PACKAGE (a `tool` of the module in
# tools/pulumi/MODULE_DIR) into $BIN/NAME unless it is there and its module is unchanged.
build() {
    local module=$ROOT/tools/pulumi/$1 package=$2 name=$3 ldflags=${4:-}
    local stamp
    stamp=$(cat "$module/go.mod" "$module/go.sum" | sha256sum | cut -c1-16)
    if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    echo "install-pulumi.sh: building $name ($package) into $BIN" >&2
    local start=$SECONDS
    (cd "$module" && go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN/$name.tmp" "$package")
    mv "$BIN/$name.tmp" "$BIN/$name"
    echo "$stamp" >"$BIN/$name.stamp"
    echo "install-pulumi.sh: built $name in $((SECONDS - start)) s" >&2
}

build cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
build yaml github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml pulumi-language-yaml \
    "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=v1.25.0"

# Pulumi ESC environments evaluated offline with the evaluator the CLI links (tools/pulumi/esc).
build esc github.com/imageautomation/tools/pulumi/esc esc-eval

echo "$BIN"
