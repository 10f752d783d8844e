//! One ImageRepository reconcile: scan when due, else keep the stored result
//! (Flux IRC `imagerepository_controller.go` `shouldScan`, flux-spec 3.2).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use imageautomation_registry::{ExclusionList, ImageReference, ScanResult};

use super::ReconcileError;
use crate::{ScanReason, ScanRequest, Scheduler, TagSource, should_scan};

/// The outcome of [`scan_image_repository`].
#[derive(Debug, Clone)]
pub struct RepositoryScan {
    /// The stored result: new when scanned (shared with the scheduler's store, not copied:
    /// a repository can hold 10,000+ tags), else the previous one.
    pub result: Arc<ScanResult>,
    /// Why the registry was scanned, `None` when the previous result was kept.
    pub scanned: Option<ScanReason>,
}

/// Scans `request.image` when a scan is due against `previous` (the result
/// kept from the last run, e.g. in Pulumi state): never scanned, the image or
/// the exclusion list changed, `request.force`, or `request.interval` has
/// passed since `previous.lastScanResult.scanTime` (at `now`). Otherwise
/// returns `previous` unchanged without any network access.
///
/// # Errors
/// [`ReconcileError::Registry`]: an invalid image or exclusion list, or a scan
/// that failed after the scheduler's retries.
pub async fn scan_image_repository<S: TagSource>(
    scheduler: &Scheduler<S>,
    request: &ScanRequest,
    previous: Option<&ScanResult>,
    now: DateTime<Utc>,
) -> Result<RepositoryScan, ReconcileError> {
    let invalid = |source| {
        ReconcileError::Registry(crate::Error::Invalid {
            source: Arc::new(source),
        })
    };
    let image = ImageReference::parse(&request.image, request.insecure).map_err(invalid)?;
    let exclusion = ExclusionList::new(request.exclusion_list.as_deref()).map_err(invalid)?;
    let previous_with_age = previous.map(|p| {
        let age = (now - p.last_scan_result.scan_time)
            .to_std()
            .unwrap_or(Duration::ZERO);
        (p, age)
    });
    let decision = should_scan(
        previous_with_age,
        &image.canonical_name(),
        exclusion.patterns(),
        request.interval,
        request.force,
    );
    match (decision.scan, previous) {
        (None, Some(previous)) => Ok(RepositoryScan {
            result: Arc::new(previous.clone()),
            scanned: None,
        }),
        (reason, _) => {
            let result = scheduler.scan(request).await?;
            Ok(RepositoryScan {
                result,
                scanned: Some(reason.unwrap_or(ScanReason::FirstScan)),
            })
        }
    }
}
