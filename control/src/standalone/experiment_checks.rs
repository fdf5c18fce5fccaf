//! A `kind: Experiment` in a `weir run` file, checked against the proxy configuration beside
//! it: each template names its version by `service.name`, a service of the configuration;
//! each analysis' built-in (`weir`) metrics measure a route of the configuration and, on it,
//! a backend that is a template of the experiment (meaning its service) or a service. A
//! standalone Experiment does not change the route table (Argo's Experiment has no traffic
//! weights), so a template can only be measured where the configuration already routes its
//! service; a metric that could never measure is refused here rather than failing at run
//! time. Errors are `file:line: field: message`.

use std::collections::BTreeMap;

use weir_config::argo::{Experiment, Located};
use weir_config::ProxyConfig;

use crate::engine::experiment::machine::run_spec;
use crate::engine::experiment::resource::plan_of;
use crate::engine::AnalysisTemplates;

use super::runs::resolve_provider;

/// Every problem of one Experiment document.
pub fn check(
    file: &str,
    doc: &Located<Experiment>,
    proxy: &ProxyConfig,
    templates: &AnalysisTemplates,
) -> Vec<String> {
    let mut problems = Vec::new();
    // `at`: the field whose line the error names (the field itself, or where it belongs).
    let line = |at: &str, field: &str, message: String| {
        format!("{file}:{}: {field}: {message}", doc.source.line_of(at))
    };
    let e = &doc.resource;
    let named = e.metadata.name.as_deref().is_some_and(|n| !n.is_empty());
    if !named && e.metadata.generate_name.is_some() {
        // Without either, lint has said so already.
        problems.push(line(
            "metadata.generateName",
            "metadata.name",
            "weir run needs metadata.name: the Experiment's status is kept under that name \
             (generateName is for experiments a controller creates)"
                .to_string(),
        ));
    }
    let services: Vec<&str> = proxy.services.keys().map(String::as_str).collect();
    // Template name -> its service, for the templates that name a known one.
    let mut template_services = BTreeMap::new();
    for (i, t) in e.spec.templates.iter().enumerate() {
        let field = format!("spec.templates[{i}].service.name");
        match t.service.as_ref().map(|s| s.name.as_str()).unwrap_or("") {
            "" => problems.push(line(
                &field,
                &field,
                format!(
                    "template `{}` names no service: in weir run a template's version is a \
                     service of the proxy configuration (services: {})",
                    t.name,
                    list(&services)
                ),
            )),
            s if !proxy.services.contains_key(s) => problems.push(line(
                &field,
                &field,
                format!(
                    "no service `{s}` in the proxy configuration (services: {})",
                    list(&services)
                ),
            )),
            s => {
                template_services.insert(t.name.as_str(), s);
            }
        }
    }
    let plan = plan_of(e);
    for (i, analysis) in plan.analyses.iter().enumerate() {
        // A template that does not resolve is lint's error (spec.analyses[i].templateName).
        let Ok((spec, providers)) = run_spec(&plan, analysis, templates) else {
            continue;
        };
        for (metric, provider) in spec.metrics.iter().zip(&providers) {
            let Some(weir) = resolve_provider(provider, &spec.args)
                .ok()
                .and_then(|p| p.weir_metric().ok().flatten())
            else {
                continue;
            };
            let context = format!(
                "analysis `{}`: metric `{}` of {} `{}`",
                analysis.name,
                metric.name,
                if analysis.cluster_scope.unwrap_or(false) {
                    "ClusterAnalysisTemplate"
                } else {
                    "AnalysisTemplate"
                },
                analysis.template_name
            );
            let field = format!("spec.analyses[{i}]");
            let Some(route) = proxy.routes.iter().find(|r| r.name.value == weir.route) else {
                let routes: Vec<&str> = proxy.routes.iter().map(|r| &*r.name.value).collect();
                problems.push(line(
                    &field,
                    &field,
                    format!(
                        "{context} measures route `{}`, which is not in the proxy \
                         configuration (routes: {})",
                        weir.route,
                        list(&routes)
                    ),
                ));
                continue;
            };
            let on_route: Vec<&str> = route.backends.iter().map(|b| &*b.service.value).collect();
            for backend in std::iter::once(&weir.backend).chain(weir.baseline.as_ref()) {
                let (service, what) = match template_services.get(backend.as_str()) {
                    Some(s) => (*s, format!("template `{backend}` (service `{s}`)")),
                    None if e.spec.templates.iter().any(|t| &t.name == backend) => continue,
                    None => (backend.as_str(), format!("`{backend}`")),
                };
                if on_route.contains(&service) {
                    continue;
                }
                let known = template_services.contains_key(backend.as_str())
                    || proxy.services.contains_key(service);
                let message = if known {
                    format!(
                        "{context} measures {what} on route `{}`, which does not route to \
                         `{service}` (its backends: {}): a standalone Experiment does not \
                         change the route table, so its templates are measured where the \
                         proxy configuration routes their services",
                        weir.route,
                        list(&on_route)
                    )
                } else {
                    let names: Vec<&str> = e.spec.templates.iter().map(|t| &*t.name).collect();
                    format!(
                        "{context} measures backend {what}, which is neither a template of \
                         this Experiment ({}) nor a service on route `{}` ({})",
                        list(&names),
                        weir.route,
                        list(&on_route)
                    )
                };
                problems.push(line(&field, &field, message));
            }
        }
    }
    problems
}

/// `a, b` or `none`.
fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests;
