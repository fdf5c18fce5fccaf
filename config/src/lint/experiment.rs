//! Rules for experiments, both the Experiment kind and a Rollout's experiment step: named,
//! unique templates and analyses, a parsable duration, and analyses whose templates resolve.

use std::collections::HashSet;

use super::analysis::lint_duration;
use super::catalog::Catalog;
use super::references::{check_template_set, SuppliedArg, TemplateUse};
use super::rollout::lint_rollout_args;
use super::Report;
use crate::argo::{ExperimentSpec, ExperimentStep};

pub(crate) fn lint_experiment(spec: &ExperimentSpec, catalog: &Catalog, r: &mut Report) {
    if spec.templates.is_empty() {
        r.error("spec.templates", "at least one template is required");
    }
    lint_names(
        spec.templates.iter().map(|t| t.name.as_str()),
        "spec.templates",
        "template",
        r,
    );
    for (i, t) in spec.templates.iter().enumerate() {
        if t.selector.is_none() {
            r.error(
                format!("spec.templates[{i}].selector"),
                "selector is required",
            );
        }
        if let Some(n) = t.replicas.filter(|n| *n < 0) {
            r.error(
                format!("spec.templates[{i}].replicas"),
                format!("must be >= 0, got {n}"),
            );
        }
    }
    lint_duration(spec.duration.as_ref(), "spec.duration", r);
    lint_names(
        spec.analyses.iter().map(|a| a.name.as_str()),
        "spec.analyses",
        "analysis",
        r,
    );
    for (i, a) in spec.analyses.iter().enumerate() {
        let uses = [TemplateUse {
            name: &a.template_name,
            cluster_scope: a.cluster_scope.unwrap_or(false),
            field: format!("spec.analyses[{i}].templateName"),
        }];
        let supplied: Vec<SuppliedArg> = a
            .args
            .iter()
            .map(|arg| SuppliedArg {
                name: &arg.name,
                value: arg.value.as_deref(),
                has_value_from: arg.value_from.is_some(),
            })
            .collect();
        check_template_set(&uses, &supplied, false, None, catalog, r);
    }
}

/// An experiment step of a canary Rollout (`steps[i].experiment`).
pub(crate) fn lint_experiment_step(
    step: &ExperimentStep,
    base: &str,
    has_traffic_routing: bool,
    namespace: Option<&str>,
    catalog: &Catalog,
    r: &mut Report,
) {
    if step.templates.is_empty() {
        r.error(
            format!("{base}.templates"),
            "at least one template is required",
        );
    }
    lint_names(
        step.templates.iter().map(|t| t.name.as_str()),
        &format!("{base}.templates"),
        "template",
        r,
    );
    for (j, t) in step.templates.iter().enumerate() {
        let tp = format!("{base}.templates[{j}]");
        if t.spec_ref != "stable" && t.spec_ref != "canary" {
            r.error(
                format!("{tp}.specRef"),
                format!(
                    "specRef `{}` is not valid: use stable or canary",
                    t.spec_ref
                ),
            );
        }
        if t.weight.is_some() && !has_traffic_routing {
            r.error(
                format!("{tp}.weight"),
                "experiment template weight cannot be set unless trafficRouting is enabled",
            );
        }
    }
    lint_duration(step.duration.as_ref(), &format!("{base}.duration"), r);
    lint_names(
        step.analyses.iter().map(|a| a.name.as_str()),
        &format!("{base}.analyses"),
        "analysis",
        r,
    );
    for (k, a) in step.analyses.iter().enumerate() {
        let ap = format!("{base}.analyses[{k}]");
        lint_rollout_args(&a.args, &format!("{ap}.args"), r);
        let uses = [TemplateUse {
            name: &a.template_name,
            cluster_scope: a.cluster_scope.unwrap_or(false),
            field: format!("{ap}.templateName"),
        }];
        let supplied: Vec<SuppliedArg> = a
            .args
            .iter()
            .map(|arg| SuppliedArg {
                name: &arg.name,
                value: arg.value.as_deref(),
                has_value_from: arg.value_from.is_some(),
            })
            .collect();
        check_template_set(&uses, &supplied, false, namespace, catalog, r);
    }
}

/// Every item needs a name, and names are unique within the list.
fn lint_names<'a>(names: impl Iterator<Item = &'a str>, base: &str, what: &str, r: &mut Report) {
    let mut seen = HashSet::new();
    for (i, name) in names.enumerate() {
        if name.is_empty() {
            r.error(format!("{base}[{i}]"), format!("{what} needs a name"));
        } else if !seen.insert(name) {
            r.error(
                format!("{base}[{i}].name"),
                format!("duplicate {what} name `{name}`"),
            );
        }
    }
}
