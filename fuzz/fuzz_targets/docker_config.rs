//! Docker config JSON (`~/.docker/config.json`, `.dockerconfigjson`): any bytes parse or fail
//! with a message that does not echo the file (it holds passwords).
#![no_main]

use imageautomation_registry::DockerConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match DockerConfig::from_json(data, "fuzz input") {
        Ok(config) => {
            let _ = config.credentials_for("ghcr.io");
            let _ = config.credentials_for("index.docker.io");
            let _ = format!("{config:?}");
        }
        Err(e) => {
            let message = format!("{e} {e:?}");
            if let Ok(text) = std::str::from_utf8(data) {
                let text = text.trim();
                assert!(
                    text.len() < 12 || !message.contains(text),
                    "the error echoes its input: {message}"
                );
            }
        }
    }
});
