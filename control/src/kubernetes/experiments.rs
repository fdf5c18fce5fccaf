//! Experiments as real objects, as Argo's experiment controller runs them
//! (`experiments/experiment.go`): every Experiment (made by a Rollout's `experiment` step,
//! by Argo's controller or by a user) is taken one reconcile further by the pure
//! [`crate::engine::experiment`] machine, and what it decides is carried out on the cluster:
//!
//! - each template is a ReplicaSet `<experiment>-<template>`, owned by the Experiment and
//!   annotated with the experiment's and the template's names, its pods labelled with their
//!   own `rollouts-pod-template-hash`; sized to the template's replicas while the template
//!   runs, and to zero `scaleDownDelaySeconds` (30 s by default) after it ends, through
//!   Argo's `scale-down-deadline` annotation;
//! - a template with `service` (or, from a Rollout step, a `weight`) gets a Service selecting
//!   its pods, named as the template asks or after its ReplicaSet, deleted once the pods are
//!   gone;
//! - each analysis is an AnalysisRun `<experiment>-<analysis>` owned by the Experiment (the
//!   run side, [`super::analysisruns::reconcile_run`], measures it like any other);
//! - the status (template statuses with their pods' counts, runs, phase, `availableAt`) is
//!   written with the object, since Argo's CRD gives Experiments no status subresource,
//!   and through the subresource as well when weir's CRD has one.
//!
//! The Rollout side is [`super::step_experiments`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet as K8sReplicaSet;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::ResourceExt;
use serde_json::{json, Value};
use weir_config::argo::{self, Experiment};

use super::analysisruns::{resource, write, RolloutRuns};
use super::events::record_event;
use super::hash::{pod_template_hash, POD_TEMPLATE_HASH_LABEL};
use super::rollouts::{already_exists, now, Context, ReconcileError, INSTANCE_ID_LABEL};
use crate::analysis::Timestamp;
use crate::engine::experiment::machine::{is_completed, is_terminating};
use crate::engine::experiment::resource::plan_of;
use crate::engine::experiment::{
    run_experiment, ExperimentInputs, ObservedExperiment, TemplatePods,
};
use crate::engine::{Action, AnalysisKind};
use crate::replicas::scaledown::format_deadline;
use crate::replicas::SCALE_DOWN_DEADLINE_ANNOTATION;

/// The annotation naming the Experiment a ReplicaSet or Service belongs to.
pub const EXPERIMENT_NAME_ANNOTATION: &str = "experiment.argoproj.io/name";
/// The annotation naming the template a ReplicaSet or Service serves.
pub const TEMPLATE_NAME_ANNOTATION: &str = "experiment.argoproj.io/template-name";
/// Argo's `DefaultScaleDownDelaySeconds`, an Experiment's default too.
const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;

/// argoproj.io/v1alpha1 Experiment, for dynamic access.
pub fn experiment_resource() -> kube::core::ApiResource {
    resource("Experiment", "experiments")
}

/// Whether `obj`'s controlling owner has uid `uid`.
pub(super) fn controlled_by(meta: &kube::api::ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

/// The objects (ReplicaSets or Services) of experiment `name` (uid `uid`), by template,
/// as Argo's `getReplicaSetsForExperiment` claims them: controlled by the Experiment and
/// annotated with its name and a template it defines.
fn by_template<K: kube::Resource>(
    items: Vec<K>,
    name: &str,
    uid: &str,
    templates: &[String],
) -> BTreeMap<String, K> {
    let mut out = BTreeMap::new();
    for item in items {
        let meta = item.meta();
        let annotations = meta.annotations.clone().unwrap_or_default();
        if !controlled_by(meta, uid)
            || annotations
                .get(EXPERIMENT_NAME_ANNOTATION)
                .map(String::as_str)
                != Some(name)
        {
            continue;
        }
        if let Some(t) = annotations
            .get(TEMPLATE_NAME_ANNOTATION)
            .filter(|t| templates.contains(t))
        {
            out.insert(t.clone(), item);
        }
    }
    out
}

fn counts(rs: &K8sReplicaSet) -> TemplatePods {
    let status = rs.status.clone().unwrap_or_default();
    TemplatePods {
        replicas: status.replicas,
        updated: status.replicas,
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
    }
}

fn spec_replicas(rs: &K8sReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// The ReplicaSet Argo's `newReplicaSetFromTemplate` makes for template `t` of `experiment`.
fn template_replica_set(experiment: &Value, t: &Value, replicas: i32) -> (String, Value) {
    let ex_name = experiment["metadata"]["name"].as_str().unwrap_or_default();
    let t_name = t["name"].as_str().unwrap_or_default();
    let mut template = t["template"].clone();
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let collision = experiment["status"]["templateStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == t["name"])
        .and_then(|s| s["collisionCount"].as_i64())
        .and_then(|c| i32::try_from(c).ok());
    let hash = pod_template_hash(&template, collision);
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    template["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
    let mut selector = t["selector"].clone();
    if !selector["matchLabels"].is_object() {
        selector["matchLabels"] = json!({});
    }
    selector["matchLabels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
    let mut spec = json!({"replicas": replicas, "selector": selector, "template": template});
    if let Some(m) = t.get("minReadySeconds").filter(|v| !v.is_null()) {
        spec["minReadySeconds"] = m.clone();
    }
    let name = format!("{ex_name}-{t_name}");
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": experiment["metadata"]["namespace"],
            "labels": template["metadata"]["labels"],
            "annotations": {EXPERIMENT_NAME_ANNOTATION: ex_name, TEMPLATE_NAME_ANNOTATION: t_name},
            "ownerReferences": [owner(experiment)],
        },
        "spec": spec,
    });
    (name, rs)
}

fn owner(experiment: &Value) -> Value {
    json!({
        "apiVersion": argo::API_VERSION, "kind": "Experiment",
        "name": experiment["metadata"]["name"], "uid": experiment["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true,
    })
}

/// The Service Argo's `createTemplateService` makes for a template's ReplicaSet: its pods'
/// labels as the selector, a port per container port. `None` when the pods expose no port.
fn template_service(experiment: &Value, template: &str, name: &str, rs: &Value) -> Option<Value> {
    let ports: Vec<Value> = rs["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .map(|p| {
            let mut port = json!({
                "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")),
                "port": p["containerPort"], "targetPort": p["containerPort"],
            });
            if let Some(n) = p["name"].as_str().filter(|n| !n.is_empty()) {
                port["name"] = json!(n);
            }
            port
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    Some(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": experiment["metadata"]["namespace"],
            "annotations": {EXPERIMENT_NAME_ANNOTATION: experiment["metadata"]["name"], TEMPLATE_NAME_ANNOTATION: template},
            "ownerReferences": [owner(experiment)],
        },
        "spec": {"selector": rs["metadata"]["labels"], "ports": ports},
    }))
}

/// The AnalysisRun Argo's experiment controller makes for `start`: named
/// `<experiment>-<analysis>`, the instance id label copied, the Experiment as owner.
fn experiment_run_object(experiment: &Value, start: &crate::engine::StartAnalysis) -> Value {
    let mut labels = json!({});
    if let Some(id) = experiment["metadata"]["labels"][INSTANCE_ID_LABEL].as_str() {
        labels[INSTANCE_ID_LABEL] = json!(id);
    }
    json!({
        "apiVersion": argo::API_VERSION, "kind": "AnalysisRun",
        "metadata": {
            "name": start.name,
            "namespace": experiment["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner(experiment)],
        },
        "spec": crate::run_objects::argo_spec(&start.spec, &start.providers),
    })
}

/// Takes one Experiment a reconcile further and writes its status.
pub async fn reconcile_experiment(
    obj: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Requeue, ReconcileError> {
    if let Some(later) = super::rollouts::not_ours(&ctx, &obj) {
        return Ok(later);
    }
    let ns = obj.namespace().unwrap_or_else(|| "default".to_owned());
    let name = obj.name_any();
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ns, &experiment_resource());
    // Read afresh: the watch's copy may not have this controller's last status write yet,
    // and a reconcile from it would start again what that write recorded as started.
    let Some(obj) = api.get_opt(&name).await? else {
        return Ok(Requeue::await_change());
    };
    let uid = obj.uid().unwrap_or_default();
    let mut raw = serde_json::to_value(&obj)?;
    raw["kind"] = json!("Experiment");
    raw["apiVersion"] = json!(argo::API_VERSION);
    let experiment: Experiment = match serde_json::from_value(raw.clone()) {
        Ok(e) => e,
        Err(e) => {
            let status = json!({"phase": "Error",
                "message": format!("The Experiment \"{name}\" is invalid: {e}")});
            if raw["status"]["phase"] != "Error" {
                write(&api, &raw, status).await?;
            }
            return Ok(Requeue::await_change());
        }
    };
    let template_names: Vec<String> = experiment
        .spec
        .templates
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let rs_api: Api<K8sReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let svc_api: Api<Service> = Api::namespaced(ctx.client.clone(), &ns);
    let mut replica_sets = by_template(
        rs_api.list(&ListParams::default()).await?.items,
        &name,
        &uid,
        &template_names,
    );
    let wants_services = experiment
        .spec
        .templates
        .iter()
        .any(|t| t.service.is_some());
    let services = if wants_services {
        by_template(
            svc_api.list(&ListParams::default()).await?.items,
            &name,
            &uid,
            &template_names,
        )
    } else {
        BTreeMap::new()
    };
    let runs = RolloutRuns::new(&ctx.client, &ns, &raw);
    let (analysis_runs, templates) = if experiment.spec.analyses.is_empty() {
        Default::default()
    } else {
        (runs.observed().await?, runs.templates().await?)
    };

    // What serves: a template whose ReplicaSet has all the pods it asks for available (a
    // template of `replicas: 0` at once, as in Argo, where 0 available is all it wants).
    let mut observed = ObservedExperiment::default();
    for t in &experiment.spec.templates {
        if let Some(rs) = replica_sets.get(&t.name) {
            let pods = counts(rs);
            let wanted = spec_replicas(rs);
            let asks_none = t.replicas == Some(0);
            if (pods.available > 0 || asks_none) && pods.available >= wanted {
                observed.available.insert(t.name.clone());
            }
            observed.pods.insert(t.name.clone(), pods);
        }
    }
    let at = now();
    let inputs = ExperimentInputs {
        observed: &observed,
        runs: &analysis_runs,
        templates: &templates,
        kind: AnalysisKind::Background,
        now: at,
    };
    let out = run_experiment(&experiment, &inputs);
    let mut status = out.status;
    let plan = plan_of(&experiment);
    let stopping = is_terminating(&plan, &status) || is_completed(&status.phase);

    // The templates' ReplicaSets and Services.
    let mut wake: Option<Timestamp> = out.requeue_at;
    let mut sooner = |t: Timestamp| wake = Some(wake.map_or(t, |w| w.min(t)));
    let delay = experiment
        .spec
        .scale_down_delay_seconds
        .unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS);
    for (t, raw_t) in experiment
        .spec
        .templates
        .iter()
        .zip(raw["spec"]["templates"].as_array().into_iter().flatten())
    {
        let done = status
            .template_statuses
            .iter()
            .find(|s| s.name == t.name)
            .is_some_and(|s| is_completed(&s.status));
        let desired = if stopping || done {
            0
        } else {
            t.replicas.unwrap_or(1)
        };
        let rs = match replica_sets.get(&t.name) {
            Some(rs) => rs.clone(),
            // Made while the template runs, with no pods if it asks for none (Argo).
            None if !(stopping || done) => {
                let (rs_name, body) = template_replica_set(&raw, raw_t, desired);
                let created = match rs_api
                    .create(&PostParams::default(), &serde_json::from_value(body)?)
                    .await
                {
                    Ok(rs) => {
                        if desired > 0 {
                            let message = format!(
                                "Created ReplicaSet {rs_name} (revision 1) with size {desired}"
                            );
                            record_event(
                                &ctx.client,
                                &raw,
                                "NewReplicaSetCreated",
                                &message,
                                false,
                            )
                            .await;
                        }
                        rs
                    }
                    Err(e) if already_exists(&e) => {
                        // Ours from an earlier pass is claimed; anybody else's is never
                        // touched (Argo's hash collision: its name has no hash, so no
                        // collision count could free it).
                        let existing = rs_api.get(&rs_name).await?;
                        let uid = raw["metadata"]["uid"].as_str().unwrap_or_default();
                        if !controlled_by(&existing.metadata, uid) {
                            let message = format!(
                                "Failed to create new replica set {rs_name:?}: a ReplicaSet of that name exists and belongs to another owner"
                            );
                            // As Argo: the other templates go on, this one never becomes
                            // available (so its progress deadline fails it).
                            tracing::warn!(experiment = %name, "{message}");
                            record_event(&ctx.client, &raw, "FailedRSCreate", &message, true).await;
                            continue;
                        }
                        existing
                    }
                    Err(e) => return Err(e.into()),
                };
                tracing::info!(experiment = %name, replicaset = %rs_name, "created ReplicaSet");
                replica_sets.insert(t.name.clone(), created.clone());
                created
            }
            None => continue,
        };
        let rs_name = rs.name_any();
        let current = spec_replicas(&rs);
        if desired == 0 && current > 0 {
            let deadline = rs
                .annotations()
                .get(SCALE_DOWN_DEADLINE_ANNOTATION)
                .and_then(|d| crate::engine::clock::parse_time(d));
            match deadline {
                None if delay > 0 => {
                    let at =
                        at.saturating_add(Duration::from_secs(u64::try_from(delay).unwrap_or(0)));
                    let patch = json!({"metadata": {"annotations": {SCALE_DOWN_DEADLINE_ANNOTATION: format_deadline(at)}}});
                    rs_api
                        .patch(&rs_name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await?;
                    sooner(at);
                }
                Some(d) if d > at && delay > 0 => sooner(d),
                _ => {
                    let patch = json!({"spec": {"replicas": 0}});
                    rs_api
                        .patch(&rs_name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await?;
                    tracing::info!(experiment = %name, replicaset = %rs_name, "scaled down ReplicaSet");
                }
            }
        } else if desired > 0 && current != desired {
            let patch = json!({"metadata": {"annotations": {SCALE_DOWN_DEADLINE_ANNOTATION: null}},
                "spec": {"replicas": desired}});
            rs_api
                .patch(&rs_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        let Some(slot) = status
            .template_statuses
            .iter_mut()
            .find(|s| s.name == t.name)
        else {
            continue;
        };
        slot.pod_template_hash = rs
            .labels()
            .get(POD_TEMPLATE_HASH_LABEL)
            .cloned()
            .unwrap_or_default();
        slot.service_name.clear();
        let Some(service) = &t.service else { continue };
        let existing = services.get(&t.name);
        if desired > 0 {
            let svc_name = if service.name.is_empty() {
                rs_name.clone()
            } else {
                service.name.clone()
            };
            if let Some(svc) = existing {
                slot.service_name = svc.name_any();
                continue;
            }
            let rs_json = serde_json::to_value(&rs)?;
            let Some(body) = template_service(&raw, &t.name, &svc_name, &rs_json) else {
                continue;
            };
            match svc_api
                .create(&PostParams::default(), &serde_json::from_value(body)?)
                .await
            {
                Ok(_) => {
                    tracing::info!(experiment = %name, service = %svc_name, "created Service");
                    slot.service_name = svc_name;
                }
                Err(e) if already_exists(&e) => {
                    // Argo: a Service of that name that is not this template's is an error.
                    slot.status = "Error".into();
                    slot.message = format!(
                        "Failed to create Service {svc_name} for template '{}': service {svc_name} already exists and is not owned by experiment template {}",
                        t.name, t.name
                    );
                }
                Err(e) => return Err(e.into()),
            }
        } else if let Some(svc) = existing {
            if counts(&rs).available == 0 {
                match svc_api
                    .delete(&svc.name_any(), &DeleteParams::default())
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            } else {
                slot.service_name = svc.name_any();
            }
        }
    }

    // Its analysis runs and events.
    for action in &out.actions {
        let result = match action {
            Action::StartAnalysis(start) => {
                runs.create_object(experiment_run_object(&raw, start)).await
            }
            Action::TerminateAnalysis { name } => runs.terminate(name).await,
            Action::Event(ev) => {
                record_event(&ctx.client, &raw, &ev.reason, &ev.message, ev.warning).await;
                Ok(())
            }
            _ => Ok(()),
        };
        result.map_err(ReconcileError::Action)?;
    }

    if experiment.status.as_ref() != Some(&status) {
        let value = serde_json::to_value(&status)?;
        if write(&api, &raw, value).await?.is_none() {
            return Err(ReconcileError::Conflict(format!("Experiment {name}")));
        }
    }
    let pods_moving = replica_sets.values().any(|rs| {
        let c = counts(rs);
        c.available != spec_replicas(rs) || c.replicas != spec_replicas(rs)
    });
    let after = match wake {
        Some(t) => Duration::from_millis(t.as_millis().saturating_sub(now().as_millis())),
        None if pods_moving => Duration::from_secs(1),
        None => Duration::from_secs(300),
    };
    Ok(Requeue::requeue(after.max(Duration::from_millis(200))))
}
