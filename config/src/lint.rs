//! `weir lint`: checks Argo manifests the way Argo's admission and controller validation
//! would, without a cluster, across all the files given (a Rollout in one file may use an
//! AnalysisTemplate from another). Every finding names the file, the line and the field.
//!
//! Rules follow Argo Rollouts' `validation.go`, `validation_references.go` and the analysis
//! helpers (`ValidateMetric`, `MergeArgs`, `FlattenTemplates`); where weir is itself the
//! traffic router, rules that only exist because a mesh lacks a feature are left out (see
//! `rollout.rs`).

mod analysis;
mod catalog;
mod experiment;
mod references;
mod rollout;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::argo::{parse_documents_lenient, Document, ParseError, SourceMap};

use catalog::Catalog;

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintError {
    pub file: String,
    /// Absolute line in the file (1-based).
    pub line: usize,
    /// Field path, e.g. `spec.strategy.canary.steps[2].setWeight`; empty for syntax errors.
    pub field: String,
    /// What is wrong and, where it helps, what would be valid.
    pub message: String,
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.field, self.message
            )
        }
    }
}

impl std::error::Error for LintError {}

impl From<ParseError> for LintError {
    fn from(e: ParseError) -> Self {
        LintError {
            file: e.file,
            line: e.line,
            field: e.field,
            message: e.message,
        }
    }
}

/// Lints `(path, text)` pairs together. An empty result means every document is valid.
pub fn lint_files(files: &[(String, String)]) -> Vec<LintError> {
    let mut errors = Vec::new();
    let mut loaded = Vec::new();
    for (path, text) in files {
        let (docs, parse_errors) = parse_documents_lenient(path, text);
        errors.extend(parse_errors.into_iter().map(LintError::from));
        loaded.push((path.as_str(), docs));
    }
    let catalog = Catalog::new(&loaded);
    for (file, docs) in &loaded {
        for doc in docs {
            lint_document(file, doc, &catalog, &mut errors);
        }
    }
    // Files in the order given, lines in order within a file.
    let order = |file: &str| files.iter().position(|(p, _)| p == file);
    errors.sort_by_key(|e| (order(&e.file), e.line));
    errors
}

fn lint_document(file: &str, doc: &Document, catalog: &Catalog, errors: &mut Vec<LintError>) {
    match doc {
        Document::Rollout(d) => {
            let mut r = Report::new(file, &d.source, errors);
            rollout::lint_rollout(&d.resource, catalog, &mut r);
        }
        Document::AnalysisTemplate(d) => {
            let mut r = Report::new(file, &d.source, errors);
            analysis::lint_template_spec(&d.resource.spec, catalog, &mut r);
        }
        Document::ClusterAnalysisTemplate(d) => {
            let mut r = Report::new(file, &d.source, errors);
            analysis::lint_template_spec(&d.resource.spec, catalog, &mut r);
        }
        Document::AnalysisRun(d) => {
            let mut r = Report::new(file, &d.source, errors);
            analysis::lint_run_spec(&d.resource.spec, &mut r);
        }
        Document::Experiment(d) => {
            let mut r = Report::new(file, &d.source, errors);
            experiment::lint_experiment(&d.resource.spec, catalog, &mut r);
        }
        Document::Other { .. } | Document::Untyped { .. } => {}
    }
}

/// Collects the findings of one document, turning field paths into lines.
pub(crate) struct Report<'a> {
    file: &'a str,
    source: &'a SourceMap,
    errors: &'a mut Vec<LintError>,
}

impl<'a> Report<'a> {
    fn new(file: &'a str, source: &'a SourceMap, errors: &'a mut Vec<LintError>) -> Self {
        Report {
            file,
            source,
            errors,
        }
    }

    pub(crate) fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        self.errors.push(LintError {
            file: self.file.to_owned(),
            line: self.source.line_of(&field),
            field,
            message: message.into(),
        });
    }
}
