//! Commit message (and pull request) templates: Go `text/template` syntax with
//! Flux's data model and the sprig functions, rendered by the `gotmpl` crate.
//!
//! Flux renders `git.commit.messageTemplate` with Go's `text/template` named
//! `"commit message"` and `sprig.HermeticTxtFuncMap()` over
//! `TemplateData{AutomationObject, Changed, Values}` (IAC
//! `internal/source/source.go:374-413`). Two parts of that data model are Go
//! specific and are bridged here:
//!
//! - **Struct-keyed maps.** `.Changed.FileChanges` maps a file to a map keyed
//!   by an `ObjectIdentifier` struct, and `.Changed.Objects` is keyed by the
//!   same struct; templates write `range $obj, $changes := $objchange` and then
//!   `$obj.Kind`. `gotmpl` maps have string keys only, so such a map is stored
//!   with an encoded key (whose sort order equals Go's field-by-field struct
//!   order), and every two-variable `range` of the parsed template is rewritten
//!   to range over a helper that yields `{Key, Value}` entries with the key
//!   decoded back to an object. Single-variable ranges need no rewrite.
//! - **`.AutomationObject`** prints as `namespace/name` (Go's `Stringer`) and
//!   still has `.Name` and `.Namespace`: those field accesses are rewritten to
//!   a map beside it.
//! - **Removed fields.** `.Updated` and `.Changed.ImageResult` were removed by
//!   Flux; a template using them is refused with Flux's own message
//!   ([`crate::Error::RemovedTemplateField`]) before anything is committed.
//!
//! Known differences from Go: printing a whole object identifier (`{{ $obj }}`)
//! shows a map rather than Go's `{apps/v1 Deployment name ns}`; a misspelt
//! field is reported when the template is parsed where its root is known (`$`,
//! and dot outside `range`/`with`), elsewhere it prints `<no value>` where Go
//! reports an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::parse::{ActionNode, CommandNode, Expr, ListNode, Node, PipeNode, SmolStr};
use gotmpl::{Template, Value};

use crate::changes::{Change, ChangeSet, NamespacedName, ObjectIdentifier};
use crate::error::Error;

/// Flux's commit message when `git.commit.messageTemplate` is empty
/// (IAC `internal/source/source.go`, `defaultMessageTemplate`).
pub const DEFAULT_MESSAGE_TEMPLATE: &str = "Update from image update automation";

/// The name Flux gives the commit message template; parse errors name it.
pub const COMMIT_MESSAGE_TEMPLATE_NAME: &str = "commit message";

const RANGE_ENTRIES_FUNC: &str = "_imageautomation_range_entries";
const RANGE_ENTRY_VAR: &str = "$_imageautomation_entry";
const OBJECT_KEY_PREFIX: &str = "\u{0}ObjectIdentifier\u{0}";
/// Where `.AutomationObject.Name`/`.Namespace` are read from: Go's
/// `NamespacedName` prints as `ns/name` yet has fields, a `gotmpl` value is
/// either a string or a map, so field accesses are rewritten to this map.
const AUTOMATION_OBJECT_FIELDS: &str = "_imageautomation_AutomationObject";

const REMOVED_UPDATED: &str = "template uses removed '.Updated' field. Please use '.Changed' instead. See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template";
const REMOVED_IMAGE_RESULT: &str = "template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' or '.Changed.Objects' instead. See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template";

/// The data a message template sees: Flux's `TemplateData`.
#[derive(Debug, Clone, Default)]
pub struct TemplateData {
    /// `.AutomationObject`: the automation's `namespace/name`.
    pub automation_object: NamespacedName,
    /// `.Changed`: what the update changed.
    pub changed: ChangeSet,
    /// `.Values`: `messageTemplateValues` (empty when unset; a missing key
    /// prints `<no value>` with `.Values.key` and `""` with `index`).
    pub values: BTreeMap<String, String>,
}

/// A parsed message template, ready to render [`TemplateData`].
///
/// Parse once (to fail fast, before any clone), render after the update.
#[derive(Clone)]
pub struct MessageTemplate {
    name: String,
    template: Template,
}

impl std::fmt::Debug for MessageTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageTemplate")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MessageTemplate {
    /// Parses `source` (Go `text/template` syntax) as the template called
    /// `name` (e.g. [`COMMIT_MESSAGE_TEMPLATE_NAME`]).
    ///
    /// # Errors
    /// [`Error::TemplateParse`] naming the template when the syntax is wrong;
    /// [`Error::RemovedTemplateField`] when it uses `.Updated` or
    /// `.Changed.ImageResult` (Flux's removed fields).
    pub fn parse(name: &str, source: &str) -> Result<Self, Error> {
        Self::parse_for(name, source, DataModel::Commit)
    }

    /// [`MessageTemplate::parse`] for the data of `model`: the static field checks follow
    /// that model, and Flux's removed-field messages only apply to the commit data.
    fn parse_for(name: &str, source: &str, model: DataModel) -> Result<Self, Error> {
        let parse_error = |e: gotmpl::TemplateError| Error::TemplateParse {
            template: name.to_string(),
            message: e.to_string(),
        };
        let funcs = crate::sprig::func_map();
        let known: std::collections::BTreeSet<String> = funcs
            .keys()
            .cloned()
            .chain(GO_BUILTINS.iter().map(|s| s.to_string()))
            .collect();
        let mut template = Template::new(name)
            .max_range_iters(MAX_RANGE_ITERATIONS)
            .funcs(funcs)
            .func(RANGE_ENTRIES_FUNC, range_entries)
            .parse(source)
            .map_err(parse_error)?;
        // Rewrite every tree (the body and each {{define}}d template).
        let names: Vec<String> = template.templates().iter().map(|s| s.to_string()).collect();
        let mut rewritten = Vec::new();
        for tree_name in &names {
            if let Some(tree) = template.lookup(tree_name) {
                if model == DataModel::Commit {
                    check_removed_fields_list(tree)?;
                }
                check_functions_list(name, &known, tree)?;
                // The body runs with dot = the data; a {{define}} may not.
                check_fields_list(name, tree, tree_name == name, model)?;
                rewritten.push((tree_name.clone(), rewrite_list(tree.clone())));
            }
        }
        if !names.iter().any(|n| n == name) {
            // The body is not in the definition map: nothing to rewrite
            // is impossible, the parser always stores it; keep a clear error.
            return Err(Error::TemplateParse {
                template: name.to_string(),
                message: "template body not found after parsing".to_string(),
            });
        }
        for (tree_name, tree) in rewritten {
            template = template.add_parse_tree(&tree_name, tree);
        }
        Ok(MessageTemplate {
            name: name.to_string(),
            template,
        })
    }

    /// The commit message template of a spec: `messageTemplate`, or Flux's
    /// default message when it is `None` or empty.
    ///
    /// # Errors
    /// As [`MessageTemplate::parse`].
    pub fn commit_message(source: Option<&str>) -> Result<Self, Error> {
        let source = source
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_MESSAGE_TEMPLATE);
        Self::parse(COMMIT_MESSAGE_TEMPLATE_NAME, source)
    }

    /// The template's name (`"commit message"` for commits).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders the template over `data`.
    ///
    /// # Errors
    /// [`Error::TemplateExecute`] naming the template when execution fails
    /// (a function error, ranging over a string, ...).
    pub fn render(&self, data: &TemplateData) -> Result<String, Error> {
        self.render_value(&data_value(data))
    }

    fn render_value(&self, data: &Value) -> Result<String, Error> {
        let mut out = Bounded::default();
        let result = self
            .template
            .execute_template_fmt(&mut out, &self.name, data);
        let message = match result {
            Ok(()) => return Ok(out.text),
            Err(_) if out.overflowed => format!(
                "the rendered text is longer than the {} MiB limit",
                MAX_RENDERED_BYTES >> 20
            ),
            Err(e) => e.to_string(),
        };
        Err(Error::TemplateExecute {
            template: self.name.clone(),
            message,
        })
    }
}

/// Which data a template is rendered over, for the static field checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataModel {
    /// [`TemplateData`]: commit messages, pull request titles and bodies.
    Commit,
    /// [`BranchTemplateData`]: pull request branch names.
    Branch,
}

/// The name pull request branch templates have in errors.
pub const BRANCH_TEMPLATE_NAME: &str = "pull request branch";

/// The data a pull request branch template (`pullRequest.branch`) sees: one pull request
/// group (`pullRequest.groupBy`). Not Flux's (Flux has no pull requests).
#[derive(Debug, Clone, Default)]
pub struct BranchTemplateData {
    /// `.AutomationObject`: the automation's `namespace/name` (with `.Name`, `.Namespace`).
    pub automation_object: NamespacedName,
    /// `.Policy.Namespace`, `.Policy.Name`: the group's policy (`groupBy: policy`), or the
    /// first of its policies in `namespace:name` order (`groupBy: image`).
    pub policy: NamespacedName,
    /// `.Image`: the image the group's policies select, `latestRef.name` without tag, e.g.
    /// `ghcr.io/stefanprodan/podinfo`.
    pub image: String,
    /// `.NewTag`: the tag `.Policy` selects (`latestRef.tag`), e.g. `5.0.3`.
    pub new_tag: String,
    /// `.PushBranch`: `git.push.branch`.
    pub push_branch: String,
}

/// A parsed pull request branch template (`pullRequest.branch`): Go `text/template` syntax
/// and the sprig functions, as [`MessageTemplate`], over [`BranchTemplateData`].
#[derive(Debug, Clone)]
pub struct BranchTemplate {
    inner: MessageTemplate,
}

impl BranchTemplate {
    /// Parses `source`; misspelt fields of [`BranchTemplateData`] are refused here, as Go
    /// would refuse them when executing.
    ///
    /// # Errors
    /// [`Error::TemplateParse`] or [`Error::TemplateExecute`] naming
    /// [`BRANCH_TEMPLATE_NAME`].
    pub fn parse(source: &str) -> Result<Self, Error> {
        Ok(BranchTemplate {
            inner: MessageTemplate::parse_for(BRANCH_TEMPLATE_NAME, source, DataModel::Branch)?,
        })
    }

    /// Renders the branch name for `data`, surrounding white space removed.
    ///
    /// # Errors
    /// [`Error::TemplateExecute`]; [`Error::InvalidSpec`] on `pullRequest.branch` when the
    /// result is not a valid branch name (empty, `..`, `:`, a space, a component starting
    /// with `.`, ... as `git check-ref-format`).
    pub fn render(&self, data: &BranchTemplateData) -> Result<String, Error> {
        let text = self.inner.render_value(&branch_data_value(data))?;
        let branch = text.trim();
        if branch.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
            return Err(Error::InvalidSpec {
                field: "pullRequest.branch",
                reason: format!(
                    "renders {branch:?} for policy {}:{} (image {}), which is not a valid branch name (git check-ref-format); sprig's replace can remove characters such as ':'",
                    data.policy.namespace, data.policy.name, data.image
                ),
            });
        }
        Ok(branch.to_owned())
    }
}

fn branch_data_value(data: &BranchTemplateData) -> Value {
    let named = |n: &NamespacedName| {
        map(vec![
            ("Namespace".into(), string(&n.namespace)),
            ("Name".into(), string(&n.name)),
        ])
    };
    map(vec![
        (
            "AutomationObject".into(),
            string(&data.automation_object.to_string()),
        ),
        (
            AUTOMATION_OBJECT_FIELDS.into(),
            named(&data.automation_object),
        ),
        ("Policy".into(), named(&data.policy)),
        ("Image".into(), string(&data.image)),
        ("NewTag".into(), string(&data.new_tag)),
        ("PushBranch".into(), string(&data.push_branch)),
    ])
}

/// The most `{{range}}` iterations one rendering may run, across nested ranges (gotmpl's
/// default is 10,000,000, which a template like `{{range 9999999}}` spends in seconds): a
/// message over a fleet's changes needs a few thousand.
const MAX_RANGE_ITERATIONS: u64 = 100_000;

/// The longest rendered message, in bytes (4 MiB).
const MAX_RENDERED_BYTES: usize = 4 << 20;

/// A `fmt::Write` that refuses to grow past [`MAX_RENDERED_BYTES`].
#[derive(Default)]
struct Bounded {
    text: String,
    overflowed: bool,
}

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.text.len() + s.len() > MAX_RENDERED_BYTES {
            self.overflowed = true;
            return Err(std::fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

fn string(s: &str) -> Value {
    Value::String(Arc::from(s))
}

fn map(entries: Vec<(String, Value)>) -> Value {
    let m: BTreeMap<Arc<str>, Value> = entries
        .into_iter()
        .map(|(k, v)| (Arc::from(k.as_str()), v))
        .collect();
    Value::Map(Arc::new(m))
}

fn change_value(c: &Change) -> Value {
    map(vec![
        ("OldValue".into(), string(&c.old_value)),
        ("NewValue".into(), string(&c.new_value)),
        ("Setter".into(), string(&c.setter)),
    ])
}

fn changes_value(changes: &[Change]) -> Value {
    Value::List(changes.iter().map(change_value).collect())
}

/// Encodes an object identifier as a map key whose byte order equals Go's
/// field-by-field struct order (NUL sorts before every other byte).
fn object_key(o: &ObjectIdentifier) -> String {
    format!(
        "{OBJECT_KEY_PREFIX}{}\u{0}{}\u{0}{}\u{0}{}",
        o.api_version, o.kind, o.name, o.namespace
    )
}

fn object_value_from_key(key: &str) -> Option<Value> {
    let rest = key.strip_prefix(OBJECT_KEY_PREFIX)?;
    let parts: Vec<&str> = rest.split('\u{0}').collect();
    if parts.len() != 4 {
        return None;
    }
    Some(map(vec![
        ("APIVersion".into(), string(parts[0])),
        ("Kind".into(), string(parts[1])),
        ("Name".into(), string(parts[2])),
        ("Namespace".into(), string(parts[3])),
    ]))
}

fn object_map_value<'a>(
    objects: impl Iterator<Item = (&'a ObjectIdentifier, Vec<Change>)>,
) -> Value {
    // Concatenate changes when the same object appears twice (as Flux's
    // ObjectChanges map would merge them under one key).
    let mut merged: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    for (object, changes) in objects {
        merged
            .entry(object_key(object))
            .or_default()
            .extend(changes);
    }
    map(merged
        .into_iter()
        .map(|(k, v)| (k, changes_value(&v)))
        .collect())
}

fn data_value(data: &TemplateData) -> Value {
    let file_changes = map(data
        .changed
        .file_changes
        .iter()
        .map(|(file, objects)| {
            (
                file.clone(),
                object_map_value(objects.iter().map(|o| (&o.object, o.changes.clone()))),
            )
        })
        .collect());
    let objects = data.changed.objects();
    let changed = map(vec![
        ("FileChanges".into(), file_changes),
        ("Changes".into(), changes_value(&data.changed.changes())),
        (
            "Objects".into(),
            object_map_value(objects.iter().map(|(o, c)| (o, c.clone()))),
        ),
    ]);
    let values = map(data
        .values
        .iter()
        .map(|(k, v)| (k.clone(), string(v)))
        .collect());
    map(vec![
        (
            "AutomationObject".into(),
            string(&data.automation_object.to_string()),
        ),
        (
            AUTOMATION_OBJECT_FIELDS.into(),
            map(vec![
                (
                    "Namespace".into(),
                    string(&data.automation_object.namespace),
                ),
                ("Name".into(), string(&data.automation_object.name)),
            ]),
        ),
        ("Changed".into(), changed),
        ("Values".into(), values),
    ])
}

/// `{Key, Value}` entries of what a two-variable `range` iterates, in Go's
/// order: list index order, sorted map keys (object keys decoded).
fn range_entries(args: &[Value]) -> gotmpl::Result<Value> {
    let entry = |k: Value, v: Value| map(vec![("Key".into(), k), ("Value".into(), v)]);
    match args {
        [Value::List(items)] => Ok(Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| entry(Value::Int(i as i64), v.clone()))
                .collect(),
        )),
        [Value::Map(m)] => Ok(Value::List(
            m.iter()
                .map(|(k, v)| {
                    let key = object_value_from_key(k).unwrap_or_else(|| Value::String(k.clone()));
                    entry(key, v.clone())
                })
                .collect(),
        )),
        [Value::Nil] => Ok(Value::List(Arc::from(Vec::new()))),
        [other] => Err(gotmpl::TemplateError::Exec(format!(
            "range can't iterate over {other} with two variables"
        ))),
        _ => Err(gotmpl::TemplateError::Exec(
            "range: internal rewrite expects one value".to_string(),
        )),
    }
}

fn rewrite_list(list: ListNode) -> ListNode {
    let mut list = ListNode {
        pos: list.pos,
        nodes: list.nodes.into_iter().map(rewrite_node).collect(),
    };
    visit_exprs_list_mut(&mut list, &mut rewrite_automation_object_fields);
    list
}

/// `.AutomationObject.Name` -> `._imageautomation_AutomationObject.Name`
/// (also through `$`).
fn rewrite_automation_object_fields(expr: &mut Expr) {
    let fields = match expr {
        Expr::Field(_, fields) => fields,
        Expr::Variable(_, var, fields) if var == "$" => fields,
        _ => return,
    };
    if fields.len() >= 2
        && fields[0] == "AutomationObject"
        && (fields[1] == "Name" || fields[1] == "Namespace")
    {
        fields[0] = SmolStr::new(AUTOMATION_OBJECT_FIELDS);
    }
}

fn visit_exprs_list_mut(list: &mut ListNode, f: &mut dyn FnMut(&mut Expr)) {
    for node in &mut list.nodes {
        match node {
            Node::List(l) => visit_exprs_list_mut(l, f),
            Node::Action(a) => visit_exprs_pipe_mut(&mut a.pipe, f),
            // Bodies were rewritten (and visited) by rewrite_list already.
            Node::If(b) | Node::With(b) | Node::Range(b) => visit_exprs_pipe_mut(&mut b.pipe, f),
            Node::Template(t) => {
                if let Some(p) = &mut t.pipe {
                    visit_exprs_pipe_mut(p, f);
                }
            }
            _ => {}
        }
    }
}

fn visit_exprs_pipe_mut(pipe: &mut PipeNode, f: &mut dyn FnMut(&mut Expr)) {
    for expr in pipe.commands.iter_mut().flat_map(|c| c.args.iter_mut()) {
        visit_expr_mut(expr, f);
    }
}

fn visit_expr_mut(expr: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    f(expr);
    match expr {
        Expr::Pipe(_, p) => visit_exprs_pipe_mut(p, f),
        Expr::Chain(_, inner, _) => visit_expr_mut(inner, f),
        _ => {}
    }
}

fn rewrite_node(node: Node) -> Node {
    match node {
        Node::List(l) => Node::List(rewrite_list(l)),
        Node::If(mut b) => {
            b.body = rewrite_list(b.body);
            b.else_body = b.else_body.map(rewrite_list);
            Node::If(b)
        }
        Node::With(mut b) => {
            b.body = rewrite_list(b.body);
            b.else_body = b.else_body.map(rewrite_list);
            Node::With(b)
        }
        Node::Range(mut b) => {
            b.body = rewrite_list(b.body);
            b.else_body = b.else_body.map(rewrite_list);
            if b.pipe.decl.len() == 2 {
                let pos = b.pipe.pos;
                let key_var = b.pipe.decl[0].clone();
                let value_var = b.pipe.decl[1].clone();
                let is_assign = b.pipe.is_assign;
                let inner = PipeNode {
                    pos,
                    decl: Vec::new(),
                    commands: std::mem::take(&mut b.pipe.commands),
                    is_assign: false,
                };
                b.pipe = PipeNode {
                    pos,
                    decl: vec![SmolStr::new(RANGE_ENTRY_VAR)],
                    commands: vec![CommandNode {
                        pos,
                        args: vec![
                            Expr::Identifier(pos, SmolStr::new(RANGE_ENTRIES_FUNC)),
                            Expr::Pipe(pos, inner),
                        ],
                    }],
                    is_assign: false,
                };
                let bind = |var: SmolStr, field: &str| {
                    Node::Action(ActionNode {
                        pos,
                        pipe: PipeNode {
                            pos,
                            decl: vec![var],
                            commands: vec![CommandNode {
                                pos,
                                args: vec![Expr::Variable(
                                    pos,
                                    SmolStr::new(RANGE_ENTRY_VAR),
                                    vec![SmolStr::new(field)],
                                )],
                            }],
                            is_assign,
                        },
                    })
                };
                let mut nodes = vec![bind(key_var, "Key"), bind(value_var, "Value")];
                nodes.append(&mut b.body.nodes);
                b.body.nodes = nodes;
            }
            Node::Range(b)
        }
        Node::Define(mut d) => {
            d.body = rewrite_list(d.body);
            Node::Define(d)
        }
        other => other,
    }
}

/// Go's predefined template functions (`text/template` `builtins()`).
const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Go reports an undefined function when parsing; `gotmpl` only when
/// executing, so check at parse time to fail before any clone.
fn check_functions_list(
    name: &str,
    known: &std::collections::BTreeSet<String>,
    list: &ListNode,
) -> Result<(), Error> {
    let mut unknown = None;
    visit_exprs_list(list, &mut |e| {
        if let Expr::Identifier(pos, ident) = e
            && unknown.is_none()
            && !known.contains(ident.as_str())
        {
            unknown = Some(format!(
                "template: {name}:{}: function {:?} not defined",
                pos.line,
                ident.as_str()
            ));
        }
    });
    match unknown {
        Some(message) => Err(Error::TemplateParse {
            template: name.to_string(),
            message,
        }),
        None => Ok(()),
    }
}

fn visit_exprs_list(list: &ListNode, f: &mut dyn FnMut(&Expr)) {
    for node in &list.nodes {
        match node {
            Node::List(l) => visit_exprs_list(l, f),
            Node::Action(a) => visit_exprs_pipe(&a.pipe, f),
            Node::If(b) | Node::With(b) | Node::Range(b) => {
                visit_exprs_pipe(&b.pipe, f);
                visit_exprs_list(&b.body, f);
                if let Some(e) = &b.else_body {
                    visit_exprs_list(e, f);
                }
            }
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    visit_exprs_pipe(p, f);
                }
            }
            Node::Define(d) => visit_exprs_list(&d.body, f),
            _ => {}
        }
    }
}

fn visit_exprs_pipe(pipe: &PipeNode, f: &mut dyn FnMut(&Expr)) {
    for expr in pipe.commands.iter().flat_map(|c| c.args.iter()) {
        visit_expr(expr, f);
    }
}

fn visit_expr(expr: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(expr);
    match expr {
        Expr::Pipe(_, p) => visit_exprs_pipe(p, f),
        Expr::Chain(_, inner, _) => visit_expr(inner, f),
        _ => {}
    }
}

/// Go reports a field the data does not have (`.Changed.Change`) as an
/// execution error; `gotmpl` maps print `<no value>` instead. Check the
/// field chains whose root is known statically: `$...` anywhere, and `. ...`
/// where dot is still the data (outside `range` and `with` bodies).
fn check_fields_list(
    name: &str,
    list: &ListNode,
    dot_is_root: bool,
    model: DataModel,
) -> Result<(), Error> {
    for node in &list.nodes {
        match node {
            Node::List(l) => check_fields_list(name, l, dot_is_root, model)?,
            Node::Action(a) => check_fields_pipe(name, &a.pipe, dot_is_root, model)?,
            Node::If(b) => {
                check_fields_pipe(name, &b.pipe, dot_is_root, model)?;
                check_fields_list(name, &b.body, dot_is_root, model)?;
                if let Some(e) = &b.else_body {
                    check_fields_list(name, e, dot_is_root, model)?;
                }
            }
            Node::With(b) | Node::Range(b) => {
                check_fields_pipe(name, &b.pipe, dot_is_root, model)?;
                check_fields_list(name, &b.body, false, model)?;
                if let Some(e) = &b.else_body {
                    check_fields_list(name, e, dot_is_root, model)?;
                }
            }
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    check_fields_pipe(name, p, dot_is_root, model)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_fields_pipe(
    name: &str,
    pipe: &PipeNode,
    dot_is_root: bool,
    model: DataModel,
) -> Result<(), Error> {
    let mut result = Ok(());
    visit_exprs_pipe(pipe, &mut |e| {
        if result.is_err() {
            return;
        }
        let fields = match e {
            Expr::Field(_, fields) if dot_is_root => fields,
            Expr::Variable(_, var, fields) if var == "$" => fields,
            _ => return,
        };
        let unknown = match model {
            DataModel::Commit => unknown_field(fields),
            DataModel::Branch => unknown_branch_field(fields),
        };
        if let Some(message) = unknown {
            result = Err(Error::TemplateExecute {
                template: name.to_string(),
                message,
            });
        }
    });
    result
}

/// Go's message for a field chain the data model does not have, if any.
fn unknown_field(fields: &[SmolStr]) -> Option<String> {
    let cant =
        |field: &SmolStr, ty: &str| Some(format!("can't evaluate field {field} in type {ty}"));
    let (first, rest) = fields.split_first()?;
    match first.as_str() {
        "AutomationObject" => match rest.first() {
            Some(f) if f != "Name" && f != "Namespace" => cant(f, "types.NamespacedName"),
            Some(_) => rest.get(1).and_then(|f| cant(f, "string")),
            None => None,
        },
        "Changed" => match rest.first() {
            Some(f) if f == "Changes" => rest.get(1).and_then(|f| cant(f, "[]update.Change")),
            Some(f) if f == "Objects" => rest
                .get(1)
                .and_then(|f| cant(f, "map[update.ObjectIdentifier][]update.Change")),
            Some(f) if f != "FileChanges" => cant(f, "update.Result"),
            _ => None,
        },
        "Values" => rest.get(1).and_then(|f| cant(f, "string")),
        _ => cant(first, "source.TemplateData"),
    }
}

/// As [`unknown_field`], for [`BranchTemplateData`].
fn unknown_branch_field(fields: &[SmolStr]) -> Option<String> {
    let cant =
        |field: &SmolStr, ty: &str| Some(format!("can't evaluate field {field} in type {ty}"));
    let (first, rest) = fields.split_first()?;
    match first.as_str() {
        "AutomationObject" | "Policy" => match rest.first() {
            Some(f) if f != "Name" && f != "Namespace" => cant(f, "types.NamespacedName"),
            Some(_) => rest.get(1).and_then(|f| cant(f, "string")),
            None => None,
        },
        "Image" | "NewTag" | "PushBranch" => rest.first().and_then(|f| cant(f, "string")),
        _ => cant(first, "BranchTemplateData"),
    }
}

fn check_removed_fields_list(list: &ListNode) -> Result<(), Error> {
    list.nodes.iter().try_for_each(check_removed_fields_node)
}

fn check_removed_fields_node(node: &Node) -> Result<(), Error> {
    match node {
        Node::List(l) => check_removed_fields_list(l),
        Node::Action(a) => check_removed_fields_pipe(&a.pipe),
        Node::If(b) | Node::With(b) | Node::Range(b) => {
            check_removed_fields_pipe(&b.pipe)?;
            check_removed_fields_list(&b.body)?;
            b.else_body
                .as_ref()
                .map_or(Ok(()), check_removed_fields_list)
        }
        Node::Template(t) => t.pipe.as_ref().map_or(Ok(()), check_removed_fields_pipe),
        Node::Define(d) => check_removed_fields_list(&d.body),
        _ => Ok(()),
    }
}

fn check_removed_fields_pipe(pipe: &PipeNode) -> Result<(), Error> {
    pipe.commands
        .iter()
        .flat_map(|c| c.args.iter())
        .try_for_each(check_removed_fields_expr)
}

fn check_removed_fields_expr(expr: &Expr) -> Result<(), Error> {
    match expr {
        Expr::Field(_, fields) => {
            if fields.first().is_some_and(|f| f == "Updated") {
                return Err(Error::RemovedTemplateField {
                    field: ".Updated",
                    message: REMOVED_UPDATED,
                });
            }
            check_image_result(fields)
        }
        Expr::Variable(_, _, fields) => check_image_result(fields),
        Expr::Chain(_, inner, fields) => {
            check_removed_fields_expr(inner)?;
            check_image_result(fields)
        }
        Expr::Pipe(_, pipe) => check_removed_fields_pipe(pipe),
        _ => Ok(()),
    }
}

fn check_image_result(fields: &[SmolStr]) -> Result<(), Error> {
    if fields
        .windows(2)
        .any(|w| w[0] == "Changed" && w[1] == "ImageResult")
    {
        return Err(Error::RemovedTemplateField {
            field: ".Changed.ImageResult",
            message: REMOVED_IMAGE_RESULT,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> TemplateData {
        let mut changed = ChangeSet::default();
        changed.file_changes.insert(
            "deploy.yaml".into(),
            vec![crate::changes::ObjectChanges {
                object: ObjectIdentifier {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: "test".into(),
                    namespace: String::new(),
                },
                changes: vec![Change {
                    old_value: "a:1".into(),
                    new_value: "a:2".into(),
                    setter: "ns:p".into(),
                }],
            }],
        );
        TemplateData {
            automation_object: NamespacedName {
                namespace: "ns".into(),
                name: "auto".into(),
            },
            changed,
            values: BTreeMap::new(),
        }
    }

    /// Renders `source`, which must fail quickly with a message containing `what`.
    fn refused_quickly(source: &str, what: &str) {
        let t = MessageTemplate::commit_message(Some(source)).expect("parse");
        let start = std::time::Instant::now();
        let err = t.render(&data()).expect_err(source);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{source}"
        );
        assert!(matches!(err, Error::TemplateExecute { .. }), "{err:?}");
        assert!(err.to_string().contains(what), "{source}: {err}");
    }

    /// Found by fuzzing (issue #15, `commit_template`: a 12 s unit, and what the same idea
    /// does with sprig's builders): templates that loop or build text without bound.
    #[test]
    fn unbounded_templates_are_refused_quickly() {
        // fuzz/artifacts/commit_template/slow-unit-dfaa42b2...: {{range 7757777}}...
        refused_quickly(
            "{{range 7757777}}\u{15}\0\0\0\0\0\0\0{sdend }}{'Ne4",
            "range iteration budget exhausted",
        );
        refused_quickly(
            "{{range 1000}}{{range 1000}}x{{end}}{{end}}",
            "range iteration",
        );
        refused_quickly(
            r#"{{ repeat 1000000000000 "x" }}"#,
            "repeat: 1000000000000 copies would be longer than the 1048576-byte limit",
        );
        refused_quickly(r#"{{ repeat 9223372036854775807 "xy" }}"#, "repeat: ");
        refused_quickly(r#"{{ "a" | indent 100000000000 }}"#, "indent: ");
        refused_quickly(r#"{{ "a\nb" | nindent 900000 }}"#, "nindent: ");
        refused_quickly(
            r#"{{range 10}}{{ repeat 1000000 "x" }}{{end}}"#,
            "the rendered text is longer than the 4 MiB limit",
        );
        // Within the limits, the same functions work.
        let t = MessageTemplate::commit_message(Some(r#"{{ repeat 3 "ab" }}{{range 2}}.{{end}}"#))
            .expect("parse");
        assert_eq!(t.render(&data()).expect("render"), "ababab..");
    }

    #[test]
    fn parse_error_names_the_template() {
        let err = MessageTemplate::commit_message(Some("{{ .Changed ")).expect_err("bad template");
        let text = err.to_string();
        assert!(text.contains("commit message"), "{text}");
        assert!(matches!(err, Error::TemplateParse { .. }));
    }

    #[test]
    fn default_message_when_unset_or_empty() {
        for source in [None, Some("")] {
            let t = MessageTemplate::commit_message(source).expect("parse");
            assert_eq!(t.render(&data()).expect("render"), DEFAULT_MESSAGE_TEMPLATE);
        }
    }

    #[test]
    fn missing_values_print_no_value_but_index_gives_empty() {
        let t = MessageTemplate::commit_message(Some(
            "[{{ .Values.missing }}][{{ index .Values \"missing\" }}]",
        ))
        .expect("parse");
        assert_eq!(t.render(&data()).expect("render"), "[<no value>][]");
    }

    #[test]
    fn struct_keys_in_nested_and_assigning_ranges() {
        let t = MessageTemplate::commit_message(Some(
            "{{ range $f, $o := .Changed.FileChanges }}{{ range $k, $v := $o }}{{ $f }}:{{ $k.Kind }}:{{ len $v }}{{ end }}{{ end }}\
             {{ $a := 0 }}{{ $b := 0 }}{{ range $a, $b = .Changed.Changes }}{{ end }}[{{ $a }}]\
             {{ range $i, $c := .Changed.Changes }}{{ $i }}={{ $c.NewValue }}{{ end }}\
             {{ range $k, $v := .Changed.Objects }}{{ $k.APIVersion }}{{ else }}none{{ end }}",
        ))
        .expect("parse");
        assert_eq!(
            t.render(&data()).expect("render"),
            "deploy.yaml:Deployment:1[0]0=a:2apps/v1"
        );
    }

    #[test]
    fn automation_object_prints_as_namespaced_name_and_has_fields() {
        let t = MessageTemplate::commit_message(Some(
            "{{ .AutomationObject }} {{ .AutomationObject.Name }} {{ $.AutomationObject.Namespace }} \
             {{ range .Changed.Changes }}{{ $.AutomationObject.Name | upper }}{{ end }} \
             {{ if eq .AutomationObject.Name \"auto\" }}yes{{ end }}",
        ))
        .expect("parse");
        assert_eq!(
            t.render(&data()).expect("render"),
            "ns/auto auto ns AUTO yes"
        );
    }

    #[test]
    fn misspelt_fields_of_the_data_are_errors_as_in_go() {
        for (src, field) in [
            ("{{ .Changd }}", "Changd"),
            ("{{ .Changed.Change }}", "Change"),
            ("{{ if true }}{{ $.AutomationObject.Nme }}{{ end }}", "Nme"),
            ("{{ range .Changed.Changes }}{{ $.Foo }}{{ end }}", "Foo"),
            ("{{ .Values.cluster.x }}", "x"),
        ] {
            let err = MessageTemplate::commit_message(Some(src)).expect_err(src);
            assert!(
                matches!(err, Error::TemplateExecute { .. }),
                "{src}: {err:?}"
            );
            assert!(
                err.to_string()
                    .contains(&format!("can't evaluate field {field}")),
                "{err}"
            );
        }
        // Inside range and with, dot is something else: not checked statically.
        MessageTemplate::commit_message(Some(
            "{{ range .Changed.Changes }}{{ .NewValue }}{{ end }}{{ with .Values }}{{ .any }}{{ end }}",
        ))
        .expect("valid");
    }

    #[test]
    fn removed_fields_are_refused_with_flux_messages() {
        let err =
            MessageTemplate::commit_message(Some("{{ range .Updated.Images }}{{ . }}{{ end }}"))
                .expect_err("removed");
        assert!(
            err.to_string()
                .contains("template uses removed '.Updated' field")
        );
        assert!(!err.is_transient());
        let err = MessageTemplate::commit_message(Some("{{ .Changed.ImageResult.Files }}"))
            .expect_err("removed");
        assert!(
            err.to_string()
                .contains("template uses removed '.Changed.ImageResult' field")
        );
    }

    fn branch_data() -> BranchTemplateData {
        BranchTemplateData {
            automation_object: NamespacedName {
                namespace: "flux-system".into(),
                name: "fleet".into(),
            },
            policy: NamespacedName {
                namespace: "apps".into(),
                name: "podinfo".into(),
            },
            image: "127.0.0.1:5000/stefanprodan/podinfo".into(),
            new_tag: "5.0.3".into(),
            push_branch: "image-updates".into(),
        }
    }

    #[test]
    fn branch_templates_see_the_group() {
        let t = BranchTemplate::parse(
            "{{ .PushBranch }}/{{ .Policy.Namespace }}/{{ .Policy.Name }}-{{ .NewTag }}-{{ $.AutomationObject.Name }}\n",
        )
        .expect("parse");
        assert_eq!(
            t.render(&branch_data()).expect("render"),
            "image-updates/apps/podinfo-5.0.3-fleet"
        );
        let defaults = [
            (
                crate::DEFAULT_POLICY_BRANCH_TEMPLATE,
                "image-updates-apps-podinfo",
            ),
            (
                crate::DEFAULT_IMAGE_BRANCH_TEMPLATE,
                "image-updates-127.0.0.1-5000/stefanprodan/podinfo",
            ),
        ];
        for (source, branch) in defaults {
            let t = BranchTemplate::parse(source).expect(source);
            assert_eq!(t.render(&branch_data()).expect(source), branch);
        }
    }

    #[test]
    fn branch_templates_refuse_unknown_fields_and_invalid_branches() {
        for (src, field) in [
            ("{{ .Policy.Nme }}", "Nme"),
            ("{{ .Changed }}", "Changed"),
            ("{{ .Image.Tag }}", "Tag"),
            // A commit message field is not branch data (and not Flux's removed-field message).
            ("{{ .Updated }}", "Updated"),
        ] {
            let err = BranchTemplate::parse(src).expect_err(src);
            assert!(
                err.to_string()
                    .contains(&format!("can't evaluate field {field}")),
                "{src}: {err}"
            );
            assert!(err.to_string().contains(BRANCH_TEMPLATE_NAME), "{err}");
        }
        assert!(matches!(
            BranchTemplate::parse("{{ .Image ").expect_err("syntax"),
            Error::TemplateParse { .. }
        ));
        for src in [
            "{{ .Image }}",
            "{{ \" \" }}",
            "a..b",
            "{{ .PushBranch }} {{ .NewTag }}",
        ] {
            let err = BranchTemplate::parse(src)
                .expect("parse")
                .render(&branch_data())
                .expect_err(src);
            assert!(
                matches!(
                    err,
                    Error::InvalidSpec {
                        field: "pullRequest.branch",
                        ..
                    }
                ),
                "{src}: {err:?}"
            );
            assert!(err.to_string().contains("apps:podinfo"), "{err}");
        }
    }

    #[test]
    fn execution_error_names_the_template() {
        let t = MessageTemplate::commit_message(Some("{{ range .AutomationObject }}x{{ end }}"))
            .expect("parse");
        let err = t.render(&data()).expect_err("cannot range over a string");
        assert!(err.to_string().contains("commit message"), "{err}");
    }
}
