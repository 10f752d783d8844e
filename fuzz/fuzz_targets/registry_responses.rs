//! What a registry sends back: `Link` and `Retry-After` headers, tags pages, error envelopes,
//! token answers, manifests and indexes, `WWW-Authenticate` challenges. Each is parsed as the
//! client parses it, without a panic; a next link is resolved against the page URL as the
//! paging loop does (relative references included).
#![no_main]

use imageautomation_registry::fuzzing::{bodies, next_link, retry_after};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(link) = next_link(data) {
        let page = url::Url::parse("https://registry.example.com/v2/team/app/tags/list?n=1000")
            .expect("a valid URL");
        if let Ok(next) = page.join(&link) {
            let _ = next.origin() == page.origin();
        }
    }
    let _ = retry_after(data);
    bodies(data);
});
