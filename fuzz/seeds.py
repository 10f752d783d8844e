#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into DIR/<target>/ from the project's own conformance
vectors and test fixtures (issue #15: "Seed each corpus from the conformance vectors and test
fixtures"). scripts/fuzz.sh runs it into a scratch directory; nothing here is committed output.

  fuzz/seeds.py DIR
"""
import glob
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1]


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


# Versions and constraints: Masterminds/Flux vectors (provider/policy/tests/fixtures/flux).
semver = json.loads(read("provider/policy/tests/fixtures/flux/semver_cases.json"))
for case in semver["constraintCheck"]:
    put("semver", f"{case['constraint']}\n{case['version']}")
for case in semver["constraintParse"]:
    put("semver", f"{case['constraint']}\n1.0.0")

# Whole policies: Flux's policy cases (spec JSON, then the tags).
for case in json.loads(read("provider/policy/tests/fixtures/flux/policy_cases.json")):
    spec = {"policy": case.get("policy") or {}}
    if case.get("filterTags"):
        spec["filterTags"] = case["filterTags"]
    put("policy", json.dumps(spec) + "\n" + "\n".join(case.get("tags") or []))

# Setters: the upstream setters testdata and the example fleet's manifests.
for path in glob.glob(os.path.join(ROOT, "provider/update/testdata/**/*"), recursive=True):
    if os.path.isfile(path) and os.path.getsize(path) < 65536:
        with open(path, "rb") as f:
            put("setters", b"5.0.3\n" + f.read())
for path in glob.glob(os.path.join(ROOT, "examples/fleet-infra/**/*.yaml"), recursive=True):
    with open(path, "rb") as f:
        put("setters", b"1.2.0\n" + f.read())

# Flux manifests (`run`'s reader): the example fleet and the Flux samples of the tests.
for pattern in ["examples/**/*.yaml", "tests/fixtures/**/*.yaml", "provider/cli/tests/**/*.yaml"]:
    for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
        if os.path.getsize(path) < 65536:
            with open(path, "rb") as f:
                put("flux_manifests", f.read())

# Commit message templates: the upstream cases (shared/conformance, copied into the git tests).
templates = [
    "Update from image update automation",
    "{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}",
    "Automation: {{ .AutomationObject }}\n{{ range $file, $objs := .Changed.FileChanges }}{{ $file }}{{ range $obj, $changes := $objs }}{{ $obj.Kind }}{{ end }}{{ end }}{{ .Values.env | upper }}",
    "{{ range .Changed.Objects }}{{ .Name }}{{ end }}{{ .Updated }}",
]
for t in templates:
    put("commit_template", t + "\x005.0.0\x005.0.3\x00flux-system:podinfo\x00podinfo\x00apps\x00prod")

# Registry answers.
for body in [
    '{"name":"team/app","tags":["1.0.0","1.2.0","latest"]}',
    '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
    '{"token":"abc","expires_in":300}',
    '{"access_token":"abc"}',
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:' + "0" * 64 + '","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}',
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:' + "1" * 64 + '","size":2},"layers":[]}',
    '{"schemaVersion":2,"manifests":[{"digest":"sha256:' + "2" * 64 + '","platform":{"architecture":"arm64","os":"linux","variant":"v8"}},{"digest":"sha256:' + "3" * 64 + '","platform":{"architecture":"unknown","os":"unknown"}}],"annotations":{"org.opencontainers.image.created":"2026-12-01T10:00:00+01:00"}}',
    '{"architecture":"arm64","os":"linux","variant":"v8","created":"2026-12-01T10:00:00.123456789Z","rootfs":{"type":"layers","diff_ids":[]}}',
    '</v2/team/app/tags/list?n=1000&last=1.2.0>; rel="next"',
    'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull"',
    "Basic realm=\"registry\"",
    "120",
    "Wed, 21 Oct 2015 07:28:00 GMT",
]:
    put("registry_responses", body)

# Docker configs.
for cfg in [
    '{"auths":{"ghcr.io":{"auth":"dXNlcjpwYXNz"}}}',
    '{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}',
    '{"auths":{"r.example.com":{"identitytoken":"refresh-me"}},"credsStore":"desktop"}',
    '{"auths":{"r.example.com":{"registrytoken":"t"}}}',
]:
    put("docker_config", cfg)

# Kubeconfigs.
kubeconfig = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: "LS0tLS1CRUdJTg=="}
users:
- name: u
  user: {token: "kube-token-0123456789abcdef"}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
"""
put("kubeconfig", kubeconfig)
put("kubeconfig", json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []}))
put("kubeconfig", "YXBpVmVyc2lvbjogdjEKa2luZDogQ29uZmlnCg==")

# Pulumi property values, with the secret and unknown sentinels nested.
SECRET = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
secret = lambda v: {SECRET: "1b47061264138c4ac30d75fd1eb44270", "value": v}
for props in [
    {"image": "ghcr.io/org/app", "interval": "5m", "credentials": {"username": "u", "password": secret("p")}, "provider": "gcp", "proxy": {"address": "http://proxy:3128"}},
    {"imageRepositoryRef": {"namespace": "flux-system", "name": "app", "image": "ghcr.io/org/app", "tags": ["1.0.0"]}, "policy": {"semver": {"range": "1.x"}}, "filterTags": {"pattern": "^v(?P<v>.*)$", "extract": "$v"}},
    {"git": {"url": "https://github.com/org/fleet", "auth": {"token": secret("t")}, "commit": {"author": {"email": "a@b.c"}, "signingKey": {"ssh": {"privateKey": secret("k")}}}, "push": {"branch": UNKNOWN}, "proxy": {"address": UNKNOWN}}, "policies": [{"namespace": "flux-system", "name": "app", "latestRef": {"name": "ghcr.io/org/app", "tag": "1.0.0"}}]},
]:
    put("pulumi_properties", json.dumps(props))

# Inputs that once crashed, hung or were wrongly flagged (fuzz/regressions/<target>/<name>):
# every smoke run replays them.
for path in glob.glob(os.path.join(ROOT, "fuzz/regressions/*/*")):
    put(os.path.basename(os.path.dirname(path)), read(os.path.relpath(path, ROOT)))
