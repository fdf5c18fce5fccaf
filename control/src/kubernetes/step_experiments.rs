//! A Rollout's side of its `experiment` steps: its Experiments read into the engine's
//! state (plan and status), the one a step asks for created as Argo's
//! `GetExperimentFromTemplate` makes it, and the ones the engine cancels terminated. Their
//! own controller ([`super::experiments`]) runs them.

use k8s_openapi::api::apps::v1::ReplicaSet as K8sReplicaSet;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use weir_config::argo::{self, Experiment};

use super::experiments::{controlled_by, experiment_resource};
use super::hash::POD_TEMPLATE_HASH_LABEL;
use super::rollouts::{already_exists, ReconcileError};
use crate::engine::experiment::resource::plan_of;
use crate::engine::experiment::StepExperiment;

/// One Rollout's Experiments: read for the engine, made and terminated as it decides.
pub struct RolloutExperiments {
    api: Api<DynamicObject>,
    /// The Experiments the Rollout owns, as read.
    objects: Vec<Value>,
}

impl RolloutExperiments {
    /// Reads the Experiments Rollout `rollout` controls.
    pub async fn read(client: &Client, ns: &str, rollout: &Value) -> Result<Self, kube::Error> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &experiment_resource());
        let uid = rollout["metadata"]["uid"].as_str().unwrap_or_default();
        let objects = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| controlled_by(&e.metadata, uid))
            .filter_map(|e| serde_json::to_value(&e).ok())
            .collect();
        Ok(RolloutExperiments { api, objects })
    }

    /// The engine's view of them: each one's plan (its templates' weights from the step
    /// that made it) and status.
    pub fn engine_experiments(&self, rollout: &argo::Rollout) -> Vec<StepExperiment> {
        let name = rollout.metadata.name.clone().unwrap_or_default();
        let steps = rollout
            .spec
            .strategy
            .canary
            .as_ref()
            .map(|c| c.steps.clone())
            .unwrap_or_default();
        self.objects
            .iter()
            .filter_map(|o| {
                let experiment: Experiment = serde_json::from_value(o.clone()).ok()?;
                let ex_name = experiment.metadata.name.clone().unwrap_or_default();
                // `<rollout>-<hash>-<revision>-<step>[-<n>]`
                let step = ex_name
                    .strip_prefix(&format!("{name}-"))
                    .and_then(|rest| rest.split('-').nth(2))
                    .and_then(|i| i.parse::<usize>().ok())?;
                let mut plan = plan_of(&experiment);
                if let Some(spec) = steps.get(step).and_then(|s| s.experiment.as_ref()) {
                    for t in &mut plan.templates {
                        if let Some(st) = spec.templates.iter().find(|s| s.name == t.name) {
                            t.weight = st.weight;
                            t.spec_ref.clone_from(&st.spec_ref);
                        }
                    }
                }
                Some(StepExperiment {
                    step,
                    plan,
                    status: experiment.status.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Deletes the old Experiments the Rollout's history limits let go
    /// ([`super::history`]); `current` is the one the status names, if a step runs it.
    /// As Argo, nothing goes while the Rollout is aborted, fully promoting, or paused on an
    /// inconclusive analysis.
    pub async fn prune(
        &self,
        status: &argo::RolloutStatus,
        current: Option<&str>,
        replica_sets: &std::collections::BTreeMap<String, bool>,
        rollout: &argo::Rollout,
    ) -> Result<(), kube::Error> {
        let inconclusive = status
            .pause_conditions
            .iter()
            .any(|c| c.reason == "InconclusiveAnalysis");
        if status.abort || status.promote_full || inconclusive {
            return Ok(());
        }
        let names = super::history::to_delete(
            &self.objects,
            &current.into_iter().collect::<Vec<_>>(),
            replica_sets,
            super::history::limits(rollout),
        );
        super::history::delete(&self.api, "Experiment", &names).await
    }

    fn object(&self, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|o| o["metadata"]["name"].as_str() == Some(name))
    }

    /// Creates the experiments the engine made and terminates the ones it cancelled.
    /// `template_of(hash)` is the pod template (and selector, minReadySeconds) of the
    /// Rollout's ReplicaSet with that hash.
    pub async fn carry_out(
        &self,
        rollout: &Value,
        revision: u64,
        hash: &str,
        stable: &str,
        experiments: &[StepExperiment],
        rs_api: &Api<K8sReplicaSet>,
    ) -> Result<(), ReconcileError> {
        for e in experiments {
            match self.object(&e.plan.name) {
                None if !e.plan.terminate => {
                    let body = self
                        .experiment_object(rollout, revision, hash, stable, e, rs_api)
                        .await?;
                    let object: DynamicObject = serde_json::from_value(body)?;
                    match self.api.create(&PostParams::default(), &object).await {
                        Ok(_) => {
                            tracing::info!(rollout = %rollout["metadata"]["name"], experiment = %e.plan.name, "created Experiment");
                        }
                        Err(err) if already_exists(&err) => {}
                        Err(err) => {
                            return Err(ReconcileError::Action(format!(
                                "creating Experiment {}: {err}",
                                e.plan.name
                            )))
                        }
                    }
                }
                Some(o) if e.plan.terminate && o["spec"]["terminate"] != true => {
                    let patch = json!({"spec": {"terminate": true}});
                    match self
                        .api
                        .patch(&e.plan.name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(err) => {
                            return Err(ReconcileError::Action(format!(
                                "terminating Experiment {}: {err}",
                                e.plan.name
                            )))
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Argo's `GetExperimentFromTemplate`: the Experiment a step makes, its templates the
    /// stable's or the canary's ReplicaSet's pod template.
    async fn experiment_object(
        &self,
        rollout: &Value,
        revision: u64,
        hash: &str,
        stable: &str,
        e: &StepExperiment,
        rs_api: &Api<K8sReplicaSet>,
    ) -> Result<Value, ReconcileError> {
        let r_name = rollout["metadata"]["name"].as_str().unwrap_or_default();
        let step = &rollout["spec"]["strategy"]["canary"]["steps"][e.step]["experiment"];
        let mut labels = rollout["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        labels[POD_TEMPLATE_HASH_LABEL] = json!(hash);
        let mut templates = Vec::new();
        for t in step["templates"].as_array().into_iter().flatten() {
            let source = match t["specRef"].as_str() {
                Some("stable") => stable,
                _ => hash,
            };
            let rs = rs_api.get(&format!("{r_name}-{source}")).await?;
            let rs = serde_json::to_value(&rs)?;
            let mut template = rs["spec"]["template"].clone();
            let mut selector = if t["selector"].is_object() {
                t["selector"].clone()
            } else {
                rs["spec"]["selector"].clone()
            };
            for (field, also_selector) in [("labels", true), ("annotations", false)] {
                if let Some(extra) = t["metadata"][field].as_object() {
                    for (k, v) in extra {
                        template["metadata"][field][k] = v.clone();
                        if also_selector {
                            selector["matchLabels"][k] = v.clone();
                        }
                    }
                }
            }
            let mut out = json!({"name": t["name"], "template": template, "selector": selector});
            for field in ["replicas"] {
                if !t[field].is_null() {
                    out[field] = t[field].clone();
                }
            }
            if !rs["spec"]["minReadySeconds"].is_null() {
                out["minReadySeconds"] = rs["spec"]["minReadySeconds"].clone();
            }
            if !t["weight"].is_null() || !t["service"].is_null() {
                out["service"] = json!({});
                if let Some(n) = t["service"]["name"].as_str().filter(|n| !n.is_empty()) {
                    out["service"]["name"] = json!(n);
                }
            }
            templates.push(out);
        }
        let analyses: Vec<Value> = e
            .plan
            .analyses
            .iter()
            .map(|a| {
                let mut v = json!({"name": a.name, "templateName": a.template_name,
                    "args": a.args.iter().map(|arg| json!({"name": arg.name, "value": arg.value})).collect::<Vec<_>>()});
                if let Some(c) = a.cluster_scope {
                    v["clusterScope"] = json!(c);
                }
                if a.required_for_completion {
                    v["requiredForCompletion"] = json!(true);
                }
                v
            })
            .collect();
        let mut spec = json!({"templates": templates, "analyses": analyses});
        for (from, to) in [
            (&step["duration"], "duration"),
            (
                &rollout["spec"]["progressDeadlineSeconds"],
                "progressDeadlineSeconds",
            ),
            (&step["dryRun"], "dryRun"),
            (&step["analysisRunMetadata"], "analysisRunMetadata"),
            (&step["scaleDownDelaySeconds"], "scaleDownDelaySeconds"),
        ] {
            if !from.is_null() {
                spec[to] = from.clone();
            }
        }
        Ok(json!({
            "apiVersion": argo::API_VERSION, "kind": "Experiment",
            "metadata": {
                "name": e.plan.name,
                "namespace": rollout["metadata"]["namespace"],
                "labels": labels,
                "annotations": {super::replicasets::REVISION_ANNOTATION: revision.to_string()},
                "ownerReferences": [{
                    "apiVersion": argo::API_VERSION, "kind": "Rollout",
                    "name": rollout["metadata"]["name"], "uid": rollout["metadata"]["uid"],
                    "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": spec,
        }))
    }
}
