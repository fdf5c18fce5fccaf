//! The cluster's state: every object by group/resource and key, one global
//! resourceVersion counter (etcd's revision), the event history the watch cache keeps,
//! and the open watches. All of it sits behind one lock (`crate::Shared::state`); the
//! write paths (`create.rs`, `update.rs`, `delete.rs`) run under it, so a write and the
//! events it sends to watchers are one atomic step, as an etcd transaction and its
//! watch notification are.

mod create;
pub mod delete;
mod history;
mod namespace;
mod update;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

pub use delete::{DeleteOptions, DeleteOutcome, Propagation};
pub use history::{Event, EventType};
pub use update::Subresource;

use crate::error::{ApiError, ApiResult, GroupResource};
use crate::faults::Faults;
use crate::meta;
use crate::registry::{Registry, ResourceType};
use history::History;

/// How a write is asked for: `dryRun=All`, `fieldValidation=Strict`.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOpts {
    pub dry_run: bool,
    pub strict: bool,
}

/// An object's key within its resource: namespace ("" when cluster-scoped) and name,
/// ordered as etcd orders `/registry/<resource>/<namespace>/<name>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
    pub fn of(obj: &Value) -> Self {
        ObjKey::new(meta::namespace(obj), meta::name(obj))
    }
}

/// The objects of one resource, in key order.
pub type Objects = BTreeMap<ObjKey, Arc<Value>>;

/// An open watch: the events of its resource go to `tx`.
struct Subscriber {
    gr: GroupResource,
    tx: UnboundedSender<Arc<Event>>,
}

/// Everything behind the lock.
pub struct Cluster {
    pub registry: Registry,
    rv: u64,
    objects: HashMap<GroupResource, Objects>,
    history: History,
    subscribers: Vec<Subscriber>,
    pub faults: Faults,
    /// Woken after every commit: the simulated controllers wait on it.
    changed: Arc<tokio::sync::Notify>,
    /// The warnings of the last write (unknown fields dropped), for its response.
    pub(crate) warnings: Vec<String>,
}

impl Cluster {
    pub fn new(
        registry: Registry,
        history_limit: usize,
        changed: Arc<tokio::sync::Notify>,
    ) -> Self {
        Cluster {
            registry,
            rv: 1,
            objects: HashMap::new(),
            history: History::new(history_limit),
            subscribers: vec![],
            faults: Faults::default(),
            changed,
            warnings: vec![],
        }
    }

    fn warn_unknown(&mut self, paths: &[String]) {
        self.warnings = paths
            .iter()
            .map(|p| format!("unknown field {p:?}"))
            .collect();
    }

    /// The warnings of the last write (`Warning: 299 - "unknown field \"spec.x\""`),
    /// taken once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The newest resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    /// Forget all history: every resourceVersion before now becomes too old, as after an
    /// etcd compaction that the watch cache also dropped.
    pub fn compact(&mut self) {
        self.history.compact(self.rv);
    }

    pub fn get(&self, gr: &GroupResource, key: &ObjKey) -> Option<Arc<Value>> {
        self.objects.get(gr).and_then(|m| m.get(key)).cloned()
    }

    /// The current objects of a resource.
    pub fn objects(&self, gr: &GroupResource) -> Objects {
        self.objects.get(gr).cloned().unwrap_or_default()
    }

    /// The objects of a resource as they were at `rv`, rebuilt from the history; `410
    /// Expired` when the history no longer reaches back that far.
    pub fn objects_at(&self, gr: &GroupResource, rv: u64) -> ApiResult<Objects> {
        if rv >= self.rv {
            return Ok(self.objects(gr));
        }
        if rv < self.history.floor() {
            return Err(ApiError::expired(
                "The resourceVersion for the provided list is too old.",
            ));
        }
        let mut objects = self.objects(gr);
        self.history.rewind(gr, rv, &mut objects);
        Ok(objects)
    }

    /// The events of `gr` after `rv`, for a watch resuming there; the real watch cache's
    /// `too old resource version` when they are no longer all kept.
    pub fn events_since(&self, gr: &GroupResource, rv: u64) -> ApiResult<Vec<Arc<Event>>> {
        if rv < self.history.floor() {
            let msg = format!(
                "too old resource version: {} ({})",
                rv,
                self.history.floor()
            );
            return Err(ApiError::expired(msg));
        }
        Ok(self.history.since(gr, rv))
    }

    /// Register a watch on `gr`: it gets every event committed from now on.
    pub fn subscribe(&mut self, gr: &GroupResource, tx: UnboundedSender<Arc<Event>>) {
        self.subscribers.push(Subscriber { gr: gr.clone(), tx });
    }

    /// End every open watch (their streams close), as an API server restart or a
    /// load balancer cutting connections would.
    pub fn drop_watches(&mut self) -> usize {
        let n = self.subscribers.len();
        self.subscribers.clear();
        n
    }

    pub fn open_watches(&mut self) -> usize {
        self.subscribers.retain(|s| !s.tx.is_closed());
        self.subscribers.len()
    }

    /// Store `obj` (or remove it, for `Deleted`) at a new resourceVersion, record the
    /// event and send it to the watches of its resource.
    pub(crate) fn commit(
        &mut self,
        ty: &ResourceType,
        kind: EventType,
        mut obj: Value,
        prev: Option<Arc<Value>>,
    ) -> Arc<Value> {
        let is_crd = ty.group_resource() == crate::crd::crd_gr();
        if is_crd && kind == EventType::Deleted {
            self.crd_deleting(&obj);
        }
        self.rv += 1;
        let rv = self.rv;
        meta::metadata_mut(&mut obj)
            .insert("resourceVersion".into(), Value::String(rv.to_string()));
        let obj = Arc::new(obj);
        let gr = ty.group_resource();
        let key = ObjKey::of(&obj);
        let map = self.objects.entry(gr.clone()).or_default();
        match kind {
            EventType::Deleted => {
                map.remove(&key);
            }
            _ => {
                map.insert(key.clone(), obj.clone());
            }
        }
        let event = Arc::new(Event {
            rv,
            gr: gr.clone(),
            key,
            kind,
            object: obj.clone(),
            prev,
        });
        self.history.push(event.clone());
        self.subscribers
            .retain(|s| s.gr != gr || s.tx.send(event.clone()).is_ok());
        self.changed.notify_one();
        if is_crd && kind != EventType::Deleted {
            self.crd_written(&obj);
        }
        obj
    }
}
