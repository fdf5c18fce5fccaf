//! `{{args.NAME}}` substitution, and merging Rollout-supplied args over a template's: Argo's
//! `utils/template` and `MergeArgs`.
//!
//! Argo substitutes over the whole metric marshalled to JSON (escaping values, then
//! unmarshalling), which for every string field comes to plain substitution; weir substitutes
//! in the strings directly. Provider fields (queries, URLs) are the caller's, resolved with
//! [`resolve_args`]; [`resolve_metric`] does the metric's own strings.

use super::spec::{Argument, Metric};

/// Why arguments could not be merged or substituted. Texts follow Argo's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// A template argument with no value after merging (Argo's `ResolveArgs` in `MergeArgs`).
    #[error("args.{0} was not resolved")]
    NotResolved(String),
    /// An argument without a value at substitution time.
    #[error("argument \"{0}\" was not supplied")]
    NotSupplied(String),
    /// An argument that only has `valueFrom`, which weir does not read in standalone mode.
    #[error("args.{0}: valueFrom is not supported in standalone mode")]
    ValueFromUnsupported(String),
    /// A `{{...}}` tag naming no argument; the tag as written.
    #[error("failed to resolve {{{{{0}}}}}")]
    Unresolved(String),
    /// A `{{` with no `}}` after it.
    #[error("cannot find end tag \"}}}}\" in {0:?}")]
    UnclosedTag(String),
}

/// Argo's `MergeArgs`: the template's arguments, with values (or `valueFrom`) taken from the
/// incoming (Rollout-supplied) arguments of the same name. Incoming arguments the template
/// does not declare are dropped. Every merged argument must end with a value or `valueFrom`.
pub fn merge_args(
    incoming: &[Argument],
    template: &[Argument],
) -> Result<Vec<Argument>, ArgsError> {
    let mut merged = template.to_vec();
    for arg in incoming {
        if let Some(slot) = merged.iter_mut().find(|a| a.name == arg.name) {
            if arg.value.is_some() {
                slot.value.clone_from(&arg.value);
            } else if arg.value_from.is_some() {
                slot.value_from.clone_from(&arg.value_from);
            }
        }
    }
    match merged
        .iter()
        .find(|a| a.value.is_none() && a.value_from.is_none())
    {
        Some(a) => Err(ArgsError::NotResolved(a.name.clone())),
        None => Ok(merged),
    }
}

/// Argo's `ResolveArgs`: replaces each `{{args.NAME}}` (spaces inside the braces allowed) with
/// the argument's value. Every argument must have a value, used or not, as in Argo; a tag that
/// names no argument is an error (Argo reports the last such tag).
pub fn resolve_args(template: &str, args: &[Argument]) -> Result<String, ArgsError> {
    for arg in args {
        if arg.value.is_none() {
            return Err(if arg.value_from.is_some() {
                ArgsError::ValueFromUnsupported(arg.name.clone())
            } else {
                ArgsError::NotSupplied(arg.name.clone())
            });
        }
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut unresolved = None;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(ArgsError::UnclosedTag(template.to_string()));
        };
        let tag = &after[..close];
        let value = tag
            .trim()
            .strip_prefix("args.")
            .and_then(|name| args.iter().find(|a| a.name == name))
            .and_then(|a| a.value.as_deref());
        match value {
            Some(v) => out.push_str(v),
            None => unresolved = Some(ArgsError::Unresolved(tag.to_string())),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    match unresolved {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The metric with `{{args.NAME}}` resolved in its name and conditions.
pub fn resolve_metric(metric: &Metric, args: &[Argument]) -> Result<Metric, ArgsError> {
    Ok(Metric {
        name: resolve_args(&metric.name, args)?,
        success_condition: resolve_args(&metric.success_condition, args)?,
        failure_condition: resolve_args(&metric.failure_condition, args)?,
        ..metric.clone()
    })
}
