//! What `weir experiments list | get` print, and the experiment branch of the tree of
//! `weir rollouts get`: pure functions of the API's answers, like `view.rs`.
//!
//! A Rollout step's experiment templates run in standalone mode as weir backends named
//! `<experiment>-<template>`, so the tree shows that backend where Argo shows a ReplicaSet;
//! a standalone `kind: Experiment`'s template is the service it names (`service.name`),
//! measured where the routes already send it, so the tree shows that service and no weight.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use serde_json::Value;
use weir_config::argo::{Experiment, Rollout};

use super::analysis_tree::{self, prefixes};
use super::view::{table, ICON_BAD, ICON_OK, ICON_PROGRESSING, ICON_WAITING, ICON_WARNING};

/// Argo's tree icons (`get.go`) for an experiment and its ReplicaSets (here: backends).
pub const ICON_EXPERIMENT: &str = "Σ";
const ICON_TEMPLATE: &str = "⧉";
const ICON_ANALYSIS: &str = "α";
const PENDING: &str = "Pending";

/// An Experiment with the traffic weight of each template (by template name), which the
/// Experiment type does not carry: it comes from `spec.templates[].weight` of the API's
/// answer when present, or from the Rollout step that started the experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentInfo {
    pub experiment: Experiment,
    pub weights: BTreeMap<String, i32>,
}

impl ExperimentInfo {
    #[cfg(test)]
    pub fn new(experiment: Experiment) -> Self {
        ExperimentInfo {
            experiment,
            weights: BTreeMap::new(),
        }
    }

    /// Reads an Experiment from the API's JSON, taking `spec.templates[].weight` aside.
    pub fn from_json(mut value: Value) -> Result<Self, serde_json::Error> {
        let mut weights = BTreeMap::new();
        let templates = value
            .pointer_mut("/spec/templates")
            .and_then(Value::as_array_mut);
        for template in templates.into_iter().flatten() {
            let Some(object) = template.as_object_mut() else {
                continue;
            };
            let Some(weight) = object.remove("weight") else {
                continue;
            };
            let name = object.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(weight) = weight.as_i64().and_then(|w| i32::try_from(w).ok()) {
                weights.insert(name.to_owned(), weight);
            }
        }
        Ok(ExperimentInfo {
            experiment: serde_json::from_value(value)?,
            weights,
        })
    }

    /// Adds the weights of the rollout's current step when it is an experiment step (the
    /// step that started this experiment); weights already known are kept.
    pub fn with_step_weights(mut self, r: &Rollout) -> Self {
        let index = r.status.as_ref().and_then(|s| s.current_step_index);
        let step = r
            .spec
            .strategy
            .canary
            .as_ref()
            .zip(index.and_then(|i| usize::try_from(i).ok()))
            .and_then(|(c, i)| c.steps.get(i))
            .and_then(|s| s.experiment.as_ref());
        for t in step.into_iter().flat_map(|s| &s.templates) {
            if let Some(w) = t.weight {
                self.weights.entry(t.name.clone()).or_insert(w);
            }
        }
        self
    }

    pub fn name(&self) -> &str {
        self.experiment.metadata.name.as_deref().unwrap_or("-")
    }

    /// The phase, `Pending` before the controller wrote one.
    pub fn phase(&self) -> &str {
        self.experiment
            .status
            .as_ref()
            .map(|s| s.phase.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or(PENDING)
    }

    pub fn message(&self) -> &str {
        self.experiment
            .status
            .as_ref()
            .map_or("", |s| s.message.as_str())
    }

    /// Successful, Failed, Error or Inconclusive: the experiment will not change any more.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.phase(),
            "Successful" | "Failed" | "Error" | "Inconclusive"
        )
    }
}

/// The icon of an experiment's or a template's status.
pub fn icon(phase: &str) -> &'static str {
    match phase {
        "Successful" => ICON_OK,
        "Running" | "Progressing" => ICON_PROGRESSING,
        "Failed" | "Error" => ICON_BAD,
        "Inconclusive" => ICON_WARNING,
        PENDING => ICON_WAITING,
        _ => " ",
    }
}

/// `weir experiments get NAME`: the header block, then the tree.
pub fn experiment(info: &ExperimentInfo) -> String {
    let mut out = String::new();
    write_experiment(&mut out, info).expect("writing to a String cannot fail");
    out
}

fn write_experiment(out: &mut String, info: &ExperimentInfo) -> fmt::Result {
    let e = &info.experiment;
    let field =
        |out: &mut String, key: &str, value: &dyn fmt::Display| writeln!(out, "{key:<17}{value}");
    field(out, "Name:", &info.name())?;
    field(
        out,
        "Namespace:",
        &e.metadata.namespace.as_deref().unwrap_or("-"),
    )?;
    let phase = info.phase();
    field(out, "Status:", &format!("{} {phase}", icon(phase)))?;
    if !info.message().is_empty() {
        field(out, "Message:", &info.message())?;
    }
    let duration = e.spec.duration.as_ref().map(ToString::to_string);
    field(out, "Duration:", &duration.as_deref().unwrap_or("-"))?;
    writeln!(out)?;
    let mut rows = vec![["NAME", "KIND", "STATUS", "INFO"].map(str::to_owned)];
    rows.extend(tree_rows(info, "", ""));
    out.push_str(&table(&rows));
    Ok(())
}

/// The experiment's row (its name after `branch`) and, under it (after `indent`), a row per
/// template, then one per analysis run.
pub fn tree_rows(info: &ExperimentInfo, branch: &str, indent: &str) -> Vec<[String; 4]> {
    let e = &info.experiment;
    let phase = info.phase();
    let mut rows = vec![[
        format!("{branch}{ICON_EXPERIMENT} {}", info.name()),
        "Experiment".to_owned(),
        format!("{} {phase}", icon(phase)),
        info.message().to_owned(),
    ]];
    let status = e.status.as_ref();
    let statuses = status.map_or(&[][..], |s| &s.template_statuses[..]);
    // The spec's templates in order, then any status the spec does not name.
    let mut templates: Vec<(&str, &str, &str)> = Vec::new();
    for t in &e.spec.templates {
        let s = statuses.iter().find(|s| s.name == t.name);
        let phase = s.map(|s| s.status.as_str()).filter(|p| !p.is_empty());
        let message = s.map_or("", |s| s.message.as_str());
        templates.push((&t.name, phase.unwrap_or(PENDING), message));
    }
    for s in statuses {
        if !e.spec.templates.iter().any(|t| t.name == s.name) {
            let phase = if s.status.is_empty() {
                PENDING
            } else {
                &s.status
            };
            templates.push((&s.name, phase, &s.message));
        }
    }
    // The runs started, then the spec's analyses not started yet.
    let runs = status.map_or(&[][..], |s| &s.analysis_runs[..]);
    let mut analyses: Vec<(&str, &str, &str)> = runs
        .iter()
        .map(|r| {
            let name = if r.analysis_run.is_empty() {
                &r.name
            } else {
                &r.analysis_run
            };
            let phase = if r.phase.is_empty() {
                PENDING
            } else {
                &r.phase
            };
            (name.as_str(), phase, r.message.as_str())
        })
        .collect();
    for a in &e.spec.analyses {
        if !runs.iter().any(|r| r.name == a.name) {
            analyses.push((&a.name, PENDING, "not started"));
        }
    }
    let count = templates.len() + analyses.len();
    for (i, (name, phase, message)) in templates.into_iter().enumerate() {
        let (prefix, _) = prefixes(i + 1 == count, indent);
        let service = e
            .spec
            .templates
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.service.as_ref())
            .map(|s| s.name.as_str())
            .filter(|s| !s.is_empty());
        let mut notes = vec![match service {
            Some(s) => format!("service {s}"),
            None => format!("backend {}-{name}", info.name()),
        }];
        if let Some(w) = info.weights.get(name) {
            notes.push(format!("weight {w}"));
        }
        if !message.is_empty() {
            notes.push(message.to_owned());
        }
        rows.push([
            format!("{prefix}{ICON_TEMPLATE} {name}"),
            "Template".to_owned(),
            format!("{} {phase}", icon(phase)),
            notes.join("  "),
        ]);
    }
    let offset = count - analyses.len();
    for (i, (name, phase, message)) in analyses.into_iter().enumerate() {
        let (prefix, _) = prefixes(offset + i + 1 == count, indent);
        rows.push([
            format!("{prefix}{ICON_ANALYSIS} {name}"),
            "AnalysisRun".to_owned(),
            format!("{} {phase}", analysis_tree::icon(phase)),
            message.to_owned(),
        ]);
    }
    rows
}

/// `weir experiments list`: one row per experiment, sorted by namespace and name.
pub fn list(experiments: &[ExperimentInfo]) -> String {
    if experiments.is_empty() {
        return "No experiments found.\n".to_owned();
    }
    let mut sorted: Vec<&ExperimentInfo> = experiments.iter().collect();
    sorted.sort_by(|a, b| {
        let key =
            |e: &ExperimentInfo| (e.experiment.metadata.namespace.clone(), e.name().to_owned());
        key(a).cmp(&key(b))
    });
    let mut rows = vec![["NAME", "STATUS", "TEMPLATES", "ANALYSES"].map(str::to_owned)];
    for info in sorted {
        let e = &info.experiment;
        let templates: Vec<&str> = e.spec.templates.iter().map(|t| t.name.as_str()).collect();
        let runs = e.status.as_ref().map_or(&[][..], |s| &s.analysis_runs[..]);
        let analyses: Vec<String> = runs
            .iter()
            .map(|r| {
                let phase = if r.phase.is_empty() {
                    PENDING
                } else {
                    &r.phase
                };
                format!("{} {phase}", analysis_tree::icon(phase))
            })
            .collect();
        let or_dash = |v: String| if v.is_empty() { "-".to_owned() } else { v };
        rows.push([
            info.name().to_owned(),
            format!("{} {}", icon(info.phase()), info.phase()),
            or_dash(templates.join(",")),
            or_dash(analyses.join(",")),
        ]);
    }
    table(&rows)
}
