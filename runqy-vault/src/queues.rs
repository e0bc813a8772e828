//! Queue configurations (SPEC §14): which queues list which vaults, read
//! from runqy's YAML and from the runqy server's own `queues` table.
//!
//! A queue is a parent name of the YAML (`inference`); its sub-queues
//! (`inference.high`) share its deployment and are not listed apart. Only
//! what the vault needs is kept: the vaults a queue lists, in order, and
//! what its `git_token` is. The `git_token` text itself is never kept: it
//! may be a plaintext token pasted where a `vault://` reference belongs.
//!
//! Reading is forgiving, as `check` needs it to be: a file that does not
//! parse, a queue without a deployment or `vaults` that is not a list
//! becomes a [`ConfigProblem`] and the rest is still read. Only a path that
//! cannot be read at all is an error.
//!
//! ```
//! use runqy_vault::queues::QueueConfigs;
//! let yaml = "
//! queues:
//!   inference:
//!     priority: 6
//!     sub_queues: [{name: high, priority: 10}]
//!     deployment:
//!       vaults: [api-keys, model-credentials]
//!       git_token: vault://github/GIT_TOKEN
//! ";
//! let configs = QueueConfigs::from_yaml(yaml, "queues.yaml");
//! assert!(configs.problems.is_empty());
//! assert_eq!(configs.queues[0].name, "inference");
//! assert_eq!(configs.queues[0].vaults, ["api-keys", "model-credentials"]);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::payload::EntryReference;

/// The variable naming the directory the runqy server reads its queue
/// configurations from; the default of `usage`, `check` and the notices of
/// `set`, `unset` and `delete`.
pub const ENV_QUEUE_WORKERS_DIR: &str = "QUEUE_WORKERS_DIR";

/// Where a queue's definition was read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueueSource {
    /// A YAML file.
    File(PathBuf),
    /// The runqy server's `queues` table in the store's database.
    ServerTable,
}

impl fmt::Display for QueueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueSource::File(p) => write!(f, "{}", p.display()),
            QueueSource::ServerTable => f.write_str("the server's queues table"),
        }
    }
}

/// What a queue's `deployment.git_token` is. The text is never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitToken {
    /// No `git_token` (or an empty one).
    None,
    /// A well-formed `vault://VAULT/KEY` reference.
    Reference(EntryReference),
    /// Text that starts with `vault://` but is not a valid reference; the
    /// reason names the rule it breaks, never the text.
    Malformed(String),
    /// Text that is not a `vault://` reference at all: perhaps a plaintext
    /// token. The runqy server logs it verbatim; we never show it.
    NotAReference,
}

impl GitToken {
    /// Classifies a `git_token` text without keeping it.
    ///
    /// ```
    /// use runqy_vault::queues::GitToken;
    /// assert!(matches!(GitToken::classify("vault://github/GIT_TOKEN"), GitToken::Reference(_)));
    /// assert_eq!(GitToken::classify("ghp_plaintext"), GitToken::NotAReference);
    /// assert!(matches!(GitToken::classify("vault://github"), GitToken::Malformed(_)));
    /// assert_eq!(GitToken::classify(""), GitToken::None);
    /// ```
    pub fn classify(text: &str) -> GitToken {
        if text.is_empty() {
            return GitToken::None;
        }
        let Some(rest) = text.strip_prefix("vault://") else {
            return GitToken::NotAReference;
        };
        let Some((vault, key)) = rest.split_once('/') else {
            return GitToken::Malformed("it has no '/' between vault and key".to_owned());
        };
        // The reasons of the name rules, without the names: the text may
        // still be a token pasted after `vault://`.
        let reason = |what: &str, e: Error| match e {
            Error::InvalidName { reason, .. } | Error::ReservedName { reason, .. } => {
                format!("its {what} {reason}")
            }
            _ => format!("its {what} is not valid"),
        };
        if let Err(e) = crate::names::check_vault_name(vault) {
            return GitToken::Malformed(reason("vault name", e));
        }
        if let Err(e) = crate::names::check_key(key) {
            return GitToken::Malformed(reason("key", e));
        }
        GitToken::Reference(EntryReference {
            vault: vault.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The reference, when the token is one.
    pub fn reference(&self) -> Option<&EntryReference> {
        match self {
            GitToken::Reference(r) => Some(r),
            _ => None,
        }
    }
}

/// One queue's definition, as one source gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// The parent name (`inference`, never `inference.high`).
    pub name: String,
    /// The vaults its workers get, in order (later ones win).
    pub vaults: Vec<String>,
    /// What its `git_token` is.
    pub git_token: GitToken,
    /// Where this definition was read.
    pub source: QueueSource,
}

/// Something wrong in a configuration, found while reading it: never a
/// value or a `git_token`'s text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where it was found.
    pub source: QueueSource,
    /// The queue concerned, when one is.
    pub queue: Option<String>,
    /// What is wrong (for a YAML error: line, column and the parser's reason).
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.queue {
            Some(q) => write!(f, "{}: queue '{q}' {}", self.source, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// Queue configurations read from YAML files (or the server's table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueConfigs {
    /// Every queue definition read, in the order read.
    pub queues: Vec<Queue>,
    /// What could not be read, or was wrong.
    pub problems: Vec<ConfigProblem>,
    /// Whether any configuration was given at all (a file, a directory,
    /// `QUEUE_WORKERS_DIR`): without one, nothing is known about queues
    /// beyond the server's table.
    pub given: bool,
}

impl QueueConfigs {
    /// No configuration: only the server's table, when the database has it.
    pub fn none() -> QueueConfigs {
        QueueConfigs::default()
    }

    /// Reads each path: a YAML file (either form), or a directory whose
    /// `*.yaml` / `*.yml` files holding `queues:` are read, as the runqy
    /// server reads `QUEUE_WORKERS_DIR`. No path: `QUEUE_WORKERS_DIR` when
    /// it is set, else nothing. A path that does not exist or cannot be
    /// read is an [`Error::Io`] naming it; problems inside files are kept in
    /// [`QueueConfigs::problems`].
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<QueueConfigs> {
        if paths.is_empty() {
            return match std::env::var_os(ENV_QUEUE_WORKERS_DIR).filter(|d| !d.is_empty()) {
                Some(dir) => {
                    let dir = PathBuf::from(dir);
                    if !dir.is_dir() {
                        return Err(Error::Io {
                            path: dir.display().to_string(),
                            message: format!(
                                "{ENV_QUEUE_WORKERS_DIR} names a directory that does not exist"
                            ),
                        });
                    }
                    QueueConfigs::load(&[dir])
                }
                None => Ok(QueueConfigs::none()),
            };
        }
        let mut out = QueueConfigs {
            given: true,
            ..QueueConfigs::default()
        };
        for path in paths {
            out.read_path(path.as_ref())?;
        }
        Ok(out)
    }

    /// Reads one YAML document given as text; `source` names it in problems.
    /// Either form is accepted: the `queues:` map, or one queue's `name:`.
    pub fn from_yaml(text: &str, source: impl AsRef<Path>) -> QueueConfigs {
        let mut out = QueueConfigs {
            given: true,
            ..QueueConfigs::default()
        };
        out.read_yaml(
            text,
            &QueueSource::File(source.as_ref().to_path_buf()),
            true,
        );
        out
    }

    fn read_path(&mut self, path: &Path) -> Result<()> {
        let io = |message: String| Error::Io {
            path: path.display().to_string(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| {
            io(match e.kind() {
                std::io::ErrorKind::NotFound => "queue configuration not found".to_owned(),
                _ => format!("cannot read the queue configuration: {e}"),
            })
        })?;
        if !meta.is_dir() {
            return self.read_file(path, true);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| io(format!("cannot list the directory: {e}")))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        for file in files {
            // As the server does: in a directory only `queues:` files count.
            self.read_file(&file, false)?;
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path, single_form: bool) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: format!("cannot read the queue configuration: {e}"),
        })?;
        let source = QueueSource::File(path.to_path_buf());
        match std::str::from_utf8(&bytes) {
            Ok(text) => self.read_yaml(text, &source, single_form),
            Err(e) => self.problem(
                &source,
                None,
                format!("is not UTF-8 text (byte {})", e.valid_up_to()),
            ),
        }
        Ok(())
    }

    fn problem(&mut self, source: &QueueSource, queue: Option<&str>, message: String) {
        self.problems.push(ConfigProblem {
            source: source.clone(),
            queue: queue.map(str::to_owned),
            message,
        });
    }

    fn read_yaml(&mut self, text: &str, source: &QueueSource, single_form: bool) {
        use yaml_serde::Value;
        let doc: Value = match yaml_serde::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                let at = e
                    .location()
                    .map(|l| format!("line {}, column {}", l.line(), l.column()))
                    .unwrap_or_else(|| "an unknown position".to_owned());
                return self.problem(source, None, format!("YAML error at {at}: {e}"));
            }
        };
        let map = match doc {
            Value::Null => return, // an empty file, skipped as the server skips it
            Value::Mapping(m) => m,
            _ => {
                if single_form {
                    self.problem(source, None, "is not a YAML mapping".to_owned());
                }
                return;
            }
        };
        if let Some(queues) = map.get("queues") {
            let Value::Mapping(queues) = queues else {
                return self.problem(
                    source,
                    None,
                    "has `queues:` that is not a map of queue names".to_owned(),
                );
            };
            for (name, queue) in queues {
                let Some(name) = name.as_str() else {
                    self.problem(
                        source,
                        None,
                        "has a queue whose name is not text".to_owned(),
                    );
                    continue;
                };
                let deployment = match queue {
                    Value::Mapping(q) => q.get("deployment"),
                    _ => None,
                };
                self.add_queue(source, name, deployment.map(Deployment::Yaml));
            }
        } else if single_form {
            match map.get("name").and_then(Value::as_str) {
                Some(name) => {
                    let deployment = map.get("deployment").map(Deployment::Yaml);
                    self.add_queue(source, name, deployment);
                }
                None => self.problem(
                    source,
                    None,
                    "holds no queues: neither a `queues:` map nor a single queue's `name:`"
                        .to_owned(),
                ),
            }
        }
    }

    /// Reads one row of the server's `queues` table: `deployment` is the
    /// JSON of upstream's `DeploymentConfig` (NULL: a queue without one).
    /// A row whose JSON does not parse becomes a problem naming the queue.
    pub fn add_server_row(&mut self, name: &str, deployment: Option<&str>) {
        let source = QueueSource::ServerTable;
        // Older servers kept one row per sub-queue (`inference.default`).
        let name = name.split('.').next().unwrap_or(name);
        let json = match deployment.map(serde_json::from_str::<serde_json::Value>) {
            None => serde_json::Value::Null,
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                // serde_json's messages may quote input: only the position is kept.
                return self.problem(
                    &source,
                    Some(name),
                    format!(
                        "has a deployment that is not valid JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                );
            }
        };
        if self
            .queues
            .iter()
            .any(|q| q.name == name && q.source == source)
        {
            return; // another sub-queue row of the same parent
        }
        if json.is_null() {
            // The server accepts a queue without a deployment: it simply gets no vaults.
            self.queues.push(Queue {
                name: name.to_owned(),
                vaults: Vec::new(),
                git_token: GitToken::None,
                source,
            });
            return;
        }
        self.add_queue(&source, name, Some(Deployment::Json(&json)));
    }

    fn add_queue(&mut self, source: &QueueSource, name: &str, deployment: Option<Deployment<'_>>) {
        if name.is_empty() || name.contains('.') {
            return self.problem(
                source,
                Some(name),
                "has a name the runqy server refuses (empty, or with '.', the sub-queue separator)"
                    .to_owned(),
            );
        }
        let Some(deployment) = deployment.filter(|d| !d.is_null()) else {
            return self.problem(
                source,
                Some(name),
                "has no deployment (the runqy server refuses it; its workers get no vaults)"
                    .to_owned(),
            );
        };
        let fields = match deployment.fields() {
            Ok(f) => f,
            Err(why) => return self.problem(source, Some(name), why),
        };
        let vaults = match fields.vaults {
            Ok(v) => v,
            Err(why) => return self.problem(source, Some(name), why),
        };
        let git_token = match fields.git_token {
            Ok(t) => t,
            Err(why) => return self.problem(source, Some(name), why),
        };
        self.queues.push(Queue {
            name: name.to_owned(),
            vaults,
            git_token,
            source: source.clone(),
        });
    }
}

/// Every queue known, from the configurations and the server's table,
/// grouped by name (sorted): a queue may have a definition in each.
pub(crate) struct Known<'a> {
    /// Queue name → its definitions, files first, the server's table last.
    pub(crate) by_name: std::collections::BTreeMap<&'a str, Vec<&'a Queue>>,
    /// Every problem met reading them.
    pub(crate) problems: Vec<&'a ConfigProblem>,
}

impl<'a> Known<'a> {
    pub(crate) fn new(configs: &'a QueueConfigs, server: Option<&'a QueueConfigs>) -> Known<'a> {
        let mut by_name: std::collections::BTreeMap<&str, Vec<&Queue>> = Default::default();
        let mut problems = Vec::new();
        for c in std::iter::once(configs).chain(server) {
            for q in &c.queues {
                by_name.entry(q.name.as_str()).or_default().push(q);
            }
            problems.extend(&c.problems);
        }
        Known { by_name, problems }
    }

    /// The queues that list `vault`, and those whose `git_token` points into it.
    pub(crate) fn users_of(&self, vault: &str) -> (Vec<&'a str>, Vec<&'a str>) {
        let mut listing = Vec::new();
        let mut token = Vec::new();
        for (name, defs) in &self.by_name {
            if defs.iter().any(|q| q.vaults.iter().any(|v| v == vault)) {
                listing.push(*name);
            }
            if defs
                .iter()
                .any(|q| q.git_token.reference().is_some_and(|r| r.vault == vault))
            {
                token.push(*name);
            }
        }
        (listing, token)
    }
}

/// A queue's `deployment`, as YAML or as the server's JSON.
enum Deployment<'a> {
    Yaml(&'a yaml_serde::Value),
    Json(&'a serde_json::Value),
}

/// The two members of a deployment that the vault needs, each read or why not.
struct Fields {
    vaults: std::result::Result<Vec<String>, String>,
    git_token: std::result::Result<GitToken, String>,
}

/// A node of either document, as far as the deployment's members go.
enum Node<'a> {
    Missing,
    Text(&'a str),
    List(Vec<Option<&'a str>>),
    Other,
}

impl Deployment<'_> {
    fn is_null(&self) -> bool {
        match self {
            Deployment::Yaml(v) => v.is_null(),
            Deployment::Json(v) => v.is_null(),
        }
    }

    fn member(&self, name: &str) -> Option<Node<'_>> {
        match self {
            Deployment::Yaml(v) => {
                let m = v.as_mapping()?;
                Some(match m.get(name) {
                    None | Some(yaml_serde::Value::Null) => Node::Missing,
                    Some(yaml_serde::Value::String(s)) => Node::Text(s),
                    Some(yaml_serde::Value::Sequence(items)) => {
                        Node::List(items.iter().map(yaml_serde::Value::as_str).collect())
                    }
                    Some(_) => Node::Other,
                })
            }
            Deployment::Json(v) => {
                let m = v.as_object()?;
                Some(match m.get(name) {
                    None | Some(serde_json::Value::Null) => Node::Missing,
                    Some(serde_json::Value::String(s)) => Node::Text(s),
                    Some(serde_json::Value::Array(items)) => {
                        Node::List(items.iter().map(serde_json::Value::as_str).collect())
                    }
                    Some(_) => Node::Other,
                })
            }
        }
    }

    fn fields(&self) -> std::result::Result<Fields, String> {
        let (Some(vaults), Some(git_token)) = (self.member("vaults"), self.member("git_token"))
        else {
            return Err("has a deployment that is not a mapping".to_owned());
        };
        let vaults = match vaults {
            Node::Missing => Ok(Vec::new()),
            Node::List(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.map(str::to_owned).ok_or_else(|| {
                        format!("has deployment.vaults[{i}] that is not a vault name")
                    })
                })
                .collect(),
            Node::Text(_) | Node::Other => Err(
                "has deployment.vaults that is not a list (write `vaults: [name, ...]`)".to_owned(),
            ),
        };
        let git_token = match git_token {
            Node::Missing => Ok(GitToken::None),
            Node::Text(t) => Ok(GitToken::classify(t)),
            Node::List(_) | Node::Other => {
                Err("has deployment.git_token that is not text".to_owned())
            }
        };
        Ok(Fields { vaults, git_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> QueueConfigs {
        QueueConfigs::from_yaml(yaml, "q.yaml")
    }

    #[test]
    fn map_form_keeps_parent_names_vaults_in_order_and_ignores_unknown_keys() {
        let c = read(
            "queues:\n  inference:\n    priority: 6\n    env_vars: {}\n    sub_queues:\n      - {name: high, priority: 10}\n    deployment:\n      git_url: x\n      startup_cmd: y\n      mode: long_running\n      vaults: [b, a]\n      git_token: vault://github/GIT_TOKEN\n  batch:\n    deployment: {vaults: [a]}\n",
        );
        assert_eq!(c.problems, []);
        let names: Vec<_> = c.queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["inference", "batch"]);
        assert_eq!(c.queues[0].vaults, ["b", "a"]);
        assert_eq!(
            c.queues[0]
                .git_token
                .reference()
                .map(|r| (r.vault.as_str(), r.key.as_str())),
            Some(("github", "GIT_TOKEN"))
        );
        assert_eq!(c.queues[1].git_token, GitToken::None);
    }

    #[test]
    fn single_queue_form_is_read_from_a_file() {
        let c = read("name: solo\npriority: 5\ndeployment:\n  vaults: [only]\n");
        assert_eq!(c.problems, []);
        assert_eq!(c.queues[0].name, "solo");
        assert_eq!(c.queues[0].vaults, ["only"]);
    }

    #[test]
    fn a_yaml_error_gives_line_and_column() {
        let c = read("queues:\n  a:\n    deployment:\n      vaults: [x\n  b: {}\n");
        assert_eq!(c.queues, []);
        let msg = c.problems[0].to_string();
        assert!(msg.starts_with("q.yaml: YAML error at line "), "{msg}");
        assert!(msg.contains(", column "), "{msg}");
    }

    #[test]
    fn queue_problems_are_named_and_the_other_queues_still_read() {
        let c = read(
            "queues:\n  nodeploy:\n    priority: 1\n  notlist:\n    deployment: {vaults: api-keys}\n  badtoken:\n    deployment: {git_token: [x]}\n  good:\n    deployment: {vaults: [v]}\n",
        );
        let msgs: Vec<String> = c.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "q.yaml: queue 'nodeploy' has no deployment (the runqy server refuses it; its workers get no vaults)",
                "q.yaml: queue 'notlist' has deployment.vaults that is not a list (write `vaults: [name, ...]`)",
                "q.yaml: queue 'badtoken' has deployment.git_token that is not text",
            ]
        );
        assert_eq!(c.queues.len(), 1);
        assert_eq!(c.queues[0].name, "good");
    }

    #[test]
    fn a_plaintext_git_token_is_classified_and_not_kept() {
        let c = read("queues:\n  q:\n    deployment: {git_token: ghp_s3cr3tTOKEN}\n");
        assert_eq!(c.queues[0].git_token, GitToken::NotAReference);
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let m = GitToken::classify("vault://ci/ghp-s3cr3t-TOKEN");
        let GitToken::Malformed(why) = m else {
            panic!("{m:?}")
        };
        assert!(!why.contains("s3cr3t"), "{why}");
    }

    #[test]
    fn server_rows_read_json_and_a_malformed_row_is_reported_alone() {
        let mut c = QueueConfigs::none();
        c.add_server_row(
            "inference",
            Some(r#"{"vaults":["a","b"],"git_token":"vault://g/T"}"#),
        );
        c.add_server_row("broken", Some(r#"{"vaults": ["a",}"#));
        c.add_server_row("bare", None);
        c.add_server_row("old.default", Some(r#"{"vaults":["c"]}"#));
        c.add_server_row("old.high", Some(r#"{"vaults":["c"]}"#));
        let names: Vec<_> = c.queues.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["inference", "bare", "old"]);
        assert_eq!(c.problems.len(), 1);
        assert_eq!(
            c.problems[0].to_string(),
            "the server's queues table: queue 'broken' has a deployment that is not valid JSON (line 1, column 17)"
        );
    }
}
