//! Property: whatever the inputs, rendering never panics, and whatever it
//! renders is valid against the real Flux CRD schemas and the core Secret
//! rules (bad inputs are `InvalidInput` errors at render time, never objects
//! the API server would refuse).

use imageautomation_kube::{
    CommitAuthor, DigestReflectionPolicy, Error, GitAuth, GitCommit, GitInput, GitPush, GitRef,
    ImagePolicyInput, ImageRepositoryInput, Manifest, ObjectRef, Order, Policy,
    RegistryCredentials, SecretsMode, TlsCertificate, UpdateAutomationInput, render_image_policy,
    render_image_repository, render_update_automation,
};
use imageautomation_tests::kube_schema;
use proptest::prelude::*;
use secrecy::SecretString;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]{1,5})?",
        1 => "[A-Za-z0-9._-]{0,12}",
        1 => "[a-z]{60,70}",
    ]
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?",
        1 => "[A-Za-z0-9._-]{0,12}",
    ]
}

fn duration() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        8 => "[0-9]{1,3}(ms|s|m|h)([0-9]{1,2}(s|m))?",
        1 => ".{0,6}",
    ])
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[ -~]{0,12}")
}

fn assert_valid(result: Result<Vec<Manifest>, Error>) -> Result<(), TestCaseError> {
    match result {
        Ok(manifests) => {
            for m in &manifests {
                if let Err(errors) = kube_schema::validate(m.expose_body()) {
                    return Err(TestCaseError::fail(format!(
                        "{} invalid: {errors:?}\n{:#}",
                        m.key(),
                        m.redacted()
                    )));
                }
            }
            Ok(())
        }
        Err(Error::InvalidInput { .. }) => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!("unexpected error {other}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn image_repositories_render_valid_or_not_at_all(
        namespace in namespace(), repo in name(), image in "[a-z0-9./:-]{0,24}",
        interval in duration(), timeout in duration(),
        exclusion in prop::option::of(prop::collection::vec("[ -~]{0,8}", 0..30)),
        insecure: bool, suspend: bool,
        creds in prop::option::of(prop_oneof![
            ("[a-z]{1,8}", "[ -~]{0,12}").prop_map(|(u, p)| (Some(u), p)),
            "[ -~]{0,30}".prop_map(|c| (None, c)),
        ]),
        ca in opt_text(), cert in opt_text(), key in opt_text(), omit: bool,
    ) {
        let input = ImageRepositoryInput {
            namespace, name: repo, image, interval, timeout, exclusion_list: exclusion,
            insecure, suspend,
            credentials: creds.map(|(user, secret)| match user {
                Some(username) => RegistryCredentials::Basic { username, password: SecretString::from(secret) },
                None => RegistryCredentials::DockerConfigJson(SecretString::from(secret)),
            }),
            certificate: Some(TlsCertificate { ca_pem: ca, cert_pem: cert, key_pem: key.map(SecretString::from) }),
            provider: None,
            proxy: None,
        };
        let mode = if omit { SecretsMode::Omit } else { SecretsMode::Include };
        assert_valid(render_image_repository(&input, mode))?;
    }

    #[test]
    fn image_policies_render_valid_or_not_at_all(
        namespace in namespace(), policy_name in name(), repo in name(), repo_ns in prop::option::of(name()),
        kind in 0..3u8, range in "[ -~]{0,10}", desc in prop::option::of(any::<bool>()),
        pattern in opt_text(), extract in opt_text(), drp in prop::option::of(0..3u8),
        interval in duration(), suspend: bool,
    ) {
        let order = desc.map(|d| if d { Order::Desc } else { Order::Asc });
        let input = ImagePolicyInput {
            namespace, name: policy_name,
            image_repository_ref: ObjectRef { namespace: repo_ns, name: repo },
            policy: match kind {
                0 => Policy::Semver { range },
                1 => Policy::Alphabetical { order },
                _ => Policy::Numerical { order },
            },
            filter_tags_pattern: pattern, filter_tags_extract: extract,
            digest_reflection_policy: match drp {
                Some(1) => DigestReflectionPolicy::IfNotPresent,
                Some(2..) => DigestReflectionPolicy::Always,
                _ => DigestReflectionPolicy::Never,
            },
            interval, suspend,
        };
        assert_valid(render_image_policy(&input).map(|m| vec![m]))?;
    }

    #[test]
    fn automations_render_valid_or_not_at_all(
        namespace in namespace(), automation in name(), interval in duration(),
        source in prop::option::of((prop::option::of(name()), name())),
        url in prop_oneof![
            "https://[a-z]{1,8}\\.example/[a-z/]{1,10}",
            "ssh://git@[a-z]{1,8}/[a-z/]{1,10}",
            "git@[a-z]{1,8}:[a-z/]{1,10}",
            "[ -~]{0,16}",
        ],
        auth in prop::option::of(0..3u8), ca in opt_text(),
        branch in opt_text(), tag in opt_text(), commit in opt_text(),
        author in opt_text(), email in "[ -~]{0,12}", template in opt_text(),
        values in prop::collection::btree_map("[a-z]{1,5}", "[ -~]{0,5}", 0..3),
        push_branch in opt_text(), refspec in opt_text(),
        options in prop::collection::btree_map("[a-z]{1,5}", "[ -~]{0,5}", 0..3),
        path in opt_text(),
        policies in prop::collection::vec((prop_oneof![4 => Just(None), 1 => namespace().prop_map(Some)], name()), 0..4),
        suspend: bool, omit: bool,
    ) {
        let input = UpdateAutomationInput {
            namespace, name: automation, interval,
            source_ref: source.map(|(namespace, name)| ObjectRef { namespace, name }),
            git: GitInput {
                url,
                auth: auth.map(|a| match a {
                    0 => GitAuth::Token(SecretString::from("t")),
                    1 => GitAuth::Basic { username: "u".into(), password: SecretString::from("p") },
                    _ => GitAuth::Ssh { private_key: SecretString::from("k"), known_hosts: "h".into(), passphrase: None },
                }),
                ca_pem: ca,
                proxy: None,
                checkout: Some(GitRef { branch, tag, commit, ..GitRef::default() }),
                commit: GitCommit {
                    author: CommitAuthor { name: author.unwrap_or_default(), email },
                    message_template: template,
                    message_template_values: values,
                    signing_key: None,
                },
                push: GitPush { branch: push_branch, refspec, options },
            },
            update_path: path,
            policies: policies.into_iter().map(|(namespace, name)| ObjectRef { namespace, name }).collect(),
            suspend,
        };
        let mode = if omit { SecretsMode::Omit } else { SecretsMode::Include };
        assert_valid(render_update_automation(&input, mode))?;
    }
}
