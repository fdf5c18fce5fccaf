//! One Rollout reconciled against the cluster: read it and its ReplicaSets, run the engine
//! with the Rollout's own status as its state, size and create ReplicaSets as Argo does,
//! record events, and write the status back. What both strategies share is here; the
//! canary's and the blue-green's own parts are [`super::canary`] and [`super::bluegreen`].
//!
//! The status is the engine's whole memory here: `kubectl argo rollouts` and Argo CD act
//! by patching it (`abort`, `promoteFull`, `pauseConditions: null`, `currentStepIndex`) and
//! `spec.paused`, which the engine reads exactly as it reads its own commands
//! (`engine/tests/kubectl.rs`), so a restarted controller resumes from the objects alone.
//!
//! What this adapter drives so far: canary Rollouts without a traffic router (the split is
//! the ReplicaSets' pod ratio), with Argo's nginx router (the canary Ingress) or with the
//! Gateway API plugin (HTTPRoutes, header routes included), their `setWeight`, `pause`,
//! `setCanaryScale`, `setHeaderRoute`, `analysis` and `experiment` steps (the Experiment
//! objects, [`super::experiments`]); blue-green Rollouts (preview and active Services,
//! `previewReplicaCount`, auto-promotion, scale-down delays, pre- and post-promotion
//! analysis); promote, abort, retry, pause for both. A Rollout it cannot drive (other
//! traffic routers) gets a condition saying so and is otherwise left alone, never
//! half-driven.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet as K8sReplicaSet;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use weir_config::argo::{Rollout, RolloutStatus};

use super::events::{record_event, write_condition};
use super::hash::pod_template_hash;
use super::replicasets::{
    self, list_selector, owned_by, selector_string, with_template, REVISION_ANNOTATION,
};
use crate::analysis::Timestamp;
use crate::engine::EngineState;
use crate::replicas::scaledown::{format_deadline, OlderReplicaSetAction, OlderReplicaSetPlan};
use crate::replicas::{self, RolloutStatusView};

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    /// Argo's `--instance-id`: only Rollouts labelled with it are this controller's; without
    /// one, only Rollouts without the label.
    pub instance_id: Option<String>,
    /// True while this replica may act (leader election; always true without it).
    pub leading: tokio::sync::watch::Receiver<bool>,
    /// `/metrics`, under Argo's names.
    pub metrics: super::metrics::Metrics,
    /// The AnalysisRuns being measured.
    pub runs: super::analysisruns::Runs,
    /// Failed reconciles in a row, per object: the error policy's backoff.
    pub failures: super::controller::Backoff,
}

/// Argo's list of the revisions a ReplicaSet had before its current one.
const REVISION_HISTORY_ANNOTATION: &str = "rollout.argoproj.io/revision-history";

pub const INSTANCE_ID_LABEL: &str = "argo-rollouts.argoproj.io/controller-instance-id";

/// Why a reconcile failed; the error policy retries it with a backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A write preconditioned on the resourceVersion read met a newer one (409): the
    /// error policy reconciles again soon, from a fresh read.
    #[error("{0} changed since it was read (409 Conflict); reconciling again")]
    Conflict(String),
    /// An action the engine decided (a weight, an AnalysisRun) could not be carried out:
    /// the status is not written, so the next try decides and does it again.
    #[error("{0}")]
    Action(String),
}

/// Whether a create failed because the object exists (409 AlreadyExists), as opposed to any
/// other refusal, a 409 Conflict included, which is retried as an error.
pub(super) fn already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

pub(super) fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Whether this replica leaves `obj` alone for now: it is not the leader (looked at again
/// in 5 s), or the object is another controller instance's (`--instance-id`). What every
/// reconcile asks first.
pub(super) fn not_ours(ctx: &Context, obj: &DynamicObject) -> Option<Requeue> {
    if !*ctx.leading.borrow() {
        return Some(Requeue::requeue(Duration::from_secs(5)));
    }
    (obj.labels().get(INSTANCE_ID_LABEL) != ctx.instance_id.as_ref()).then(Requeue::await_change)
}

/// Reconciles one Rollout.
pub async fn reconcile(
    obj: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Requeue, ReconcileError> {
    if let Some(later) = not_ours(&ctx, &obj) {
        return Ok(later);
    }
    let name = obj.name_any();
    let ns = obj.namespace().unwrap_or_else(|| "default".to_owned());
    let rollouts = rollout_api(&ctx.client, &ns);
    // Read afresh: the watch's copy may not have this controller's last status write yet
    // (a ReplicaSet or Experiment it just made wakes it first), and a pass from the older
    // status would act again on what that write recorded: make a second Experiment,
    // terminate the one the new status names. The status write is preconditioned on this
    // read, so anything written since is a 409 and another pass.
    let Some(fresh) = rollouts.get_opt(&name).await? else {
        return Ok(Requeue::await_change());
    };
    let obj = Arc::new(fresh);
    let raw = serde_json::to_value(obj.as_ref())?;
    if obj.labels().get(INSTANCE_ID_LABEL) != ctx.instance_id.as_ref() {
        return Ok(Requeue::await_change());
    }
    let mut raw = raw;
    // What the API server kept but would not decode (a pod template's `memory: invalid`)
    // is dropped, as Argo's tolerant informer drops it, and the Rollout goes on.
    if let Some(pod_spec) = raw.pointer_mut("/spec/template/spec") {
        let dropped = weir_config::quantity::drop_malformed(pod_spec, "spec.template.spec");
        if !dropped.is_empty() {
            tracing::warn!(rollout = %name, fields = ?dropped, "malformed fields dropped: {}", weir_config::quantity::QUANTITY_FORMAT);
        }
    }
    let rollout: Rollout = match serde_json::from_value(raw.clone()) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("The Rollout \"{name}\" is invalid: {e}");
            write_condition(&rollouts, &raw, "InvalidSpec", &message).await?;
            return Ok(Requeue::await_change());
        }
    };
    if let Some(message) = invalid(&ctx.client, &ns, &raw, &rollout).await? {
        // Argo's InvalidSpec: the Rollout does not move; looked at again in a while, as a
        // template it names may be created meanwhile.
        let state = EngineState {
            status: rollout.status.clone().unwrap_or_default(),
            spec_paused: rollout.spec.paused,
            ..EngineState::default()
        };
        let out = crate::engine::invalid_spec(&rollout, state, now(), &message);
        let revision = obj
            .annotations()
            .get(REVISION_ANNOTATION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        write_status(&rollouts, &raw, &out.state.status, revision, revision).await?;
        // A change to the Rollout, or to a template it names, reconciles it again.
        return Ok(Requeue::await_change());
    }
    let strategy = rollout.spec.strategy.clone();
    match (&strategy.canary, &strategy.blue_green) {
        (Some(canary), None) => {
            if let Some(what) = super::canary::undriven(canary) {
                return not_driven(&rollouts, &raw, what).await;
            }
            let mut snap = Snapshot::read(&ctx, &obj, raw, rollout).await?;
            if let Some(requeue) = super::restart::reconcile(&ctx, &mut snap, true).await? {
                return Ok(requeue);
            }
            super::canary::reconcile(&ctx, &mut snap, canary).await
        }
        (None, Some(blue_green)) => {
            if let Some(what) = super::bluegreen::undriven(blue_green) {
                return not_driven(&rollouts, &raw, what).await;
            }
            let mut snap = Snapshot::read(&ctx, &obj, raw, rollout).await?;
            if let Some(requeue) = super::restart::reconcile(&ctx, &mut snap, false).await? {
                return Ok(requeue);
            }
            super::bluegreen::reconcile(&ctx, &mut snap, blue_green).await
        }
        _ => {
            let message = "Rollout must have exactly one strategy: canary or blueGreen";
            write_condition(&rollouts, &raw, "InvalidSpec", message).await?;
            Ok(Requeue::await_change())
        }
    }
}

/// The first of Argo's rules the Rollout breaks, as its InvalidSpec message: `weir lint`'s
/// rules (Argo's `ValidateRolloutSpec` and its reference checks) over the Rollout and the
/// analysis templates it could name.
async fn invalid(
    client: &Client,
    ns: &str,
    raw: &Value,
    rollout: &Rollout,
) -> Result<Option<String>, ReconcileError> {
    const FILE: &str = "the Rollout";
    let mut files = vec![(FILE.to_owned(), raw.to_string())];
    let strategy = &rollout.spec.strategy;
    let names_templates = strategy.canary.as_ref().is_some_and(|c| {
        c.analysis.is_some()
            || c.steps
                .iter()
                .any(|s| s.analysis.is_some() || s.experiment.is_some())
    }) || strategy
        .blue_green
        .as_ref()
        .is_some_and(|b| b.pre_promotion_analysis.is_some() || b.post_promotion_analysis.is_some());
    if names_templates {
        let runs = super::analysisruns::RolloutRuns::new(client, ns, raw);
        for (i, doc) in runs.template_documents().await?.into_iter().enumerate() {
            files.push((format!("template {i}"), doc.to_string()));
        }
    }
    let name = raw["metadata"]["name"].as_str().unwrap_or_default();
    Ok(weir_config::lint::lint_files(&files)
        .into_iter()
        .find(|e| e.file == FILE)
        .map(|e| {
            if e.field.is_empty() {
                format!("The Rollout \"{name}\" is invalid: {}", e.message)
            } else {
                format!(
                    "The Rollout \"{name}\" is invalid: {}: {}",
                    e.field, e.message
                )
            }
        }))
}

/// A Rollout as one reconcile reads it: the object, its ReplicaSets, the hash its template
/// asks for.
pub(super) struct Snapshot {
    pub raw: Value,
    pub rollout: Rollout,
    pub ns: String,
    pub name: String,
    pub rollouts: Api<DynamicObject>,
    pub rs_api: Api<K8sReplicaSet>,
    /// The ReplicaSets the Rollout owns, as the sizing rules see them.
    pub views: Vec<replicas::ReplicaSet>,
    /// The pod-template hash of the new ReplicaSet (weir's, or an adopted one's label).
    pub hash: String,
    /// The `rollout.argoproj.io/revision` annotation.
    pub revision: u64,
    pub status: RolloutStatus,
    /// `spec.replicas`, defaulted.
    pub replicas: i32,
    /// When to reconcile again at the latest besides what the strategy's pass asks for
    /// (a `restartAt` still ahead, pods still to restart: [`super::restart`]).
    pub wake_at: Option<Timestamp>,
    /// Hashes of the ReplicaSets that are saturated (Argo's `IsSaturated`).
    pub saturated: Vec<String>,
    /// The Rollout was scaled since its new or stable ReplicaSet was sized (Argo's
    /// `isScalingEvent`): one of them, still active, is annotated with other desired
    /// replicas than `spec.replicas`.
    pub scaling_event: bool,
    /// Each owned ReplicaSet's hash, and whether it is being deleted (what Argo's history
    /// rules for AnalysisRuns and Experiments read: [`super::history`]).
    pub replica_set_hashes: BTreeMap<String, bool>,
}

impl Snapshot {
    async fn read(
        ctx: &Context,
        obj: &DynamicObject,
        raw: Value,
        rollout: Rollout,
    ) -> Result<Snapshot, ReconcileError> {
        let ns = obj.namespace().unwrap_or_else(|| "default".to_owned());
        let name = obj.name_any();
        let rs_api: Api<K8sReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        let uid = obj.uid().unwrap_or_default();
        // Only the ReplicaSets the Rollout's selector matches (its own carry its template's
        // labels): the server filters, so a namespace of a thousand Rollouts does not send
        // a thousand ReplicaSets to every reconcile.
        let owned: Vec<K8sReplicaSet> = rs_api
            .list(&ListParams::default().labels(&list_selector(&raw["spec"]["selector"])))
            .await?
            .items
            .into_iter()
            .filter(|rs| owned_by(rs, &uid))
            .collect();
        let status = rollout.status.clone().unwrap_or_default();
        let template = &raw["spec"]["template"];
        let weir_hash = pod_template_hash(template, status.collision_count);
        let by_name = format!("{name}-{weir_hash}");
        let new_rs = owned
            .iter()
            .find(|rs| rs.name_any() == by_name)
            .or_else(|| with_template(&owned, &super::podtemplate::defaulted(template)));
        let hash = new_rs
            .and_then(|rs| {
                rs.labels()
                    .get(super::hash::POD_TEMPLATE_HASH_LABEL)
                    .cloned()
            })
            .unwrap_or(weir_hash);
        let mut revision: u64 = obj
            .annotations()
            .get(REVISION_ANNOTATION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        // The status and the revision annotation are two writes: a reconcile that sees the
        // first (the new version's status) but not yet the second would name runs and
        // experiments after the old revision. The new ReplicaSet carries the revision its
        // status is for.
        if status.current_pod_hash == hash {
            let rs_revision = new_rs
                .and_then(|rs| rs.annotations().get(REVISION_ANNOTATION))
                .and_then(|r| r.parse::<u64>().ok());
            if let Some(r) = rs_revision {
                revision = revision.max(r);
            }
        }
        let replicas = replicas::replicas_or_default(rollout.spec.replicas);
        let desired_of = |rs: &K8sReplicaSet| {
            rs.annotations()
                .get(replicasets::DESIRED_REPLICAS_ANNOTATION)
                .and_then(|d| d.parse::<i32>().ok())
        };
        let saturated = owned
            .iter()
            .filter(|rs| {
                let view = replicasets::view(rs);
                view.spec_replicas == replicas
                    && desired_of(rs) == Some(replicas)
                    && view.available_replicas == replicas
            })
            .filter_map(|rs| {
                rs.labels()
                    .get(super::hash::POD_TEMPLATE_HASH_LABEL)
                    .cloned()
            })
            .collect();
        let stable_rs = owned.iter().find(|rs| {
            !status.stable_rs.is_empty()
                && rs.labels().get(super::hash::POD_TEMPLATE_HASH_LABEL) == Some(&status.stable_rs)
        });
        let scaling_event = new_rs.into_iter().chain(stable_rs).any(|rs| {
            let active = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) > 0;
            active && desired_of(rs).is_some_and(|d| d != replicas)
        });
        let replica_set_hashes = owned
            .iter()
            .filter_map(|rs| {
                let hash = rs.labels().get(super::hash::POD_TEMPLATE_HASH_LABEL)?;
                Some((hash.clone(), rs.metadata.deletion_timestamp.is_some()))
            })
            .collect();
        Ok(Snapshot {
            saturated,
            scaling_event,
            replica_set_hashes,
            rollouts: rollout_api(&ctx.client, &ns),
            views: owned.iter().map(replicasets::view).collect(),
            replicas,
            raw,
            rollout,
            ns,
            name,
            rs_api,
            hash,
            revision,
            status,
            wake_at: None,
        })
    }

    /// The pods as the engine's conditions read them (the counts [`fill_replica_counts`]
    /// writes).
    pub fn pod_counts(&self) -> crate::engine::PodCounts {
        let mut status = RolloutStatus::default();
        fill_replica_counts(&mut status, &self.views, &self.hash, &Value::Null);
        crate::engine::PodCounts {
            replicas: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            saturated: self.saturated.clone(),
            generation_observed: self.raw["metadata"]["generation"]
                .as_i64()
                .is_none_or(|g| self.status.observed_generation == g.to_string()),
        }
    }

    /// The sooner of `at` (the engine's time to call again) and [`Snapshot::wake_at`].
    pub fn sooner(&self, at: Option<Timestamp>) -> Option<Timestamp> {
        match (at, self.wake_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The new ReplicaSet, if it exists.
    pub fn new_rs(&self) -> Option<&replicas::ReplicaSet> {
        self.views.iter().find(|v| v.hash() == self.hash)
    }

    /// The ReplicaSet with pod-template hash `hash`.
    pub fn by_hash(&self, hash: &str) -> Option<&replicas::ReplicaSet> {
        self.views
            .iter()
            .find(|v| !hash.is_empty() && v.hash() == hash)
    }

    /// The engine's state: the Rollout's status and revision.
    pub fn engine_state(&self, managed_routes_set: bool) -> EngineState {
        EngineState {
            status: self.status.clone(),
            revision: self.revision,
            paused: None,
            spec_paused: self.rollout.spec.paused,
            managed_routes_set,
            experiments: Vec::new(),
        }
    }

    /// The status view the sizing rules read, for `status` with the new ReplicaSet's hash.
    pub fn view_of(&self, status: &RolloutStatus) -> RolloutStatusView {
        let mut next = self.rollout.clone();
        next.status = Some(status.clone());
        let mut view = RolloutStatusView::of(&next);
        view.current_pod_hash = self.hash.clone();
        view
    }

    /// Creates the new ReplicaSet (at revision `revision`) when it does not exist yet.
    pub async fn ensure_new_replica_set(&mut self, revision: u64) -> Result<(), ReconcileError> {
        if let Some(existing) = self.new_rs() {
            // An older ReplicaSet that is new again (an undo, a rollback) takes the new
            // revision, its old one kept in the revision history, as Argo's
            // `SetNewReplicaSetAnnotations` does.
            let old = existing.revision.clone().unwrap_or_default();
            let behind = old.parse::<u64>().map_or(true, |r| r < revision);
            if revision > 0 && behind {
                let name = existing.name.clone();
                let rs = self.rs_api.get(&name).await?;
                let history = rs
                    .annotations()
                    .get(REVISION_HISTORY_ANNOTATION)
                    .cloned()
                    .unwrap_or_default();
                let history = match (old.is_empty(), history.is_empty()) {
                    (true, _) => history,
                    (false, true) => old.clone(),
                    (false, false) => format!("{history},{old}"),
                };
                let mut annotations = json!({REVISION_ANNOTATION: revision.to_string()});
                if !history.is_empty() {
                    annotations[REVISION_HISTORY_ANNOTATION] = json!(history);
                }
                let patch = json!({"metadata": {"annotations": annotations}});
                self.rs_api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                tracing::info!(rollout = %self.name, replicaset = %name, revision, "ReplicaSet takes the new revision");
                if let Some(v) = self.views.iter_mut().find(|v| v.name == name) {
                    v.revision = Some(revision.to_string());
                }
            }
            return Ok(());
        }
        let fresh = replicasets::new_replica_set(&self.raw, &self.hash, revision.max(1));
        let created = match self
            .rs_api
            .create(&PostParams::default(), &serde_json::from_value(fresh)?)
            .await
        {
            Ok(rs) => rs,
            // Made since the list (a previous reconcile's create): read it.
            Err(e) if already_exists(&e) => {
                self.rs_api
                    .get(&format!("{}-{}", self.name, self.hash))
                    .await?
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(rollout = %self.name, replicaset = %created.name_any(), "created ReplicaSet");
        self.views.push(replicasets::view(&created));
        Ok(())
    }

    /// Carries out the older-ReplicaSet plan's deadlines, and adds its scales to `scales`.
    pub async fn older_plan(
        &self,
        plan: &OlderReplicaSetPlan,
        scales: &mut Vec<(String, i32)>,
    ) -> Result<(), ReconcileError> {
        for action in &plan.actions {
            match action {
                OlderReplicaSetAction::Scale { name, replicas } => {
                    scales.push((name.clone(), *replicas))
                }
                OlderReplicaSetAction::SetScaleDownDeadline { name, at } => {
                    self.set_deadline(name, Some(*at)).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes (or, with `None`, removes) a ReplicaSet's `scale-down-deadline`.
    pub async fn set_deadline(
        &self,
        rs: &str,
        at: Option<Timestamp>,
    ) -> Result<(), ReconcileError> {
        let value = at.map_or(Value::Null, |at| json!(format_deadline(at)));
        let patch =
            json!({"metadata": {"annotations": {replicas::SCALE_DOWN_DEADLINE_ANNOTATION: value}}});
        self.rs_api
            .patch(rs, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Sizes ReplicaSets, with Argo's desired-replicas annotation.
    pub async fn scale(&self, scales: &[(String, i32)]) -> Result<(), ReconcileError> {
        for (rs, count) in scales {
            let patch = json!({
                "metadata": {"annotations": {replicasets::DESIRED_REPLICAS_ANNOTATION: self.replicas.to_string()}},
                "spec": {"replicas": count},
            });
            self.rs_api
                .patch(rs, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            tracing::info!(rollout = %self.name, replicaset = %rs, replicas = count, "scaled ReplicaSet");
        }
        Ok(())
    }

    /// Writes `status` (its phase judged again on the ReplicaSets' counts it now carries,
    /// as Argo judges it) and the revision.
    pub async fn finish(
        &self,
        status: &RolloutStatus,
        revision: u64,
    ) -> Result<(), ReconcileError> {
        let mut status = status.clone();
        (status.phase, status.message) = crate::engine::phase::rollout_phase_with_replicas(
            &self.rollout.spec,
            &status,
            self.rollout.spec.paused,
        );
        let status = &status;
        // Compared with the annotation as read (not `self.revision`, which the new
        // ReplicaSet may have moved on), so a lost annotation write is made again.
        let annotated = self.raw["metadata"]["annotations"][REVISION_ANNOTATION]
            .as_str()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        write_status(&self.rollouts, &self.raw, status, revision, annotated).await?;
        Ok(())
    }
}

/// When to reconcile again: the engine's time, the sizing rules', soon after a scale, or
/// the resync period.
pub(super) fn requeue_after(
    engine_at: Option<Timestamp>,
    sizing: Option<Duration>,
    scaled: bool,
) -> Requeue {
    let after = match (engine_at, sizing) {
        (Some(at), s) => {
            let d = Duration::from_millis(at.as_millis().saturating_sub(now().as_millis()));
            s.map_or(d, |s| s.min(d))
        }
        (None, Some(d)) => d,
        (None, None) if scaled => Duration::from_secs(1),
        (None, None) => Duration::from_secs(300),
    };
    Requeue::requeue(after.max(Duration::from_millis(200)))
}

/// Points Service `service` at the ReplicaSet `target` with Argo's selector patch (see
/// [`super::services::selector_patch`]); a missing Service is a `ServiceNotFound` event.
/// With `announce`, the switch is recorded as Argo's `SwitchService` event (the blue-green
/// engine records its own).
pub(super) async fn point_service(
    client: &Client,
    ns: &str,
    raw: &Value,
    service: &str,
    target: &replicas::ReplicaSet,
    check_availability: bool,
    announce: bool,
) -> Result<(), ReconcileError> {
    let rollout = raw["metadata"]["name"].as_str().unwrap_or_default();
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), ns);
    let Some(svc) = services.get_opt(service).await? else {
        tracing::warn!(%rollout, %service, "the Rollout's Service does not exist");
        record_event(
            client,
            raw,
            "ServiceNotFound",
            &format!("Service '{service}' not found"),
            true,
        )
        .await;
        return Ok(());
    };
    let current = serde_json::to_value(&svc)?;
    let rule = super::services::Target {
        hash: target.hash(),
        spec_replicas: target.spec_replicas,
        available_replicas: target.available_replicas,
    };
    if let Some(patch) =
        super::services::selector_patch(&current, &rule, rollout, check_availability)
    {
        services
            .patch(service, &PatchParams::default(), &Patch::Strategic(&patch))
            .await?;
        let old = current["spec"]["selector"][super::hash::POD_TEMPLATE_HASH_LABEL]
            .as_str()
            .unwrap_or_default();
        let message = format!(
            "Switched selector for service '{service}' from '{old}' to '{}'",
            target.hash()
        );
        tracing::info!(%rollout, "{message}");
        if announce {
            record_event(client, raw, "SwitchService", &message, false).await;
        }
    }
    Ok(())
}

/// The new, the stable and the other ReplicaSets of `views`, by hash. The stable one is
/// `None` when it is the new one (the first version, or a rollback to the stable).
pub(super) fn split<'a>(
    views: &'a [replicas::ReplicaSet],
    hash: &str,
    stable: &str,
) -> (
    Option<&'a replicas::ReplicaSet>,
    Option<&'a replicas::ReplicaSet>,
    Vec<replicas::ReplicaSet>,
) {
    let new = views.iter().find(|v| v.hash() == hash);
    let stable = views
        .iter()
        .find(|v| !stable.is_empty() && stable != hash && v.hash() == stable);
    let older = views
        .iter()
        .filter(|v| v.hash() != hash && v.hash() != stable.map_or("", |s| s.hash()))
        .cloned()
        .collect();
    (new, stable, older)
}

fn rollout_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &rollout_resource())
}

/// argoproj.io/v1alpha1 Rollout, for dynamic access.
pub fn rollout_resource() -> kube::core::ApiResource {
    kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    )
}

/// `status.replicas` and friends from the ReplicaSets, and the selector the scale
/// subresource (and so an HPA) reads.
pub(super) fn fill_replica_counts(
    status: &mut RolloutStatus,
    views: &[replicas::ReplicaSet],
    hash: &str,
    raw: &Value,
) {
    status.replicas = Some(replicas::total_status_replicas(views.iter()));
    status.available_replicas = Some(replicas::total_available_replicas(views.iter()));
    status.ready_replicas = status.available_replicas;
    status.updated_replicas = Some(
        views
            .iter()
            .filter(|v| v.hash() == hash)
            .map(|v| v.status_replicas)
            .sum(),
    );
    status.hpa_replicas = status.replicas;
    status.selector = selector_string(&raw["spec"]["selector"]);
}

/// Writes `status` through the status subresource, preconditioned on the resourceVersion
/// read (a concurrent write is a 409, retried with a fresh read), and the revision
/// annotation when it changed.
async fn write_status(
    rollouts: &Api<DynamicObject>,
    raw: &Value,
    status: &RolloutStatus,
    revision: u64,
    old_revision: u64,
) -> Result<(), ReconcileError> {
    let name = raw["metadata"]["name"].as_str().unwrap_or_default();
    let new_status = serde_json::to_value(status)?;
    if raw.get("status") != Some(&new_status) {
        // The whole status replaced (a merge patch could not remove what the engine
        // cleared, pauseConditions say), preconditioned on the resourceVersion read.
        let mut object = raw.clone();
        object["status"] = new_status;
        let object: DynamicObject = serde_json::from_value(object)?;
        match rollouts
            .replace_status(name, &PostParams::default(), &object)
            .await
        {
            Ok(_) => {}
            // Someone wrote in between (a kubectl patch, another reconcile): reconcile
            // again from a fresh read, soon (the error policy's backoff starts small). The
            // annotation waits with the status, so the two never disagree.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                return Err(ReconcileError::Conflict(format!("Rollout {name}")));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if revision != old_revision {
        let patch =
            json!({"metadata": {"annotations": {REVISION_ANNOTATION: revision.to_string()}}});
        rollouts
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(())
}

async fn not_driven(
    rollouts: &Api<DynamicObject>,
    raw: &Value,
    what: &str,
) -> Result<Requeue, ReconcileError> {
    let message = format!(
        "weir's Kubernetes controller does not drive {what} yet; the Rollout is left as it is"
    );
    let already = raw["status"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&message));
    if !already {
        tracing::warn!(rollout = %raw["metadata"]["name"], "{message}");
        write_condition(rollouts, raw, "NotSupported", &message).await?;
    }
    Ok(Requeue::await_change())
}
