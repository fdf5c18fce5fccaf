//! Watch: a chunked stream of `{"type":...,"object":...}` lines, as the watch cache
//! serves it (`storage/cacher/cacher.go`, `cache_watcher.go`, `watch_cache.go`):
//! - no resourceVersion or `0`: synthetic ADDED events for the current state, then
//!   changes; `N`: every change after N from the history, or one ERROR event with the
//!   410 Expired Status `too old resource version: N (floor)` when it is gone (the HTTP
//!   answer itself is 200, as the real server's `newErrWatcher`);
//! - `sendInitialEvents=true` (streaming lists): the current state, then a BOOKMARK
//!   annotated `k8s.io/initial-events-end`;
//! - selectors are applied to both the old and new object of a change: an object that
//!   stops matching is sent as DELETED (its previous state at the new resourceVersion),
//!   one that starts matching as ADDED (`cacheWatcher.convertToWatchEvent`);
//! - `allowWatchBookmarks=true`: BOOKMARK events (kind, apiVersion and
//!   metadata.resourceVersion only) every `Options::bookmark_interval` and when a test
//!   asks; `timeoutSeconds` ends the stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::read::{check_watch_options, selectors};
use super::respond::{self, Body};
use super::{at_version, table, Req, Want};
use crate::error::ApiError;
use crate::meta;
use crate::registry::ResourceType;
use crate::select::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::store::{Event, EventType};

/// Which objects a watch sees.
struct Filter {
    ty: Arc<ResourceType>,
    version: String,
    namespace: String,
    name: String,
    labels: LabelSelector,
    fields: FieldSelector,
    /// Events as one-row Tables (`kubectl get -w`); only the first has the columns.
    table: Option<(String, std::cell::Cell<bool>)>,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        (self.namespace.is_empty() || meta::namespace(obj) == self.namespace)
            && (self.name.is_empty() || meta::name(obj) == self.name)
            && self.labels.matches(&meta::labels(obj))
            && self.fields.matches(obj, &self.ty)
    }

    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let mut object = at_version(&self.ty, &self.version, obj);
        if let Some((include, first)) = &self.table {
            let mut t = table::table(&self.ty, &self.version, &[object], None, include);
            if !first.replace(false) {
                t["columnDefinitions"] = json!([]);
            }
            object = t;
        }
        let ev = json!({"type": kind, "object": object});
        let mut v = serde_json::to_vec(&ev).unwrap_or_default();
        v.push(b'\n');
        Bytes::from(v)
    }

    /// The line a committed change gives this watch, if any.
    fn convert(&self, e: &Event) -> Option<Bytes> {
        let cur = e.kind != EventType::Deleted && self.matches(&e.object);
        let old = e.prev.as_ref().is_some_and(|p| self.matches(p));
        match (cur, old) {
            (true, false) => Some(self.line("ADDED", &e.object)),
            (true, true) => Some(self.line("MODIFIED", &e.object)),
            (false, true) => {
                let mut prev = e.prev.as_deref().cloned().unwrap_or(Value::Null);
                meta::metadata_mut(&mut prev)
                    .insert("resourceVersion".into(), json!(e.rv.to_string()));
                Some(self.line("DELETED", &prev))
            }
            (false, false) => None,
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut md = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.ty.kind, "apiVersion": self.ty.api_version(&self.version), "metadata": md});
        let mut v =
            serde_json::to_vec(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
        v.push(b'\n');
        Bytes::from(v)
    }
}

fn error_line(e: &ApiError) -> Bytes {
    let mut v =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_status()})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

pub fn watch(shared: &Arc<Shared>, r: Req) -> Response<Body> {
    if let Err(e) = check_watch_options(&r) {
        return respond::error(&e);
    }
    let (labels, fields) = match selectors(&r) {
        Ok(s) => s,
        Err(e) => return respond::error(&e),
    };
    let rv_param = r.query.str("resourceVersion").to_string();
    let rv: u64 = if rv_param.is_empty() {
        0
    } else {
        match rv_param.parse() {
            Ok(v) => v,
            Err(_) => {
                return respond::error(&ApiError::bad_request(format!(
                    "invalid resource version: {rv_param:?}"
                )))
            }
        }
    };
    let send_initial = r
        .query
        .get("sendInitialEvents")
        .map(|v| matches!(v, "true" | "1"));
    let bookmarks = r.query.flag("allowWatchBookmarks");
    let timeout = r
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0);
    let filter = Filter {
        ty: r.ty.clone(),
        version: r.path.version.clone(),
        namespace: r.path.namespace.clone(),
        name: r.path.name.clone(),
        labels,
        fields,
        table: (r.want == Want::Table).then(|| {
            (
                r.query.str("includeObject").to_string(),
                std::cell::Cell::new(true),
            )
        }),
    };
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let mut initial: Vec<Bytes> = vec![];
    let mut end_bookmark = None;
    let limit;
    {
        let mut st = shared.state.lock();
        let gr = r.ty.group_resource();
        limit = st.faults.watch_event_limit;
        let from_state = match send_initial {
            Some(true) => true,
            Some(false) => false,
            None => rv == 0,
        };
        if from_state {
            for obj in st.objects(&gr).values().filter(|o| filter.matches(o)) {
                initial.push(filter.line("ADDED", obj));
            }
            if send_initial == Some(true) {
                end_bookmark = Some(filter.bookmark(st.current_rv().max(rv), true));
            }
        } else if rv > 0 {
            match st.events_since(&gr, rv) {
                Ok(events) => initial.extend(events.iter().filter_map(|e| filter.convert(e))),
                Err(e) => {
                    let (tx, rx) = mpsc::channel(1);
                    let _ = tx.try_send(error_line(&e));
                    return respond::streaming(rx);
                }
            }
        }
        st.subscribe(&gr, ev_tx);
    }
    let (body_tx, body_rx) = mpsc::channel(64);
    let shared = shared.clone();
    tokio::spawn(async move {
        let w = Stream {
            shared,
            filter,
            ev_rx,
            body_tx,
            bookmarks,
            limit,
            sent: 0,
        };
        w.run(initial, end_bookmark, timeout.map(Duration::from_secs))
            .await;
    });
    respond::streaming(body_rx)
}

struct Stream {
    shared: Arc<Shared>,
    filter: Filter,
    ev_rx: mpsc::UnboundedReceiver<Arc<Event>>,
    body_tx: mpsc::Sender<Bytes>,
    bookmarks: bool,
    limit: Option<usize>,
    sent: usize,
}

impl Stream {
    /// Send one event line; false when the stream must end (client gone, or the
    /// injected event limit reached).
    async fn send(&mut self, line: Bytes) -> bool {
        if self.body_tx.send(line).await.is_err() {
            return false;
        }
        self.sent += 1;
        self.limit.is_none_or(|l| self.sent < l)
    }

    async fn run(
        mut self,
        initial: Vec<Bytes>,
        end_bookmark: Option<Bytes>,
        timeout: Option<Duration>,
    ) {
        for line in initial {
            if !self.send(line).await {
                return;
            }
        }
        if let Some(b) = end_bookmark {
            if self.body_tx.send(b).await.is_err() {
                return;
            }
        }
        let interval = self
            .shared
            .options
            .bookmark_interval
            .max(Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let mut asked = self.shared.bookmark_now.subscribe();
        let deadline =
            tokio::time::Instant::now() + timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600));
        loop {
            tokio::select! {
                ev = self.ev_rx.recv() => {
                    let Some(ev) = ev else { return };
                    if let Some(line) = self.filter.convert(&ev) {
                        if !self.send(line).await {
                            return;
                        }
                    }
                }
                _ = tick.tick(), if self.bookmarks => {
                    if !self.bookmark().await { return; }
                }
                m = asked.recv(), if self.bookmarks => {
                    if m.is_ok() && !self.bookmark().await { return; }
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = self.body_tx.closed() => return,
            }
        }
    }

    /// A BOOKMARK at the current resourceVersion, after every event up to it.
    async fn bookmark(&mut self) -> bool {
        let rv = self.shared.state.lock().current_rv();
        while let Ok(ev) = self.ev_rx.try_recv() {
            if let Some(line) = self.filter.convert(&ev) {
                if !self.send(line).await {
                    return false;
                }
            }
        }
        self.body_tx
            .send(self.filter.bookmark(rv, false))
            .await
            .is_ok()
    }
}
