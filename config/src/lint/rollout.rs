//! Rules for a Rollout, following Argo's `ValidateRolloutSpec` and the strategy checks.
//!
//! Left out on purpose: checks of the pod template (Kubernetes validates it when it creates
//! the ReplicaSet) other than the quantities that would not even decode (`memory:
//! invalid`, which `kubectl argo rollouts lint` reports as a decode error), and the checks that a traffic provider supports header routes, mirror
//! routes or experiment weights (istio/alb/apisix/plugins in Argo): weir is the traffic
//! router and supports all of them, so only `managedRoutes` is required.

use serde_json::Value;

use super::catalog::Catalog;
use super::experiment::lint_experiment_step;
use super::references::{check_template_set, SuppliedArg, TemplateUse};
use super::Report;
use crate::argo::{
    int_or_string_duration, AnalysisRunArgument, AnalysisTemplateRef, AntiAffinity,
    BlueGreenStrategy, CanaryStrategy, IntOrString, Rollout, StringMatch,
};

const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
const DEFAULT_MAX_TRAFFIC_WEIGHT: i32 = 100;

pub(crate) fn lint_rollout(rollout: &Rollout, catalog: &Catalog, r: &mut Report) {
    let spec = &rollout.spec;
    if let Some(n) = spec.replicas.filter(|n| *n < 0) {
        r.error("spec.replicas", format!("must be >= 0, got {n}"));
    }
    if spec.workload_ref.is_none() {
        match &spec.selector {
            None => r.error("spec.selector", "Rollout has missing field 'spec.selector'"),
            Some(selector) if is_empty_selector(selector) => r.error(
                "spec.selector",
                "empty selector is invalid: set matchLabels or matchExpressions",
            ),
            Some(_) => {}
        }
    } else if spec.template.as_ref().is_some_and(|t| !is_empty_value(t)) {
        r.error(
            "spec.template",
            "template must be empty for a workload reference rollout (spec.workloadRef is set)",
        );
    }
    if let Some(pod_spec) = spec.template.as_ref().and_then(|t| t.get("spec")) {
        for (field, value) in crate::quantity::malformed_quantities(pod_spec, "spec.template.spec")
        {
            r.error(
                field,
                format!(
                    "{} (got {value}); the API server keeps it in a Rollout, and Argo's controller (and weir's) drops it and goes on without it",
                    crate::quantity::QUANTITY_FORMAT
                ),
            );
        }
    }
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    if min_ready < 0 {
        r.error(
            "spec.minReadySeconds",
            format!("must be >= 0, got {min_ready}"),
        );
    }
    let history = spec
        .revision_history_limit
        .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT);
    if history < 0 {
        r.error(
            "spec.revisionHistoryLimit",
            format!("must be >= 0, got {history}"),
        );
    }
    let deadline = spec
        .progress_deadline_seconds
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    if deadline < 0 {
        r.error(
            "spec.progressDeadlineSeconds",
            format!("must be >= 0, got {deadline}"),
        );
    } else if deadline <= min_ready {
        r.error(
            "spec.progressDeadlineSeconds",
            format!("must be greater than minReadySeconds ({deadline} <= {min_ready})"),
        );
    }

    let namespace = rollout.metadata.namespace.as_deref();
    match (&spec.strategy.canary, &spec.strategy.blue_green) {
        (None, None) => r.error(
            "spec.strategy",
            "Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'",
        ),
        (Some(_), Some(_)) => r.error(
            "spec.strategy",
            "Multiple Strategies can not be listed: set canary or blueGreen, not both",
        ),
        (Some(canary), None) => lint_canary(canary, history, namespace, catalog, r),
        (None, Some(bg)) => lint_blue_green(bg, history, namespace, catalog, r),
    }
}

fn lint_blue_green(
    bg: &BlueGreenStrategy,
    history: i32,
    namespace: Option<&str>,
    catalog: &Catalog,
    r: &mut Report,
) {
    let path = "spec.strategy.blueGreen";
    if bg.active_service.is_empty() {
        r.error(format!("{path}.activeService"), "activeService is required");
    } else if bg.active_service == bg.preview_service {
        r.error(
            format!("{path}.activeService"),
            format!("activeService and previewService are both `{}`, but two different services are required", bg.active_service),
        );
    }
    if let Some(n) = bg.auto_promotion_seconds.filter(|n| *n < 0) {
        r.error(
            format!("{path}.autoPromotionSeconds"),
            format!("must be >= 0, got {n}"),
        );
    }
    if let Some(limit) = bg.scale_down_delay_revision_limit.filter(|l| *l > history) {
        r.error(
            format!("{path}.scaleDownDelayRevisionLimit"),
            format!("this rollout's revision history limit ({history}) can not be smaller than its scale down limit ({limit})"),
        );
    }
    lint_anti_affinity(
        bg.anti_affinity.as_ref(),
        &format!("{path}.antiAffinity"),
        r,
    );
    for (field, analysis) in [
        ("prePromotionAnalysis", &bg.pre_promotion_analysis),
        ("postPromotionAnalysis", &bg.post_promotion_analysis),
    ] {
        if let Some(a) = analysis {
            let base = format!("{path}.{field}");
            lint_analysis_refs(&base, &a.templates, &a.args, true, namespace, catalog, r);
        }
    }
}

fn lint_canary(
    canary: &CanaryStrategy,
    history: i32,
    namespace: Option<&str>,
    catalog: &Catalog,
    r: &mut Report,
) {
    let path = "spec.strategy.canary";
    let surge = canary.max_surge.as_ref().map_or(25, int_or_percent);
    let unavailable = canary.max_unavailable.as_ref().map_or(25, int_or_percent);
    if surge == 0 && unavailable == 0 {
        r.error(
            format!("{path}.maxSurge"),
            "maxSurge and maxUnavailable can not both be zero",
        );
    }
    if !canary.stable_service.is_empty() && canary.stable_service == canary.canary_service {
        r.error(
            format!("{path}.stableService"),
            format!("stableService and canaryService are both `{}`, but two different services are required", canary.stable_service),
        );
    }
    if let Some(pp) = &canary.ping_pong {
        if pp.ping_service.is_empty() {
            r.error(
                format!("{path}.pingPong.pingService"),
                "pingService is required with pingPong",
            );
        }
        if pp.pong_service.is_empty() {
            r.error(
                format!("{path}.pingPong.pongService"),
                "pongService is required with pingPong",
            );
        }
        if pp.ping_service == pp.pong_service {
            r.error(
                format!("{path}.pingPong.pingService"),
                "pingService and pongService must be two different services",
            );
        }
    }
    let routing = canary.traffic_routing.as_ref();
    match routing {
        None => {
            if canary.scale_down_delay_seconds.is_some() {
                r.error(
                    format!("{path}.scaleDownDelaySeconds"),
                    "scaleDownDelaySeconds can only be used with trafficRouting",
                );
            }
            if canary.dynamic_stable_scale {
                r.error(
                    format!("{path}.dynamicStableScale"),
                    "dynamicStableScale can only be used with trafficRouting",
                );
            }
        }
        Some(tr) => {
            let needs_services = tr.alb.is_some() && canary.ping_pong.is_none()
                || tr
                    .istio
                    .as_ref()
                    .is_some_and(|i| i.get("destinationRule").is_none())
                    && canary.ping_pong.is_none()
                || tr.smi.is_some()
                || tr.apisix.is_some()
                || tr.ambassador.is_some()
                || tr.nginx.is_some()
                || tr.app_mesh.is_some()
                || tr.traefik.is_some();
            if needs_services {
                for (field, value) in [
                    ("stableService", &canary.stable_service),
                    ("canaryService", &canary.canary_service),
                ] {
                    if value.is_empty() {
                        r.error(
                            format!("{path}.{field}"),
                            "canaryService and stableService must both be set to use this trafficRouting provider",
                        );
                    }
                }
            }
            if canary.scale_down_delay_seconds.is_some() && canary.dynamic_stable_scale {
                r.error(
                    format!("{path}.dynamicStableScale"),
                    "dynamicStableScale cannot be used with scaleDownDelaySeconds",
                );
            }
        }
    }
    if let Some(limit) = canary
        .scale_down_delay_revision_limit
        .filter(|l| *l > history)
    {
        r.error(
            format!("{path}.scaleDownDelayRevisionLimit"),
            format!("this rollout's revision history limit ({history}) can not be smaller than its scale down limit ({limit})"),
        );
    }

    let max_weight = routing
        .and_then(|t| t.max_traffic_weight)
        .unwrap_or(DEFAULT_MAX_TRAFFIC_WEIGHT);
    let managed: Option<Vec<&str>> = routing
        .and_then(|t| t.managed_routes.as_ref())
        .map(|routes| routes.iter().map(|m| m.name.as_str()).collect());
    for (i, step) in canary.steps.iter().enumerate() {
        let sp = format!("{path}.steps[{i}]");
        // Argo counts only these four toward "more than one"; the route and scale actions
        // may ride along with them.
        let main: Vec<&str> = step
            .actions()
            .into_iter()
            .filter(|a| matches!(*a, "setWeight" | "pause" | "experiment" | "analysis"))
            .collect();
        if step.actions().is_empty() {
            r.error(
                sp.clone(),
                "step sets no action: set one of setWeight, pause, analysis, experiment, setCanaryScale, setHeaderRoute, setMirrorRoute or plugin",
            );
        } else if main.len() > 1 {
            r.error(
                sp.clone(),
                format!("step sets {}: a step must have exactly one of setWeight, pause, experiment or analysis", main.join(" and ")),
            );
        }
        if let Some(w) = step.set_weight.filter(|w| *w < 0 || *w > max_weight) {
            r.error(
                format!("{sp}.setWeight"),
                format!("setWeight {w} is out of range: must be between 0 and {max_weight}"),
            );
        }
        if let Some(d) = step.pause.as_ref().and_then(|p| p.duration.as_ref()) {
            if let Err(e) = int_or_string_duration(d) {
                r.error(
                    format!("{sp}.pause.duration"),
                    format!("{e}; a pause duration must be >= 0, e.g. 30 (seconds), 30s, 5m, 1h"),
                );
            }
        }
        if step.set_canary_scale.is_some() && routing.is_none() {
            r.error(
                format!("{sp}.setCanaryScale"),
                "setCanaryScale requires spec.strategy.canary.trafficRouting",
            );
        }
        if let Some(hr) = &step.set_header_route {
            check_managed_route(
                &format!("{sp}.setHeaderRoute"),
                &hr.name,
                &managed,
                "setHeaderRoute",
                r,
            );
            for (j, m) in hr.matches.iter().enumerate() {
                let mp = format!("{sp}.setHeaderRoute.match[{j}].headerValue");
                match &m.header_value {
                    None => r.error(
                        mp,
                        "headerValue is required: set one of exact, prefix or regex",
                    ),
                    Some(v) => lint_string_match(v, &mp, r),
                }
            }
        }
        if let Some(mr) = &step.set_mirror_route {
            check_managed_route(
                &format!("{sp}.setMirrorRoute"),
                &mr.name,
                &managed,
                "setMirrorRoute",
                r,
            );
            if let Some(p) = mr.percentage.filter(|p| !(0..=100).contains(p)) {
                r.error(
                    format!("{sp}.setMirrorRoute.percentage"),
                    format!("percentage {p} is out of range: must be between 0 and 100"),
                );
            }
            for (j, m) in mr.matches.iter().enumerate() {
                let mp = format!("{sp}.setMirrorRoute.match[{j}]");
                if let Some(v) = &m.method {
                    lint_string_match(v, &format!("{mp}.method"), r);
                }
                if let Some(v) = &m.path {
                    lint_string_match(v, &format!("{mp}.path"), r);
                }
                for (name, v) in &m.headers {
                    lint_string_match(v, &format!("{mp}.headers.{name}"), r);
                }
            }
        }
        if let Some(exp) = &step.experiment {
            lint_experiment_step(
                exp,
                &format!("{sp}.experiment"),
                routing.is_some(),
                namespace,
                catalog,
                r,
            );
        }
        if let Some(a) = &step.analysis {
            lint_analysis_refs(
                &format!("{sp}.analysis"),
                &a.templates,
                &a.args,
                true,
                namespace,
                catalog,
                r,
            );
        }
    }

    if let Some(bg) = &canary.analysis {
        let base = format!("{path}.analysis");
        if let Some(s) = bg.starting_step {
            let steps = canary.steps.len();
            if s < 0 || s as usize >= steps {
                let valid = match steps {
                    0 => "there are no steps, so it would never start".to_owned(),
                    n => format!("valid steps are 0 to {}", n - 1),
                };
                r.error(
                    format!("{base}.startingStep"),
                    format!("startingStep {s} is out of range: {valid}"),
                );
            }
        }
        lint_analysis_refs(&base, &bg.templates, &bg.args, false, namespace, catalog, r);
    }
    lint_anti_affinity(
        canary.anti_affinity.as_ref(),
        &format!("{path}.antiAffinity"),
        r,
    );
}

fn check_managed_route(
    field: &str,
    name: &str,
    managed: &Option<Vec<&str>>,
    action: &str,
    r: &mut Report,
) {
    match managed {
        None => r.error(
            field,
            format!("{action} needs spec.strategy.canary.trafficRouting.managedRoutes listing route `{name}`"),
        ),
        Some(routes) if !routes.contains(&name) => r.error(
            format!("{field}.name"),
            format!(
                "route `{name}` is not in spec.strategy.canary.trafficRouting.managedRoutes (managed: {})",
                if routes.is_empty() { "none".to_owned() } else { routes.join(", ") }
            ),
        ),
        Some(_) => {}
    }
}

/// Exactly one of exact, prefix or regex, and a regex that compiles.
fn lint_string_match(m: &StringMatch, field: &str, r: &mut Report) {
    let set = [
        !m.exact.is_empty(),
        !m.prefix.is_empty(),
        !m.regex.is_empty(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    match set {
        0 => r.error(
            field,
            "match value missing: set one of exact, prefix or regex",
        ),
        1 => {}
        _ => r.error(
            field,
            "match value must have exactly one of exact, prefix or regex",
        ),
    }
    if !m.regex.is_empty() {
        if let Err(e) = regex::Regex::new(&m.regex) {
            r.error(format!("{field}.regex"), format!("invalid regex: {e}"));
        }
    }
}

/// The templates and arguments of one analysis a Rollout starts.
fn lint_analysis_refs(
    base: &str,
    templates: &[AnalysisTemplateRef],
    args: &[AnalysisRunArgument],
    must_end: bool,
    namespace: Option<&str>,
    catalog: &Catalog,
    r: &mut Report,
) {
    if templates.is_empty() {
        r.error(
            format!("{base}.templates"),
            "at least one template is required",
        );
    }
    lint_rollout_args(args, &format!("{base}.args"), r);
    let uses: Vec<TemplateUse> = templates
        .iter()
        .enumerate()
        .map(|(j, t)| TemplateUse {
            name: &t.template_name,
            cluster_scope: t.is_cluster_scoped(),
            field: format!("{base}.templates[{j}].templateName"),
        })
        .collect();
    let supplied: Vec<SuppliedArg> = args
        .iter()
        .map(|a| SuppliedArg {
            name: &a.name,
            value: a.value.as_deref(),
            has_value_from: a.value_from.is_some(),
        })
        .collect();
    check_template_set(&uses, &supplied, must_end, namespace, catalog, r);
}

/// Argument values a Rollout passes: `valueFrom.fieldRef` may only name object metadata the
/// downward API supports.
pub(crate) fn lint_rollout_args(args: &[AnalysisRunArgument], base: &str, r: &mut Report) {
    for (i, a) in args.iter().enumerate() {
        let Some(from) = &a.value_from else { continue };
        if let Some(hash) = &from.pod_template_hash_value {
            if hash != "Stable" && hash != "Latest" {
                r.error(
                    format!("{base}[{i}].valueFrom.podTemplateHashValue"),
                    format!("`{hash}` is not valid: use Stable or Latest"),
                );
            }
        }
        if let Some(f) = &from.field_ref {
            let p = &f.field_path;
            if p.starts_with("metadata") && !is_downward_metadata(p) {
                r.error(
                    format!("{base}[{i}].valueFrom.fieldRef.fieldPath"),
                    format!("`{p}` is not object metadata the downward API supports (metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'], metadata.annotations['k'])"),
                );
            }
        }
    }
}

fn is_downward_metadata(path: &str) -> bool {
    matches!(
        path,
        "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "metadata.labels"
            | "metadata.annotations"
    ) || ["metadata.labels['", "metadata.annotations['"]
        .iter()
        .any(|p| path.starts_with(p) && path.ends_with("']") && path.len() > p.len() + 2)
}

fn lint_anti_affinity(a: Option<&AntiAffinity>, field: &str, r: &mut Report) {
    let Some(a) = a else { return };
    let preferred = a
        .preferred_during_scheduling_ignored_during_execution
        .as_ref();
    let required = a
        .required_during_scheduling_ignored_during_execution
        .as_ref();
    if preferred.is_some() == required.is_some() {
        r.error(
            field,
            "antiAffinity must have exactly one of preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution",
        );
    }
    if let Some(p) = preferred.filter(|p| !(1..=100).contains(&p.weight)) {
        r.error(
            format!("{field}.preferredDuringSchedulingIgnoredDuringExecution.weight"),
            format!(
                "antiAffinity weight must be between 1 and 100, got {}",
                p.weight
            ),
        );
    }
}

/// Kubernetes' reading of maxSurge/maxUnavailable: a percentage, or an integer.
fn int_or_percent(v: &IntOrString) -> i32 {
    v.as_percent().or_else(|| v.as_int()).unwrap_or(0)
}

fn is_empty_selector(selector: &Value) -> bool {
    let count = |key: &str| {
        selector.get(key).map_or(0, |v| match v {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        })
    };
    count("matchLabels") + count("matchExpressions") == 0
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_empty_value),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}
