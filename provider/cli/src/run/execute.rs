//! Running a plan: scans, selections and automations through the engine.

use super::REGISTRY_ATTEMPTS;
use super::plan::{Plan, PolicyTask, RepositoryTask};
use super::print::{describe_checkout, print_outcome};
use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;

use imageautomation_engine::reconcile::{
    AutomationRequest, MetadataCache, PolicyRequest, RunMode, run_update_automation,
    scan_image_repository, select_image,
};
use imageautomation_engine::{
    DigestRequest, REGISTRY_RETRY, Scheduler, SchedulerConfig, TlsOptions,
};
use imageautomation_model::policy_options::Downgrade;
use imageautomation_update::{DowngradeGuards, LatestRef, Policies};

impl Plan {
    /// Scans, selects and runs the automations; returns how many reconciles failed.
    pub(super) async fn reconcile(self, mode: RunMode) -> usize {
        let scheduler = Scheduler::new(SchedulerConfig {
            retry: REGISTRY_RETRY.with_max_times(REGISTRY_ATTEMPTS - 1),
            ..SchedulerConfig::default()
        });
        let mut failures = 0;
        let now = chrono::Utc::now();

        // Each repository is scanned and its policies selected in one future; a few run at
        // once (the scheduler bounds each registry) and the tag list is dropped as soon as its
        // policies are selected, so a fleet of 5,000 repositories never holds every list.
        // `buffered` keeps the file order for printing.
        let mut policies_of: BTreeMap<&str, Vec<&PolicyTask>> = BTreeMap::new();
        for task in &self.policies {
            policies_of.entry(&task.repository).or_default().push(task);
        }
        let known = MetadataCache::new();
        let repositories = self.repositories.iter().map(|task| {
            let scheduler = &scheduler;
            let known = &known;
            let policies = policies_of.get(task.id.as_str());
            async move {
                let scan = scan_image_repository(scheduler, &task.request, None, now).await;
                let mut selections = Vec::new();
                let scan = scan.map(|scan| scan.result);
                if let Ok(result) = &scan {
                    // `hold` without a previous latestRef (a run keeps none): nothing to select.
                    for policy in policies.into_iter().flatten().filter(|p| !p.options.hold) {
                        let selection = select_image(
                            scheduler,
                            policy_request(task, policy, &result.tags, now, known),
                        )
                        .await;
                        selections.push((policy.id.as_str(), selection));
                    }
                    scheduler.forget(&task.request);
                }
                (task, scan.map(|result| result.tags.len()), selections)
            }
        });
        let outcomes: Vec<_> = futures_util::stream::iter(repositories)
            .buffered(REPOSITORIES_IN_FLIGHT)
            .collect()
            .await;

        if !self.repositories.is_empty() {
            println!("\nImageRepositories:");
        }
        let mut selections = BTreeMap::new();
        for (task, scan, policies) in outcomes {
            match scan {
                Ok(tags) => {
                    println!(
                        "  {}: scanned {}: {tags} tag{}",
                        task.id,
                        task.image,
                        if tags == 1 { "" } else { "s" }
                    );
                    selections.extend(policies);
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("error: ImageRepository {}: {e}", task.id);
                    println!("  {}: scan failed (see the error)", task.id);
                }
            }
        }

        let mut selected: BTreeMap<String, LatestRef> = BTreeMap::new();
        if !self.policies.is_empty() {
            println!("\nImagePolicies:");
        }
        let mut held = BTreeSet::new();
        for task in &self.policies {
            if task.options.hold {
                println!(
                    "  {}: held: nothing selected, its markers are left as they are",
                    task.id
                );
                held.insert(task.id.clone());
                continue;
            }
            let Some(selection) = selections.remove(task.id.as_str()) else {
                failures += 1;
                eprintln!(
                    "error: ImagePolicy {}: ImageRepository {} has no tags because its scan failed",
                    task.id, task.repository
                );
                println!("  {}: not selected (its ImageRepository failed)", task.id);
                continue;
            };
            match selection {
                Ok(status) => {
                    println!("  {}: selected {}", task.id, status.latest_ref);
                    for p in &status.passed_over {
                        println!("    passed over {}: {}", p.tag, p.reason);
                    }
                    selected.insert(task.id.clone(), status.latest_ref);
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("error: ImagePolicy {}: {e}", task.id);
                    println!("  {}: nothing selected (see the error)", task.id);
                }
            }
        }

        let policy_tasks: BTreeMap<&str, &PolicyTask> =
            self.policies.iter().map(|p| (p.id.as_str(), p)).collect();
        if !self.automations.is_empty() {
            println!("\nImageUpdateAutomations:");
        }
        for task in self.automations {
            let mut policies = Policies::new();
            let mut downgrade_guards = DowngradeGuards::new();
            let mut missing = Vec::new();
            for id in &task.policies {
                match selected.get(id) {
                    Some(latest) => {
                        let marker = id.replacen('/', ":", 1);
                        if let Some(policy) = policy_tasks
                            .get(id.as_str())
                            .filter(|p| p.options.downgrade == Downgrade::Deny)
                        {
                            downgrade_guards.insert(marker.clone(), policy.selector.clone());
                        }
                        policies.insert(marker, latest.clone());
                    }
                    None if held.contains(id) => {}
                    None => missing.push(id),
                }
            }
            let id = task.id.clone();
            let update_path = task.update_path.clone();
            println!(
                "  {id}: {} ({}), update.path {}, {} polic{}",
                task.write_back.url,
                describe_checkout(&task.write_back),
                update_path,
                policies.len(),
                if policies.len() == 1 { "y" } else { "ies" }
            );
            for policy in missing {
                println!(
                    "    ImagePolicy {policy} has no latestRef (it failed or is suspended): its markers are left as they are"
                );
            }
            let request = AutomationRequest {
                write_back: task.write_back,
                update_path: task.update_path,
                policies,
                downgrade_guards,
                pull_request: None,
            };
            match run_update_automation(request, mode).await {
                Ok(outcome) => print_outcome(&update_path, &outcome, mode),
                Err(e) => {
                    failures += 1;
                    eprintln!("error: ImageUpdateAutomation {id}: {e}");
                    println!("    failed (see the error)");
                }
            }
        }
        failures
    }
}

/// Repositories scanned and selected at once by `imageautomation run`: enough to keep each
/// registry's permits busy, few enough that peak memory holds only this many tag lists.
const REPOSITORIES_IN_FLIGHT: usize = 16;

/// The selection inputs of `policy` over its repository's `tags`.
fn policy_request<'a>(
    repository: &'a RepositoryTask,
    policy: &'a PolicyTask,
    tags: &'a [String],
    now: chrono::DateTime<chrono::Utc>,
    known_metadata: &'a MetadataCache,
) -> PolicyRequest<'a> {
    PolicyRequest {
        selector: &policy.selector,
        image: &repository.image,
        tags,
        digest_reflection: policy.digest_reflection,
        digest_access: DigestRequest {
            image: repository.image.clone(),
            insecure: repository.request.insecure,
            tag: String::new(),
            credentials: repository.request.credentials.clone(),
            tls: TlsOptions::default(),
            proxy: repository.request.proxy.clone(),
            provider: repository.request.provider,
            timeout: repository.request.timeout,
        },
        previous: None,
        previous_observed: None,
        options: &policy.options,
        known_metadata,
        now,
    }
}
