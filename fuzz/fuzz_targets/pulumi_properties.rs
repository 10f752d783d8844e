//! Pulumi property values into the resource model: arbitrary JSON (with Pulumi's secret and
//! unknown sentinels anywhere) through the protobuf `Struct` codec, revealed, then parsed as
//! each resource's inputs; shape errors name a property and never panic.
#![no_main]

use imageautomation_model::args::{
    ImagePolicyArgs, ImageRepositoryArgs, UpdateAutomationArgs, parse,
};
use imageautomation_proto::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if !value.is_object() {
        return;
    };
    let wire = codec::to_struct(&value);
    let back = codec::from_struct(Some(&wire));
    let _ = codec::contains_unknown(&back);
    let (plain, _) = codec::reveal(&back);
    let _ = parse::<ImageRepositoryArgs>(&plain).map(|a| a.access());
    let _ = parse::<ImagePolicyArgs>(&plain).map(|a| a.selection());
    if let Ok(args) = parse::<UpdateAutomationArgs>(&plain) {
        let _ = args.latest_refs();
        if let Some(key) = &args.git.commit.signing_key {
            let _ = key.inline();
        }
        if let Some(proxy) = &args.git.proxy {
            let _ = proxy.url();
        }
    }
});
