//! Rules for the analyses a Rollout or Experiment starts: the templates must exist in the
//! files given, their metrics must merge (unique names), every argument must end up with a
//! value, and an analysis the rollout waits on must finish. This is what Argo checks when it
//! builds an AnalysisRun from templates (`NewAnalysisRunFromTemplates`), done ahead of time.

use std::collections::{HashMap, HashSet};

use super::analysis::arg_pattern;
use super::catalog::Catalog;
use super::Report;
use crate::argo::{AnalysisTemplateSpec, IntOrString, Metric};

/// A template named by a Rollout or Experiment, and the field that names it.
pub(crate) struct TemplateUse<'a> {
    pub name: &'a str,
    pub cluster_scope: bool,
    pub field: String,
}

/// An argument passed by the referrer; `has_value` is false for a bare name.
pub(crate) struct SuppliedArg<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
    pub has_value_from: bool,
}

pub(crate) fn not_found(name: &str, cluster_scope: bool) -> String {
    if cluster_scope {
        format!("ClusterAnalysisTemplate `{name}` not found in the files given (clusterScope: true looks at ClusterAnalysisTemplates only)")
    } else {
        format!("AnalysisTemplate `{name}` not found in the files given (set clusterScope: true to use a ClusterAnalysisTemplate)")
    }
}

struct Resolved<'a> {
    name: &'a str,
    spec: &'a AnalysisTemplateSpec,
    /// The referrer's field that brought this template in.
    field: &'a str,
}

/// Checks one set of templates that Argo would merge into a single AnalysisRun.
/// `must_end`: the rollout waits for this run (a step analysis, pre/post promotion), so a
/// metric that measures forever would stall it.
pub(crate) fn check_template_set(
    uses: &[TemplateUse],
    supplied: &[SuppliedArg],
    must_end: bool,
    namespace: Option<&str>,
    catalog: &Catalog,
    r: &mut Report,
) {
    let mut resolved = Vec::new();
    let mut missing = false;
    for u in uses {
        match catalog.find(u.name, u.cluster_scope, namespace) {
            Some(spec) => {
                let mut seen = HashSet::new();
                include(
                    u.name,
                    spec,
                    &u.field,
                    namespace,
                    catalog,
                    &mut seen,
                    &mut resolved,
                );
            }
            None => {
                r.error(u.field.clone(), not_found(u.name, u.cluster_scope));
                missing = true;
            }
        }
    }
    if missing {
        return;
    }

    // Metric names must be unique across the merged templates.
    let mut owners: HashMap<&str, &str> = HashMap::new();
    for t in &resolved {
        for m in &t.spec.metrics {
            match owners.get(m.name.as_str()) {
                Some(owner) if *owner != t.name => r.error(
                    t.field,
                    format!(
                        "templates `{owner}` and `{}` both have a metric named `{}`; merged into one AnalysisRun, metric names must be unique",
                        t.name, m.name
                    ),
                ),
                _ => {
                    owners.insert(&m.name, t.name);
                }
            }
        }
    }

    // Arguments: the templates' declarations merged, then the referrer's values.
    let mut args: Vec<(&str, Option<&str>, bool, &Resolved)> = Vec::new();
    for t in &resolved {
        for a in &t.spec.args {
            match args.iter_mut().find(|(name, ..)| *name == a.name) {
                Some(prev) => {
                    if let (Some(old), Some(new)) = (prev.1, a.value.as_deref()) {
                        if old != new {
                            r.error(
                                t.field,
                                format!("argument `{}` is given different values by the templates: `{old}`, `{new}`", a.name),
                            );
                        }
                    }
                    if prev.1.is_none() && !prev.2 {
                        *prev = (&a.name, a.value.as_deref(), a.value_from.is_some(), t);
                    }
                }
                None => args.push((&a.name, a.value.as_deref(), a.value_from.is_some(), t)),
            }
        }
    }
    for s in supplied {
        if let Some(arg) = args.iter_mut().find(|(name, ..)| *name == s.name) {
            if s.value.is_some() {
                arg.1 = s.value;
            } else if s.has_value_from {
                arg.2 = true;
            }
        }
    }
    for (name, value, from, t) in &args {
        if value.is_none() && !from {
            r.error(
                t.field,
                format!("args.{name} was not resolved: template `{}` declares it without a value and no args entry here supplies it", t.name),
            );
        }
    }

    if must_end {
        let values: HashMap<&str, Option<&str>> = args
            .iter()
            .map(|(n, v, from, _)| (*n, v.filter(|_| !from)))
            .collect();
        for t in &resolved {
            for m in &t.spec.metrics {
                if runs_forever(m, &values) {
                    r.error(
                        t.field,
                        format!(
                            "AnalysisTemplate `{}` has metric `{}` which runs indefinitely (interval set, no count); the rollout would wait on it forever: set count",
                            t.name, m.name
                        ),
                    );
                }
            }
        }
    }
}

/// Adds `spec` and the templates it includes (`spec.templates`), once each.
fn include<'a>(
    name: &'a str,
    spec: &'a AnalysisTemplateSpec,
    field: &'a str,
    namespace: Option<&str>,
    catalog: &Catalog<'a>,
    seen: &mut HashSet<(&'a str, bool)>,
    out: &mut Vec<Resolved<'a>>,
) {
    out.push(Resolved { name, spec, field });
    for t in &spec.templates {
        if !seen.insert((t.template_name.as_str(), t.is_cluster_scoped())) {
            continue;
        }
        // A missing nested template is reported where it is named, by the template's lint.
        if let Some(nested) = catalog.find(&t.template_name, t.is_cluster_scoped(), namespace) {
            include(
                &t.template_name,
                nested,
                field,
                namespace,
                catalog,
                seen,
                out,
            );
        }
    }
}

/// Argo's `EffectiveCount() == nil` after argument substitution. A count whose argument
/// comes from `valueFrom` is only known at run time, so it is given the benefit of the doubt.
fn runs_forever(m: &Metric, args: &HashMap<&str, Option<&str>>) -> bool {
    let has_interval = m.interval.as_ref().is_some_and(|i| !i.is_empty());
    if !has_interval {
        return false;
    }
    let count = match &m.count {
        None => 0,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            let mut text = s.clone();
            for cap in arg_pattern().captures_iter(s) {
                match args.get(&cap[1]) {
                    Some(Some(v)) => text = text.replace(&cap[0], v),
                    _ => return false,
                }
            }
            text.trim().parse().unwrap_or(0)
        }
    };
    count == 0
}
