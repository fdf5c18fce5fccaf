//! `weir rollouts` on Kubernetes: the Rollouts of a namespace, with the ReplicaSets and
//! AnalysisRuns they own, read from the cluster the kubeconfig names (as `weir controller`
//! and kubectl find it), and the merge patches of `patches.rs` sent where
//! `kubectl argo rollouts` sends them, which weir's controller and Argo's act on alike.
//!
//! The objects are Argo's own (`argoproj.io/v1alpha1`), so they read into the same types as
//! the standalone admin API's answers and go through the same views; [`ClusterError`] is
//! the one place a failure becomes a message.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use serde_json::Value;
use weir_config::argo::{AnalysisRun, Rollout};

use super::client::{innermost, Action};
use super::patches::{self, Patches};
use super::view::ReplicaSetView;

/// A CLI call should not hang on an unreachable server; the API server answers in far less.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The label naming a Rollout's ReplicaSet's pod-template hash.
const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";
const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";

/// How `weir rollouts` reaches a cluster instead of a `weir run`. Any of these flags selects
/// the cluster.
#[derive(Debug, Default, Args)]
pub struct ClusterArgs {
    /// Work on the Rollouts of the Kubernetes cluster of the current kubeconfig context (as
    /// kubectl finds it: KUBECONFIG, ~/.kube/config, or the in-cluster service account)
    /// rather than on a `weir run`'s admin API.
    #[arg(long, global = true, conflicts_with_all = ["admin", "token_file"])]
    kubernetes: bool,
    /// The namespace of the Rollouts (implies --kubernetes). Default: the kubeconfig
    /// context's namespace, else `default`.
    #[arg(
        short = 'n',
        long,
        global = true,
        value_name = "NAMESPACE",
        conflicts_with_all = ["admin", "token_file"]
    )]
    namespace: Option<String>,
    /// The kubeconfig context to use (implies --kubernetes). Default: the current context.
    #[arg(
        long,
        global = true,
        value_name = "CONTEXT",
        conflicts_with_all = ["admin", "token_file"]
    )]
    context: Option<String>,
    /// The kubeconfig file to use (implies --kubernetes). Default: KUBECONFIG, else
    /// ~/.kube/config, else the in-cluster service account.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with_all = ["admin", "token_file"]
    )]
    kubeconfig: Option<PathBuf>,
}

impl ClusterArgs {
    /// Whether the user asked for a cluster.
    pub fn selected(&self) -> bool {
        self.kubernetes
            || self.namespace.is_some()
            || self.context.is_some()
            || self.kubeconfig.is_some()
    }
}

/// Why a call to the cluster failed.
#[derive(Debug)]
pub enum ClusterError {
    /// No cluster: no kubeconfig and not in a cluster, an unreadable file, an unknown
    /// context.
    Config(String),
    /// No Rollout of that name in the namespace.
    NotFound { name: String, namespace: String },
    /// The API server serves no Rollouts: Argo's CRDs are not installed.
    NoRollouts { server: String },
    /// The API server answered with an error status.
    Api {
        what: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// The API server could not be reached, or the connection broke.
    Unreachable { server: String, reason: String },
    /// The call failed on this side (authentication, building the request).
    Request { what: String, reason: String },
    /// An object is not in Argo's shape as weir reads it.
    Decode { what: String, reason: String },
}

impl ClusterError {
    /// True for failures that may pass on their own: `get --watch` retries those.
    pub fn is_transient(&self) -> bool {
        match self {
            ClusterError::Unreachable { .. } => true,
            ClusterError::Api { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::Config(message) => f.write_str(message),
            ClusterError::NotFound { name, namespace } => {
                write!(f, "rollout {name:?} not found in namespace {namespace:?}")
            }
            ClusterError::NoRollouts { server } => write!(
                f,
                "the API server at {server} serves no Rollouts (argoproj.io/v1alpha1): are \
                 Argo Rollouts' CRDs installed? (`weir crds | kubectl apply --server-side -f -`)"
            ),
            ClusterError::Api {
                what,
                code,
                reason,
                message,
            } => {
                write!(f, "{what}: {message}")?;
                match reason.as_str() {
                    "" => write!(f, " ({code})")?,
                    reason => write!(f, " ({code} {reason})")?,
                }
                match code {
                    401 => f.write_str(
                        ". The API server did not accept the kubeconfig's credentials: log in \
                         again, or choose another context with --context",
                    ),
                    403 => f.write_str(
                        ". The kubeconfig's user lacks the RBAC permission: `weir rollouts` \
                         needs get and list on rollouts, analysisruns and replicasets, and \
                         patch on rollouts and rollouts/status (argoproj.io, apps)",
                    ),
                    _ => Ok(()),
                }
            }
            ClusterError::Unreachable { server, reason } => {
                write!(
                    f,
                    "cannot reach the Kubernetes API server at {server}: {reason}"
                )
            }
            ClusterError::Request { what, reason } => write!(f, "{what}: {reason}"),
            ClusterError::Decode { what, reason } => write!(
                f,
                "{what} is not in Argo Rollouts' shape as this weir reads it: {reason}"
            ),
        }
    }
}

impl StdError for ClusterError {}

/// The Rollouts of one namespace of one cluster.
pub struct ClusterClient {
    /// The API server's URL, for messages.
    server: String,
    namespace: String,
    rollouts: Api<DynamicObject>,
    runs: Api<DynamicObject>,
    replica_sets: Api<ReplicaSet>,
}

impl ClusterClient {
    /// Finds the cluster as `weir controller` and kubectl do (`--kubeconfig`, else
    /// KUBECONFIG or ~/.kube/config, else the in-cluster service account), in `--context`
    /// when given, else the current context.
    pub async fn connect(args: &ClusterArgs) -> Result<Self, ClusterError> {
        let config = kube_config(args).await?;
        ClusterClient::new(config, args.namespace.as_deref())
    }

    /// A client of the cluster `config` names, in `namespace`, else the namespace of the
    /// kubeconfig context (`default` when it names none).
    pub fn new(mut config: Config, namespace: Option<&str>) -> Result<Self, ClusterError> {
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(READ_TIMEOUT);
        let server = config.cluster_url.to_string();
        let server = server.trim_end_matches('/').to_owned();
        let namespace = namespace.map_or_else(|| config.default_namespace.clone(), str::to_owned);
        let client = Client::try_from(config).map_err(|e| ClusterError::Request {
            what: format!("a client for the API server at {server}"),
            reason: innermost(&e),
        })?;
        Ok(ClusterClient::with_client(client, server, &namespace))
    }

    /// A client in `namespace` over a client already made (`weir controller`'s, for its
    /// dashboard's actions); `server` names the API server in messages.
    pub fn with_client(client: Client, server: String, namespace: &str) -> Self {
        ClusterClient {
            rollouts: Api::namespaced_with(client.clone(), namespace, &rollout_resource()),
            runs: Api::namespaced_with(client.clone(), namespace, &analysis_run_resource()),
            replica_sets: Api::namespaced(client, namespace),
            server,
            namespace: namespace.to_owned(),
        }
    }

    /// The namespace the client works in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The namespace's Rollouts, each with its ReplicaSets (for `list`'s weights).
    pub async fn rollouts(&self) -> Result<Vec<(Rollout, Vec<ReplicaSetView>)>, ClusterError> {
        let list = self
            .rollouts
            .list(&ListParams::default())
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code == 404 => ClusterError::NoRollouts {
                    server: self.server.clone(),
                },
                e => self.error(
                    format!("listing rollouts in namespace {:?}", self.namespace),
                    e,
                ),
            })?;
        let rollouts = list
            .items
            .iter()
            .map(|o| self.read_rollout(o))
            .collect::<Result<Vec<_>, _>>()?;
        let sets = match rollouts.is_empty() {
            true => Vec::new(),
            false => self.replica_set_objects().await?,
        };
        Ok(rollouts
            .into_iter()
            .map(|r| {
                let owned = owned_replica_sets(&sets, &r);
                (r, owned)
            })
            .collect())
    }

    /// Rollout `name`.
    pub async fn rollout(&self, name: &str) -> Result<Rollout, ClusterError> {
        let object = self
            .rollouts
            .get(name)
            .await
            .map_err(|e| self.rollout_error(name, "reading", e))?;
        self.read_rollout(&object)
    }

    /// Rollout `name` and the AnalysisRuns it owns, for `status`.
    pub async fn rollout_and_runs(
        &self,
        name: &str,
    ) -> Result<(Rollout, Vec<AnalysisRun>), ClusterError> {
        let rollout = self.rollout(name).await?;
        let runs = self.analysis_runs(&rollout).await?;
        Ok((rollout, runs))
    }

    /// Rollout `name`, its AnalysisRuns and its ReplicaSets, for `get`.
    pub async fn snapshot(
        &self,
        name: &str,
    ) -> Result<(Rollout, Vec<AnalysisRun>, Vec<ReplicaSetView>), ClusterError> {
        let rollout = self.rollout(name).await?;
        let (runs, sets) =
            tokio::try_join!(self.analysis_runs(&rollout), self.replica_sets(&rollout))?;
        Ok((rollout, runs, sets))
    }

    /// The AnalysisRuns `rollout` owns.
    async fn analysis_runs(&self, rollout: &Rollout) -> Result<Vec<AnalysisRun>, ClusterError> {
        let uid = uid(rollout);
        let list = self.runs.list(&ListParams::default()).await.map_err(|e| {
            let what = format!("listing analysisruns in namespace {:?}", self.namespace);
            self.error(what, e)
        })?;
        list.items
            .iter()
            .filter(|run| owned_by(&run.metadata.owner_references, uid))
            .map(|run| {
                let name = run.metadata.name.as_deref().unwrap_or_default();
                let what = format!("analysisrun {name:?} in namespace {:?}", self.namespace);
                decode(&what, run)
            })
            .collect()
    }

    /// The ReplicaSets `rollout` owns.
    pub async fn replica_sets(
        &self,
        rollout: &Rollout,
    ) -> Result<Vec<ReplicaSetView>, ClusterError> {
        Ok(owned_replica_sets(
            &self.replica_set_objects().await?,
            rollout,
        ))
    }

    /// The namespace's ReplicaSets that carry a pod-template hash (a Rollout's do).
    async fn replica_set_objects(&self) -> Result<Vec<ReplicaSet>, ClusterError> {
        let params = ListParams::default().labels(POD_TEMPLATE_HASH_LABEL);
        let list = self.replica_sets.list(&params).await.map_err(|e| {
            let what = format!("listing replicasets in namespace {:?}", self.namespace);
            self.error(what, e)
        })?;
        Ok(list.items)
    }

    /// Sends `action`'s patches as `kubectl argo rollouts` does: the status patch to the
    /// status subresource first (the unified patch to the object instead when that is 404:
    /// a CRD without a status subresource), then the spec patch to the object. Only promote
    /// reads the Rollout first (its patches depend on the status). The Rollout as the last
    /// patch left it.
    pub async fn act(&self, name: &str, action: Action) -> Result<Rollout, ClusterError> {
        let (patches, read) = match action {
            Action::Promote { full } => {
                let rollout = self.rollout(name).await?;
                (patches::promote(&rollout, full), Some(rollout))
            }
            Action::Abort => (patches::abort(), None),
            Action::Retry => (patches::retry(), None),
            Action::Pause => (patches::pause(), None),
            Action::Resume => (patches::resume(), None),
        };
        let Patches {
            mut spec,
            status,
            unified,
        } = patches;
        let params = PatchParams::default();
        let mut latest = None;
        if let Some(status) = status {
            match self
                .rollouts
                .patch_status(name, &params, &Patch::Merge(&status))
                .await
            {
                Ok(object) => latest = Some(object),
                Err(kube::Error::Api(s)) if s.code == 404 => spec = unified,
                Err(e) => return Err(self.rollout_error(name, "patching the status of", e)),
            }
        }
        if let Some(spec) = spec {
            let object = self
                .rollouts
                .patch(name, &params, &Patch::Merge(&spec))
                .await
                .map_err(|e| self.rollout_error(name, "patching", e))?;
            latest = Some(object);
        }
        match (latest, read) {
            (Some(object), _) => self.read_rollout(&object),
            (None, Some(rollout)) => Ok(rollout),
            (None, None) => self.rollout(name).await,
        }
    }

    fn read_rollout(&self, object: &DynamicObject) -> Result<Rollout, ClusterError> {
        let name = object.metadata.name.as_deref().unwrap_or_default();
        decode(
            &format!("rollout {name:?} in namespace {:?}", self.namespace),
            object,
        )
    }

    /// A failed call about Rollout `name`: a 404 is the Rollout missing (or, without the
    /// object's name in it, the resource).
    fn rollout_error(&self, name: &str, doing: &str, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(s) if s.code == 404 => {
                let about_object = s.details.as_ref().is_some_and(|d| d.name == name)
                    || !s.message.contains("could not find the requested resource");
                if about_object {
                    ClusterError::NotFound {
                        name: name.to_owned(),
                        namespace: self.namespace.clone(),
                    }
                } else {
                    ClusterError::NoRollouts {
                        server: self.server.clone(),
                    }
                }
            }
            e => self.error(
                format!("{doing} rollout {name:?} in namespace {:?}", self.namespace),
                e,
            ),
        }
    }

    fn error(&self, what: String, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(s) => ClusterError::Api {
                what,
                code: s.code,
                reason: s.reason.clone(),
                message: s.message.clone(),
            },
            kube::Error::HyperError(_) | kube::Error::Service(_) => ClusterError::Unreachable {
                server: self.server.clone(),
                reason: innermost(&e),
            },
            kube::Error::SerdeError(e) => ClusterError::Decode {
                what: format!("the answer to {what}"),
                reason: e.to_string(),
            },
            e => ClusterError::Request {
                what,
                reason: innermost(&e),
            },
        }
    }
}

/// The kubeconfig (or in-cluster) configuration `args` choose, its failures worded for the
/// user.
async fn kube_config(args: &ClusterArgs) -> Result<Config, ClusterError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            let source = format!("--kubeconfig {}", path.display());
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(&source, e))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| kubeconfig_error(&source, e))
        }
        (None, Some(_)) => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| kubeconfig_error("the kubeconfig (KUBECONFIG, else ~/.kube/config)", e)),
        (None, None) => Config::infer().await.map_err(|e| {
            let unset = |var: &str| std::env::var_os(var).is_none_or(|v| v.is_empty());
            let no_file = std::env::var_os("HOME")
                .is_none_or(|home| !PathBuf::from(home).join(".kube/config").exists());
            if unset("KUBECONFIG") && no_file && unset("KUBERNETES_SERVICE_HOST") {
                ClusterError::Config(
                    "no Kubernetes cluster configured: KUBECONFIG is not set, \
                     ~/.kube/config does not exist and this is not a pod in a cluster; give \
                     a kubeconfig with --kubeconfig FILE or KUBECONFIG"
                        .to_owned(),
                )
            } else {
                ClusterError::Config(format!(
                    "cannot find a Kubernetes cluster in the kubeconfig (KUBECONFIG, else \
                     ~/.kube/config) or as a pod in a cluster: {e}"
                ))
            }
        }),
    }
}

/// A kubeconfig that cannot be used, and why; `source` says which one.
fn kubeconfig_error(source: &str, e: KubeconfigError) -> ClusterError {
    ClusterError::Config(match e {
        KubeconfigError::LoadContext(context) => {
            format!("{source}: there is no context {context:?}")
        }
        KubeconfigError::CurrentContextNotSet => {
            format!("{source}: no current context is set; choose one with --context")
        }
        e => format!("{source}: {e}"),
    })
}

/// An object of the API into weir's Argo types.
fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    object: &impl serde::Serialize,
) -> Result<T, ClusterError> {
    let fail = |e: serde_json::Error| ClusterError::Decode {
        what: what.to_owned(),
        reason: e.to_string(),
    };
    serde_json::from_value(serde_json::to_value(object).map_err(fail)?).map_err(fail)
}

fn rollout_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    )
}

fn analysis_run_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "AnalysisRun"),
        "analysisruns",
    )
}

fn uid(rollout: &Rollout) -> &str {
    rollout
        .metadata
        .other
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether an owner reference names the object with `uid`.
fn owned_by(
    owners: &Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
    uid: &str,
) -> bool {
    !uid.is_empty() && owners.iter().flatten().any(|o| o.uid == uid)
}

/// The ReplicaSets of `sets` that `rollout` owns, as `get` shows them.
fn owned_replica_sets(sets: &[ReplicaSet], rollout: &Rollout) -> Vec<ReplicaSetView> {
    let uid = uid(rollout);
    sets.iter()
        .filter(|rs| owned_by(&rs.metadata.owner_references, uid))
        .map(replica_set_view)
        .collect()
}

/// What `get` shows of a ReplicaSet.
pub fn replica_set_view(rs: &ReplicaSet) -> ReplicaSetView {
    let meta = &rs.metadata;
    let label = |key: &str| meta.labels.as_ref().and_then(|l| l.get(key)).cloned();
    let spec = rs.spec.as_ref();
    let status = rs.status.as_ref();
    let images = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.spec.as_ref())
        .map(|p| {
            p.containers
                .iter()
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default();
    ReplicaSetView {
        name: meta.name.clone().unwrap_or_default(),
        hash: label(POD_TEMPLATE_HASH_LABEL).unwrap_or_default(),
        revision: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION_ANNOTATION))
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
        desired: spec.and_then(|s| s.replicas),
        current: status.map_or(0, |s| s.replicas),
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        available: status.and_then(|s| s.available_replicas).unwrap_or(0),
        generation: meta.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        replica_failure: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "ReplicaFailure" && c.status == "True"),
        images,
    }
}
