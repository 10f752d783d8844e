#!/usr/bin/env bash
# A real Kubernetes API server (kube-apiserver and etcd, as envtest runs them) on loopback for
# the cluster-mode tests, with the Flux CRDs installed:
#
#   scripts/test-cluster.sh build [--flux]            # builds the binaries; prints their dir
#   scripts/test-cluster.sh start DIR [--without-crds | --flux-crds] [--owner PID]
#   scripts/test-cluster.sh flux DIR                  # starts Flux's controllers against DIR's cluster
#   scripts/test-cluster.sh stop DIR
#
# `start` builds the binaries when missing (tools/kube, cached outside the checkout like the
# pulumi CLI: ${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}/kube-v1.36.3/bin),
# makes a test CA, a serving certificate for 127.0.0.1, an admin bearer token (group
# system:masters) and an expired client certificate, starts etcd and kube-apiserver on free
# loopback ports, waits for /readyz, creates the namespace flux-system, installs the CRDs of
# tests/fixtures/flux-crds (unless --without-crds) and waits until the API server serves them.
# It prints DIR/kubeconfig as its last line. With --owner PID, a watcher stops the cluster and
# removes DIR when that process ends (the tests pass their own PID, so that no server outlives
# them).
#
# Flux's own controllers (issue #11 §2): `build --flux` also builds source-controller,
# image-reflector-controller and image-automation-controller (tools/flux, into
# .../flux-controllers/bin) and copies the CRDs their modules ship (.../flux-controllers/crds:
# every kind they watch, Buckets and HelmCharts included). `start --flux-crds` installs those
# instead of tests/fixtures/flux-crds; `flux DIR` then starts the three controllers against the
# cluster (all namespaces, leader election and metrics off, logs in DIR/<controller>.log) and
# waits for their health endpoints. `stop` ends them too.
#
# DIR then holds kubeconfig, token, ca.crt, client-expired.{crt,key} (signed by the cluster's
# client CA, valid 2020-01-01 to 2020-01-02), server.url, audit.log (one JSON line per request:
# verb, URI, user, object, status code), and the logs and PID files of the two processes. `stop` ends only the processes whose PIDs `start` wrote into DIR.
#
# Needs Go 1.26 and the Go module proxy for the build (about 10 min cold on 2 cores), openssl,
# curl and python3. Startup takes about 10 s.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KUBE_VERSION=v1.36.3
TOOLS=${IMAGEAUTOMATION_TOOLS:-$HOME/.cache/imageautomation-tools}
BIN=$TOOLS/kube-$KUBE_VERSION/bin
FLUX=$TOOLS/flux-controllers
CRDS=$ROOT/tests/fixtures/flux-crds
CONTROLLERS=(source-controller image-reflector-controller image-automation-controller)

usage() {
    echo "usage: $0 build [--flux] | start DIR [--without-crds | --flux-crds] [--owner PID] | flux DIR | stop DIR" >&2
    exit 2
}
log() { echo "test-cluster.sh: $*" >&2; }

# build_module MODULE OUT NAME=PACKAGE...: `go build`s each package of tools/MODULE into
# OUT/NAME, unless OUT holds them from the same go.mod and go.sum already.
build_module() {
    command -v go >/dev/null || { log "'go' not found: install Go 1.26"; exit 1; }
    local name=$1 module=$ROOT/tools/$1 out=$2 stamp
    shift 2
    stamp=$(cat "$module/go.mod" "$module/go.sum" | sha256sum | cut -c1-16)
    built() {
        for target in "$@"; do [ -x "$out/${target%%=*}" ] || return 1; done
        [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]
    }
    built "$@" && return
    mkdir -p "$out"
    # One build at a time: two test processes may ask together; the second finds the first's work.
    exec 8>"$out/.lock"
    flock 8
    built "$@" && { exec 8>&-; return; }
    log "building tools/$name into $out"
    local start=$SECONDS target
    for target in "$@"; do
        (cd "$module" && go build -trimpath -ldflags "-s -w" -o "$out/${target%%=*}.tmp" "${target#*=}")
        mv "$out/${target%%=*}.tmp" "$out/${target%%=*}"
    done
    echo "$stamp" >"$out/.stamp"
    exec 8>&-
    log "built in $((SECONDS - start)) s"
}

build() {
    build_module kube "$BIN" etcd=go.etcd.io/etcd/server/v3 \
        kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver
}

# The controllers, and the CRDs of the same releases from their modules' config/crd/bases.
build_flux() {
    local targets=() controller
    for controller in "${CONTROLLERS[@]}"; do targets+=("$controller=github.com/fluxcd/$controller"); done
    build_module flux "$FLUX/bin" "${targets[@]}"
    local stamp
    stamp=$(cat "$FLUX/bin/.stamp")
    [ "$(cat "$FLUX/crds/.stamp" 2>/dev/null)" = "$stamp" ] && return
    rm -rf "$FLUX/crds.tmp" && mkdir -p "$FLUX/crds.tmp"
    for controller in "${CONTROLLERS[@]}"; do
        cp "$(cd "$ROOT/tools/flux" && go list -m -f '{{.Dir}}' "github.com/fluxcd/$controller")"/config/crd/bases/*.yaml \
            "$FLUX/crds.tmp/"
    done
    chmod 644 "$FLUX/crds.tmp"/*.yaml
    echo "$stamp" >"$FLUX/crds.tmp/.stamp"
    rm -rf "$FLUX/crds" && mv "$FLUX/crds.tmp" "$FLUX/crds"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# certs DIR: the serving CA and certificate, the client CA, an expired client certificate, the
# service-account signing key and the admin token.
certs() {
    local d=$1
    (
        cd "$d"
        openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.crt \
            -subj "/CN=imageautomation test cluster CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
            -subj "/CN=kube-apiserver" 2>/dev/null
        printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
            'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
            'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -sha256 -extfile server.ext -out server.crt 2>/dev/null
        # An expired client certificate (O=system:masters would be admin if it were valid):
        # `openssl ca` is the openssl command that takes explicit validity dates.
        mkdir -p ca-db && : >ca-db/index.txt && echo 01 >ca-db/serial
        printf '%s\n' '[ca]' 'default_ca=test' '[test]' "dir=$d/ca-db" 'database=$dir/index.txt' \
            'serial=$dir/serial' 'new_certs_dir=$dir' 'default_md=sha256' 'policy=any' \
            'email_in_dn=no' 'unique_subject=no' '[any]' 'commonName=supplied' \
            'organizationName=optional' '[client]' 'basicConstraints=critical,CA:FALSE' \
            'keyUsage=critical,digitalSignature' 'extendedKeyUsage=clientAuth' >ca.cnf
        openssl req -newkey rsa:2048 -nodes -sha256 -keyout client-expired.key \
            -out client-expired.csr -subj "/O=system:masters/CN=expired-admin" 2>/dev/null
        openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -extensions client \
            -startdate 20200101000000Z -enddate 20200102000000Z -notext \
            -in client-expired.csr -out client-expired.crt 2>/dev/null
        openssl genrsa -out sa.key 2048 2>/dev/null
        openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
        python3 -c 'import secrets; print(secrets.token_hex(24))' >token
        echo "$(cat token),admin,admin,system:masters" >tokens.csv
        # Every request's metadata (verb, URI with its query, user, object, status) goes to
        # audit.log: what the tests read to see which requests the applier made.
        printf '%s\n' 'apiVersion: audit.k8s.io/v1' 'kind: Policy' 'omitStages: [RequestReceived]' \
            'rules:' '- level: Metadata' >audit-policy.yaml
        rm -f server.csr server.ext client-expired.csr ca.srl
        chmod 600 ./*.key token tokens.csv
    )
}

# api METHOD PATH [CURL ARGS...]: a request to the API server as admin; prints the body.
api() {
    local method=$1 path=$2
    shift 2
    curl -sS --cacert "$DIR/ca.crt" -H "Authorization: Bearer $(cat "$DIR/token")" \
        -X "$method" "$(cat "$DIR/server.url")$path" "$@"
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
    local seconds=$1 what=$2
    local deadline=$((SECONDS + seconds))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            log "$what not ready after $seconds s; see $DIR/*.log"
            return 1
        fi
        sleep 0.2
    done
}

alive() { kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_started NAME SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds; fails at
# once when the process in DIR/NAME.pid has exited, and after SECONDS.
wait_started() {
    local name=$1 seconds=$2
    local deadline=$((SECONDS + seconds))
    shift 2
    until "$@" >/dev/null 2>&1; do
        alive "$DIR/$name.pid" || return 1
        if [ $SECONDS -ge $deadline ]; then
            log "$name not ready after $seconds s; see $DIR/$name.log"
            return 1
        fi
        sleep 0.2
    done
}

start_etcd() {
    local client peer
    client=$(free_port)
    peer=$(free_port)
    rm -rf "$DIR/etcd-data"
    "$BIN/etcd" --name test --data-dir "$DIR/etcd-data" --unsafe-no-fsync \
        --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "test=http://127.0.0.1:$peer" --listen-metrics-urls "" \
        >"$DIR/etcd.log" 2>&1 &
    echo $! >"$DIR/etcd.pid"
    echo "http://127.0.0.1:$client" >"$DIR/etcd.url"
    wait_started etcd 30 curl -sf "http://127.0.0.1:$client/health"
}

apiserver_ready() { [ "$(api GET /readyz 2>/dev/null)" = "ok" ]; }

start_apiserver() {
    local port
    port=$(free_port)
    echo "https://127.0.0.1:$port" >"$DIR/server.url"
    "$BIN/kube-apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
        --secure-port="$port" --etcd-servers="$(cat "$DIR/etcd.url")" \
        --tls-cert-file="$DIR/server.crt" --tls-private-key-file="$DIR/server.key" \
        --client-ca-file="$DIR/ca.crt" --token-auth-file="$DIR/tokens.csv" \
        --authorization-mode=RBAC --service-cluster-ip-range=10.0.0.0/24 \
        --service-account-issuer="https://127.0.0.1:$port" \
        --service-account-key-file="$DIR/sa.pub" --service-account-signing-key-file="$DIR/sa.key" \
        --disable-admission-plugins=ServiceAccount --enable-priority-and-fairness=false \
        --profiling=false --allow-privileged=true --cert-dir="$DIR/apiserver-certs" \
        --audit-policy-file="$DIR/audit-policy.yaml" --audit-log-path="$DIR/audit.log" \
        --audit-log-mode=blocking --audit-log-format=json \
        >"$DIR/kube-apiserver.log" 2>&1 &
    echo $! >"$DIR/kube-apiserver.pid"
    wait_started kube-apiserver 90 apiserver_ready
}

# retry NAME FUNCTION: runs a start function up to 3 times (a free port can be taken between
# choosing it and binding it).
retry() {
    local name=$1 fn=$2
    for attempt in 1 2 3; do
        if $fn; then return 0; fi
        [ -f "$DIR/$name.pid" ] && kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true
        # The controllers log their error before a stack trace: show that line when there is one.
        log "$name did not start (attempt $attempt); from $DIR/$name.log:"
        grep -m 3 -E $'\tERROR\t' "$DIR/$name.log" >&2 || tail -n 5 "$DIR/$name.log" >&2 || true
    done
    return 1
}

write_kubeconfig() {
    local ca
    ca=$(base64 -w0 <"$DIR/ca.crt")
    cat >"$DIR/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $(cat "$DIR/server.url")
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $(cat "$DIR/token")
contexts:
- name: test
  context:
    cluster: test
    user: admin
current-context: test
KUBECONFIG
    chmod 600 "$DIR/kubeconfig"
}

install_crds() {
    local crd plural group
    for crd in "$CRDS"/*.yaml; do
        api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions \
            -H "Content-Type: application/yaml" --data-binary "@$crd" -o /dev/null -f \
            || { log "installing $crd failed"; return 1; }
    done
    # Served when discovery lists every kind in its group's v1 (each file is named
    # <group>_<plural>.yaml).
    served() {
        for crd in "$CRDS"/*.yaml; do
            crd=${crd##*/} && crd=${crd%.yaml}
            group=${crd%%_*} plural=${crd#*_}
            api GET "/apis/$group/v1" -f | grep -Eq "\"name\": *\"$plural\"" || return 1
        done
    }
    wait_for 60 "the Flux CRDs" served
}

# A controller's readiness endpoint answers.
healthy() { curl -sf "http://$(cat "$DIR/$1.health")/readyz" >/dev/null; }

# start_controller NAME ARGS...: one of Flux's controllers against the cluster in DIR, on its
# own health port.
start_controller() {
    local name=$1 health
    shift
    health=127.0.0.1:$(free_port)
    echo "$health" >"$DIR/$name.health"
    KUBECONFIG=$DIR/kubeconfig RUNTIME_NAMESPACE=flux-system "$FLUX/bin/$name" \
        --metrics-addr=0 --health-addr="$health" --enable-leader-election=false \
        --log-encoding=console --log-level=debug "$@" >"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.pid"
    wait_started "$name" 60 healthy "$name"
}

start_source_controller() {
    local storage
    storage=127.0.0.1:$(free_port)
    mkdir -p "$DIR/source-storage"
    start_controller source-controller --storage-path="$DIR/source-storage" \
        --storage-addr="$storage" --storage-adv-addr="$storage"
}

start_image_reflector_controller() {
    start_controller image-reflector-controller --storage-path="$DIR/image-reflector-db" \
        --storage-value-log-file-size=16777216
}

start_image_automation_controller() { start_controller image-automation-controller; }

stop() {
    for name in "${CONTROLLERS[@]}" kube-apiserver etcd; do
        local pid_file=$DIR/$name.pid
        [ -f "$pid_file" ] || continue
        local pid
        pid=$(cat "$pid_file")
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pid_file"
    done
    if [ -f "$DIR/watcher.pid" ]; then
        local watcher
        watcher=$(cat "$DIR/watcher.pid")
        rm -f "$DIR/watcher.pid"
        [ "$watcher" != "${WATCHER_SELF:-}" ] && kill "$watcher" 2>/dev/null || true
    fi
}

case "${1:-}" in
    build)
        case "${2:-}" in
            "") build && echo "$BIN" ;;
            --flux) build && build_flux && echo "$FLUX/bin" ;;
            *) usage ;;
        esac
        ;;
    start)
        [ $# -ge 2 ] || usage
        mkdir -p "$2"
        DIR=$(cd "$2" && pwd)
        shift 2
        WITH_CRDS=true OWNER=""
        while [ $# -gt 0 ]; do
            case "$1" in
                --without-crds) WITH_CRDS=false ;;
                --flux-crds) build_flux && CRDS=$FLUX/crds ;;
                --owner) OWNER=${2:?--owner needs a PID}; shift ;;
                *) usage ;;
            esac
            shift
        done
        for tool in openssl curl python3; do
            command -v "$tool" >/dev/null || { log "'$tool' not found"; exit 1; }
        done
        build
        started=$SECONDS
        certs "$DIR"
        # Whatever fails from here on, stop what was started.
        trap 'stop' EXIT
        retry etcd start_etcd
        retry kube-apiserver start_apiserver
        write_kubeconfig
        api POST /api/v1/namespaces -H "Content-Type: application/json" -f -o /dev/null \
            --data '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"flux-system"}}'
        if $WITH_CRDS; then install_crds; fi
        trap - EXIT
        if [ -n "$OWNER" ]; then
            # setsid: the watcher outlives the shell that started it, not the owner.
            setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; WATCHER_SELF=$$ "$2" stop "$3"; rm -rf "$3"' \
                watcher "$OWNER" "$0" "$DIR" >/dev/null 2>&1 </dev/null &
            echo $! >"$DIR/watcher.pid"
        fi
        log "ready in $((SECONDS - started)) s at $(cat "$DIR/server.url")"
        echo "$DIR/kubeconfig"
        ;;
    flux)
        [ $# -eq 2 ] || usage
        [ -f "$2/kubeconfig" ] || { log "$2/kubeconfig not found: run '$0 start $2 --flux-crds' first"; exit 1; }
        DIR=$(cd "$2" && pwd)
        build_flux
        started=$SECONDS
        for controller in "${CONTROLLERS[@]}"; do
            retry "$controller" "start_${controller//-/_}" || exit 1
        done
        log "Flux's controllers ready in $((SECONDS - started)) s"
        ;;
    stop)
        [ $# -eq 2 ] || usage
        [ -d "$2" ] || exit 0
        DIR=$(cd "$2" && pwd)
        stop
        ;;
    *) usage ;;
esac
