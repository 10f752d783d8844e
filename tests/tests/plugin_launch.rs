//! The plugin's launch contract and provider configuration, driven as the
//! Pulumi engine drives them (tests/src/engine.rs).

use imageautomation_tests::engine::{Plugin, Urn};
use serde_json::json;

#[tokio::test]
async fn launches_answers_the_handshake_and_exits_on_cancel_and_sigint() {
    let mut plugin = Plugin::start(&[]).await;
    let schema: serde_json::Value =
        serde_json::from_str(&plugin.schema().await).expect("GetSchema returns JSON");
    assert_eq!(schema["name"], "imageautomation");
    assert_eq!(schema["version"], env!("CARGO_PKG_VERSION"));
    let (status, _) = plugin.stop().await;
    assert!(status.success() || status.code().is_none(), "{status:?}");
}

#[tokio::test]
async fn config_arrives_as_strings_and_the_token_stays_secret() {
    let token = "ghp_configsecret1234567890";
    let mut plugin = Plugin::start(&[]).await;
    let checked = plugin
        .configure(json!({
            "githubToken": token,
            "registryAuth": "[{\"address\":\"127.0.0.1:5000\",\"username\":\"u\",\"password\":\"p\"}]",
            "fluxNamespace": "flux-system",
            "version": "0.1.0",
        }))
        .await
        .expect("configuration is accepted");
    assert!(imageautomation_proto::codec::is_secret(
        &checked["githubToken"]
    ));
    assert_eq!(checked["registryAuth"][0]["address"], "127.0.0.1:5000");
    let logs = plugin.logs();
    let (_, output) = plugin.stop().await;
    for message in logs
        .iter()
        .map(|l| l.message.as_str())
        .chain([output.as_str()])
    {
        assert!(!message.contains(token), "the token leaked: {message}");
    }
}

#[tokio::test]
async fn bad_config_is_a_check_failure_with_the_key() {
    let mut plugin = Plugin::start(&[]).await;
    let response = plugin
        .client
        .check_config(imageautomation_proto::pulumirpc::CheckRequest {
            news: Some(imageautomation_proto::codec::to_struct(
                &json!({"fluxNamespace": "Not_Valid"}),
            )),
            ..Default::default()
        })
        .await
        .expect("CheckConfig answers")
        .into_inner();
    assert_eq!(response.failures.len(), 1);
    assert_eq!(response.failures[0].property, "fluxNamespace");
    plugin.stop().await;
}

#[tokio::test]
async fn a_new_image_or_flux_identity_replaces_the_resource_and_other_changes_update_it() {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let urn = imageautomation_tests::engine::Urn::new("imageautomation:index:ImageRepository", "r");
    let old =
        json!({"image": "ghcr.io/a/b", "interval": "5m", "namespace": "flux-system", "name": "r"});
    let new_image =
        json!({"image": "ghcr.io/a/c", "interval": "5m", "namespace": "flux-system", "name": "r"});
    let diff = plugin
        .diff(&urn, "ghcr.io/a/b", &old, &old, &new_image)
        .await
        .expect("Diff");
    assert_eq!(diff.changes, 2);
    assert_eq!(diff.replaces, vec!["image".to_owned()]);
    assert_eq!(diff.detailed_diff["image"].kind, 5, "UPDATE_REPLACE");
    let new_interval =
        json!({"image": "ghcr.io/a/b", "interval": "1m", "namespace": "flux-system", "name": "r"});
    let diff = plugin
        .diff(&urn, "ghcr.io/a/b", &old, &old, &new_interval)
        .await
        .expect("Diff");
    assert!(diff.replaces.is_empty());
    assert_eq!(diff.detailed_diff["interval"].kind, 4, "UPDATE");
    let same = plugin
        .diff(&urn, "ghcr.io/a/b", &old, &old, &old)
        .await
        .expect("Diff");
    assert_eq!(same.changes, 1, "DIFF_NONE");
    plugin.stop().await;
}

/// A new stack's preview where an upstream output is not known yet: `Check`
/// passes the unknowns through without failures and `Create(preview)`
/// returns the computed outputs as unknowns (engine guide, section (b)).
#[tokio::test]
async fn unknown_inputs_are_tolerated_in_preview() {
    use imageautomation_proto::codec::{UNKNOWN, is_unknown};
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let cases = [
        (
            "imageautomation:index:ImageRepository",
            json!({"image": UNKNOWN}),
            "tags",
        ),
        (
            "imageautomation:index:ImagePolicy",
            json!({"imageRepositoryRef": UNKNOWN, "policy": {"semver": {"range": "5.0.x"}}}),
            "latestRef",
        ),
        (
            "imageautomation:index:UpdateAutomation",
            json!({"git": {"url": UNKNOWN, "commit": {"author": {"email": "a@b.c"}}}, "policies": UNKNOWN}),
            "changes",
        ),
    ];
    for (token, news, computed) in cases {
        let urn = imageautomation_tests::engine::Urn::new(token, "u");
        let checked = plugin
            .check(&urn, &json!({}), &news)
            .await
            .expect("Check answers")
            .unwrap_or_else(|f| panic!("{token}: no failures for unknowns, got {f:?}"));
        let (_, outputs, _) = plugin
            .create(&urn, &checked, true)
            .await
            .expect("Create(preview)");
        assert!(
            is_unknown(&outputs[computed]),
            "{token}: {computed} = {}",
            outputs[computed]
        );
    }
    plugin.stop().await;
}

/// A value the program marked secret comes back secret from Check on any path, also where
/// the schema marks nothing (`git.url`, `messageTemplateValues`), and so do the outputs that
/// copy it (a preview Create with unknown policies, which makes no network call).
#[tokio::test]
async fn secretness_survives_check_on_any_path() {
    use imageautomation_proto::codec::{UNKNOWN, is_secret, secret};
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let urn = Urn::new("imageautomation:index:UpdateAutomation", "fleet");
    let news = json!({
        "git": {
            "url": secret(json!("https://git.example.com/org/secret-fleet.git")),
            "commit": {
                "author": {"name": "a", "email": "a@b.c"},
                "messageTemplateValues": {"ticket": secret(json!("SECRET-1234"))},
            },
        },
        "policies": UNKNOWN,
    });
    let checked = plugin
        .check(&urn, &json!({}), &news)
        .await
        .expect("Check answers")
        .expect("valid inputs");
    assert!(is_secret(&checked["git"]["url"]), "{checked}");
    assert!(
        is_secret(&checked["git"]["commit"]["messageTemplateValues"]["ticket"]),
        "{checked}"
    );
    let (_, outputs, _) = plugin.create(&urn, &checked, true).await.expect("preview");
    assert!(is_secret(&outputs["git"]["url"]), "{outputs}");
    assert!(
        is_secret(&outputs["git"]["commit"]["messageTemplateValues"]["ticket"]),
        "{outputs}"
    );
    plugin.stop().await;
}

/// A secret `image` makes what the scan derives from it secret (its canonical name, tags and
/// `imageRepositoryRef`); a plain one leaves them plain, so previews can show them.
#[tokio::test(flavor = "multi_thread")]
async fn scan_outputs_of_a_secret_image_are_secret() {
    use imageautomation_proto::codec::{is_secret, secret};
    let registry = imageautomation_tests::registry::Registry::anonymous();
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let urn = Urn::new("imageautomation:index:ImageRepository", "app");
    for marked in [true, false] {
        let image = json!(registry.image("team/app"));
        let image = if marked { secret(image) } else { image };
        let inputs =
            json!({"image": image, "interval": "1m", "namespace": "flux-system", "name": "app"});
        let (_, outputs, _) = plugin.create(&urn, &inputs, false).await.expect("create");
        for key in ["canonicalImageName", "tags", "imageRepositoryRef"] {
            assert_eq!(is_secret(&outputs[key]), marked, "{key}: {outputs}");
        }
    }
    plugin.stop().await;
}
