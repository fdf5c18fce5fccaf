//! AnalysisRuns as real objects, as Argo's controllers handle them.
//!
//! - The Rollout side ([`RolloutRuns`]): the runs a Rollout owns are read for the engine
//!   (their phase and message), the templates it names are read for the engine to build
//!   runs from, a run the engine starts is created with Argo's name, labels, revision
//!   annotation and owner reference (a second create of the same name is a 409 and changes
//!   nothing, so no run is made twice), and one it stops gets `spec.terminate`.
//! - The run side ([`reconcile_run`]): every AnalysisRun, made by weir, by Argo's
//!   controller or by a user, is taken through its measurements by the pure
//!   [`crate::analysis::AnalysisRun`] and its providers, and its status written back in
//!   Argo's shape ([`crate::run_objects`]).
//!
//! Argo's published CRDs give AnalysisRuns no status subresource, so the status is written
//! with the object (an update preconditioned on the resourceVersion read); where a CRD does
//! have the subresource (the server then ignores `status` in that update), it is written
//! through it as well. The run in memory (with what the provider said about waiting for
//! data, which Argo's status has no field for) is used while the object is the one this
//! controller last wrote; any other version (a restart, another writer) resumes from the
//! object's status, with measurements that were in flight taken again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::Action as Requeue;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use weir_config::argo::{self, AnalysisTemplateSpec, MetricProvider};

use super::fleet::ProxyFleet;
use super::rollouts::{now, Context, ReconcileError, INSTANCE_ID_LABEL};
use crate::analysis::{AnalysisPhase, AnalysisRun, MeasureRequest, MeasurementResult};
use crate::engine::{AnalysisKind, AnalysisTemplates, ObservedAnalysisRun, StartAnalysis};
use crate::providers::{self, HttpClient, ProviderContext, WindowSample, WindowSource};

pub(super) fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", kind),
        plural,
    )
}

/// argoproj.io/v1alpha1 AnalysisRun, for dynamic access.
pub fn analysis_run_resource() -> ApiResource {
    resource("AnalysisRun", "analysisruns")
}

/// The label Argo puts the kind of a Rollout's run in.
pub const ROLLOUT_TYPE_LABEL: &str = "rollout-type";
/// The label Argo puts a step run's step index in.
pub const STEP_INDEX_LABEL: &str = "step-index";

/// Argo's `rollout-type` (and `step-index`) of a Rollout's run.
pub fn rollout_type(kind: AnalysisKind, name: &str) -> (&'static str, Option<usize>) {
    match kind {
        AnalysisKind::Step(i) => ("Step", Some(i)),
        AnalysisKind::Background if name.ends_with("-pre") => ("PrePromotion", None),
        AnalysisKind::Background if name.ends_with("-post") => ("PostPromotion", None),
        AnalysisKind::Background => ("Background", None),
    }
}

/// One Rollout's (or Experiment's: the owner's JSON) runs and templates.
pub struct RolloutRuns {
    api: Api<DynamicObject>,
    client: Client,
    ns: String,
    /// The Rollout as JSON.
    rollout: Value,
    /// The runs the Rollout owns, as [`RolloutRuns::observed`] read them.
    listed: parking_lot::Mutex<Vec<Value>>,
}

impl RolloutRuns {
    pub fn new(client: &Client, ns: &str, rollout: &Value) -> RolloutRuns {
        RolloutRuns {
            api: Api::namespaced_with(client.clone(), ns, &analysis_run_resource()),
            client: client.clone(),
            ns: ns.to_owned(),
            rollout: rollout.clone(),
            listed: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// The runs the Rollout owns, by name, with their phase and message.
    pub async fn observed(&self) -> Result<BTreeMap<String, ObservedAnalysisRun>, kube::Error> {
        let uid = self.rollout["metadata"]["uid"].as_str().unwrap_or_default();
        let runs = self.api.list(&ListParams::default()).await?;
        let owned: Vec<DynamicObject> = runs
            .items
            .into_iter()
            .filter(|r| {
                r.owner_references()
                    .iter()
                    .any(|o| o.uid == uid && o.controller == Some(true))
            })
            .collect();
        *self.listed.lock() = owned
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect();
        Ok(owned
            .into_iter()
            .map(|r| {
                let status = &r.data["status"];
                let phase = status["phase"]
                    .as_str()
                    .and_then(AnalysisPhase::parse)
                    .unwrap_or(AnalysisPhase::Pending);
                let message = status["message"].as_str().unwrap_or_default().to_owned();
                (r.name_any(), ObservedAnalysisRun { phase, message })
            })
            .collect())
    }

    /// Deletes the old runs, of those [`RolloutRuns::observed`] read, that the Rollout's
    /// history limits let go ([`super::history`]); `current` are the runs `status` names.
    pub async fn prune(
        &self,
        status: &weir_config::argo::RolloutStatus,
        replica_sets: &BTreeMap<String, bool>,
        rollout: &argo::Rollout,
    ) -> Result<(), kube::Error> {
        let names = super::history::to_delete(
            &self.listed.lock(),
            &super::history::current_runs(status),
            replica_sets,
            super::history::limits(rollout),
        );
        super::history::delete(&self.api, "AnalysisRun", &names).await
    }

    /// The Rollout's namespace's AnalysisTemplates and the ClusterAnalysisTemplates. One
    /// that does not decode is left out with a warning (a run naming it then says it is
    /// missing).
    pub async fn templates(&self) -> Result<AnalysisTemplates, kube::Error> {
        let namespaced: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &self.ns,
            &resource("AnalysisTemplate", "analysistemplates"),
        );
        let cluster: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &resource("ClusterAnalysisTemplate", "clusteranalysistemplates"),
        );
        Ok(AnalysisTemplates {
            namespaced: specs(namespaced.list(&ListParams::default()).await?.items),
            cluster: specs(cluster.list(&ListParams::default()).await?.items),
        })
    }

    /// Creates the run `start` asks for, as Argo's controller names and labels it; one of
    /// that name already there is kept as it is.
    pub async fn create(
        &self,
        start: &StartAnalysis,
        hash: &str,
        revision: u64,
    ) -> Result<(), String> {
        self.create_object(run_object(&self.rollout, start, hash, revision))
            .await
    }

    /// Creates the run `body` (an AnalysisRun object); one of that name already there is
    /// kept as it is.
    pub async fn create_object(&self, body: Value) -> Result<(), String> {
        let name = body["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let object: DynamicObject = serde_json::from_value(body).map_err(|e| e.to_string())?;
        match self.api.create(&PostParams::default(), &object).await {
            Ok(_) => {
                tracing::info!(owner = %self.rollout["metadata"]["name"], run = %name, "created AnalysisRun");
                Ok(())
            }
            // Made by an earlier reconcile whose answer was lost, or seen late.
            Err(e) if super::rollouts::already_exists(&e) => Ok(()),
            Err(e) => Err(format!("creating AnalysisRun {name}: {e}")),
        }
    }

    /// Argo's termination: `spec.terminate: true`; the run completes with what it has.
    pub async fn terminate(&self, name: &str) -> Result<(), String> {
        let patch = json!({"spec": {"terminate": true}});
        match self
            .api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(format!("terminating AnalysisRun {name}: {e}")),
        }
    }
}

impl RolloutRuns {
    /// The namespace's AnalysisTemplates and the ClusterAnalysisTemplates as JSON
    /// documents, for `weir lint`'s reference rules.
    pub async fn template_documents(&self) -> Result<Vec<Value>, kube::Error> {
        let mut docs = Vec::new();
        for (kind, plural, namespaced) in [
            ("AnalysisTemplate", "analysistemplates", true),
            ("ClusterAnalysisTemplate", "clusteranalysistemplates", false),
        ] {
            let r = resource(kind, plural);
            let api: Api<DynamicObject> = if namespaced {
                Api::namespaced_with(self.client.clone(), &self.ns, &r)
            } else {
                Api::all_with(self.client.clone(), &r)
            };
            for item in api.list(&ListParams::default()).await?.items {
                let mut doc = serde_json::to_value(&item).unwrap_or_default();
                doc["apiVersion"] = json!(argo::API_VERSION);
                doc["kind"] = json!(kind);
                docs.push(doc);
            }
        }
        Ok(docs)
    }
}

/// What the engine reads of a Rollout's analysis: its runs and, when it names templates,
/// the templates. Nothing is read for a Rollout without analysis.
pub async fn observe(
    runs: &RolloutRuns,
    uses_analysis: bool,
) -> Result<(BTreeMap<String, ObservedAnalysisRun>, AnalysisTemplates), kube::Error> {
    if !uses_analysis {
        return Ok(Default::default());
    }
    Ok((runs.observed().await?, runs.templates().await?))
}

/// Carries out the engine's analysis actions: runs created and terminated. The first that
/// fails fails the reconcile (before the status names a run that does not exist).
pub async fn carry_out(
    runs: &RolloutRuns,
    actions: &[crate::engine::Action],
    hash: &str,
    revision: u64,
) -> Result<(), super::rollouts::ReconcileError> {
    for action in actions {
        match action {
            crate::engine::Action::StartAnalysis(start) => runs.create(start, hash, revision).await,
            crate::engine::Action::TerminateAnalysis { name } => runs.terminate(name).await,
            _ => Ok(()),
        }
        .map_err(super::rollouts::ReconcileError::Action)?;
    }
    Ok(())
}

fn specs(items: Vec<DynamicObject>) -> BTreeMap<String, AnalysisTemplateSpec> {
    items
        .into_iter()
        .filter_map(|t| {
            let name = t.name_any();
            match serde_json::from_value(t.data["spec"].clone()) {
                Ok(spec) => Some((name, spec)),
                Err(e) => {
                    tracing::warn!(template = %name, "the analysis template does not decode: {e}");
                    None
                }
            }
        })
        .collect()
}

/// The AnalysisRun object Argo's controller makes for `start`: its name, the pod-template
/// hash and `rollout-type` (and `step-index`) labels, the revision annotation, the
/// Rollout as controlling owner, and the spec with arguments as resolved at creation.
pub fn run_object(rollout: &Value, start: &StartAnalysis, hash: &str, revision: u64) -> Value {
    let (kind, step) = rollout_type(start.kind, &start.name);
    let mut labels = json!({
        super::hash::POD_TEMPLATE_HASH_LABEL: hash,
        ROLLOUT_TYPE_LABEL: kind,
    });
    if let Some(i) = step {
        labels[STEP_INDEX_LABEL] = json!(i.to_string());
    }
    if let Some(id) = rollout["metadata"]["labels"][INSTANCE_ID_LABEL].as_str() {
        labels[INSTANCE_ID_LABEL] = json!(id);
    }
    json!({
        "apiVersion": argo::API_VERSION,
        "kind": "AnalysisRun",
        "metadata": {
            "name": start.name,
            "namespace": rollout["metadata"]["namespace"],
            "labels": labels,
            "annotations": {super::replicasets::REVISION_ANNOTATION: revision.to_string()},
            "ownerReferences": [{
                "apiVersion": argo::API_VERSION, "kind": "Rollout",
                "name": rollout["metadata"]["name"], "uid": rollout["metadata"]["uid"],
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": crate::run_objects::argo_spec(&start.spec, &start.providers),
    })
}

/// A run this controller last wrote, kept between reconciles.
struct Cached {
    uid: String,
    resource_version: String,
    run: AnalysisRun,
}

/// What the run side keeps: the runs in memory and the provider clients.
pub struct Runs {
    cache: parking_lot::Mutex<BTreeMap<(String, String), Cached>>,
    http: HttpClient,
    /// The weir proxies the built-in provider reads (`--proxy-service`).
    fleet: Option<ProxyFleet>,
}

impl Runs {
    /// The weir proxies behind `--proxy-service`, if given.
    pub fn fleet(&self) -> Option<&ProxyFleet> {
        self.fleet.as_ref()
    }

    pub fn new(http: HttpClient, fleet: Option<ProxyFleet>) -> Runs {
        Runs {
            cache: parking_lot::Mutex::new(BTreeMap::new()),
            http,
            fleet,
        }
    }
}

/// Takes one AnalysisRun as far as it goes now, writes its status, and asks to be called
/// again when its next measurement is due.
pub async fn reconcile_run(
    obj: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Requeue, ReconcileError> {
    if let Some(later) = super::rollouts::not_ours(&ctx, &obj) {
        return Ok(later);
    }
    let ns = obj.namespace().unwrap_or_else(|| "default".to_owned());
    let name = obj.name_any();
    let raw = serde_json::to_value(obj.as_ref())?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &ns, &analysis_run_resource());
    let done = raw["status"]["phase"]
        .as_str()
        .and_then(AnalysisPhase::parse)
        .is_some_and(AnalysisPhase::is_completed);
    if done {
        ctx.runs.cache.lock().remove(&(ns, name));
        return Ok(Requeue::await_change());
    }
    let at = now();
    let (mut run, providers) = match load(&ctx, &ns, &raw).await {
        Ok(loaded) => loaded,
        Err(message) => {
            // Argo: a run whose spec cannot be resolved ends in Error saying why.
            let status = json!({"phase": "Error", "message": message,
                "startedAt": crate::engine::clock::format_time(at)});
            write(&api, &raw, status).await?;
            return Ok(Requeue::await_change());
        }
    };
    let terminating = raw["spec"]["terminate"].as_bool() == Some(true);
    if terminating && !run.is_terminated() {
        run.terminate(at);
    }
    if terminating && super::jobs::uses_jobs(&raw) {
        // The run ends now (it is not completed yet, or it would have returned above), so
        // its running Jobs are deleted; a failure is only logged (they belong to the run
        // and go with it).
        if let Err(e) = super::jobs::terminate(&ctx.client, &raw).await {
            tracing::warn!(run = %name, "deleting the terminated run's Jobs: {e}");
        }
    }
    let roles = roles(&ctx.client, &ns, &raw).await;
    let mut due = run.step(at, Vec::new());
    for _ in 0..3 {
        if due.is_empty() {
            break;
        }
        let taken = |r: &MeasureRequest| {
            run.metric_result(&r.metric)
                .map_or(0, |m| m.count + m.error)
        };
        let numbered: Vec<(MeasureRequest, i32)> = due
            .into_iter()
            .map(|r| (r.clone(), taken(&r) + 1))
            .collect();
        let answers = measure(&ctx, &raw, &providers, &roles, numbered).await;
        due = run.step(now(), answers);
    }
    let pure = run.status();
    let mut shown = crate::run_objects::argo_status(&pure);
    let job_metrics: Vec<&str> = raw["spec"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(&providers)
        .filter(|(_, p)| p.job.is_some())
        .filter_map(|(m, _)| m["name"].as_str())
        .collect();
    super::jobs::show_running(&mut shown, &raw, &job_metrics, &pure.metric_results);
    let status = serde_json::to_value(shown)?;
    let Some(written) = write(&api, &raw, status).await? else {
        // Someone else wrote it since the read: the next reconcile resumes from theirs.
        ctx.runs.cache.lock().remove(&(ns, name));
        return Ok(Requeue::requeue(Duration::from_secs(1)));
    };
    let requeue = match run.next_due() {
        _ if run.phase().is_completed() => Requeue::await_change(),
        Some(next) => Requeue::requeue(
            Duration::from_millis(next.as_millis().saturating_sub(now().as_millis()))
                .max(Duration::from_millis(200)),
        ),
        None => Requeue::requeue(Duration::from_secs(30)),
    };
    if run.phase().is_completed() {
        tracing::info!(run = %name, phase = %run.phase(), message = %run.message(), "AnalysisRun completed");
        ctx.runs.cache.lock().remove(&(ns, name));
    } else {
        ctx.runs.cache.lock().insert(
            (ns, name),
            Cached {
                uid: obj.uid().unwrap_or_default(),
                resource_version: written,
                run,
            },
        );
    }
    Ok(requeue)
}

/// The run and its providers: from memory when the object is the version this controller
/// wrote last, else from the object (its status, if it has one).
async fn load(
    ctx: &Context,
    ns: &str,
    raw: &Value,
) -> Result<(AnalysisRun, Vec<MetricProvider>), String> {
    let name = raw["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut object: argo::AnalysisRun =
        serde_json::from_value(raw.clone()).map_err(|e| format!("Analysis spec invalid: {e}"))?;
    resolve_secrets(&ctx.client, ns, &mut object.spec.args).await?;
    let (spec, providers) = crate::engine::analysis_bridge::run_from_object(&object.spec)
        .map_err(|e| format!("Unable to resolve metric arguments: {e}"))?;
    let providers = providers
        .iter()
        .map(|p| {
            crate::standalone::runs::resolve_provider(p, &spec.args).unwrap_or_else(|_| p.clone())
        })
        .collect();
    let rv = raw["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    let uid = raw["metadata"]["uid"].as_str().unwrap_or_default();
    if let Some(cached) = ctx.runs.cache.lock().remove(&(ns.to_owned(), name)) {
        if cached.uid == uid && cached.resource_version == rv {
            return Ok((cached.run, providers));
        }
    }
    let run = match crate::run_objects::status_from_argo(object.status.as_ref())? {
        Some(status) => AnalysisRun::resume(spec, status),
        None => AnalysisRun::new(spec, now()),
    };
    Ok((run, providers))
}

/// Argo's analysis controller reads `valueFrom.secretKeyRef` arguments from the run's
/// namespace when it runs; so does this one.
async fn resolve_secrets(
    client: &Client,
    ns: &str,
    args: &mut [argo::Argument],
) -> Result<(), String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    for arg in args.iter_mut() {
        let Some(r) = arg
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.clone())
        else {
            continue;
        };
        let secret = secrets
            .get_opt(&r.name)
            .await
            .map_err(|e| format!("args.{}: secret \"{}\": {e}", arg.name, r.name))?
            .ok_or_else(|| format!("args.{}: secret \"{}\" not found", arg.name, r.name))?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&r.key))
            .ok_or_else(|| {
                format!(
                    "args.{}: key \"{}\" not found in secret \"{}\"",
                    arg.name, r.key, r.name
                )
            })?;
        arg.value = Some(String::from_utf8_lossy(&bytes.0).into_owned());
        arg.value_from = None;
    }
    Ok(())
}

/// The `canary` and `stable` roles a weir metric's `backend` may name: the owning Rollout's
/// canary (or preview) and stable (or active) Services.
async fn roles(client: &Client, ns: &str, raw: &Value) -> BTreeMap<String, String> {
    let mut roles = BTreeMap::new();
    let owner = raw["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["kind"] == "Rollout" && o["controller"] == true);
    let Some(owner) = owner.and_then(|o| o["name"].as_str()) else {
        return roles;
    };
    let rollouts: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &super::rollouts::rollout_resource());
    let Ok(Some(rollout)) = rollouts.get_opt(owner).await else {
        return roles;
    };
    let strategy = &rollout.data["spec"]["strategy"];
    for (role, paths) in [
        (
            "canary",
            [("canary", "canaryService"), ("blueGreen", "previewService")],
        ),
        (
            "stable",
            [("canary", "stableService"), ("blueGreen", "activeService")],
        ),
    ] {
        if let Some(service) = paths
            .iter()
            .find_map(|(s, f)| strategy[*s][*f].as_str().filter(|v| !v.is_empty()))
        {
            roles.insert(role.to_owned(), service.to_owned());
        }
    }
    roles
}

/// The built-in provider with no proxies to read: every measurement says so.
struct NoProxies;

impl WindowSource for NoProxies {
    fn window(
        &self,
        _route: &str,
        _backend: &str,
        _now: std::time::Instant,
        _window: Duration,
    ) -> Result<WindowSample, String> {
        Err("the weir provider needs the proxies' admin Service: start `weir controller` with --proxy-service NAMESPACE/NAME[:PORT]".to_owned())
    }
}

/// Where a weir metric's traffic figures come from: every proxy replica's window, merged
/// ([`ProxyFleet::windows`]), fetched for this measurement.
async fn windows_for(
    runs: &Runs,
    provider: &MetricProvider,
) -> Result<Arc<dyn WindowSource>, String> {
    let Ok(Some(metric)) = provider.weir_metric() else {
        return Ok(Arc::new(NoProxies));
    };
    let Some(fleet) = &runs.fleet else {
        return Ok(Arc::new(NoProxies));
    };
    let window = match &metric.window {
        None => providers::weir::DEFAULT_WINDOW,
        Some(w) => w.to_duration().map_err(|e| format!("window: {e}"))?,
    };
    Ok(Arc::new(fleet.windows(&metric.route, window).await?))
}

/// Takes the due measurements concurrently; each comes with its number among the metric's
/// measurements (1 for the first), which names a `job` measurement's Job.
async fn measure(
    ctx: &Context,
    run: &Value,
    providers: &[MetricProvider],
    roles: &BTreeMap<String, String>,
    due: Vec<(MeasureRequest, i32)>,
) -> Vec<(String, MeasurementResult)> {
    futures_util::future::join_all(due.into_iter().map(|(request, n)| {
        let provider = providers.get(request.index).cloned();
        async move {
            let Some(provider) = provider else {
                let text = format!("metric {} has no provider", request.metric);
                return (request.metric, MeasurementResult::Error(text));
            };
            if let (Some(job), 1) = (&provider.job, provider.names().len()) {
                let answer = super::jobs::measure(&ctx.client, run, &request.metric, job, n).await;
                return (request.metric, answer);
            }
            let windows = match windows_for(&ctx.runs, &provider).await {
                Ok(w) => w,
                Err(e) => return (request.metric, MeasurementResult::Error(e)),
            };
            let pctx = ProviderContext {
                roles: roles.clone(),
                windows,
                http: ctx.runs.http.clone(),
                now: std::time::Instant::now(),
            };
            (request.metric, providers::measure(&provider, &pctx).await)
        }
    }))
    .await
}

/// Writes `status` with the object, preconditioned on the resourceVersion read, and through
/// the status subresource too when the CRD has one. The resourceVersion written, or `None`
/// on a conflict.
pub(super) async fn write(
    api: &Api<DynamicObject>,
    raw: &Value,
    status: Value,
) -> Result<Option<String>, ReconcileError> {
    let name = raw["metadata"]["name"].as_str().unwrap_or_default();
    let mut object = raw.clone();
    object["status"] = status.clone();
    let object: DynamicObject = serde_json::from_value(object)?;
    let mut written = match api.replace(name, &PostParams::default(), &object).await {
        Ok(o) => o,
        Err(kube::Error::Api(e)) if e.code == 409 => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if written.data["status"] != status {
        // The CRD has a status subresource: the update kept the old status.
        let mut again = object.clone();
        again.metadata.resource_version = written.metadata.resource_version.clone();
        written = match api
            .replace_status(name, &PostParams::default(), &again)
            .await
        {
            Ok(o) => o,
            Err(kube::Error::Api(e)) if e.code == 409 => return Ok(None),
            Err(e) => return Err(e.into()),
        };
    }
    Ok(written.metadata.resource_version)
}
