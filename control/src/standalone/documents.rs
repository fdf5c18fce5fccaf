//! The `weir run` file: one multi-document YAML stream holding weir's proxy
//! configuration (the document with no `kind`) and Argo kinds (Rollout, AnalysisTemplate,
//! ClusterAnalysisTemplate, Experiment). Everything is validated before anything is used:
//! Argo's rules through `weir lint`'s checks, the proxy configuration through its own, and
//! what ties the two together (a Rollout's services, an Experiment's templates and metrics)
//! here and in [`super::experiment_checks`].

use crate::engine::AnalysisTemplates;
use weir_config::argo::{parse_documents_lenient, Document, Experiment, Located, Rollout};
use weir_config::ProxyConfig;

/// What one `weir run` file holds.
#[derive(Clone, Debug)]
pub struct RunFile {
    pub proxy: ProxyConfig,
    pub rollouts: Vec<Rollout>,
    pub templates: AnalysisTemplates,
    /// Standalone Experiments, each run by the controller beside the Rollouts.
    pub experiments: Vec<Experiment>,
}

/// Parses and validates `text`. Errors are `file:line: field: message` lines, all of them.
pub fn parse_run_file(file: &str, text: &str) -> Result<RunFile, String> {
    let mut problems: Vec<String> =
        weir_config::lint::lint_files(&[(file.to_string(), text.to_string())])
            .iter()
            .map(|e| e.to_string())
            .collect();
    let (docs, unreadable) = parse_documents_lenient(file, text);
    let mut proxy = None;
    // A proxy document was there but refused (its errors already said why).
    let mut proxy_refused = false;
    let mut rollouts = Vec::new();
    let mut templates = AnalysisTemplates::default();
    let mut experiments: Vec<Box<Located<Experiment>>> = Vec::new();
    for doc in docs {
        match doc {
            Document::Untyped { text, line } => {
                if proxy.is_some() {
                    problems.push(format!("{file}:{line}: a second proxy configuration document; a run file holds one"));
                    continue;
                }
                match weir_config::parse_proxy_config(file, &text, line as u64) {
                    Ok(c) => proxy = Some(c),
                    Err(e) => {
                        proxy_refused = true;
                        problems.extend(e.0.iter().map(|e| e.to_string()));
                    }
                }
            }
            Document::Rollout(r) => rollouts.push(r.resource),
            Document::AnalysisTemplate(t) => {
                if let Some(name) = t.resource.metadata.name.clone() {
                    templates.namespaced.insert(name, t.resource.spec);
                }
            }
            Document::ClusterAnalysisTemplate(t) => {
                if let Some(name) = t.resource.metadata.name.clone() {
                    templates.cluster.insert(name, t.resource.spec);
                }
            }
            Document::Experiment(e) => experiments.push(e),
            // AnalysisRuns written by hand are not driven in standalone mode; other kinds
            // (Service, Deployment, ...) are passed over.
            _ => {}
        }
    }
    let Some(proxy) = proxy else {
        // A file that is not YAML at all has no documents; its syntax error says enough.
        let not_yaml = unreadable
            .iter()
            .any(|e| e.message.starts_with("invalid YAML"));
        if !not_yaml && !proxy_refused {
            problems.push(format!("{file}:1: no proxy configuration document (one with listeners, services and routes)"));
        }
        return Err(problems.join("\n"));
    };
    for r in &rollouts {
        if let Err(e) = check_services(&proxy, r) {
            problems.push(format!("{file}: {e}"));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for e in &experiments {
        problems.extend(super::experiment_checks::check(file, e, &proxy, &templates));
        let name = e.resource.metadata.name.as_deref().unwrap_or("");
        if !name.is_empty() && !names.insert(name) {
            let line = e.source.line_of("metadata.name");
            problems.push(format!(
                "{file}:{line}: metadata.name: a second Experiment named `{name}`; names are unique in a run file"
            ));
        }
    }
    if problems.is_empty() {
        Ok(RunFile {
            proxy,
            rollouts,
            templates,
            experiments: experiments.into_iter().map(|e| e.resource).collect(),
        })
    } else {
        Err(problems.join("\n"))
    }
}

pub fn rollout_name(r: &Rollout) -> String {
    r.metadata.name.clone().unwrap_or_default()
}

pub fn namespace(r: &Rollout) -> String {
    namespace_of(&r.metadata)
}

/// The object's namespace, `default` when it names none (as kubectl would place it).
pub fn namespace_of(metadata: &weir_config::argo::ObjectMeta) -> String {
    metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string())
}

/// The Rollout's strategy name as Argo's metrics label it.
pub fn strategy(r: &Rollout) -> &'static str {
    if r.spec.strategy.blue_green.is_some() {
        "blueGreen"
    } else {
        "canary"
    }
}

/// The two services of a Rollout, as (the one serving the stable version, the one
/// serving the new version): canary's stableService and canaryService, or blue-green's
/// activeService and previewService.
pub fn services(r: &Rollout) -> Option<(String, String)> {
    let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
    if let Some(c) = &r.spec.strategy.canary {
        return Some((non_empty(&c.stable_service)?, non_empty(&c.canary_service)?));
    }
    let b = r.spec.strategy.blue_green.as_ref()?;
    Some((
        non_empty(&b.active_service)?,
        non_empty(&b.preview_service)?,
    ))
}

/// The routes a Rollout manages: for a canary, those with both its services as backends
/// (their weights shift); for blue-green, those that route to its active service.
pub fn managed_routes(proxy: &ProxyConfig, r: &Rollout) -> Vec<String> {
    let Some((stable, canary)) = services(r) else {
        return Vec::new();
    };
    let blue_green = r.spec.strategy.blue_green.is_some();
    proxy
        .routes
        .iter()
        .filter(|route| {
            let has = |s: &str| route.backends.iter().any(|b| b.service.value == s);
            has(&stable) && (blue_green || has(&canary))
        })
        .map(|route| route.name.value.clone())
        .collect()
}

fn check_services(proxy: &ProxyConfig, r: &Rollout) -> Result<(), String> {
    let name = rollout_name(r);
    let blue_green = r.spec.strategy.blue_green.is_some();
    let Some((stable, canary)) = services(r) else {
        return Err(if blue_green {
            format!("Rollout {name:?}: spec.strategy.blueGreen needs activeService and previewService in standalone mode (the preview service's endpoints are the new version)")
        } else {
            format!("Rollout {name:?}: spec.strategy.canary needs stableService and canaryService in standalone mode")
        });
    };
    for s in [&stable, &canary] {
        if !proxy.services.contains_key(s) {
            return Err(format!(
                "Rollout {name:?}: service {s:?} is not in the proxy configuration's services"
            ));
        }
    }
    if managed_routes(proxy, r).is_empty() {
        return Err(if blue_green {
            format!("Rollout {name:?}: no route sends traffic to the active service {stable:?}")
        } else {
            format!("Rollout {name:?}: no route has both {stable:?} and {canary:?} as backends, so there is no traffic to shift")
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_run_file;

    /// A proxy document that is there but refused gets its own errors only, not also
    /// "no proxy configuration document" (found by the soak test, which wrote broken run
    /// files once a second).
    #[test]
    fn a_refused_proxy_document_is_not_also_reported_missing() {
        let text = "listeners:\n  - address: 127.0.0.1:0\nservices:\n  a: {endpoints: [\"127.0.0.1:1\"]}\nroutes:\n  - name: web\n    backends: [{service: a, wieght: 1}]\n";
        let Err(e) = parse_run_file("run.yaml", text) else {
            panic!("accepted")
        };
        assert!(e.contains("wieght"), "{e}");
        assert!(!e.contains("no proxy configuration document"), "{e}");
        let Err(none) = parse_run_file(
            "run.yaml",
            "kind: Rollout\napiVersion: argoproj.io/v1alpha1\nmetadata: {name: r}\n",
        ) else {
            panic!("accepted")
        };
        assert!(none.contains("no proxy configuration document"), "{none}");
    }
}
