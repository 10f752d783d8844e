//! Running a plan: scans, selections and automations through the engine.

use super::REGISTRY_ATTEMPTS;
use super::plan::Plan;
use super::print::{describe_checkout, print_outcome};
use std::collections::BTreeMap;

use imageautomation_engine::reconcile::{
    AutomationRequest, PolicyRequest, RunMode, run_update_automation, scan_image_repository,
    select_image,
};
use imageautomation_engine::{
    DigestRequest, REGISTRY_RETRY, Scheduler, SchedulerConfig, TlsOptions,
};
use imageautomation_update::{LatestRef, Policies};

impl Plan {
    /// Scans, selects and runs the automations; returns how many reconciles failed.
    pub(super) async fn reconcile(self, mode: RunMode) -> usize {
        let scheduler = Scheduler::new(SchedulerConfig {
            retry: REGISTRY_RETRY.with_max_times(REGISTRY_ATTEMPTS - 1),
            ..SchedulerConfig::default()
        });
        let mut failures = 0;
        let now = chrono::Utc::now();

        // Scans run concurrently (the scheduler bounds each registry); results print in file order.
        let scans = self.repositories.iter().map(|task| {
            let scheduler = &scheduler;
            async move { scan_image_repository(scheduler, &task.request, None, now).await }
        });
        let scans = futures_util::future::join_all(scans).await;
        let mut scanned = BTreeMap::new();
        if !self.repositories.is_empty() {
            println!("\nImageRepositories:");
        }
        for (task, scan) in self.repositories.iter().zip(scans) {
            match scan {
                Ok(scan) => {
                    let tags = scan.result.tags.len();
                    println!(
                        "  {}: scanned {}: {tags} tag{}",
                        task.id,
                        task.image,
                        if tags == 1 { "" } else { "s" }
                    );
                    scanned.insert(task.id.clone(), (task, scan.result.tags));
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
        for task in &self.policies {
            let Some((repository, tags)) = scanned.get(&task.repository) else {
                failures += 1;
                eprintln!(
                    "error: ImagePolicy {}: ImageRepository {} has no tags because its scan failed",
                    task.id, task.repository
                );
                println!("  {}: not selected (its ImageRepository failed)", task.id);
                continue;
            };
            let request = PolicyRequest {
                selector: &task.selector,
                image: &repository.image,
                tags,
                digest_reflection: task.digest_reflection,
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
            };
            match select_image(&scheduler, request).await {
                Ok(status) => {
                    println!("  {}: selected {}", task.id, status.latest_ref);
                    selected.insert(task.id.clone(), status.latest_ref);
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("error: ImagePolicy {}: {e}", task.id);
                    println!("  {}: nothing selected (see the error)", task.id);
                }
            }
        }

        if !self.automations.is_empty() {
            println!("\nImageUpdateAutomations:");
        }
        for task in self.automations {
            let mut policies = Policies::new();
            let mut missing = Vec::new();
            for id in &task.policies {
                match selected.get(id) {
                    Some(latest) => {
                        policies.insert(id.replacen('/', ":", 1), latest.clone());
                    }
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
