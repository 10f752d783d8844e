#!/usr/bin/env bash
# Builds the differential-test oracles of tools/flux-diff (Flux's own tag selection and
# `$imagepolicy` setters code, see tools/flux-diff/README.md) into a cache outside the checkout,
# and reuses them when present:
#
#   scripts/build-flux-diff.sh          # prints the bin directory as its last line
#   scripts/build-flux-diff.sh --tidy   # also `go mod tidy` (go.mod/go.sum written back), `go vet`
#
# Cache: ${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}/flux-diff/bin, holding
# flux-diff-policy and flux-diff-setters. They are rebuilt when anything in tools/flux-diff
# (go.mod, go.sum, flux.sum, the Go sources) changed since they were built: bin/.stamp records
# the hash. The tests find them through IMAGEAUTOMATION_FLUX_DIFF_BIN (that bin directory),
# falling back to the same default path.
#
# Needs Go (1.26) and the Go module proxy. A cold build takes about 30 s on 2 cores (plus the
# module downloads on a fresh machine); a warm one, well under a second.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/tools/flux-diff
CACHE=${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}/flux-diff
BIN=$CACHE/bin
PROGRAMS=(flux-diff-policy flux-diff-setters)

TIDY=false
case "${1:-}" in
    "") ;;
    --tidy) TIDY=true ;;
    *) echo "usage: $0 [--tidy]" >&2; exit 2 ;;
esac

command -v go >/dev/null || { echo "build-flux-diff.sh: 'go' not found: install Go 1.26" >&2; exit 1; }

stamp() {
    (cd "$SRC" && find go.mod go.sum flux.sum cmd _inject -type f -print0 | LC_ALL=C sort -z \
        | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

up_to_date() {
    [ "$(cat "$BIN/.stamp" 2>/dev/null)" = "$(stamp)" ] || return 1
    for p in "${PROGRAMS[@]}"; do [ -x "$BIN/$p" ] || return 1; done
}

if ! $TIDY && up_to_date; then
    echo "$BIN"
    exit 0
fi

mkdir -p "$CACHE"
# One build at a time (two test runs may start together); the second finds the first's work.
if command -v flock >/dev/null; then
    exec 9>"$CACHE/.lock"
    flock 9
    if ! $TIDY && up_to_date; then
        echo "$BIN"
        exit 0
    fi
fi

echo "build-flux-diff.sh: building ${PROGRAMS[*]} into $BIN" >&2
start=$SECONDS
BUILD=$CACHE/build
if [ -d "$BUILD" ]; then chmod -R u+w "$BUILD"; rm -rf "$BUILD"; fi
mkdir -p "$BUILD/flux"
cp -R "$SRC/go.mod" "$SRC/go.sum" "$SRC/cmd" "$BUILD/"

# The Flux modules: downloaded (or found in the module cache), checked against flux.sum, copied
# writable, and given the re-exporting package from _inject/<name>.
while read -r module version sum; do
    case "$module" in ''|'#'*) continue ;; esac
    grep -Eq "^[[:space:]]*(require[[:space:]]+)?$module $version\$" "$SRC/go.mod" || {
        echo "build-flux-diff.sh: go.mod does not require $module $version as flux.sum says" >&2
        exit 1
    }
    info=$(cd "$BUILD" && GOFLAGS=-mod=mod go mod download -json "$module@$version")
    dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")
    got=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")
    if [ -z "$dir" ] || [ "$got" != "$sum" ]; then
        echo "build-flux-diff.sh: $module@$version: sum ${got:-unknown} does not match flux.sum ($sum)" >&2
        exit 1
    fi
    name=${module##*/}
    cp -R "$dir" "$BUILD/flux/$name"
    chmod -R u+w "$BUILD/flux/$name"
    cp -R "$SRC/_inject/$name/." "$BUILD/flux/$name/"
done <"$SRC/flux.sum"

if $TIDY; then
    (cd "$BUILD" && go mod tidy && go vet ./cmd/...)
    cp "$BUILD/go.mod" "$BUILD/go.sum" "$SRC/"
fi

mkdir -p "$BIN"
for p in "${PROGRAMS[@]}"; do
    (cd "$BUILD" && go build -trimpath -ldflags "-s -w" -o "$BIN/$p.tmp" "./cmd/$p")
    mv "$BIN/$p.tmp" "$BIN/$p"
done
stamp >"$BIN/.stamp"
chmod -R u+w "$BUILD"
rm -rf "$BUILD"
echo "build-flux-diff.sh: built in $((SECONDS - start)) s" >&2
echo "$BIN"
