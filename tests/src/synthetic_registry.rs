//! A synthetic OCI registry for fleet-sized benchmarks: thousands of repositories and millions
//! of tags served on loopback without storing them (issue #14 part 3, `tests/benches/fleet.rs`).
//!
//! The Debian `docker-registry` the other tests use keeps one directory per tag, so 2,000,000
//! tags would be 2,000,000 directories; and distribution 2.8 does not paginate tags. This
//! server answers the part of the distribution API the scanner uses
//! (`imageautomation-registry` `client.rs`), as distribution v3 answers it:
//!
//! - `GET /v2/`: `200 {}` (the API version check);
//! - `GET /v2/<name>/tags/list?n=<n>&last=<last>`: `{"name", "tags"}` with the repository's
//!   tags in byte order after `last`, at most `n` of them (default and maximum
//!   [`MAX_PAGE_SIZE`]), and, when more follow, `Link: </v2/<name>/tags/list?last=<tag>&n=<n>>;
//!   rel="next"` (distribution `registry/handlers/tags.go` `createLinkEntry`);
//! - an unknown repository: `404` with the OCI error envelope (`NAME_UNKNOWN`);
//! - `/v2/<name>/manifests/<reference>` (any method): counted, then `404 MANIFEST_UNKNOWN`;
//!   the scanner must never ask (no `minimumAge`, `platforms` or digest reflection here).
//!
//! Tags are generated from the repository name ([`Repository::tag`]): a repository is its
//! name, its [`TagScheme`] and its tag count, nothing is stored on disk, and a page is cut from
//! the repository's sorted tag list, made on its first listing (or by
//! [`SyntheticRegistry::warm`]) and kept in memory: about 60 bytes a tag, 120 MiB for
//! 2,000,000. Every request is counted per route ([`SyntheticRegistry::counts`]), and so are
//! accepted connections.
//!
//! Anonymous, plain HTTP, on `127.0.0.1:0`, on a runtime of its own (two worker threads, like
//! a server process), so the caller may block (run a child process) while it serves.

pub mod fleet;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The largest page served, and the page size when the request gives no `n`. Also the `n` the
/// scanner sends (`imageautomation_registry` `PAGE_SIZE`, GGCR's default).
pub const MAX_PAGE_SIZE: usize = 1000;

/// The Zipf offset of [`Catalog::fleet`]'s tag counts: tag count ∝ `1 / (rank + 5)`.
const ZIPF_OFFSET: f64 = 5.0;

/// The fewest tags a repository of [`Catalog::fleet`] gets (fewer when the fleet's average is
/// lower): enough for every semver range of [`Repository::policy`] to select a tag.
const MIN_TAGS: usize = 60;

/// SplitMix64's output function (Steele, Lea and Flood, 2014): spreads consecutive integers
/// over 64 bits, so tags look random but are a pure function of the repository and index.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a repository's tags look, and which policy selects among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagScheme {
    /// Releases `1.2.3` (a quarter of the repositories write `v1.2.3`), every tenth a
    /// `-rc.1` prerelease, and every 25th tag a cosign signature `sha256-<64 hex>.sig` (dropped
    /// by Flux's default `exclusionList`). Policy: a semver range.
    Semver,
    /// One tag per CI build, `main-<7 hex>-<unix seconds>`, and every fifth a pull request's
    /// `pr-<n>-<7 hex>-<unix seconds>`. Policy: numerical `asc` over the timestamp that
    /// `filterTags` `^main-[a-f0-9]+-(?P<ts>[0-9]+)` extracts (the Flux guide's example).
    CiBuild,
    /// Timestamped releases `RELEASE.2024-05-17T06-12-44Z` (MinIO's scheme). Policy:
    /// alphabetical, half of the repositories over the timestamp `filterTags` extracts.
    Release,
}

/// One repository of the synthetic registry: a name, a [`TagScheme`] and a tag count.
#[derive(Debug, Clone)]
pub struct Repository {
    /// The repository path (`team-07/app-0042`), as in `registry/repository`.
    pub name: String,
    /// How its tags look.
    pub scheme: TagScheme,
    /// How many tags it has, signatures and unselectable tags included.
    pub tag_count: usize,
    /// From the name: picks the `v` prefix and the policy variant, and seeds the tags.
    seed: u64,
}

impl Repository {
    /// A repository named `name` (a repository path) with `tag_count` tags of `scheme`.
    pub fn new(name: &str, scheme: TagScheme, tag_count: usize) -> Repository {
        let digest = Sha256::digest(name.as_bytes());
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&digest[..8]);
        Repository {
            name: name.to_owned(),
            scheme,
            tag_count,
            seed: u64::from_le_bytes(seed),
        }
    }

    /// The `i`-th tag (`i < tag_count`), a pure function of the name, scheme and `i`; tags of
    /// one repository are all different.
    pub fn tag(&self, i: usize) -> String {
        let index = i as u64;
        let h = mix(self.seed ^ mix(index));
        match self.scheme {
            TagScheme::Semver => {
                if i % 25 == 24 {
                    let hex: String = (0..4)
                        .map(|k| format!("{:016x}", mix(h.wrapping_add(k))))
                        .collect();
                    return format!("sha256-{hex}.sig");
                }
                let prefix = if (self.seed >> 8).is_multiple_of(4) {
                    "v"
                } else {
                    ""
                };
                let (major, minor, patch) = (1 + i / 400, (i / 20) % 20, i % 20);
                let pre = if i % 10 == 7 { "-rc.1" } else { "" };
                format!("{prefix}{major}.{minor}.{patch}{pre}")
            }
            TagScheme::CiBuild => {
                let sha = h >> 36;
                let ts = 1_690_000_000 + index * 600 + h % 600;
                if i % 5 == 4 {
                    format!("pr-{}-{sha:07x}-{ts}", 1000 + i / 5)
                } else {
                    format!("main-{sha:07x}-{ts}")
                }
            }
            TagScheme::Release => {
                // Four releases a day on 28-day months: every date exists, no calendar needed.
                let day = i / 4;
                let (year, month, date) = (2019 + day / 336, 1 + (day / 28) % 12, 1 + day % 28);
                let hour = (i % 4) as u64 * 6 + h % 6;
                let (minute, second) = ((h >> 8) % 60, (h >> 16) % 60);
                format!("RELEASE.{year}-{month:02}-{date:02}T{hour:02}-{minute:02}-{second:02}Z")
            }
        }
    }

    /// Every tag, in generation order.
    pub fn tags(&self) -> Vec<String> {
        (0..self.tag_count).map(|i| self.tag(i)).collect()
    }

    /// Every tag in byte order, as distribution lists them.
    pub fn sorted_tags(&self) -> Vec<String> {
        let mut tags = self.tags();
        tags.sort_unstable();
        tags
    }

    /// How many `tags/list` pages a complete listing takes with `n = page_size`: at least one
    /// (an empty repository still answers one page).
    pub fn pages(&self, page_size: usize) -> usize {
        self.tag_count.div_ceil(page_size.max(1)).max(1)
    }

    /// The ImagePolicy `spec` fragment meant for this repository (`policy`, and `filterTags`
    /// where the scheme needs it), in Flux's JSON shape. Semver ranges vary by repository:
    /// `>=1.0.0`, `^1.0.0`, `~1.2`, `>=1.0.0 <M.0.0` (`M` its greatest major); each selects a
    /// tag when the repository has at least 60.
    pub fn policy(&self) -> Value {
        match self.scheme {
            TagScheme::Semver => {
                let greatest_major = 1 + self.tag_count.saturating_sub(1) / 400;
                let range = match self.seed % 4 {
                    0 => ">=1.0.0".to_owned(),
                    1 => "^1.0.0".to_owned(),
                    2 => "~1.2".to_owned(),
                    _ => format!(">=1.0.0 <{}.0.0", greatest_major.max(2)),
                };
                json!({"policy": {"semver": {"range": range}}})
            }
            TagScheme::CiBuild => json!({
                "policy": {"numerical": {"order": "asc"}},
                "filterTags": {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"},
            }),
            TagScheme::Release if self.seed.is_multiple_of(2) => json!({
                "policy": {"alphabetical": {"order": "asc"}},
                "filterTags": {"pattern": "^RELEASE\\.(?P<timestamp>.*)Z$", "extract": "$timestamp"},
            }),
            TagScheme::Release => json!({"policy": {"alphabetical": {}}}),
        }
    }
}

/// The repositories a [`SyntheticRegistry`] serves.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    repositories: Vec<Repository>,
    by_name: HashMap<String, usize>,
}

impl Catalog {
    /// A catalog of `repositories`.
    ///
    /// # Panics
    /// When two repositories have the same name.
    pub fn new(repositories: Vec<Repository>) -> Catalog {
        let mut by_name = HashMap::with_capacity(repositories.len());
        for (i, r) in repositories.iter().enumerate() {
            assert!(
                by_name.insert(r.name.clone(), i).is_none(),
                "repository {} twice",
                r.name
            );
        }
        Catalog {
            repositories,
            by_name,
        }
    }

    /// A fleet of `images` repositories holding `total_tags` tags in all, skewed as real
    /// fleets are: tag counts follow a Zipf law (∝ `1 / (rank + 5)`) above a floor of 60 (or
    /// the average, when lower), ranks shuffled over the names. With 5,000 images and
    /// 2,000,000 tags: the greatest 51,026 tags, 20 repositories with 10,000 or more, median
    /// 156, 5,894 pages of 1,000.
    ///
    /// Names are `team-<NN>/app-<NNNN>` (50 teams); schemes cycle by index: 60 % [`TagScheme::Semver`],
    /// 25 % [`TagScheme::CiBuild`], 15 % [`TagScheme::Release`].
    ///
    /// # Panics
    /// When `images` is 0 or `total_tags < images`.
    pub fn fleet(images: usize, total_tags: usize) -> Catalog {
        assert!(
            images > 0 && total_tags >= images,
            "a fleet needs an image and a tag per image"
        );
        let floor = MIN_TAGS.min(total_tags / images);
        let weights: Vec<f64> = (0..images)
            .map(|rank| 1.0 / (rank as f64 + ZIPF_OFFSET))
            .collect();
        let sum: f64 = weights.iter().sum();
        let spread = (total_tags - floor * images) as f64;
        let mut counts: Vec<usize> = weights
            .iter()
            .map(|w| floor + (spread * w / sum) as usize)
            .collect();
        let rounded: usize = counts.iter().sum();
        counts[0] += total_tags - rounded;
        // Which index gets which rank: sorted by a hash of the index.
        let mut order: Vec<usize> = (0..images).collect();
        order.sort_by_key(|&i| mix(i as u64));
        let mut rank_of = vec![0; images];
        for (rank, &i) in order.iter().enumerate() {
            rank_of[i] = rank;
        }
        let repositories = (0..images)
            .map(|i| {
                let scheme = match i % 20 {
                    0..12 => TagScheme::Semver,
                    12..17 => TagScheme::CiBuild,
                    _ => TagScheme::Release,
                };
                let name = format!("team-{:02}/app-{i:04}", i % 50);
                Repository::new(&name, scheme, counts[rank_of[i]])
            })
            .collect();
        Catalog::new(repositories)
    }

    /// The repositories, in the order given.
    pub fn repositories(&self) -> &[Repository] {
        &self.repositories
    }

    /// The repository named `name`.
    pub fn get(&self, name: &str) -> Option<&Repository> {
        self.by_name.get(name).map(|&i| &self.repositories[i])
    }

    /// Tags in all repositories.
    pub fn total_tags(&self) -> usize {
        self.repositories.iter().map(|r| r.tag_count).sum()
    }

    /// `tags/list` requests a complete listing of every repository takes at
    /// `n = `[`MAX_PAGE_SIZE`]: the floor of any scan of the whole fleet.
    pub fn tag_pages(&self) -> usize {
        self.repositories
            .iter()
            .map(|r| r.pages(MAX_PAGE_SIZE))
            .sum()
    }
}

/// What the server has been asked, per route, since it started. Subtract two snapshots for
/// one measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// TCP connections accepted (plain HTTP or not: a TLS probe counts here only).
    pub connections: u64,
    /// `GET /v2/`.
    pub base: u64,
    /// `GET /v2/<name>/tags/list` answered with a page.
    pub tag_pages: u64,
    /// Bytes of the tag page bodies.
    pub tag_bytes: u64,
    /// Tags in those pages.
    pub tags: u64,
    /// Requests for a repository that does not exist (404 `NAME_UNKNOWN`).
    pub not_found: u64,
    /// Any request under `/v2/<name>/manifests/` (tag metadata: must stay 0).
    pub manifests: u64,
    /// Anything else (blobs, other paths, other methods).
    pub other: u64,
    /// Tags generated for sorted lists (first listings, [`SyntheticRegistry::warm`]), and the
    /// time spent generating and sorting them: the server's own share of the work.
    pub generated_tags: u64,
    /// See [`RequestCounts::generated_tags`].
    pub generate_time: Duration,
}

impl std::ops::Sub for RequestCounts {
    type Output = RequestCounts;

    fn sub(self, earlier: RequestCounts) -> RequestCounts {
        RequestCounts {
            connections: self.connections - earlier.connections,
            base: self.base - earlier.base,
            tag_pages: self.tag_pages - earlier.tag_pages,
            tag_bytes: self.tag_bytes - earlier.tag_bytes,
            tags: self.tags - earlier.tags,
            not_found: self.not_found - earlier.not_found,
            manifests: self.manifests - earlier.manifests,
            other: self.other - earlier.other,
            generated_tags: self.generated_tags - earlier.generated_tags,
            generate_time: self.generate_time.saturating_sub(earlier.generate_time),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    base: AtomicU64,
    tag_pages: AtomicU64,
    tag_bytes: AtomicU64,
    tags: AtomicU64,
    not_found: AtomicU64,
    manifests: AtomicU64,
    other: AtomicU64,
    generated_tags: AtomicU64,
    generate_nanos: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> RequestCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestCounts {
            connections: get(&self.connections),
            base: get(&self.base),
            tag_pages: get(&self.tag_pages),
            tag_bytes: get(&self.tag_bytes),
            tags: get(&self.tags),
            not_found: get(&self.not_found),
            manifests: get(&self.manifests),
            other: get(&self.other),
            generated_tags: get(&self.generated_tags),
            generate_time: Duration::from_nanos(get(&self.generate_nanos)),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

#[derive(Clone)]
struct Shared {
    catalog: Arc<Catalog>,
    counters: Arc<Counters>,
    /// Each repository's sorted tags, made on its first listing and kept.
    sorted: Arc<Vec<OnceLock<Vec<String>>>>,
}

impl Shared {
    fn sorted_tags(&self, index: usize) -> &[String] {
        self.sorted[index].get_or_init(|| {
            let started = Instant::now();
            let tags = self.catalog.repositories[index].sorted_tags();
            add(&self.counters.generated_tags, tags.len() as u64);
            add(
                &self.counters.generate_nanos,
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            );
            tags
        })
    }
}

/// The running synthetic registry; stops when dropped.
pub struct SyntheticRegistry {
    addr: SocketAddr,
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SyntheticRegistry {
    /// Starts serving `catalog` on `127.0.0.1:0`, on a thread and tokio runtime of its own.
    ///
    /// # Panics
    /// When the runtime cannot start or 127.0.0.1:0 cannot be bound.
    pub fn start(catalog: Arc<Catalog>) -> SyntheticRegistry {
        let sorted = (0..catalog.repositories.len())
            .map(|_| OnceLock::new())
            .collect();
        let shared = Shared {
            catalog,
            counters: Arc::new(Counters::default()),
            sorted: Arc::new(sorted),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("synthetic-registry")
            .enable_all()
            .build()
            .expect("the registry's runtime starts");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
                [127, 0, 0, 1],
                0,
            ))))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let counters = Arc::clone(&shared.counters);
        let listener = listener.tap_io(move |stream| {
            add(&counters.connections, 1);
            // As distribution (Go) does: no Nagle delay on small answers.
            let _ = stream.set_nodelay(true);
        });
        let app = Router::new()
            .route("/v2/", get(base))
            .route("/v2/{*path}", any(dispatch))
            .fallback(other)
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("synthetic-registry".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .expect("spawn the registry thread");
        SyntheticRegistry {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `127.0.0.1:PORT/<repository>`, a `spec.image`.
    pub fn image(&self, repository: &str) -> String {
        format!("{}/{repository}", self.addr)
    }

    /// The catalog served.
    pub fn catalog(&self) -> &Catalog {
        &self.shared.catalog
    }

    /// Makes every repository's sorted tag list now rather than on its first listing, so
    /// that measurements that follow see a server with nothing left to generate. Returns how
    /// long it took.
    pub fn warm(&self) -> Duration {
        let started = Instant::now();
        for index in 0..self.shared.catalog.repositories.len() {
            self.shared.sorted_tags(index);
        }
        started.elapsed()
    }

    /// The counters since the start.
    pub fn counts(&self) -> RequestCounts {
        self.shared.counters.snapshot()
    }
}

impl Drop for SyntheticRegistry {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The OCI error envelope (distribution `registry/api/errcode`).
fn oci_error(status: StatusCode, code: &str, message: &str, name: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message, "detail": {"name": name}}]});
    (status, api_headers(), axum::Json(body)).into_response()
}

fn api_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::HeaderName::from_static("docker-distribution-api-version"),
        HeaderValue::from_static("registry/2.0"),
    )]
}

async fn base(State(shared): State<Shared>) -> Response {
    add(&shared.counters.base, 1);
    (api_headers(), axum::Json(json!({}))).into_response()
}

async fn other(State(shared): State<Shared>) -> Response {
    add(&shared.counters.other, 1);
    oci_error(StatusCode::NOT_FOUND, "UNSUPPORTED", "not served here", "")
}

/// `/v2/<name>/tags/list`, `/v2/<name>/manifests/<reference>`, anything else under `/v2/`.
async fn dispatch(State(shared): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let rest = path.strip_prefix("/v2/").unwrap_or_default();
    if let Some((name, _reference)) = rest.rsplit_once("/manifests/") {
        add(&shared.counters.manifests, 1);
        return oci_error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown (the synthetic registry serves tag lists only)",
            name,
        );
    }
    match (rest.strip_suffix("/tags/list"), request.method()) {
        (Some(name), &Method::GET) => tags_page(&shared, name, request.uri().query()),
        _ => {
            add(&shared.counters.other, 1);
            oci_error(
                StatusCode::NOT_FOUND,
                "UNSUPPORTED",
                "not served here",
                rest,
            )
        }
    }
}

/// A tags page, as distribution writes it.
#[derive(serde::Serialize)]
struct TagList<'a> {
    name: &'a str,
    tags: &'a [String],
}

fn tags_page(shared: &Shared, name: &str, query: Option<&str>) -> Response {
    let Some(&index) = shared.catalog.by_name.get(name) else {
        add(&shared.counters.not_found, 1);
        return oci_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
            name,
        );
    };
    let mut n = MAX_PAGE_SIZE;
    let mut last: Option<String> = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "n" => match value.parse::<usize>() {
                Ok(v) => n = v.min(MAX_PAGE_SIZE),
                Err(_) => {
                    add(&shared.counters.other, 1);
                    return oci_error(
                        StatusCode::BAD_REQUEST,
                        "PAGINATION_NUMBER_INVALID",
                        "invalid number of results requested",
                        name,
                    );
                }
            },
            "last" => last = Some(value.into_owned()),
            _ => {}
        }
    }
    let sorted = shared.sorted_tags(index);
    let start = match &last {
        Some(last) => sorted.partition_point(|t| t.as_str() <= last.as_str()),
        None => 0,
    };
    let end = (start + n).min(sorted.len());
    let page = &sorted[start..end];
    let body = serde_json::to_vec(&TagList { name, tags: page })
        .expect("a JSON object of strings serialises");
    add(&shared.counters.tag_pages, 1);
    add(&shared.counters.tags, page.len() as u64);
    add(&shared.counters.tag_bytes, body.len() as u64);
    let mut response = (
        api_headers(),
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    if end < sorted.len()
        && let Some(last) = page.last()
    {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("last", last)
            .append_pair("n", &n.to_string())
            .finish();
        let link = format!("</v2/{name}/tags/list?{query}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_has_the_sizes_asked_for_and_distinct_tags() {
        let catalog = Catalog::fleet(200, 100_000);
        assert_eq!(catalog.repositories().len(), 200);
        assert_eq!(catalog.total_tags(), 100_000);
        for r in catalog.repositories() {
            let mut tags = r.sorted_tags();
            tags.dedup();
            assert_eq!(tags.len(), r.tag_count, "{}", r.name);
        }
    }

    /// The scanner's own paging loop reads every tag in one request per page, and the server
    /// answers unknown repositories and manifests as distribution does.
    #[test]
    fn the_scanner_lists_every_page_once() {
        use imageautomation_registry::{
            ClientOptions, Credentials, ImageReference, RegistryClient,
        };

        let repository = Repository::new("team-00/app-0000", TagScheme::Semver, 2_500);
        let registry = SyntheticRegistry::start(Arc::new(Catalog::new(vec![repository.clone()])));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = RegistryClient::new(&ClientOptions::default()).expect("client");
        let image = ImageReference::parse(&registry.image(&repository.name), true).expect("image");
        let tags = runtime
            .block_on(client.list_tags(&image, &Credentials::Anonymous))
            .expect("list");
        assert_eq!(tags, repository.sorted_tags());
        assert_eq!(registry.counts().tag_pages, 3);

        let http = reqwest::Client::new();
        let get = |path: &str| {
            let url = format!("http://{}{path}", registry.host());
            runtime.block_on(async { http.get(url).send().await.expect("GET") })
        };
        let first = get("/v2/team-00/app-0000/tags/list?n=2");
        let link = first.headers()[header::LINK]
            .to_str()
            .expect("ASCII")
            .to_owned();
        let page: Value = runtime.block_on(first.json()).expect("JSON");
        let sorted = repository.sorted_tags();
        assert_eq!(page["tags"], json!(sorted[..2]));
        assert_eq!(
            link,
            format!(
                "</v2/team-00/app-0000/tags/list?last={}&n=2>; rel=\"next\"",
                sorted[1]
            )
        );
        let unknown = get("/v2/team-00/nope/tags/list");
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let envelope: Value = runtime.block_on(unknown.json()).expect("JSON");
        assert_eq!(envelope["errors"][0]["code"], "NAME_UNKNOWN");
        assert_eq!(
            get("/v2/team-00/app-0000/manifests/1.0.0").status(),
            StatusCode::NOT_FOUND
        );
        let counts = registry.counts();
        assert_eq!((counts.manifests, counts.not_found), (1, 1));
    }
}
