//! The plugin's launch contract and provider configuration, driven as the
//! Pulumi engine drives them (tests/src/engine.rs).

use imageautomation_tests::engine::Plugin;
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
