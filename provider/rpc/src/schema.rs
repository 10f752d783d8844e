//! The Pulumi package schema, generated from this code: `GetSchema` returns it
//! and `schema.json` at the repository root is a checked-in copy (a test fails
//! when they drift). Resource descriptions are the Markdown files beside the
//! resource modules, so SDK docs come from one place.
//!
//! Property names are Flux's field names in lowerCamelCase (HOUSE_STYLE
//! "Names"); `secret: true` marks the fields whose values are secrets, which is
//! also the list the provider uses to wrap outputs (see `SECRET_PATHS` in each
//! resource module).

use serde_json::{Value, json};

/// The package name and the first part of every token.
pub const PACKAGE: &str = "imageautomation";
/// `imageautomation:index:ImageRepository`.
pub const IMAGE_REPOSITORY: &str = "imageautomation:index:ImageRepository";
/// `imageautomation:index:ImagePolicy`.
pub const IMAGE_POLICY: &str = "imageautomation:index:ImagePolicy";
/// `imageautomation:index:UpdateAutomation`.
pub const UPDATE_AUTOMATION: &str = "imageautomation:index:UpdateAutomation";

/// The plugin version, from Cargo (`GetPluginInfo` and the schema agree).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn t(token: &str) -> String {
    format!("#/types/{PACKAGE}:index:{token}")
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn secret_string(description: &str) -> Value {
    json!({"type": "string", "secret": true, "description": description})
}

fn boolean(description: &str) -> Value {
    json!({"type": "boolean", "description": description})
}

fn strings(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string"}, "description": description})
}

fn string_map(description: &str) -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}, "description": description})
}

fn reference(token: &str, description: &str) -> Value {
    json!({"$ref": t(token), "description": description})
}

fn object(description: &str, properties: Value, required: &[&str]) -> Value {
    let mut v = json!({"type": "object", "description": description, "properties": properties});
    if !required.is_empty() {
        v["required"] = json!(required);
    }
    v
}

/// Merges `extra` into a copy of `base` (both objects).
fn merged(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    out
}

fn config_variables() -> Value {
    json!({
        "githubToken": {
            "type": "string", "secret": true,
            "description": "GitHub token for Git remotes on github.com and the GitHub API (pull requests), unless a resource gives its own credentials. Set it with `pulumi config set --secret imageautomation:githubToken ...` or from a Pulumi ESC environment (`pulumiConfig` with `fn::secret`). Falls back to the `GITHUB_TOKEN` environment variable.",
            "defaultInfo": {"environment": ["GITHUB_TOKEN"]}
        },
        "registryAuth": {
            "type": "array", "items": {"$ref": t("RegistryAuth")},
            "description": "Registry credentials by address, used by ImageRepositories that give none of their own. Falls back to the Docker config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`)."
        },
        "fluxNamespace": {
            "type": "string", "default": "flux-system",
            "description": "The default `namespace` of ImageRepositories, ImagePolicies and UpdateAutomations (the namespace of their Flux identities, `namespace:name`)."
        },
        "kubernetes": {
            "$ref": t("KubernetesConfig"),
            "description": "Cluster mode: when given (and `enabled` is not false), each resource also server-side applies its Flux objects (`ImageRepository`, `ImagePolicy`, `ImageUpdateAutomation`, `GitRepository`) and their Secrets to the cluster, previews them with the API server's dry run, reports drift on refresh, and deletes them on destroy. The objects are in each resource's `fluxObjects` output."
        }
    })
}

fn types() -> Value {
    json!({
        "imageautomation:index:RegistryAuth": object(
            "Credentials for one registry.",
            json!({
                "address": string("Registry host, with port if any, e.g. `ghcr.io` or `registry.example.com:5000`."),
                "username": string("User name."),
                "password": secret_string("Password or token."),
            }),
            &["address"],
        ),
        "imageautomation:index:KubernetesConfig": object(
            "Where cluster mode applies the Flux objects (provider config `kubernetes`).",
            json!({
                "kubeconfig": secret_string("The kubeconfig's contents, or a path to it (`~/` expanded). Default: `KUBECONFIG`, then `~/.kube/config`. Never logged."),
                "context": string("The kubeconfig context to use; default its `current-context`."),
                "enabled": {"type": "boolean", "default": true, "description": "`false` turns cluster mode off while keeping the settings."},
            }),
            &[],
        ),
        "imageautomation:index:GitRepositoryRef": object(
            "An existing Flux `GitRepository` (`source.toolkit.fluxcd.io/v1`).",
            json!({
                "namespace": string("Its namespace; default the automation's (`fluxNamespace`)."),
                "name": string("Its name."),
            }),
            &["name"],
        ),
        "imageautomation:index:RegistryCredentials": object(
            "Basic credentials for the registry of `image`.",
            json!({
                "username": string("User name."),
                "password": secret_string("Password or token."),
            }),
            &["username", "password"],
        ),
        "imageautomation:index:Proxy": object(
            "An HTTP proxy, as the fields of Flux's `proxySecretRef` Secret. It carries every request of the resource, loopback included; without it the environment's `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (upper or lower case) apply.",
            json!({
                "address": string("The proxy's URL: `http://host:port` (or `https://`), without credentials."),
                "username": string("User name for the proxy's Basic authentication."),
                "password": secret_string("Its password."),
            }),
            &["address"],
        ),
        "imageautomation:index:Certificate": object(
            "TLS settings for the registry, as Flux's `certSecretRef` (`ca.crt`, `tls.crt`, `tls.key`).",
            json!({
                "caPem": string("PEM CA bundle added to the system roots."),
                "certPem": string("PEM client certificate."),
                "keyPem": secret_string("PEM client private key."),
            }),
            &[],
        ),
        "imageautomation:index:ScanResult": object(
            "Flux `status.lastScanResult`.",
            json!({
                "revision": string("Stable hash of the stored tag list: decimal adler32 of its JSON array, as Flux's default storage."),
                "tagCount": {"type": "integer", "description": "Number of tags stored (after the exclusion list)."},
                "scanTime": string("RFC 3339 time of the scan."),
                "latestTags": strings("The first 10 stored tags (descending byte order)."),
            }),
            &["revision", "tagCount", "scanTime", "latestTags"],
        ),
        "imageautomation:index:ImageRepositoryRef": object(
            "Everything an ImagePolicy needs from an ImageRepository: pass `ImageRepository.imageRepositoryRef` as is.",
            json!({
                "namespace": string("Namespace of the ImageRepository."),
                "name": string("Name of the ImageRepository."),
                "image": string("`spec.image` as written, e.g. `ghcr.io/stefanprodan/podinfo`."),
                "canonicalImageName": string("The canonical image name."),
                "insecure": boolean("Plain HTTP."),
                "timeout": string("Go duration of one registry call sequence."),
                "credentials": reference("RegistryCredentials", "Credentials (secret)."),
                "dockerConfigJson": secret_string("Docker config JSON (secret)."),
                "certificate": reference("Certificate", "TLS settings."),
                "provider": string("Where registry credentials come from: `generic`, `aws`, `azure` or `gcp`."),
                "proxy": reference("Proxy", "The proxy for registry traffic."),
                "revision": string("`lastScanResult.revision` of the scan the tags come from."),
                "tags": strings("The stored tags."),
            }),
            &["namespace", "name", "image", "tags"],
        ),
        "imageautomation:index:SemVerPolicy": object(
            "`policy.semver`: the greatest version in a range.",
            json!({"range": string("A Masterminds v3 range, e.g. `5.0.x`, `>=1.0.0 <2.0.0`, `^1.2 || ~2.0`.")}),
            &["range"],
        ),
        "imageautomation:index:OrderPolicy": object(
            "`policy.alphabetical` or `policy.numerical`.",
            json!({"order": {"type": "string", "default": "asc", "description": "`asc` (the greatest wins) or `desc` (the smallest wins)."}}),
            &[],
        ),
        "imageautomation:index:PolicyChoice": object(
            "Flux `spec.policy`: set exactly one member.",
            json!({
                "semver": reference("SemVerPolicy", "Semantic versions in a range."),
                "alphabetical": reference("OrderPolicy", "Plain byte order of the tags."),
                "numerical": reference("OrderPolicy", "Tags as numbers (Go `ParseFloat`); every tag must be a number."),
            }),
            &[],
        ),
        "imageautomation:index:FilterTags": object(
            "Flux `spec.filterTags`.",
            json!({
                "pattern": string("RE2 regular expression the tag must match (unanchored)."),
                "extract": string("Go `ExpandString` template (`$1`, `${name}`) giving the value the policy compares."),
            }),
            &[],
        ),
        "imageautomation:index:ImageRef": object(
            "Flux `latestRef`: `name:tag[@digest]`.",
            json!({
                "name": string("The ImageRepository's `image` as written."),
                "tag": string("The selected original tag."),
                "digest": string("`sha256:<hex>` under `digestReflectionPolicy`, else empty."),
            }),
            &["name", "tag"],
        ),
        "imageautomation:index:ImagePolicyRef": object(
            "What an UpdateAutomation takes: pass `ImagePolicy.imagePolicyRef` as is.",
            json!({
                "namespace": string("Namespace of the policy: the first part of `$imagepolicy` markers."),
                "name": string("Name of the policy: the second part of `$imagepolicy` markers."),
                "latestRef": reference("ImageRef", "The selected image."),
                "downgrade": string("`Deny` when the ImagePolicy has `downgrade: Deny` (the automation then keeps a file whose tag ranks above `latestRef.tag`); absent otherwise."),
                "policy": reference("PolicyChoice", "The ImagePolicy's `policy`, with `downgrade: Deny`: how tags are ordered."),
                "filterTags": reference("FilterTags", "The ImagePolicy's `filterTags`, with `downgrade: Deny`."),
            }),
            &["namespace", "name", "latestRef"],
        ),
        "imageautomation:index:PassedOverTag": object(
            "A tag ranked above the selected one that `minimumAge` or `platforms` passed over.",
            json!({
                "tag": string("The tag."),
                "reason": string("Why, e.g. `younger than minimumAge 24h: created 2h ago` or `lacks linux/arm64`."),
            }),
            &["tag", "reason"],
        ),
        "imageautomation:index:TagMetadata": object(
            "What an image says about itself, per manifest digest.",
            json!({
                "created": string("RFC 3339 build time: the `org.opencontainers.image.created` annotation, else the config's `created`; absent when unknown."),
                "platforms": {"type": "array", "items": {"type": "string"}, "description": "`os/architecture[/variant]` of each platform the image provides."},
            }),
            &["platforms"],
        ),
        "imageautomation:index:GitAuth": object(
            "Credentials for the Git remote: a token, a username and password, or an SSH key. Without any, `githubToken` is used for `github.com`.",
            json!({
                "token": secret_string("HTTPS token (sent as `x-access-token:<token>`)."),
                "username": string("HTTPS user name."),
                "password": secret_string("HTTPS password."),
                "sshPrivateKey": secret_string("PEM/OpenSSH private key for an `ssh://` URL."),
                "knownHosts": string("`known_hosts` lines for the SSH server; an unknown host key is an error."),
            }),
            &[],
        ),
        "imageautomation:index:GitRef": object(
            "Flux `git.checkout.ref`: one of branch, tag or commit.",
            json!({
                "branch": string("Branch to check out."),
                "tag": string("Tag to check out."),
                "commit": string("Commit SHA to check out."),
            }),
            &[],
        ),
        "imageautomation:index:GitCheckout": object(
            "Flux `git.checkout`.",
            json!({"ref": reference("GitRef", "What to check out; default branch `master`, as in Flux.")}),
            &[],
        ),
        "imageautomation:index:CommitAuthor": object(
            "Flux `git.commit.author`, also the committer.",
            json!({"name": string("Author name."), "email": string("Author email.")}),
            &["email"],
        ),
        "imageautomation:index:GitCommit": object(
            "Flux `git.commit`.",
            json!({
                "author": reference("CommitAuthor", "Author and committer."),
                "messageTemplate": string("Go text/template of the commit message, with Flux's data (`.AutomationObject`, `.Changed`, `.Values`)."),
                "messageTemplateValues": string_map("Values exposed as `.Values`."),
                "signingKey": reference("SigningKey", "Sign each commit (Flux `git.commit.signingKey`); default unsigned."),
            }),
            &["author"],
        ),
        "imageautomation:index:SigningKey": object(
            "The key that signs the automation's commits: `openpgp` or `ssh`, one of them. `git verify-commit` checks the signature (with `gpg.format=ssh` for SSH). A wrong passphrase fails `Check`, before anything is cloned.",
            json!({
                "openpgp": reference("SigningKeyPair", "An ASCII-armored OpenPGP secret key (`gpg --export-secret-keys --armor`; Flux's `git.asc`) whose primary key can sign, and its passphrase (Flux's `passphrase`)."),
                "ssh": reference("SigningKeyPair", "An OpenSSH private key (`ssh-keygen -t ed25519`; ed25519, ECDSA P-256 or RSA; Flux's `identity`), signing as `ssh-keygen -Y sign -n git` does, and its passphrase (Flux's `password`)."),
            }),
            &[],
        ),
        "imageautomation:index:SigningKeyPair": object(
            "A private key and its passphrase.",
            json!({
                "privateKey": secret_string("The private key's text."),
                "passphrase": secret_string("Its passphrase, when the key is encrypted."),
            }),
            &["privateKey"],
        ),
        "imageautomation:index:GitPush": object(
            "Flux `git.push`.",
            json!({
                "branch": string("Branch to push to; default: the checkout branch."),
                "refspec": string("An extra refspec pushed after the branch."),
                "options": string_map("Git push options (`-o key=value`)."),
            }),
            &[],
        ),
        "imageautomation:index:GitSpec": object(
            "The Git repository and how to write to it (Flux `spec.git` plus the GitRepository URL and credentials).",
            json!({
                "url": string("Clone URL: `https://...`, `ssh://...` or `file://...`."),
                "auth": reference("GitAuth", "Credentials."),
                "caPem": string("PEM CA bundle for HTTPS."),
                "proxy": reference("Proxy", "The proxy for Git over HTTP(S) (Flux GitRepository `proxySecretRef`); default the environment's `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (loopback never proxied). SSH remotes use none."),
                "checkout": reference("GitCheckout", "What to check out."),
                "commit": reference("GitCommit", "How to commit."),
                "push": reference("GitPush", "Where to push."),
            }),
            &["url", "commit"],
        ),
        "imageautomation:index:UpdateStrategy": object(
            "Flux `spec.update`.",
            json!({
                "path": string("Folder of the repository to update, relative to its root; default the root."),
                "strategy": {"type": "string", "default": "Setters", "description": "Only `Setters`."},
            }),
            &[],
        ),
        "imageautomation:index:PullRequest": object(
            "Open (or update) a GitHub pull request from the push branch to the checkout branch.",
            json!({
                "title": string("Go text/template of the title, with the commit message data."),
                "body": string("Go text/template of the body."),
                "labels": strings("Labels to add."),
                "apiBaseUrl": string("GitHub REST API base URL; default `https://api.github.com` (set it for GitHub Enterprise)."),
                "groupBy": {"type": "string", "default": "none", "description": "How the bumps are split into pull requests. `none` (default): one branch, `git.push.branch`, and one pull request for all of them. `policy`: one branch and pull request per policy, so that each bump can be reviewed and merged alone. `image`: one per image (`latestRef.name`), with the bumps of every policy that selects it. Each group clones the checkout branch (or its own branch, when it exists), applies only its policies' markers, commits, pushes to its branch (`branch`) and opens or updates its pull request; a newer tag updates the group's open pull request. Pull requests are never closed. With `policy` or `image`, `git.push.branch` (required, other than the checkout branch) only names the branches (`.PushBranch`), nothing is pushed to it, and `git.push.refspec` cannot be set. Not in cluster mode: Flux's `ImageUpdateAutomation` pushes every bump to one branch."},
                "branch": string("With `groupBy` `policy` or `image`: Go text/template of each group's branch, over `.PushBranch` (`git.push.branch`), `.Policy.Namespace`, `.Policy.Name` (with `image`: the group's first policy in `namespace:name` order), `.Image` (`latestRef.name`), `.NewTag` (the policy's `latestRef.tag`) and `.AutomationObject`, with the sprig functions. Default `{{ .PushBranch }}-{{ .Policy.Namespace }}-{{ .Policy.Name }}` (`policy`) and `{{ .PushBranch }}-{{ .Image | replace \":\" \"-\" }}` (`image`): without the tag, so that a newer tag updates the same pull request; with `.NewTag`, each tag opens a pull request of its own (the older ones stay open). Each group must render a valid branch name of its own, other than the checkout branch."),
            }),
            &[],
        ),
        "imageautomation:index:PullRequestGroup": object(
            "One pull request group (`pullRequest.groupBy`): its branch, its policies, and its last push and pull request.",
            json!({
                "key": string("What the group's policies share: the policy `namespace:name` (`groupBy: policy`) or the image (`groupBy: image`)."),
                "branch": string("The group's branch, the head of its pull request."),
                "policies": strings("The group's policies, `namespace:name`."),
                "changes": reference("UpdateResult", "The setters result of the group's policies at the last run, on its branch (in a preview: what would be pushed)."),
                "lastPushCommit": string("SHA-1 of the last commit pushed to the branch."),
                "lastPushTime": string("RFC 3339 time of that push."),
                "pullRequestUrl": string("URL of the group's pull request, once opened."),
                "pullRequestNumber": {"type": "integer", "description": "Number of the group's pull request, once opened."},
            }),
            &["key", "branch", "policies", "changes"],
        ),
        "imageautomation:index:Change": object(
            "One rewritten value.",
            json!({"oldValue": string("Value before."), "newValue": string("Value after."), "setter": string("The marker's setter, e.g. `flux-system:podinfo:tag`.")}),
            &["oldValue", "newValue", "setter"],
        ),
        "imageautomation:index:ObjectChanges": object(
            "The changes in one YAML document.",
            json!({
                "apiVersion": string("`apiVersion` of the document, empty when it has none."),
                "kind": string("`kind`."),
                "name": string("`metadata.name`."),
                "namespace": string("`metadata.namespace`."),
                "changes": {"type": "array", "items": {"$ref": t("Change")}, "description": "The changes, in document order."},
            }),
            &["apiVersion", "kind", "name", "namespace", "changes"],
        ),
        "imageautomation:index:FileChanges": object(
            "The changes in one file.",
            json!({
                "path": string("Path relative to the repository root."),
                "objects": {"type": "array", "items": {"$ref": t("ObjectChanges")}, "description": "The changed documents."},
            }),
            &["path", "objects"],
        ),
        "imageautomation:index:SkippedFile": object(
            "A file the setters could not read (malformed YAML), left untouched.",
            json!({"path": string("Path relative to the repository root."), "reason": string("Why.")}),
            &["path", "reason"],
        ),
        "imageautomation:index:UpdateResult": object(
            "The setters result: what `imageautomation update --output json` prints.",
            json!({
                "files": {"type": "array", "items": {"$ref": t("FileChanges")}, "description": "Changed files, sorted by path."},
                "skipped": {"type": "array", "items": {"$ref": t("SkippedFile")}, "description": "Files left untouched."},
            }),
            &["files", "skipped"],
        ),
    })
}

fn image_repository() -> Value {
    let inputs = json!({
        "image": string("Repository to scan, without tag or URL scheme: `ghcr.io/org/app`, `alpine`, `host:5000/x`."),
        "interval": {"type": "string", "default": "5m", "description": "Go duration: a scan is reused until this much time has passed."},
        "timeout": string("Go duration of one scan; default the interval, at least 1s, at most 10m."),
        "exclusionList": strings("Regexes of tags not to store; default `[\"^.*\\\\.sig$\"]`; a list replaces the default."),
        "insecure": boolean("Plain HTTP."),
        "credentials": reference("RegistryCredentials", "Basic credentials; default: `registryAuth`, then the Docker config file."),
        "dockerConfigJson": secret_string("Docker config JSON (the `.dockerconfigjson` of a pull secret)."),
        "certificate": reference("Certificate", "TLS settings."),
        "provider": {"type": "string", "default": "generic", "description": "Flux `spec.provider`: where registry credentials come from. `generic` (the default): `credentials`, `dockerConfigJson`, `registryAuth`, then the Docker config file. `aws`: the AWS credential chain (environment, shared config and profile, web identity, ECS/EC2 metadata), then ECR `GetAuthorizationToken` in the registry's region; only for `<account>.dkr.ecr.<region>.amazonaws.com`. `azure`: an Entra ID token from workload identity (`AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`) or managed identity, exchanged at the registry's `/oauth2/exchange`; only for `*.azurecr.io` (and `.cn`, `.de`, `.us`). `gcp`: an access token from the GCE metadata server (`GCE_METADATA_HOST`) or the key file named by `GOOGLE_APPLICATION_CREDENTIALS`; only for `gcr.io`, `*.gcr.io`, `*-docker.pkg.dev`. A login is reused until 5 minutes (or half its lifetime) before it expires. The provider's credentials never reach Pulumi's state. In cluster mode it is the Flux object's `spec.provider`."},
        "proxy": reference("Proxy", "The proxy for registry traffic (Flux `proxySecretRef`); default the environment's `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (loopback never proxied)."),
        "namespace": string("Namespace of the Flux identity; default `fluxNamespace`."),
        "name": string("Name of the Flux identity; default the resource name."),
        "suspend": boolean("Stop scanning: the stored result is kept."),
    });
    let outputs = merged(
        &inputs,
        json!({
            "canonicalImageName": string("Flux `status.canonicalImageName`, e.g. `index.docker.io/library/alpine`."),
            "tags": strings("The stored tags, in Flux's stored order (descending byte order)."),
            "lastScanResult": reference("ScanResult", "Flux `status.lastScanResult`."),
            "observedExclusionList": strings("The exclusion list of the last scan."),
            "imageRepositoryRef": reference("ImageRepositoryRef", "Pass to `ImagePolicy.imageRepositoryRef`."),
            "fluxObjects": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "description": "Cluster mode only: the Kubernetes objects this resource applies (Flux objects and Secrets), Secret data redacted. After a refresh, as the cluster has them on the fields this provider manages."},
        }),
    );
    json!({
        "description": include_str!("resources/image_repository.md"),
        "inputProperties": inputs,
        "requiredInputs": ["image"],
        "properties": outputs,
        "required": ["image", "interval", "namespace", "name", "canonicalImageName", "tags", "lastScanResult", "observedExclusionList", "imageRepositoryRef"],
    })
}

fn image_policy() -> Value {
    let inputs = json!({
        "imageRepositoryRef": reference("ImageRepositoryRef", "The repository: `ImageRepository.imageRepositoryRef`."),
        "policy": reference("PolicyChoice", "Which tag wins."),
        "filterTags": reference("FilterTags", "Filter (and extract) before the policy."),
        "digestReflectionPolicy": {"type": "string", "default": "Never", "description": "`Never`, `IfNotPresent` or `Always`: whether `latestRef.digest` is set."},
        "interval": string("Go duration between digest checks under `Always`."),
        "namespace": string("Namespace of the Flux identity; default `fluxNamespace`."),
        "name": string("Name of the Flux identity; default the resource name."),
        "downgrade": {"type": "string", "default": "Allow", "description": "`Allow` (default, as Flux) or `Deny`: with `Deny`, an UpdateAutomation never writes a tag that ranks below the one in a file under this policy's ordering (after `filterTags` extraction); it keeps the file and reports the refusal as a warning and in `changes.refused`. Not in Flux."},
        "minimumAge": string("Go duration (`24h`): a tag is a candidate only when its image is at least this old, by the `org.opencontainers.image.created` annotation, else the config's `created` (an index: its first platform's). Candidates are checked best first (at most 20) until one qualifies; a tag whose age is unknown is passed over. Not in Flux."),
        "platforms": {"type": "array", "items": {"type": "string"}, "description": "`os/architecture[/variant]` each (`linux/arm64`): a tag is a candidate only when its image (or image index) provides every one. Checked like `minimumAge`. Not in Flux."},
        "hold": {"type": "boolean", "default": false, "description": "Keep `latestRef` at its last value (reported as held) and let the rest of the stack proceed. Not in Flux."},
    });
    let outputs = merged(
        &inputs,
        json!({
            "held": {"type": "boolean", "description": "`hold` kept the last `latestRef`."},
            "pendingLatestRef": reference("ImageRef", "After a refresh only: the tag `minimumAge` lets the policy select now (an image that came of age); the next update selects under its inputs (a `hold` keeps `latestRef`)."),
            "passedOverTags": {"type": "array", "items": {"$ref": t("PassedOverTag")}, "description": "Tags ranked above `latestRef` that `minimumAge` or `platforms` passed over, best first."},
            "tagMetadata": {"type": "object", "additionalProperties": {"$ref": t("TagMetadata")}, "description": "The image metadata read for `minimumAge` and `platforms`, per manifest digest: kept so that the next run does not read it again."},
            "latestRef": reference("ImageRef", "Flux `status.latestRef`."),
            "latestImage": string("`name:tag[@digest]`."),
            "observedPreviousRef": reference("ImageRef", "The `latestRef` before the last change."),
            "imagePolicyRef": reference("ImagePolicyRef", "Pass to `UpdateAutomation.policies`."),
            "fluxObjects": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "description": "Cluster mode only: the Kubernetes objects this resource applies (Flux objects and Secrets), Secret data redacted. After a refresh, as the cluster has them on the fields this provider manages."},
        }),
    );
    json!({
        "description": include_str!("resources/image_policy.md"),
        "inputProperties": inputs,
        "requiredInputs": ["imageRepositoryRef", "policy"],
        "properties": outputs,
        "required": ["imageRepositoryRef", "policy", "digestReflectionPolicy", "namespace", "name", "latestRef", "latestImage", "imagePolicyRef"],
    })
}

fn update_automation() -> Value {
    let inputs = json!({
        "git": reference("GitSpec", "The repository and how to write to it."),
        "update": reference("UpdateStrategy", "What to update."),
        "policies": {"type": "array", "items": {"$ref": t("ImagePolicyRef")}, "description": "The policies whose markers are updated: `ImagePolicy.imagePolicyRef` values."},
        "pullRequest": reference("PullRequest", "Open a pull request after pushing to a branch other than the checkout branch."),
        "suspend": boolean("Do nothing."),
        "name": string("Name of the Flux automation object (`.AutomationObject` in commit templates, the id, and in cluster mode the `ImageUpdateAutomation`, its `GitRepository` and Secret); default the resource name. Cluster mode needs a Kubernetes object name (lowercase, digits, `-`, `.`)."),
        "interval": string("Cluster mode: Go duration of the Flux `ImageUpdateAutomation`'s (and rendered `GitRepository`'s) `spec.interval`; default `5m`."),
        "sourceRef": reference("GitRepositoryRef", "Cluster mode: an existing `GitRepository` for the Flux automation's `spec.sourceRef`; default: a `GitRepository` (and its auth Secret) rendered from `git`."),
    });
    let outputs = merged(
        &inputs,
        json!({
            "lastPushCommit": string("SHA-1 of the last pushed commit."),
            "lastPushTime": string("RFC 3339 time of the last push."),
            "observedPolicies": {"type": "object", "additionalProperties": {"$ref": t("ImageRef")}, "description": "`namespace:name` -> the policy's `latestRef` at the last run."},
            "observedSourceRevision": string("`<branch>@sha1:<commit>` where the markers matched `policies` at the last run (the pushed commit, or the checkout commit when nothing changed), as Flux's `status.observedSourceRevision`. A refresh with the same policies only asks the remote for the branch head (no clone) and reads the repository only when the branch moved. Absent when pushing to another branch than the checkout branch, or checking out a tag or commit."),
            "changes": reference("UpdateResult", "The setters result of the last run."),
            "pullRequestUrl": string("URL of the pull request, when one was opened (with `pullRequest.groupBy`: that of the last group pushed; `lastPushCommit` and `lastPushTime` likewise)."),
            "groups": {"type": "array", "items": {"$ref": t("PullRequestGroup")}, "description": "With `pullRequest.groupBy` `policy` or `image`: each group's branch, policies, changes, last push and pull request, sorted by `key`."},
            "fluxObjects": {"type": "array", "items": {"$ref": "pulumi.json#/Any"}, "description": "Cluster mode only: the Kubernetes objects this resource applies (Flux objects and Secrets), Secret data redacted. After a refresh, as the cluster has them on the fields this provider manages."},
        }),
    );
    json!({
        "description": include_str!("resources/update_automation.md"),
        "inputProperties": inputs,
        "requiredInputs": ["git", "policies"],
        "properties": outputs,
        "required": ["git", "policies", "observedPolicies", "changes"],
    })
}

/// The package schema as a JSON value.
pub fn schema() -> Value {
    let config = config_variables();
    json!({
        "name": PACKAGE,
        "displayName": "Image Automation",
        "version": VERSION,
        "description": "Flux-style container image update automation: scan registries, select tags by policy, and commit `$imagepolicy` marker updates to Git.",
        "keywords": ["pulumi", "flux", "gitops", "containers", "category/utility"],
        "license": "Apache-2.0",
        "repository": "https://github.com/imageautomation/pulumi-imageautomation",
        "publisher": "imageautomation",
        "config": {"variables": config},
        "provider": {
            "description": "The imageautomation provider. Its inputs are the `imageautomation:*` stack configuration.",
            "inputProperties": config,
        },
        "resources": {
            IMAGE_REPOSITORY: image_repository(),
            IMAGE_POLICY: image_policy(),
            UPDATE_AUTOMATION: update_automation(),
        },
        "types": types(),
        // For the SDKs in sdk/ (scripts/gen-sdk.sh): `respectSchemaVersion` writes this version
        // instead of a placeholder for a release pipeline to substitute; `typescriptVersion` is
        // the compiler tests/tests/sdk.rs builds the Node.js SDK with; `pyproject` replaces the
        // deprecated setup.py.
        "language": {
            "nodejs": {
                "packageName": "@imageautomation/pulumi",
                "dependencies": {"@pulumi/pulumi": "^3.0.0"},
                "typescriptVersion": "^5.9.3",
                "respectSchemaVersion": true,
            },
            "python": {
                "packageName": "pulumi_imageautomation",
                "requires": {"pulumi": ">=3.0.0,<4.0.0"},
                "pyproject": {"enabled": true},
                "respectSchemaVersion": true,
            },
            "go": {
                "importBasePath": "github.com/imageautomation/pulumi-imageautomation/sdk/go/imageautomation",
                "respectSchemaVersion": true,
            },
            "csharp": {"rootNamespace": "ImageAutomation", "packageReferences": {"Pulumi": "3.*"}},
        },
    })
}

/// The schema text as `GetSchema` returns it and `schema.json` stores it:
/// pretty-printed JSON with a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("the schema is plain JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn repo_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// `schema.json` is what the code generates; `UPDATE_GOLDEN=1` rewrites it.
    #[test]
    fn schema_json_matches_the_code() {
        let path = repo_root().join("schema.json");
        let generated = super::schema_text();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &generated).expect("schema.json is writable");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == generated,
            "schema.json differs from the code; run UPDATE_GOLDEN=1 cargo test -p pulumi-resource-imageautomation schema and review the diff"
        );
    }

    #[test]
    fn every_resource_token_is_in_the_schema() {
        let schema = super::schema();
        for token in [
            super::IMAGE_REPOSITORY,
            super::IMAGE_POLICY,
            super::UPDATE_AUTOMATION,
        ] {
            assert!(schema["resources"][token].is_object(), "{token}");
        }
    }

    /// Pulumi's metaschema and binding rules, through the offline checker
    /// (`tests/fixtures/pulumi/`, provenance in its README).
    #[test]
    fn schema_passes_the_pulumi_schema_checker() {
        let root = repo_root();
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("schema.json");
        std::fs::write(&file, super::schema_text()).expect("write");
        let out = std::process::Command::new("/usr/bin/python3")
            .arg(root.join("tests/fixtures/pulumi/schema_check.py"))
            .arg(&file)
            .output()
            .expect("/usr/bin/python3 runs (.ci/run installs python3 and python3-jsonschema)");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "schema_check.py failed:\n{report}");
    }
}

/// The schema and the typed model (`imageautomation-model`'s `args`) name the same inputs:
/// every input property of a resource or object type is a field the model reads, and every
/// field the model reads is in the schema, except where listed with the reason.
#[cfg(test)]
mod model_agreement {
    use std::collections::BTreeSet;

    use imageautomation_model::args::{
        Certificate, GitArgs, GitAuth, ImagePolicyArgs, ImagePolicyRef, ImageRepositoryArgs,
        ImageRepositoryRef, ObjectRef, Proxy, PullRequestArgs, RegistryCredentials,
        UpdateAutomationArgs,
    };
    use imageautomation_model::git::{
        CommitAuthor, GitCheckout, GitCommit, GitPush, GitRef, KeyPair, SigningKey, UpdateStrategy,
    };
    use imageautomation_policy::{FilterTags, OrderPolicy, PolicyChoice, SemVerPolicy};
    use imageautomation_update::LatestRef;
    use serde::de::{DeserializeOwned, Deserializer, Error as _, Visitor};
    use serde::forward_to_deserialize_any;
    use serde_json::Value;

    /// A deserializer that only records the field names a struct asks for.
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for FieldNames<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Self::Error::custom("fields recorded"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn fields_of<T: DeserializeOwned>() -> BTreeSet<&'static str> {
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(FieldNames(&mut fields));
        fields.iter().copied().collect()
    }

    fn properties(v: &Value) -> BTreeSet<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn agree(what: &str, schema: &Value, model: BTreeSet<&str>, not_in_schema: &[&str]) {
        let schema = properties(schema);
        let model: BTreeSet<String> = model.into_iter().map(str::to_owned).collect();
        let unread: Vec<_> = schema.difference(&model).collect();
        let unknown: Vec<_> = model
            .difference(&schema)
            .filter(|f| !not_in_schema.contains(&f.as_str()))
            .collect();
        assert!(
            unread.is_empty() && unknown.is_empty(),
            "{what}: in the schema, not read by the model: {unread:?}; read by the model, not in the schema: {unknown:?}"
        );
    }

    #[test]
    fn every_schema_input_is_a_model_field_and_back() {
        let schema = super::schema();
        let resource = |token: &str| &schema["resources"][token]["inputProperties"];
        let object =
            |name: &str| &schema["types"][format!("{}:index:{name}", super::PACKAGE)]["properties"];
        agree(
            "ImageRepository",
            resource(super::IMAGE_REPOSITORY),
            fields_of::<ImageRepositoryArgs>(),
            &[],
        );
        agree(
            "ImagePolicy",
            resource(super::IMAGE_POLICY),
            fields_of::<ImagePolicyArgs>(),
            &[],
        );
        agree(
            "UpdateAutomation",
            resource(super::UPDATE_AUTOMATION),
            fields_of::<UpdateAutomationArgs>(),
            &[],
        );
        // `canonicalImageName` is informative: the policy needs the image as written.
        let mut repository_ref = fields_of::<ImageRepositoryRef>();
        repository_ref.insert("canonicalImageName");
        for (name, fields, not_in_schema) in [
            (
                "RegistryCredentials",
                fields_of::<RegistryCredentials>(),
                &[][..],
            ),
            ("Certificate", fields_of::<Certificate>(), &[]),
            ("Proxy", fields_of::<Proxy>(), &[]),
            ("ImageRepositoryRef", repository_ref, &[]),
            ("PolicyChoice", fields_of::<PolicyChoice>(), &[]),
            ("SemVerPolicy", fields_of::<SemVerPolicy>(), &[]),
            ("OrderPolicy", fields_of::<OrderPolicy>(), &[]),
            ("FilterTags", fields_of::<FilterTags>(), &[]),
            ("ImageRef", fields_of::<LatestRef>(), &[]),
            ("ImagePolicyRef", fields_of::<ImagePolicyRef>(), &[]),
            ("GitAuth", fields_of::<GitAuth>(), &[]),
            // Flux's GitRepositoryRef: `semver` and `name` come from Flux manifests only.
            ("GitRef", fields_of::<GitRef>(), &["semver", "name"]),
            ("GitCheckout", fields_of::<GitCheckout>(), &[]),
            ("CommitAuthor", fields_of::<CommitAuthor>(), &[]),
            ("GitCommit", fields_of::<GitCommit>(), &[]),
            // Flux's Secret reference: `secretRef` and `type` come from Flux manifests only.
            (
                "SigningKey",
                fields_of::<SigningKey>(),
                &["secretRef", "type"],
            ),
            ("SigningKeyPair", fields_of::<KeyPair>(), &[]),
            ("GitPush", fields_of::<GitPush>(), &[]),
            ("GitSpec", fields_of::<GitArgs>(), &[]),
            ("UpdateStrategy", fields_of::<UpdateStrategy>(), &[]),
            ("PullRequest", fields_of::<PullRequestArgs>(), &[]),
            ("GitRepositoryRef", fields_of::<ObjectRef>(), &[]),
        ] {
            assert!(!fields.is_empty(), "{name}: no fields recorded");
            agree(name, object(name), fields, not_in_schema);
        }
    }
}
