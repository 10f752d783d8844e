#!/usr/bin/env bash
# Regenerates the Node.js, Python and Go SDKs from schema.json with Pulumi's own code generators,
# at the Pulumi release that tools/pulumi/cli/go.mod pins (tools/pulumi/cli/gen-sdk does what
# `pulumi package gen-sdk` does through the language hosts, without needing them):
#
#   scripts/gen-sdk.sh                  # replaces sdk/nodejs, sdk/python and sdk/go
#   scripts/gen-sdk.sh --out DIR        # writes DIR/{nodejs,python,go} instead (the drift test)
#   scripts/gen-sdk.sh --schema FILE    # from another schema file
#
# The generator is built into ${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}/
# pulumi-<version>/bin/gen-sdk, and rebuilt only when its source, go.mod or go.sum changed
# (a .stamp file beside it records their hash): about 20 s cold, well under a second warm, plus
# `go mod tidy` for sdk/go (needs the Go module proxy or a warm module cache).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODULE=$ROOT/tools/pulumi/cli
SCHEMA=$ROOT/schema.json
OUT=$ROOT/sdk
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        --schema) SCHEMA=$2; shift 2 ;;
        *) echo "usage: scripts/gen-sdk.sh [--schema FILE] [--out DIR]" >&2; exit 2 ;;
    esac
done

command -v go >/dev/null || { echo "gen-sdk.sh: 'go' not found: install Go 1.26" >&2; exit 1; }

# The same cache directory as scripts/install-pulumi.sh, named after the pinned release.
PULUMI_VERSION=$(sed -n 's#^require github.com/pulumi/pulumi/pkg/v3 \(v[^ ]*\).*#\1#p' "$MODULE/go.mod")
[ -n "$PULUMI_VERSION" ] || { echo "gen-sdk.sh: no pulumi/pkg/v3 requirement in $MODULE/go.mod" >&2; exit 1; }
BIN=${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}/pulumi-$PULUMI_VERSION/bin
mkdir -p "$BIN"

stamp=$(cat "$MODULE/go.mod" "$MODULE/go.sum" "$MODULE"/gen-sdk/*.go | sha256sum | cut -c1-16)
if ! [ -x "$BIN/gen-sdk" ] || [ "$(cat "$BIN/gen-sdk.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "gen-sdk.sh: building gen-sdk into $BIN" >&2
    # A private temporary name: two runs at once (parallel tests) must not write one file.
    (cd "$MODULE" && GOWORK=off go build -trimpath -o "$BIN/gen-sdk.tmp.$$" ./gen-sdk)
    mv "$BIN/gen-sdk.tmp.$$" "$BIN/gen-sdk"
    echo "$stamp" >"$BIN/gen-sdk.stamp"
fi

mkdir -p "$OUT"
"$BIN/gen-sdk" --schema "$SCHEMA" --out "$OUT"
