//! What `imageautomation run` prints about a checkout and an automation's outcome.

use imageautomation_engine::reconcile::{
    AutomationOutcome, RunMode, describe_changes, repository_path,
};
use imageautomation_git::{CheckoutRef, WriteBackSpec};

pub(super) fn describe_checkout(spec: &WriteBackSpec) -> String {
    let checkout = match &spec.checkout {
        CheckoutRef::Branch(b) => format!("branch {b}"),
        CheckoutRef::Tag(t) => format!("tag {t}"),
        CheckoutRef::Commit(c) => format!("commit {}", short(c)),
    };
    match &spec.push_branch {
        Some(push) if !matches!(&spec.checkout, CheckoutRef::Branch(b) if b == push) => {
            format!("{checkout}, push to {push}")
        }
        _ => checkout,
    }
}

pub(super) fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

pub(super) fn print_outcome(update_path: &str, outcome: &AutomationOutcome, mode: RunMode) {
    let lines = describe_changes(update_path, &outcome.changes);
    for skipped in &outcome.changes.skipped {
        println!(
            "    {}: left untouched: {}",
            repository_path(update_path, &skipped.path),
            skipped.reason
        );
    }
    for refused in &outcome.changes.refused {
        println!(
            "    {}: kept {} of {}: the selection would downgrade it to {} (downgrade: Deny)",
            repository_path(update_path, &refused.path),
            refused.current_tag,
            refused.policy,
            refused.selected_tag
        );
    }
    if lines.is_empty() {
        let earlier = match outcome.earlier_push {
            Some(_) => ", this automation's update pushed by an earlier run",
            None => "",
        };
        println!(
            "    no change: the markers are up to date (at commit {}{earlier})",
            short(&outcome.checkout_commit)
        );
        return;
    }
    let verb = if mode == RunMode::Preview {
        "would change"
    } else {
        "changed"
    };
    for line in &lines {
        println!("    {verb} {line}");
    }
    match (&outcome.push, mode) {
        (Some(push), _) => println!(
            "    pushed commit {} to branch {}",
            short(&push.commit),
            push.branch
        ),
        (None, RunMode::Preview) => {
            println!("    --dry-run: nothing written, committed or pushed; the pending changes:");
            for file in &outcome.changes.files {
                if let Some(diff) = &file.diff {
                    let full = repository_path(update_path, &file.path);
                    let diff = diff
                        .replacen(&format!("--- a/{}", file.path), &format!("--- a/{full}"), 1)
                        .replacen(&format!("+++ b/{}", file.path), &format!("+++ b/{full}"), 1);
                    print!("{diff}");
                }
            }
        }
        (None, RunMode::Apply) => println!("    nothing pushed: the commit was empty"),
    }
}
