//! Clone, update, commit and push: Flux IAC's checkout / commit / push
//! sequence (flux-spec 5.2-5.4, IAC `internal/source/source.go`) on libgit2.
//!
//! # Push-branch policy
//!
//! Every push is a fast-forward; this crate never force-pushes, neither the
//! checkout branch nor a separate automation branch. Flux force-pushes a
//! separate push branch (`GitForcePushBranch`, flux-spec 5.4), which silently
//! drops commits that people added to that branch (review fixes on the
//! automation pull request). Force is unnecessary here because the update is
//! always computed on top of the existing remote push branch when there is one
//! (flux-spec 5.2), so the new commit descends from the remote head. When
//! someone else pushes between our fetch and our push, the push is rejected as
//! non-fast-forward; we fetch the new head, redo the update on it and push
//! again, as [`PUSH_RETRY`] allows (exponential backoff with jitter). When the connection
//! breaks during a push, the remote branch is listed again: if it points at the commit just
//! pushed, the push landed and is reported as pushed; otherwise the push is tried again within
//! the same retries, and when they run out the error is returned with the branch as it was
//! (the next run redoes the update from the remote head, or recognises a push that landed
//! after all: [`EarlierPush`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use git2::{
    FetchOptions, IndexAddOption, Oid, PushOptions, Repository, ResetType, Signature,
    build::CheckoutBuilder,
};

use crate::auth::{Auth, CallbackState, RemoteUrl, Scheme, Trust, callbacks, network_error};
use crate::changes::{ChangeSet, NamespacedName};
use crate::error::Error;
use crate::signing::{Signer, SigningKey};
use crate::template::{MessageTemplate, TemplateData};

pub use imageautomation_model::CheckoutRef;

/// `git.commit.author`: author and committer of the automation's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitAuthor {
    /// Name, e.g. `"Flux Bot"`.
    pub name: String,
    /// E-mail address, e.g. `"flux@example.com"`.
    pub email: String,
}

/// Retries of a push overtaken by another push: 4 (5 pushes in all), waiting 200 ms, then
/// twice as long each time up to 5 s, plus up to as much again at random (backon's jitter) so
/// that automations racing for one branch spread out.
pub const PUSH_RETRY: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(200))
    .with_max_delay(Duration::from_secs(5))
    .with_max_times(4)
    .with_jitter();

/// Everything needed to write an update back to a Git repository: the
/// GitRepository's URL and secret, and the ImageUpdateAutomation's `git`
/// spec.
#[derive(Debug, Clone)]
pub struct WriteBackSpec {
    /// The remote: `https://host/org/repo.git`, `http://...`,
    /// `ssh://user@host[:port]/org/repo.git`, `user@host:org/repo.git` or
    /// `file:///path/repo.git`. Must not contain a password.
    pub url: String,
    /// Credentials and trust (CA bundle, known_hosts).
    pub auth: Auth,
    /// `git.checkout.ref`.
    pub checkout: CheckoutRef,
    /// `git.push.branch`; `None` pushes to the checkout branch (an error when
    /// the checkout is a tag or commit).
    pub push_branch: Option<String>,
    /// `git.push.refspec`, pushed after the branch, e.g.
    /// `"refs/heads/auto:refs/heads/other"`.
    pub push_refspec: Option<String>,
    /// `git.push.options`: push options sent as `key=value` (`key` alone when
    /// the value is empty); the server must advertise push options.
    pub push_options: BTreeMap<String, String>,
    /// `git.commit.author`.
    pub author: CommitAuthor,
    /// `git.commit.messageTemplate`; `None` or empty: Flux's default message.
    pub message_template: Option<String>,
    /// `git.commit.messageTemplateValues` (`.Values`).
    pub message_template_values: BTreeMap<String, String>,
    /// `git.commit.signingKey`: sign each commit (OpenPGP or SSH); `None` leaves commits
    /// unsigned.
    pub signing_key: Option<SigningKey>,
    /// The automation object (`.AutomationObject`).
    pub automation_object: NamespacedName,
    /// Retries of overtaken pushes; [`PUSH_RETRY`] as Flux's controller does it.
    pub retry: ExponentialBuilder,
    /// Fetch only the tip commits (Flux's default `GitShallowClone`). Default
    /// `true`; `file://` remotes are always fetched in full (libgit2's local
    /// transport has no shallow support).
    pub shallow: bool,
    /// When the update changes nothing, check whether the push branch's head is this
    /// automation's own update of its parent, pushed by an earlier run that was cut short
    /// ([`WriteBackResult::earlier_push`]); costs one more fetch on a shallow clone and two
    /// more runs of the update. Only useful when the update writes (not in a preview).
    pub find_earlier_push: bool,
}

/// What a successful push did (Flux's `PushResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushResult {
    /// The branch pushed to.
    pub branch: String,
    /// The commit pushed, 40 hex digits.
    pub commit: String,
    /// The commit message.
    pub message: String,
    /// The extra refspecs pushed (`git.push.refspec`).
    pub refspecs: Vec<String>,
}

impl PushResult {
    /// Flux's event text (IAC `source.go:478-492`): `pushed commit '<7 chars>'
    /// to branch '<b>'[ and refspecs '<r1>', '<r2>']` plus `\n<message>` when
    /// the message is not empty.
    pub fn summary(&self) -> String {
        let short: String = self.commit.chars().take(7).collect();
        let mut s = format!("pushed commit '{short}' to branch '{}'", self.branch);
        if !self.refspecs.is_empty() {
            let quoted: Vec<String> = self.refspecs.iter().map(|r| format!("'{r}'")).collect();
            s.push_str(&format!(" and refspecs {}", quoted.join(", ")));
        }
        if !self.message.is_empty() {
            s.push('\n');
            s.push_str(&self.message);
        }
        s
    }
}

/// The result of [`commit_and_push`].
#[derive(Debug, Clone)]
pub struct WriteBackResult {
    /// The commit checked out (`git.checkout.ref`), 40 hex digits: Flux's
    /// `observedSourceRevision` when nothing was pushed. When the push branch
    /// is the checkout branch and a push race made us refetch, the refetched
    /// head.
    pub checkout_commit: String,
    /// The push, `None` when the update changed nothing (no commit, no push).
    pub push: Option<PushResult>,
    /// When nothing changed and the push branch's head is the commit this automation makes
    /// from that head's parent: an earlier run's push (one whose answer was lost, or whose
    /// process was killed after the push), which this run found done. See [`EarlierPush`].
    pub earlier_push: Option<EarlierPush>,
    /// What the (last) update changed.
    pub changes: ChangeSet,
    /// Pushes tried: 0 when nothing changed at the first attempt; after a
    /// lost race the update is redone, and may then find nothing to change.
    pub push_attempts: u32,
}

/// A commit on the push branch recognised as this automation's update by
/// [`commit_and_push`]: its head has one parent, the automation's author and committer, and
/// exactly the tree that the update makes from that parent. Lets a run that finds nothing to
/// do report the last push as an uninterrupted run would have (Flux's `lastPushCommit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierPush {
    /// The commit, 40 hex digits.
    pub commit: String,
    /// Its committer time, seconds since the Unix epoch.
    pub time: i64,
}

/// Clones `spec.url` into a temporary directory, checks out
/// `spec.checkout`, switches to the push branch (on top of the remote push
/// branch when it exists, else from the checkout commit), runs `update` on the
/// work tree root, and when files changed commits them with the rendered
/// message and pushes (fast-forward only, retried when overtaken, see the
/// module doc). The temporary clone is removed on return.
///
/// `update` receives the work tree root (join `update.path` to it) and returns
/// what it changed; it may run more than once (once per push attempt), each
/// time on a fresh checkout of the current remote head.
///
/// Blocking (libgit2); call it from `spawn_blocking` in async code.
///
/// # Errors
/// Template errors before any network access; [`Error::Authentication`],
/// [`Error::HostKey`], [`Error::Certificate`], [`Error::Transport`],
/// [`Error::RefNotFound`] from the clone; [`Error::Update`] from `update`
/// (nothing is committed); [`Error::PushRejected`] and
/// [`Error::PushRaceLost`] from the push. See [`Error::is_transient`].
pub fn commit_and_push<F, E>(spec: &WriteBackSpec, mut update: F) -> Result<WriteBackResult, Error>
where
    F: FnMut(&Path) -> Result<ChangeSet, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    let template = MessageTemplate::commit_message(spec.message_template.as_deref())?;
    let signer = spec.signing_key.as_ref().map(Signer::new).transpose()?;
    let remote = RemoteUrl::parse(&spec.url)?;
    let push_branch = push_branch(spec)?;
    if let Some(refspec) = &spec.push_refspec {
        validate_refspec(refspec)?;
    }
    let switch_branch = !matches!(&spec.checkout, CheckoutRef::Branch(b) if *b == push_branch);
    let trust = Trust::new(&spec.auth, &remote)?;
    let session = Session {
        spec,
        remote: &remote,
        trust: &trust,
    };

    let dir = tempfile::Builder::new()
        .prefix("imageautomation-git-")
        .tempdir()
        .map_err(|source| Error::Io {
            operation: "create temporary directory in",
            path: std::env::temp_dir().display().to_string(),
            source,
        })?;
    let repo = Repository::init(dir.path()).map_err(local("init"))?;
    repo.remote("origin", &remote.url)
        .map_err(local("add remote"))?;

    let advertised = session.list_remote(&repo)?;
    let push_ref = format!("refs/heads/{push_branch}");
    let remote_push_head = advertised.get(&push_ref).copied();
    let shallow = spec.shallow && remote.scheme != Scheme::File;

    // Fetch the checkout ref (and the push branch when switching to it).
    let (checkout_oid, mut refspecs) = match &spec.checkout {
        CheckoutRef::Branch(b) => {
            let name = format!("refs/heads/{b}");
            if !advertised.contains_key(&name) {
                return Err(Error::RefNotFound {
                    kind: "branch",
                    name: b.clone(),
                    url: remote.display.clone(),
                });
            }
            (None, vec![format!("+{name}:refs/remotes/origin/{b}")])
        }
        CheckoutRef::Tag(t) => {
            let name = format!("refs/tags/{t}");
            if !advertised.contains_key(&name) {
                return Err(Error::RefNotFound {
                    kind: "tag",
                    name: t.clone(),
                    url: remote.display.clone(),
                });
            }
            (None, vec![format!("+{name}:{name}")])
        }
        CheckoutRef::Commit(c) => (
            Some(commit_oid(c)?),
            vec!["+refs/heads/*:refs/remotes/origin/*".to_string()],
        ),
    };
    if switch_branch && remote_push_head.is_some() {
        refspecs.push(format!("+{push_ref}:refs/remotes/origin/{push_branch}"));
    }
    let depth = (shallow && checkout_oid.is_none()).then_some(1);
    session.fetch(&repo, &refspecs, depth, "clone")?;

    let mut checkout_commit = match (&spec.checkout, checkout_oid) {
        (_, Some(oid)) => oid,
        (CheckoutRef::Branch(b), None) => repo
            .refname_to_id(&format!("refs/remotes/origin/{b}"))
            .map_err(local("resolve checkout branch"))?,
        (CheckoutRef::Tag(t), None) => repo
            .revparse_single(&format!("refs/tags/{t}^{{commit}}"))
            .map_err(local("resolve checkout tag"))?
            .id(),
        (CheckoutRef::Commit(c), None) => commit_oid(c)?,
    };
    if repo.find_commit(checkout_commit).is_err() {
        let (kind, name) = match &spec.checkout {
            CheckoutRef::Branch(b) => ("branch", b.clone()),
            CheckoutRef::Tag(t) => ("tag", t.clone()),
            CheckoutRef::Commit(c) => ("commit", c.clone()),
        };
        return Err(Error::RefNotFound {
            kind,
            name,
            url: remote.display.clone(),
        });
    }

    let mut base = match (switch_branch, remote_push_head) {
        (true, Some(head)) => head,
        _ => checkout_commit,
    };
    let signature = || {
        Signature::now(&spec.author.name, &spec.author.email).map_err(|e| Error::InvalidSpec {
            field: "git.commit.author",
            reason: e.message().to_string(),
        })
    };
    signature()?;

    let workdir = dir.path().to_path_buf();
    let mut attempt = 0u32;
    let mut delays = spec.retry.build();
    loop {
        reset_branch(&repo, &push_ref, base)?;
        let changes = update(&workdir).map_err(|e| Error::Update { source: e.into() })?;
        let Some(tree) = stage_all(&repo, base)? else {
            let earlier_push = spec
                .find_earlier_push
                .then(|| earlier_push(&session, &repo, &push_ref, base, &mut update))
                .flatten();
            return Ok(WriteBackResult {
                checkout_commit: checkout_commit.to_string(),
                push: None,
                earlier_push,
                changes,
                push_attempts: attempt,
            });
        };
        let message = template.render(&TemplateData {
            automation_object: spec.automation_object.clone(),
            changed: changes.clone(),
            values: spec.message_template_values.clone(),
        })?;
        let sig = signature()?;
        let parent = repo.find_commit(base).map_err(local("find parent"))?;
        let tree = repo.find_tree(tree).map_err(local("find tree"))?;
        let commit = match &signer {
            None => repo
                .commit(Some(&push_ref), &sig, &sig, &message, &tree, &[&parent])
                .map_err(local("commit"))?,
            Some(signer) => {
                let buffer = repo
                    .commit_create_buffer(&sig, &sig, &message, &tree, &[&parent])
                    .map_err(local("commit"))?;
                let buffer = std::str::from_utf8(&buffer).map_err(|_| Error::InvalidSpec {
                    field: "git.commit",
                    reason: "the commit message or author is not UTF-8".into(),
                })?;
                let signature = signer.sign(buffer.as_bytes())?;
                let commit = repo
                    .commit_signed(buffer, &signature, None)
                    .map_err(local("commit"))?;
                repo.reference(&push_ref, commit, true, "commit (signed)")
                    .map_err(local("commit"))?;
                commit
            }
        };
        attempt += 1;
        let branch_refspec = format!("{push_ref}:{push_ref}");
        let outcome = match session.push(&repo, &branch_refspec) {
            // The connection broke, perhaps after the server took the push: when the branch
            // is at our commit, it did; otherwise the push is tried again, as a lost race is.
            Err(e @ Error::Transport { .. }) => match session.list_remote(&repo) {
                Ok(refs) if refs.get(&push_ref) == Some(&commit) => PushOutcome::Pushed,
                _ => {
                    let Some(delay) = delays.next() else {
                        return Err(e);
                    };
                    std::thread::sleep(delay);
                    continue;
                }
            },
            // Refused for a reason that does not say "non-fast-forward": when the branch has
            // moved since it was fetched, another push won a race the server decided (two
            // pushes at once: "failed to update ref"), and the update is redone on top.
            Err(e @ Error::PushRejected { .. }) => match session.list_remote(&repo) {
                Ok(refs) if refs.get(&push_ref).is_some_and(|head| *head != base) => {
                    PushOutcome::Overtaken(e.to_string())
                }
                _ => return Err(e),
            },
            other => other?,
        };
        match outcome {
            PushOutcome::Pushed => {
                let mut pushed = Vec::new();
                if let Some(refspec) = &spec.push_refspec {
                    match session.push(&repo, refspec)? {
                        PushOutcome::Pushed => pushed.push(refspec.clone()),
                        PushOutcome::Overtaken(reason) => {
                            return Err(Error::PushRejected {
                                refspec: refspec.clone(),
                                url: remote.display.clone(),
                                reason,
                            });
                        }
                    }
                }
                return Ok(WriteBackResult {
                    checkout_commit: checkout_commit.to_string(),
                    earlier_push: None,
                    push: Some(PushResult {
                        branch: push_branch,
                        commit: commit.to_string(),
                        message,
                        refspecs: pushed,
                    }),
                    changes,
                    push_attempts: attempt,
                });
            }
            PushOutcome::Overtaken(_) => {
                let Some(delay) = delays.next() else {
                    return Err(Error::PushRaceLost {
                        branch: push_branch,
                        url: remote.display.clone(),
                        attempts: attempt,
                    });
                };
                std::thread::sleep(delay);
                let tracking = format!("refs/remotes/origin/{push_branch}");
                session.fetch(
                    &repo,
                    &[format!("+{push_ref}:{tracking}")],
                    shallow.then_some(1),
                    "fetch",
                )?;
                base = repo
                    .refname_to_id(&tracking)
                    .map_err(local("resolve fetched push branch"))?;
                if !switch_branch {
                    // The checkout branch itself moved: that is what we now
                    // build on, and what a no-change result reports.
                    checkout_commit = base;
                }
            }
        }
    }
}

/// Whether `head` is this automation's own update of its parent (see [`EarlierPush`]): the
/// parent is fetched when the clone is shallow, the update is run on it, and the tree
/// compared. The update then runs once more on `head`, so that its last run (which callers
/// may record) describes the tree returned. Anything that fails here means "not recognised".
fn earlier_push<F, E>(
    session: &Session<'_>,
    repo: &Repository,
    push_ref: &str,
    head: Oid,
    update: &mut F,
) -> Option<EarlierPush>
where
    F: FnMut(&Path) -> Result<ChangeSet, E>,
{
    let reopened;
    let author = &session.spec.author;
    let commit = repo.find_commit(head).ok()?;
    let ours = |s: git2::Signature<'_>| {
        s.name().ok() == Some(author.name.as_str()) && s.email().ok() == Some(author.email.as_str())
    };
    if !ours(commit.author()) || !ours(commit.committer()) {
        return None;
    }
    let repo = if commit.parent_count() == 0 && repo.is_shallow() {
        // A shallow clone shows the head without parents: fetch one more commit.
        let branch = push_ref.trim_start_matches("refs/heads/");
        let refspec = format!("+{push_ref}:refs/remotes/origin/{branch}");
        session.fetch(repo, &[refspec], Some(2), "fetch").ok()?;
        // libgit2 reads the shallow boundary when a repository is opened.
        reopened = Repository::open(repo.path()).ok()?;
        &reopened
    } else {
        repo
    };
    let commit = repo.find_commit(head).ok()?;
    if commit.parent_count() != 1 {
        return None;
    }
    let parent = commit.parent(0).ok()?.id();
    let workdir = repo.workdir()?.to_path_buf();
    let replayed = reset_branch(repo, push_ref, parent)
        .ok()
        .and_then(|()| update(&workdir).ok())
        .and_then(|_| stage_all(repo, parent).ok().flatten());
    let same = replayed == Some(commit.tree_id());
    // Back to the head, and the update's last run on it.
    reset_branch(repo, push_ref, head).ok()?;
    update(&workdir).ok()?;
    same.then(|| EarlierPush {
        commit: head.to_string(),
        time: commit.committer().when().seconds(),
    })
}

/// `git ls-remote`: every ref the remote advertises (`refs/heads/main`,
/// `refs/tags/v1`, peeled tags as `refs/tags/v1^{}`, `HEAD`) -> commit id (40
/// hex digits), without cloning. Lets a caller skip a clone when the checkout
/// branch has not moved since the last run (Flux passes the last observed
/// commit for the same purpose, flux-spec 5.1 step 6).
///
/// # Errors
/// [`Error::InvalidUrl`], [`Error::Authentication`], [`Error::HostKey`],
/// [`Error::Certificate`], [`Error::RepositoryNotFound`],
/// [`Error::Transport`].
pub fn list_remote_refs(url: &str, auth: &Auth) -> Result<BTreeMap<String, String>, Error> {
    let remote = RemoteUrl::parse(url)?;
    let trust = Trust::new(auth, &remote)?;
    let state = RefCell::new(CallbackState::default());
    let mut detached =
        git2::Remote::create_detached(remote.url.as_str()).map_err(local("remote"))?;
    let cb = callbacks(auth, &remote, &trust, &state);
    let conn = detached
        .connect_auth(
            git2::Direction::Fetch,
            Some(cb),
            Some(auth.proxy_options(&remote)?),
        )
        .map_err(|e| network_error("fetch", &remote, auth, &state, e))?;
    let refs = conn
        .list()
        .map_err(|e| network_error("fetch", &remote, auth, &state, e))?
        .iter()
        .map(|h| (h.name().to_string(), h.oid().to_string()))
        .collect();
    Ok(refs)
}

fn commit_oid(c: &str) -> Result<Oid, Error> {
    Oid::from_str(c).map_err(|_| Error::InvalidSpec {
        field: "git.checkout.ref.commit",
        reason: format!("{c:?} is not a commit SHA-1 (40 hex digits)"),
    })
}

fn local(operation: &'static str) -> impl Fn(git2::Error) -> Error {
    move |source| Error::Local { operation, source }
}

fn push_branch(spec: &WriteBackSpec) -> Result<String, Error> {
    let branch = match (&spec.push_branch, &spec.checkout) {
        (Some(b), _) if !b.is_empty() => b.clone(),
        (_, CheckoutRef::Branch(b)) => b.clone(),
        _ => {
            return Err(Error::InvalidSpec {
                field: "git.push.branch",
                reason: "push spec not provided, and cannot be inferred from the checkout ref (a tag or commit); set git.push.branch".into(),
            });
        }
    };
    if !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
        return Err(Error::InvalidSpec {
            field: "git.push.branch",
            reason: format!("{branch:?} is not a valid branch name"),
        });
    }
    Ok(branch)
}

fn validate_refspec(refspec: &str) -> Result<(), Error> {
    let (src, dst) = refspec.split_once(':').unwrap_or((refspec, refspec));
    let ok = !src.starts_with('+')
        && git2::Reference::is_valid_name(src)
        && git2::Reference::is_valid_name(dst);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSpec {
            field: "git.push.refspec",
            reason: format!(
                "{refspec:?} is not a refspec of the form refs/heads/<src>:refs/heads/<dst> (force '+' is not allowed)"
            ),
        })
    }
}

/// Points the push branch at `base`, checks it out and removes anything an
/// earlier attempt left in the work tree.
fn reset_branch(repo: &Repository, push_ref: &str, base: Oid) -> Result<(), Error> {
    repo.reference(push_ref, base, true, "imageautomation: reset push branch")
        .map_err(local("create push branch"))?;
    repo.set_head(push_ref).map_err(local("set HEAD"))?;
    let commit = repo
        .find_object(base, None)
        .map_err(local("find base commit"))?;
    let mut co = CheckoutBuilder::new();
    co.force().remove_untracked(true);
    repo.reset(&commit, ResetType::Hard, Some(&mut co))
        .map_err(local("checkout"))?;
    Ok(())
}

/// Stages every change in the work tree (additions, edits, deletions: Flux
/// stages everything `git status` reports) and returns the new tree, or
/// `None` when it equals the base commit's tree.
fn stage_all(repo: &Repository, base: Oid) -> Result<Option<Oid>, Error> {
    let mut index = repo.index().map_err(local("open index"))?;
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .map_err(local("stage"))?;
    index
        .update_all(["*"], None)
        .map_err(local("stage deletions"))?;
    index.write().map_err(local("write index"))?;
    let tree = index.write_tree().map_err(local("write tree"))?;
    let base_tree = repo
        .find_commit(base)
        .and_then(|c| c.tree())
        .map_err(local("read base tree"))?;
    Ok((tree != base_tree.id()).then_some(tree))
}

enum PushOutcome {
    Pushed,
    /// The remote ref moved (non-fast-forward); the reason is redacted.
    Overtaken(String),
}

struct Session<'a> {
    spec: &'a WriteBackSpec,
    remote: &'a RemoteUrl,
    trust: &'a Trust,
}

impl Session<'_> {
    fn error(&self, op: &'static str, state: &RefCell<CallbackState>, e: git2::Error) -> Error {
        network_error(op, self.remote, &self.spec.auth, state, e)
    }

    /// `git ls-remote`: the advertised refs (peeled tags as `<tag>^{}`).
    fn list_remote(&self, repo: &Repository) -> Result<BTreeMap<String, Oid>, Error> {
        let state = RefCell::new(CallbackState::default());
        let mut remote = repo.find_remote("origin").map_err(local("find remote"))?;
        let cb = callbacks(&self.spec.auth, self.remote, self.trust, &state);
        let proxy = self.spec.auth.proxy_options(self.remote)?;
        let conn = remote
            .connect_auth(git2::Direction::Fetch, Some(cb), Some(proxy))
            .map_err(|e| self.error("clone", &state, e))?;
        let heads = conn
            .list()
            .map_err(|e| self.error("clone", &state, e))?
            .iter()
            .map(|h| (h.name().to_string(), h.oid()))
            .collect();
        Ok(heads)
    }

    fn fetch(
        &self,
        repo: &Repository,
        refspecs: &[String],
        depth: Option<i32>,
        op: &'static str,
    ) -> Result<(), Error> {
        let state = RefCell::new(CallbackState::default());
        let mut remote = repo.find_remote("origin").map_err(local("find remote"))?;
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks(&self.spec.auth, self.remote, self.trust, &state));
        opts.proxy_options(self.spec.auth.proxy_options(self.remote)?);
        opts.download_tags(git2::AutotagOption::None);
        if let Some(depth) = depth {
            opts.depth(depth);
        }
        let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
        remote
            .fetch(&specs, Some(&mut opts), None)
            .map_err(|e| self.error(op, &state, e))
    }

    fn push(&self, repo: &Repository, refspec: &str) -> Result<PushOutcome, Error> {
        let state = RefCell::new(CallbackState::default());
        let mut remote = repo.find_remote("origin").map_err(local("find remote"))?;
        let options: Vec<String> = self
            .spec
            .push_options
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        let option_refs: Vec<&str> = options.iter().map(String::as_str).collect();
        let mut opts = PushOptions::new();
        opts.remote_callbacks(callbacks(&self.spec.auth, self.remote, self.trust, &state));
        opts.proxy_options(self.spec.auth.proxy_options(self.remote)?);
        if !option_refs.is_empty() {
            opts.remote_push_options(&option_refs);
        }
        let secrets = self.spec.auth.secrets();
        match remote.push(&[refspec], Some(&mut opts)) {
            Ok(()) => {}
            Err(e) if e.code() == git2::ErrorCode::NotFastForward => {
                return Ok(PushOutcome::Overtaken(crate::auth::redact(
                    e.message(),
                    &secrets,
                )));
            }
            Err(e) if e.message().contains("push-options not supported") => {
                return Err(Error::InvalidSpec {
                    field: "git.push.options",
                    reason: format!(
                        "{} does not accept push options (git: receive.advertisePushOptions); remove git.push.options or enable them on the server",
                        self.remote.display
                    ),
                });
            }
            Err(e) => return Err(self.error("push", &state, e)),
        }
        let rejected = std::mem::take(&mut state.borrow_mut().rejected);
        if let Some((_, msg)) = rejected.first() {
            let msg = crate::auth::redact(msg, &secrets);
            let lower = msg.to_ascii_lowercase();
            if lower.contains("non-fast-forward")
                || lower.contains("fetch first")
                || lower.contains("stale info")
                || lower.contains("failed to lock")
            {
                return Ok(PushOutcome::Overtaken(msg));
            }
            return Err(Error::PushRejected {
                refspec: refspec.to_string(),
                url: self.remote.display.clone(),
                reason: msg,
            });
        }
        Ok(PushOutcome::Pushed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_push_result_summaries() {
        // controller_cases.json iacPushResultSummary (IAC source_test.go
        // TestPushResult_Summary).
        let mut r = PushResult {
            branch: "test-branch".into(),
            commit: "a47b32f4814810acac804df5054ec37cbfdbfb53".into(),
            message: "test commit message".into(),
            refspecs: vec![],
        };
        assert_eq!(
            r.summary(),
            "pushed commit 'a47b32f' to branch 'test-branch'\ntest commit message"
        );
        r.message.clear();
        assert_eq!(
            r.summary(),
            "pushed commit 'a47b32f' to branch 'test-branch'"
        );
        r.message = "Update from image update automation".into();
        r.refspecs = vec![
            "refs/heads/auto:refs/heads/smth/else".into(),
            "refs/heads/auto:refs/heads/foo".into(),
        ];
        assert_eq!(
            r.summary(),
            "pushed commit 'a47b32f' to branch 'test-branch' and refspecs 'refs/heads/auto:refs/heads/smth/else', 'refs/heads/auto:refs/heads/foo'\nUpdate from image update automation"
        );
    }

    #[test]
    fn refspecs_with_force_are_refused() {
        assert!(validate_refspec("refs/heads/a:refs/heads/b").is_ok());
        assert!(validate_refspec("+refs/heads/a:refs/heads/b").is_err());
        assert!(validate_refspec("refs/heads/a b:refs/heads/b").is_err());
    }
}
