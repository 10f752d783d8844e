//! The provider config's `kubeconfig` (YAML or JSON contents, a path, or base64): any text is
//! read or refused with a message that does not echo it (the value is secret).
#![no_main]

use imageautomation_kube::fuzzing::kubeconfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(message) = kubeconfig(text) {
        // Any line of the value long enough to be a credential must not be in the message.
        for line in text.lines().map(str::trim).filter(|l| l.len() >= 16) {
            assert!(
                !message.contains(line),
                "the error echoes the kubeconfig: {message}"
            );
        }
    }
});
