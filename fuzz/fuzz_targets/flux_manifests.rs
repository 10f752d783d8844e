//! `imageautomation run`'s and `render`'s reader of Flux manifests: any bytes as a YAML file
//! are read into typed objects or give errors that name the file, never a panic; reading the
//! same text twice gives the same objects.
#![no_main]

use std::path::Path;

use imageautomation_model::manifests::{Manifests, read_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let read = || {
        let mut manifests = Manifests::default();
        let mut errors = Vec::new();
        let path = Path::new("fleet/flux.yaml");
        read_file(text, Path::new("flux.yaml"), &mut manifests, &mut errors, path);
        (manifests, errors)
    };
    let (manifests, errors) = read();
    for e in &errors {
        assert_eq!(e.path, Path::new("fleet/flux.yaml"), "{e}");
        assert!(!e.message.is_empty());
    }
    let (again, errors_again) = read();
    assert_eq!(errors, errors_again);
    assert_eq!(format!("{manifests:?}"), format!("{again:?}"));
    for r in &manifests.repositories {
        assert!(r.origin.document >= 1 && !r.id().is_empty());
    }
});
