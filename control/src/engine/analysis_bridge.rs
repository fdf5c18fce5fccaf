//! From a Rollout's analysis reference (a step's `analysis`, or the background analysis) and
//! the templates it names, to the pure [`AnalysisRunSpec`] and its providers: Argo's
//! `getAnalysisTemplatesFromRefs`, `FlattenTemplates`, `BuildArgumentsForRolloutAnalysisRun`
//! and `NewAnalysisRunFromTemplates`, plus what Argo does when it unmarshals the resolved
//! metric: `{{args.x}}` in `count`, `interval`, limits and delays becomes a number.

use std::time::Duration;

use weir_config::argo::{
    self, parse_duration, AnalysisRunArgument, AnalysisTemplateRef, AnalysisTemplateSpec,
    DurationString, IntOrString, MetricProvider, Rollout,
};

use super::input::AnalysisTemplates;
use crate::analysis::args::{merge_args, resolve_args, ArgsError};
use crate::analysis::spec::{self, AnalysisRunSpec, Argument, ValueFrom};

/// Why a run could not be built. The message is shown in the rollout's InvalidSpec
/// condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    #[error("AnalysisTemplate '{0}' not found")]
    TemplateNotFound(String),
    #[error("ClusterAnalysisTemplate '{0}' not found")]
    ClusterTemplateNotFound(String),
    #[error("template '{0}' includes itself")]
    TemplateCycle(String),
    #[error("two metrics have the same name '{0}'")]
    DuplicateMetric(String),
    #[error(
        "Argument `{name}` specified multiple times with different values: '{first}', '{second}'"
    )]
    ConflictingArgument {
        name: String,
        first: String,
        second: String,
    },
    #[error(transparent)]
    Args(#[from] ArgsError),
    #[error("metric '{metric}': {field} {value:?} is not valid: {reason}")]
    InvalidField {
        metric: String,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("args.{name}: fieldRef {path:?} is not supported (only metadata.name, metadata.namespace, metadata.labels['k'], metadata.annotations['k'])")]
    UnsupportedFieldRef { name: String, path: String },
}

/// What a Rollout asks to analyse: the shared part of `RolloutAnalysis` and
/// `RolloutAnalysisBackground`.
pub struct AnalysisRef<'a> {
    pub templates: &'a [AnalysisTemplateRef],
    pub args: &'a [AnalysisRunArgument],
    pub dry_run: &'a [argo::DryRun],
    pub measurement_retention: &'a [argo::MeasurementRetention],
}

/// The versions `valueFrom.podTemplateHashValue` names.
pub struct Hashes<'a> {
    pub stable: &'a str,
    pub latest: &'a str,
}

/// The run's spec and, in the same order as its metrics, their providers.
pub fn build_run(
    rollout: &Rollout,
    analysis: &AnalysisRef<'_>,
    catalog: &AnalysisTemplates,
    hashes: &Hashes<'_>,
) -> Result<(AnalysisRunSpec, Vec<MetricProvider>), BridgeError> {
    let incoming = rollout_args(rollout, analysis.args, hashes)?;
    build_run_with_args(analysis, catalog, &incoming)
}

/// [`build_run`] with the incoming arguments already resolved (an Experiment's analyses,
/// whose arguments were fixed when the experiment was made); `analysis.args` is not read.
pub fn build_run_with_args(
    analysis: &AnalysisRef<'_>,
    catalog: &AnalysisTemplates,
    incoming: &[Argument],
) -> Result<(AnalysisRunSpec, Vec<MetricProvider>), BridgeError> {
    let mut namespaced = Vec::new();
    let mut cluster = Vec::new();
    collect_templates(
        analysis.templates,
        catalog,
        &mut namespaced,
        &mut cluster,
        0,
    )?;
    let templates: Vec<&AnalysisTemplateSpec> = namespaced.into_iter().chain(cluster).collect();

    let mut metrics = Vec::new();
    for metric in templates.iter().flat_map(|t| &t.metrics) {
        if metrics
            .iter()
            .any(|m: &&argo::Metric| m.name == metric.name)
        {
            return Err(BridgeError::DuplicateMetric(metric.name.clone()));
        }
        metrics.push(metric);
    }
    let template_args = flatten_args(&templates)?;
    let args = merge_args(incoming, &template_args)?;

    let dry_run = analysis
        .dry_run
        .iter()
        .chain(templates.iter().flat_map(|t| &t.dry_run))
        .map(|d| spec::DryRun {
            metric_name: d.metric_name.clone(),
        })
        .collect();
    let measurement_retention = analysis
        .measurement_retention
        .iter()
        .chain(templates.iter().flat_map(|t| &t.measurement_retention))
        .map(|r| spec::MeasurementRetention {
            metric_name: r.metric_name.clone(),
            limit: r.limit,
        })
        .collect();
    let resolved = metrics
        .iter()
        .map(|m| resolve_metric_fields(m, &args))
        .collect::<Result<Vec<_>, _>>()?;
    let providers = metrics.iter().map(|m| m.provider.clone()).collect();
    Ok((
        AnalysisRunSpec {
            metrics: resolved,
            args,
            dry_run,
            measurement_retention,
            terminate: false,
        },
        providers,
    ))
}

/// An AnalysisRun object's own spec (one weir or Argo's controller made, or a user wrote)
/// as the pure spec and its providers: its arguments as listed (a `valueFrom` the caller
/// must resolve first, as Argo's analysis controller reads Secrets when it runs), numeric
/// and duration fields resolved with them.
pub fn run_from_object(
    spec: &argo::AnalysisRunSpec,
) -> Result<(AnalysisRunSpec, Vec<MetricProvider>), BridgeError> {
    let args: Vec<Argument> = spec.args.iter().map(template_arg).collect();
    let metrics = spec
        .metrics
        .iter()
        .map(|m| resolve_metric_fields(m, &args))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        AnalysisRunSpec {
            metrics,
            args,
            dry_run: spec
                .dry_run
                .iter()
                .map(|d| spec::DryRun {
                    metric_name: d.metric_name.clone(),
                })
                .collect(),
            measurement_retention: spec
                .measurement_retention
                .iter()
                .map(|r| spec::MeasurementRetention {
                    metric_name: r.metric_name.clone(),
                    limit: r.limit,
                })
                .collect(),
            terminate: spec.terminate,
        },
        spec.metrics.iter().map(|m| m.provider.clone()).collect(),
    ))
}

/// Templates in Argo's order: each reference, then the templates it includes; namespaced
/// and cluster-scoped kept apart, namespaced first when flattened.
fn collect_templates<'a>(
    refs: &[AnalysisTemplateRef],
    catalog: &'a AnalysisTemplates,
    namespaced: &mut Vec<&'a AnalysisTemplateSpec>,
    cluster: &mut Vec<&'a AnalysisTemplateSpec>,
    depth: usize,
) -> Result<(), BridgeError> {
    for r in refs {
        // Argo recurses without a guard; a cycle would never end, so weir stops at a depth
        // no real template tree reaches.
        if depth > 16 {
            return Err(BridgeError::TemplateCycle(r.template_name.clone()));
        }
        let found = if r.is_cluster_scoped() {
            let t = catalog
                .cluster
                .get(&r.template_name)
                .ok_or_else(|| BridgeError::ClusterTemplateNotFound(r.template_name.clone()))?;
            cluster.push(t);
            t
        } else {
            let t = catalog
                .namespaced
                .get(&r.template_name)
                .ok_or_else(|| BridgeError::TemplateNotFound(r.template_name.clone()))?;
            namespaced.push(t);
            t
        };
        collect_templates(&found.templates, catalog, namespaced, cluster, depth + 1)?;
    }
    Ok(())
}

/// Argo's `flattenArgs`: one argument per name; a value wins over none; two different
/// values are an error.
fn flatten_args(templates: &[&AnalysisTemplateSpec]) -> Result<Vec<Argument>, BridgeError> {
    let mut out: Vec<Argument> = Vec::new();
    for arg in templates.iter().flat_map(|t| &t.args) {
        let arg = template_arg(arg);
        match out.iter_mut().find(|a| a.name == arg.name) {
            Some(prev) => {
                if let (Some(first), Some(second)) = (&prev.value, &arg.value) {
                    if first != second {
                        return Err(BridgeError::ConflictingArgument {
                            name: arg.name,
                            first: first.clone(),
                            second: second.clone(),
                        });
                    }
                }
                if prev.value.is_none() {
                    *prev = arg;
                }
            }
            None => out.push(arg),
        }
    }
    Ok(out)
}

fn template_arg(arg: &argo::Argument) -> Argument {
    Argument {
        name: arg.name.clone(),
        value: arg.value.clone(),
        value_from: arg.value_from.as_ref().map(|v| ValueFrom {
            secret_key_ref: v
                .secret_key_ref
                .as_ref()
                .map(|s| (s.name.clone(), s.key.clone())),
            field_ref: v.field_ref.as_ref().map(|f| f.field_path.clone()),
        }),
    }
}

/// Argo's `BuildArgumentsForRolloutAnalysisRun`: every Rollout argument gets a value, from
/// `value`, the stable or latest version's hash, or a metadata field.
pub fn rollout_args(
    rollout: &Rollout,
    args: &[AnalysisRunArgument],
    hashes: &Hashes<'_>,
) -> Result<Vec<Argument>, BridgeError> {
    args.iter()
        .map(|arg| {
            let mut value = arg.value.clone().unwrap_or_default();
            if let Some(from) = &arg.value_from {
                if let Some(which) = &from.pod_template_hash_value {
                    value = match which.as_str() {
                        "Stable" => hashes.stable.to_string(),
                        "Latest" => hashes.latest.to_string(),
                        _ => value,
                    };
                } else if let Some(field) = &from.field_ref {
                    value = metadata_field(rollout, &field.field_path).ok_or_else(|| {
                        BridgeError::UnsupportedFieldRef {
                            name: arg.name.clone(),
                            path: field.field_path.clone(),
                        }
                    })?;
                }
            }
            Ok(Argument::new(arg.name.clone(), value))
        })
        .collect()
}

/// The metadata fields Kubernetes' `ExtractFieldPathAsString` reads; a missing label or
/// annotation is the empty string, as there.
fn metadata_field(rollout: &Rollout, path: &str) -> Option<String> {
    let meta = &rollout.metadata;
    match path {
        "metadata.name" => return Some(meta.name.clone().unwrap_or_default()),
        "metadata.namespace" => return Some(meta.namespace.clone().unwrap_or_default()),
        _ => {}
    }
    let key = |prefix: &str| {
        path.strip_prefix(prefix)?
            .strip_suffix("']")
            .map(str::to_string)
    };
    if let Some(k) = key("metadata.labels['") {
        return Some(meta.labels.get(&k).cloned().unwrap_or_default());
    }
    if let Some(k) = key("metadata.annotations['") {
        return Some(meta.annotations.get(&k).cloned().unwrap_or_default());
    }
    None
}

/// The metric with its numeric and duration fields resolved and parsed. Name and
/// conditions keep their `{{args.x}}` for the run to resolve.
fn resolve_metric_fields(m: &argo::Metric, args: &[Argument]) -> Result<spec::Metric, BridgeError> {
    let int = |field: &'static str, v: &Option<IntOrString>| -> Result<Option<i32>, BridgeError> {
        let Some(v) = v else { return Ok(None) };
        let text = match v {
            IntOrString::Int(n) => return Ok(Some(*n)),
            IntOrString::String(s) => resolve_args(s, args)?,
        };
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| BridgeError::InvalidField {
                metric: m.name.clone(),
                field,
                value: text.clone(),
                reason: "expected an integer".to_string(),
            })
    };
    let duration = |field: &'static str,
                    v: &Option<DurationString>|
     -> Result<Option<Duration>, BridgeError> {
        let Some(v) = v.as_ref().filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let text = resolve_args(&v.0, args)?;
        parse_duration(&text)
            .map(Some)
            .map_err(|e| BridgeError::InvalidField {
                metric: m.name.clone(),
                field,
                value: text.clone(),
                reason: e.to_string(),
            })
    };
    Ok(spec::Metric {
        name: m.name.clone(),
        interval: duration("interval", &m.interval)?,
        initial_delay: duration("initialDelay", &m.initial_delay)?,
        count: int("count", &m.count)?,
        success_condition: m.success_condition.clone(),
        failure_condition: m.failure_condition.clone(),
        failure_limit: int("failureLimit", &m.failure_limit)?,
        inconclusive_limit: int("inconclusiveLimit", &m.inconclusive_limit)?,
        consecutive_error_limit: int("consecutiveErrorLimit", &m.consecutive_error_limit)?,
        consecutive_success_limit: int("consecutiveSuccessLimit", &m.consecutive_success_limit)?,
    })
}
