//! Loading a multi-document YAML file: each document becomes a typed Argo resource, a
//! Kubernetes object weir passes over, or an untyped document (standalone mode keeps the
//! proxy config there). Every document remembers its first line so errors name the line in
//! the file, not in the document.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::analysis::{AnalysisTemplate, ClusterAnalysisTemplate};
use super::analysis_run::AnalysisRun;
use super::common::API_VERSION;
use super::experiment::Experiment;
use super::rollout::Rollout;
use super::source_map::{parent_path, scan, SourceMap};

/// A typed resource with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    pub resource: T,
    /// First line of the document in the file (1-based).
    pub line: usize,
    /// Field paths to lines, for errors found later (lint, the controller).
    pub source: SourceMap,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    Rollout(Box<Located<Rollout>>),
    AnalysisTemplate(Box<Located<AnalysisTemplate>>),
    ClusterAnalysisTemplate(Box<Located<ClusterAnalysisTemplate>>),
    AnalysisRun(Box<Located<AnalysisRun>>),
    Experiment(Box<Located<Experiment>>),
    /// A Kubernetes object weir does not read (Service, Deployment, Ingress, ...).
    Other {
        api_version: String,
        kind: String,
        name: Option<String>,
        line: usize,
    },
    /// A document without apiVersion/kind, e.g. the weir proxy config in standalone mode.
    /// `text` is the document alone; add `line - 1` to its line numbers.
    Untyped {
        text: String,
        line: usize,
    },
}

impl Document {
    /// First line of the document in the file.
    pub fn line(&self) -> usize {
        match self {
            Document::Rollout(d) => d.line,
            Document::AnalysisTemplate(d) => d.line,
            Document::ClusterAnalysisTemplate(d) => d.line,
            Document::AnalysisRun(d) => d.line,
            Document::Experiment(d) => d.line,
            Document::Other { line, .. } | Document::Untyped { line, .. } => *line,
        }
    }
}

/// A document that could not be read: YAML syntax, an unknown field, a wrong type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    /// Absolute line in the file (1-based).
    pub line: usize,
    /// Field path such as `spec.metrics[0].failurLimit`, or empty when unknown.
    pub field: String,
    pub message: String,
}

/// `file:line: field: message`, or `file:line: message` when no field is known (a YAML
/// syntax error), like [`crate::ConfigError`].
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::error::write_located(f, &self.file, self.line as u64, &self.field, &self.message)
    }
}

impl std::error::Error for ParseError {}

/// Every error of a file, in line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseErrors(pub Vec<ParseError>);

impl fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseErrors {}

/// Splits `text` into documents and types the Argo ones. Fails with every error found.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Document>, ParseErrors> {
    let (docs, errors) = parse_documents_lenient(file, text);
    if errors.is_empty() {
        Ok(docs)
    } else {
        Err(ParseErrors(errors))
    }
}

/// Like [`parse_documents`], but returns the documents that did parse next to the errors of
/// those that did not (lint reports both).
pub fn parse_documents_lenient(file: &str, text: &str) -> (Vec<Document>, Vec<ParseError>) {
    let (docs, failed) = load_documents(file, text);
    (docs, failed.into_iter().map(|f| f.error).collect())
}

/// A document that did not load, with what it claims to be, so that a reference to it can
/// say "it is there but broken" rather than "not found".
#[derive(Debug)]
pub(crate) struct FailedDocument {
    pub error: ParseError,
    pub kind: Option<String>,
    pub name: Option<String>,
}

pub(crate) fn load_documents(file: &str, text: &str) -> (Vec<Document>, Vec<FailedDocument>) {
    let scanned = match scan(text) {
        Ok(scanned) => scanned,
        Err(e) => {
            let (line, message) = super::source_map::syntax_error(&e);
            let error = ParseError {
                file: file.to_owned(),
                line,
                field: String::new(),
                message,
            };
            let failed = FailedDocument {
                error,
                kind: None,
                name: None,
            };
            return (Vec::new(), vec![failed]);
        }
    };
    let line_starts = line_starts(text);
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (i, doc) in scanned.iter().enumerate() {
        let start = byte_of_line(&line_starts, text, doc.first_line);
        let end = scanned.get(i + 1).map_or(text.len(), |next| {
            byte_of_line(&line_starts, text, next.first_line)
        });
        if end <= start {
            continue; // two documents on one line: only `--- a` / `--- b` forms, not used here
        }
        let ctx = DocContext {
            file,
            text: &text[start..end],
            first_line: doc.first_line,
            source: &doc.map,
        };
        match ctx.load() {
            Ok(Some(d)) => docs.push(d),
            Ok(None) => {}
            Err(e) => errors.push(*e),
        }
    }
    (docs, errors)
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn byte_of_line(starts: &[usize], text: &str, line: usize) -> usize {
    starts
        .get(line.saturating_sub(1))
        .copied()
        .unwrap_or(text.len())
}

/// Just enough of an object to tell what it is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<NameOnly>,
}

#[derive(Deserialize)]
struct NameOnly {
    name: Option<String>,
}

struct DocContext<'a> {
    file: &'a str,
    text: &'a str,
    first_line: usize,
    source: &'a SourceMap,
}

impl DocContext<'_> {
    fn load(&self) -> Result<Option<Document>, Box<FailedDocument>> {
        let meta = match serde_saphyr::from_str::<Option<TypeMeta>>(self.text) {
            Ok(Some(meta)) => meta,
            Ok(None) => return Ok(None), // an empty document, e.g. after a trailing `---`
            Err(_) => return Ok(Some(self.untyped())), // not a mapping: not ours to judge
        };
        let (Some(api_version), Some(kind)) = (meta.api_version, meta.kind) else {
            return Ok(Some(self.untyped()));
        };
        if api_version != API_VERSION {
            let name = meta.metadata.and_then(|m| m.name);
            return Ok(Some(self.other(api_version, kind, name)));
        }
        let name = meta.metadata.and_then(|m| m.name);
        let loaded = match kind.as_str() {
            "Rollout" => self.typed().map(Document::Rollout),
            "AnalysisTemplate" => self.typed().map(Document::AnalysisTemplate),
            "ClusterAnalysisTemplate" => self.typed().map(Document::ClusterAnalysisTemplate),
            "AnalysisRun" => self.typed().map(Document::AnalysisRun),
            "Experiment" => self.typed().map(Document::Experiment),
            _ => return Ok(Some(self.other(api_version, kind, name))),
        };
        loaded.map(Some).map_err(|error| {
            Box::new(FailedDocument {
                error,
                kind: Some(kind),
                name,
            })
        })
    }

    fn untyped(&self) -> Document {
        Document::Untyped {
            text: self.text.to_owned(),
            line: self.first_line,
        }
    }

    fn other(&self, api_version: String, kind: String, name: Option<String>) -> Document {
        Document::Other {
            api_version,
            kind,
            name,
            line: self.first_line,
        }
    }

    fn typed<T: DeserializeOwned>(&self) -> Result<Box<Located<T>>, ParseError> {
        match serde_saphyr::from_str::<T>(self.text) {
            Ok(resource) => Ok(Box::new(Located {
                resource,
                line: self.first_line,
                source: self.source.clone(),
            })),
            Err(e) => Err(self.error(&e)),
        }
    }

    /// Turns serde-saphyr's error (position within the document) into a file line and a
    /// field path.
    fn error(&self, e: &serde_saphyr::Error) -> ParseError {
        let message = crate::yaml_error::message(e, self.text);
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let line = line + self.first_line - 1;
        let at = self.source.path_at(line, column).unwrap_or("").to_owned();
        // serde reports a missing field at the start of its mapping, i.e. at the first key:
        // the field belongs beside that key.
        let field = match missing_field(&message) {
            Some(name) => match parent_path(&at) {
                Some(parent) if !parent.is_empty() => format!("{parent}.{name}"),
                _ => name.to_owned(),
            },
            None => at,
        };
        ParseError {
            file: self.file.to_owned(),
            line,
            field,
            message,
        }
    }
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name)
}
