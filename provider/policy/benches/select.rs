//! Selection among 100,000 tags with a semver range and a `filterTags`
//! extract, against sorting the same list (the baseline, measured in the same
//! run). Target (issue #2): selection within 3x of the sort, under 50 ms.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use imageautomation_policy::{
    FilterTags, ImagePolicySpec, PolicyChoice, SemVerPolicy, TagSelector,
};

/// 100,000 tags as a busy repository has them: `app-MAJOR.MINOR.PATCH`
/// releases and prereleases, plus commit builds the filter drops.
fn tags() -> Vec<String> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..100_000)
        .map(|i| {
            let r = next();
            match i % 10 {
                0..=6 => format!("app-{}.{}.{}", r % 20, (r >> 8) % 50, (r >> 16) % 100),
                7 => format!(
                    "app-{}.{}.{}-rc.{}",
                    r % 20,
                    (r >> 8) % 50,
                    (r >> 16) % 100,
                    (r >> 24) % 5
                ),
                _ => format!("main-{:08x}-{}", r as u32, 1_600_000_000 + i),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tags = tags();
    let spec = ImagePolicySpec {
        policy: PolicyChoice {
            semver: Some(SemVerPolicy {
                range: ">=1.0.0 <15.0.0".into(),
            }),
            ..Default::default()
        },
        filter_tags: Some(FilterTags {
            pattern: r"^app-(?P<version>.*)$".into(),
            extract: "$version".into(),
        }),
    };
    let selector = TagSelector::new(&spec).expect("valid policy");
    let mut group = c.benchmark_group("select_100k");
    group.sample_size(30);
    group.bench_function("baseline_sort", |b| {
        b.iter_batched(
            || tags.clone(),
            |mut t| {
                t.sort_unstable();
                black_box(t)
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("semver_filter_extract", |b| {
        b.iter(|| black_box(selector.select_latest(black_box(&tags)).expect("a tag")))
    });
    group.bench_function("semver_filter_extract_explain", |b| {
        b.iter(|| black_box(selector.explain(black_box(&tags))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
