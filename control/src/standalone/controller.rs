//! The standalone controller: one loop that observes, reconciles every Rollout with the
//! pure engine, persists, and carries out the engine's actions on the in-process proxy;
//! and drives the analysis runs the engine asked for, measuring through the providers.

use super::documents::{self, RunFile};
use super::runs::{kind_text, LiveRun};
use super::store::{RolloutRecord, Store, StoredEvent, StoredRun};
use super::traffic;
use crate::analysis::{AnalysisRun, MeasureRequest, MeasurementResult, Timestamp};
use crate::engine::clock::format_time;
use crate::engine::{self, Action, Command, Observed, ObservedAnalysisRun};
use crate::providers::{self, HttpClient, ProviderContext};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Notify};
use weir_config::argo::{MetricProvider, Rollout};
use weir_proxy::Proxy;

/// Events kept per rollout for `weir rollouts get`.
const EVENTS_KEPT: usize = 50;
/// The loop wakes at least this often, to notice file changes.
const POLL: Duration = Duration::from_millis(500);

pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// One Rollout as the controller holds it.
pub struct Slot {
    pub rollout: Rollout,
    pub record: RolloutRecord,
    pub runs: BTreeMap<String, LiveRun>,
    pub routes: Vec<String>,
    pub stable_service: String,
    pub canary_service: String,
    requeue_at: Option<Timestamp>,
}

struct Pending {
    rollout: String,
    command: Command,
    done: oneshot::Sender<()>,
}

pub struct Inner {
    pub file: RunFile,
    pub slots: BTreeMap<String, Slot>,
    commands: Vec<Pending>,
    /// Modification stamp of the run file, to notice edits.
    stamp: Option<(SystemTime, u64)>,
}

pub struct Controller {
    pub proxy: Arc<Proxy>,
    store: Store,
    path: PathBuf,
    pub inner: Mutex<Inner>,
    wake: Notify,
    http: HttpClient,
}

fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Builds the slots for a file's Rollouts, loading their saved records.
fn slots_for(file: &RunFile, store: &Store) -> Result<BTreeMap<String, Slot>, String> {
    let mut slots = BTreeMap::new();
    for r in &file.rollouts {
        let name = documents::rollout_name(r);
        let (stable, canary) =
            documents::services(r).ok_or_else(|| format!("Rollout {name:?}: no services"))?;
        let record = store.load(&name)?.unwrap_or_default();
        slots.insert(
            name,
            Slot {
                rollout: r.clone(),
                record,
                runs: BTreeMap::new(),
                routes: documents::managed_routes(&file.proxy, r),
                stable_service: stable,
                canary_service: canary,
                requeue_at: None,
            },
        );
    }
    Ok(slots)
}

/// Restores every saved Rollout's traffic on a proxy that does not accept connections yet.
pub fn prepare(proxy: &Proxy, file: &RunFile, store: &Store) -> Result<(), String> {
    for slot in slots_for(file, store)?.values() {
        restore(proxy, slot)?;
    }
    Ok(())
}

/// Puts a saved record's traffic back on the proxy: the promoted stable endpoints, the
/// weights last applied, the managed routes. Runs before the listeners accept anything.
pub fn restore(proxy: &Proxy, slot: &Slot) -> Result<(), String> {
    let rec = &slot.record;
    if let Some(eps) = &rec.stable_endpoints {
        proxy.set_service_endpoints(&slot.stable_service, eps.clone())?;
    }
    if let Some(w) = rec
        .engine
        .status
        .canary
        .as_ref()
        .and_then(|c| c.weights.as_ref())
    {
        traffic::set_weights(
            proxy,
            &slot.routes,
            &slot.stable_service,
            &slot.canary_service,
            w.stable.weight,
            w.canary.weight,
        )?;
    }
    for route in &slot.routes {
        for (name, matches) in &rec.header_routes {
            proxy.set_managed_header_route(
                route,
                name,
                Some(traffic::header_route(name, matches, &slot.canary_service)),
            )?;
        }
        for (name, (pct, matches)) in &rec.mirrors {
            proxy.set_managed_mirror(
                route,
                name,
                Some(traffic::mirror(name, *pct, matches, &slot.canary_service)),
            )?;
        }
    }
    Ok(())
}

impl Controller {
    /// Loads the saved state for every Rollout in `file`. The caller has already run
    /// [`prepare`] on the proxy before it accepted traffic; call [`Controller::spawn`] next.
    pub fn new(
        proxy: Arc<Proxy>,
        path: PathBuf,
        file: RunFile,
        store: Store,
    ) -> Result<Arc<Controller>, String> {
        let slots = slots_for(&file, &store)?;
        Ok(Arc::new(Controller {
            proxy,
            store,
            inner: Mutex::new(Inner {
                file,
                slots,
                commands: Vec::new(),
                stamp: stamp(&path),
            }),
            path,
            wake: Notify::new(),
            http: HttpClient::new(),
        }))
    }
}

impl Controller {
    /// The Rollout with its status, as the API and the CLI show it.
    pub fn rollout(&self, name: &str) -> Option<Rollout> {
        let inner = self.inner.lock();
        let slot = inner.slots.get(name)?;
        let mut r = slot.rollout.clone();
        r.status = Some(slot.record.engine.status.clone());
        Some(r)
    }

    pub fn rollout_names(&self) -> Vec<String> {
        self.inner.lock().slots.keys().cloned().collect()
    }

    /// The Rollout's analysis runs in Argo's shape, oldest first.
    pub fn analysis_runs(&self, name: &str) -> Option<Vec<weir_config::argo::AnalysisRun>> {
        let inner = self.inner.lock();
        let slot = inner.slots.get(name)?;
        let ns = documents::namespace(&slot.rollout);
        let mut runs: Vec<_> = slot
            .runs
            .iter()
            .map(|(run_name, live)| super::runs::to_argo(run_name, &ns, name, live))
            .collect();
        runs.sort_by_key(|r| r.status.as_ref().and_then(|s| s.started_at.clone()));
        Some(runs)
    }

    /// Starts the loop on the current runtime.
    pub fn spawn(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move { me.run().await });
    }

    /// Queues a user command and waits until a reconcile has applied it.
    pub async fn command(&self, rollout: &str, command: Command) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock();
            if !inner.slots.contains_key(rollout) {
                return Err(format!("no rollout named {rollout:?}"));
            }
            inner.commands.push(Pending {
                rollout: rollout.to_string(),
                command,
                done: tx,
            });
        }
        self.wake.notify_one();
        rx.await.map_err(|_| "the controller stopped".to_string())
    }

    async fn run(self: Arc<Self>) {
        loop {
            self.check_file();
            let (work, wake_at) = self.tick(now());
            if !work.is_empty() {
                self.measure_all(work).await;
                continue;
            }
            let sleep = wake_at
                .map(|t| Duration::from_millis(t.as_millis().saturating_sub(now().as_millis())))
                .unwrap_or(POLL)
                .min(POLL);
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Re-reads the run file when it changed: the proxy configuration is swapped in and
    /// the Rollouts updated (a new canary version restarts its rollout). An invalid file
    /// is refused whole and everything keeps running as it was.
    fn check_file(&self) {
        let current = stamp(&self.path);
        {
            let inner = self.inner.lock();
            if current == inner.stamp {
                return;
            }
        }
        self.reload();
    }

    /// Reads and applies the run file now (also on SIGHUP).
    pub fn reload(&self) {
        let current = stamp(&self.path);
        let parsed = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))
            .and_then(|text| documents::parse_run_file(&self.path.display().to_string(), &text));
        let mut inner = self.inner.lock();
        inner.stamp = current;
        let file = match parsed {
            Ok(f) => f,
            Err(e) => {
                self.proxy.reloads_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!("configuration refused, the previous one keeps running:\n{e}");
                return;
            }
        };
        if let Err(e) = self.proxy.reload(file.proxy.clone()) {
            self.proxy.reloads_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!("configuration refused, the previous one keeps running:\n{e}");
            return;
        }
        self.proxy.reloads_ok.fetch_add(1, Ordering::Relaxed);
        let mut fresh = match slots_for(&file, &self.store) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        };
        // Keep what is live (records, runs) for Rollouts that stay.
        for (name, slot) in fresh.iter_mut() {
            if let Some(old) = inner.slots.remove(name) {
                slot.record = old.record;
                slot.runs = old.runs;
            }
        }
        inner.slots = fresh;
        inner.file = file;
        tracing::info!(file = %self.path.display(), "configuration reloaded");
        drop(inner);
        self.wake.notify_one();
    }

    /// One pass over every Rollout. Returns the measurements to take now and when to
    /// come back otherwise.
    fn tick(&self, now: Timestamp) -> (Vec<Work>, Option<Timestamp>) {
        let mut inner = self.inner.lock();
        let commands = std::mem::take(&mut inner.commands);
        let templates = inner.file.templates.clone();
        let canary_endpoints: BTreeMap<String, Vec<String>> = inner
            .file
            .proxy
            .services
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.endpoints.iter().map(|e| e.value.clone()).collect(),
                )
            })
            .collect();
        let mut work = Vec::new();
        let mut wake_at: Option<Timestamp> = None;
        let mut acks = Vec::new();
        for (name, slot) in inner.slots.iter_mut() {
            let roles: BTreeMap<String, String> = [
                ("canary".to_string(), slot.canary_service.clone()),
                ("stable".to_string(), slot.stable_service.clone()),
            ]
            .into();
            // Record answers and judge runs first, so the engine sees their phases.
            for (run_name, live) in slot.runs.iter_mut() {
                for req in live.step(now) {
                    work.push(Work::new(name, run_name, live, req, &roles));
                }
            }
            let mine: Vec<Command> = commands
                .iter()
                .filter(|c| &c.rollout == name)
                .map(|c| c.command)
                .collect();
            let canary_eps = canary_endpoints
                .get(&slot.canary_service)
                .cloned()
                .unwrap_or_default();
            let stable_eps = self
                .proxy
                .service_endpoints(&slot.stable_service)
                .unwrap_or_default();
            let observed = Observed {
                canary_hash: traffic::version_hash(&canary_eps),
                stable_hash: traffic::version_hash(&stable_eps),
                traffic: traffic::observe(
                    &self.proxy,
                    &slot.routes,
                    &slot.stable_service,
                    &slot.canary_service,
                ),
                analysis_runs: slot
                    .runs
                    .iter()
                    .map(|(n, l)| {
                        (
                            n.clone(),
                            ObservedAnalysisRun {
                                phase: l.run.phase(),
                                message: l.run.message().to_string(),
                            },
                        )
                    })
                    .collect(),
                templates: templates.clone(),
            };
            let out = engine::reconcile(&slot.rollout, &slot.record.engine, &observed, &mine, now);
            slot.record.engine = out.state;
            for action in out.actions {
                self.apply(name, slot, action, &canary_eps, now);
            }
            // The proxy must serve what the status says it does (a reload may have put
            // the file's weights back).
            self.correct_drift(slot);
            for (run_name, live) in slot.runs.iter_mut() {
                for req in live.step(now) {
                    work.push(Work::new(name, run_name, live, req, &roles));
                }
                if let Some(due) = live.run.next_due() {
                    wake_at = Some(wake_at.map_or(due, |w| w.min(due)));
                }
            }
            slot.requeue_at = out.requeue_at;
            if let Some(r) = out.requeue_at {
                wake_at = Some(wake_at.map_or(r, |w| w.min(r)));
            }
            self.persist(name, slot);
        }
        for c in commands {
            acks.push(c.done);
        }
        drop(inner);
        for a in acks {
            let _ = a.send(());
        }
        (work, wake_at)
    }

    fn correct_drift(&self, slot: &Slot) {
        let Some(w) = slot
            .record
            .engine
            .status
            .canary
            .as_ref()
            .and_then(|c| c.weights.as_ref())
        else {
            return;
        };
        let seen = traffic::observe(
            &self.proxy,
            &slot.routes,
            &slot.stable_service,
            &slot.canary_service,
        );
        if seen.is_some_and(|t| {
            t.canary_weight != w.canary.weight || t.stable_weight != w.stable.weight
        }) {
            tracing::info!(rollout = %documents::rollout_name(&slot.rollout), "restoring the rollout's weights on the proxy");
            let _ = traffic::set_weights(
                &self.proxy,
                &slot.routes,
                &slot.stable_service,
                &slot.canary_service,
                w.stable.weight,
                w.canary.weight,
            );
        }
    }

    fn persist(&self, name: &str, slot: &mut Slot) {
        slot.record.runs = slot
            .runs
            .iter()
            .map(|(n, l)| {
                (
                    n.clone(),
                    StoredRun {
                        kind: l.kind_text(),
                        status: l.run.status(),
                        terminated: l.terminated,
                    },
                )
            })
            .collect();
        if let Err(e) = self.store.save(name, &slot.record) {
            tracing::error!(rollout = name, "{e}");
        }
    }

    fn apply(
        &self,
        name: &str,
        slot: &mut Slot,
        action: Action,
        canary_eps: &[String],
        now: Timestamp,
    ) {
        let ns = documents::namespace(&slot.rollout);
        match action {
            Action::SetWeights { canary, stable } => {
                match traffic::set_weights(
                    &self.proxy,
                    &slot.routes,
                    &slot.stable_service,
                    &slot.canary_service,
                    stable,
                    canary,
                ) {
                    Ok(generation) => {
                        tracing::info!(rollout = name, canary, stable, generation, "weights set")
                    }
                    Err(e) => tracing::error!(rollout = name, "cannot set weights: {e}"),
                }
            }
            Action::SetHeaderRoute {
                name: route_name,
                matches,
            } => {
                for route in &slot.routes {
                    let hr = (!matches.is_empty()).then(|| {
                        traffic::header_route(&route_name, &matches, &slot.canary_service)
                    });
                    if let Err(e) = self.proxy.set_managed_header_route(route, &route_name, hr) {
                        tracing::error!(
                            rollout = name,
                            "cannot set header route {route_name}: {e}"
                        );
                    }
                }
                if matches.is_empty() {
                    slot.record.header_routes.remove(&route_name);
                } else {
                    slot.record.header_routes.insert(route_name, matches);
                }
            }
            Action::SetMirrorRoute {
                name: route_name,
                percentage,
                matches,
            } => {
                for route in &slot.routes {
                    let m = (!matches.is_empty()).then(|| {
                        traffic::mirror(&route_name, percentage, &matches, &slot.canary_service)
                    });
                    if let Err(e) = self.proxy.set_managed_mirror(route, &route_name, m) {
                        tracing::error!(
                            rollout = name,
                            "cannot set mirror route {route_name}: {e}"
                        );
                    }
                }
                if matches.is_empty() {
                    slot.record.mirrors.remove(&route_name);
                } else {
                    slot.record
                        .mirrors
                        .insert(route_name, (percentage, matches));
                }
            }
            Action::RemoveManagedRoutes => {
                for route in &slot.routes {
                    let _ = self.proxy.clear_managed_routes(route);
                }
                slot.record.header_routes.clear();
                slot.record.mirrors.clear();
            }
            Action::StartAnalysis(start) => {
                if slot.runs.contains_key(&start.name) {
                    return;
                }
                let stored = slot.record.runs.get(&start.name).cloned();
                let mut live = LiveRun {
                    run: match &stored {
                        Some(s) => AnalysisRun::resume(start.spec.clone(), s.status.clone()),
                        None => AnalysisRun::new(start.spec.clone(), now),
                    },
                    providers: start
                        .providers
                        .iter()
                        .map(|p| {
                            super::runs::resolve_provider(p, &start.spec.args).unwrap_or_else(|e| {
                                tracing::error!(rollout = name, run = %start.name, "{e}");
                                p.clone()
                            })
                        })
                        .collect(),
                    kind: start.kind,
                    pending: Vec::new(),
                    redo: Vec::new(),
                    terminated: stored.as_ref().is_some_and(|s| s.terminated),
                };
                if stored.is_some() {
                    live.redo = live.in_flight();
                    tracing::info!(rollout = name, run = %start.name, "analysis run resumed from the state directory");
                } else {
                    tracing::info!(rollout = name, run = %start.name, kind = %kind_text(start.kind), "analysis run started");
                }
                if live.terminated {
                    live.run.terminate(now);
                }
                slot.runs.insert(start.name.clone(), live);
            }
            Action::TerminateAnalysis { name: run_name } => {
                if let Some(live) = slot.runs.get_mut(&run_name) {
                    live.terminated = true;
                    live.run.terminate(now);
                }
            }
            Action::PromoteStable { pod_hash } => {
                match self
                    .proxy
                    .set_service_endpoints(&slot.stable_service, canary_eps.to_vec())
                {
                    Ok(_) => {
                        slot.record.stable_endpoints = Some(canary_eps.to_vec());
                        tracing::info!(rollout = name, %pod_hash, stable = %slot.stable_service, endpoints = ?canary_eps, "stable service now serves the promoted version");
                    }
                    Err(e) => tracing::error!(rollout = name, "cannot promote: {e}"),
                }
            }
            Action::Event(ev) => {
                if ev.warning {
                    tracing::warn!(namespace = %ns, rollout = name, reason = %ev.reason, "{}", ev.message);
                } else {
                    tracing::info!(namespace = %ns, rollout = name, reason = %ev.reason, "{}", ev.message);
                }
                slot.record.events.push(StoredEvent {
                    time: format_time(now),
                    reason: ev.reason,
                    message: ev.message,
                    warning: ev.warning,
                });
                let excess = slot.record.events.len().saturating_sub(EVENTS_KEPT);
                slot.record.events.drain(..excess);
            }
        }
    }

    /// Takes the due measurements concurrently and hands the answers to their runs.
    async fn measure_all(&self, work: Vec<Work>) {
        let windows: Arc<dyn providers::WindowSource> = self.proxy.clone();
        let results = futures_util::future::join_all(work.into_iter().map(|w| {
            let ctx = ProviderContext {
                roles: w.roles.clone(),
                windows: windows.clone(),
                http: self.http.clone(),
                now: std::time::Instant::now(),
            };
            async move {
                let answer = match &w.provider {
                    Some(p) => providers::measure(p, &ctx).await,
                    None => MeasurementResult::Error(format!(
                        "metric {} has no provider",
                        w.request.metric
                    )),
                };
                (w, answer)
            }
        }))
        .await;
        let mut inner = self.inner.lock();
        for (w, answer) in results {
            if let Some(live) = inner
                .slots
                .get_mut(&w.rollout)
                .and_then(|s| s.runs.get_mut(&w.run))
            {
                live.pending.push((w.request.metric.clone(), answer));
            }
        }
    }
}

/// One measurement to take.
struct Work {
    rollout: String,
    run: String,
    request: MeasureRequest,
    provider: Option<MetricProvider>,
    roles: BTreeMap<String, String>,
}

impl Work {
    fn new(
        rollout: &str,
        run: &str,
        live: &LiveRun,
        request: MeasureRequest,
        roles: &BTreeMap<String, String>,
    ) -> Work {
        Work {
            rollout: rollout.to_string(),
            run: run.to_string(),
            provider: live.providers.get(request.index).cloned(),
            request,
            roles: roles.clone(),
        }
    }
}
