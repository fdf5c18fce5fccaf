//! The standalone controller: one loop that observes, reconciles every Rollout with the
//! pure engine, persists, and carries out the engine's actions on the in-process proxy;
//! and drives the analysis runs the engine asked for, measuring through the providers.

use super::documents::{self, RunFile};
use super::experiments::{self, ExperimentSlot};
use super::measure::{Owner, Work};
use super::runs::LiveRun;
use super::store::{RolloutRecord, Store};
use super::traffic;
use crate::analysis::Timestamp;
use crate::engine::{self, Command, Observed, ObservedAnalysisRun};
use crate::providers::HttpClient;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Notify};
use weir_config::argo::Rollout;
use weir_proxy::Proxy;

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
    /// The run file's standalone Experiments, by name.
    pub experiments: BTreeMap<String, ExperimentSlot>,
    commands: Vec<Pending>,
    /// Modification stamp of the run file, to notice edits.
    stamp: Option<(SystemTime, u64)>,
}

pub struct Controller {
    pub proxy: Arc<Proxy>,
    pub(super) store: Store,
    path: PathBuf,
    pub inner: Mutex<Inner>,
    wake: Notify,
    pub(super) http: HttpClient,
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
        let mut record = store.load(&name)?.unwrap_or_default();
        // Saved with the record's next change; a record from before this field gets the
        // time it was first loaded by a weir that knows it.
        record.created_at.get_or_insert_with(|| {
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
        });
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
        for (experiment, backends) in &rec.experiments {
            proxy.set_extra_backends(
                route,
                experiment,
                super::actions::extra_backends(backends),
            )?;
        }
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
        let experiments = experiments::slots_for(&file, &store)?;
        Ok(Arc::new(Controller {
            proxy,
            store,
            inner: Mutex::new(Inner {
                file,
                slots,
                experiments,
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
            .map(|(run_name, live)| super::runs::to_argo(run_name, &ns, ("rollout", name), live))
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
        let fresh = slots_for(&file, &self.store).and_then(|slots| {
            experiments::slots_for(&file, &self.store).map(|experiments| (slots, experiments))
        });
        let (mut fresh, mut fresh_experiments) = match fresh {
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
        experiments::carry_over(&mut fresh_experiments, &mut inner.experiments);
        inner.experiments = fresh_experiments;
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
                ("preview".to_string(), slot.canary_service.clone()),
                ("active".to_string(), slot.stable_service.clone()),
            ]
            .into();
            // Record answers and judge runs first, so the engine sees their phases.
            step_runs(name, slot, &roles, now, &mut work);
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
            let (canary_hash, stable_hash) = (
                traffic::version_hash(&canary_eps),
                traffic::version_hash(&stable_eps),
            );
            for (hash, eps) in [(&canary_hash, &canary_eps), (&stable_hash, &stable_eps)] {
                if !eps.is_empty() && !slot.record.versions.contains_key(hash) {
                    slot.record.versions.insert(hash.clone(), eps.clone());
                }
            }
            let observed = Observed {
                canary_hash,
                stable_hash,
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
                replicas: None,
                pods: None,
            };
            let experiments: engine::ObservedExperiments = slot
                .record
                .experiments
                .iter()
                .map(|(name, backends)| {
                    let available = backends.iter().map(|b| b.template.clone()).collect();
                    (
                        name.clone(),
                        engine::ObservedExperiment {
                            available,
                            ..Default::default()
                        },
                    )
                })
                .collect();
            let out = engine::reconcile_with_experiments(
                &slot.rollout,
                &slot.record.engine,
                &observed,
                &experiments,
                &mine,
                now,
            );
            slot.record.engine = out.state;
            for experiment_action in out.experiments {
                self.apply_experiment(name, slot, experiment_action, &canary_eps, &stable_eps);
            }
            for service_action in out.services {
                self.apply_service(name, slot, service_action);
            }
            for action in out.actions {
                self.apply(name, slot, action, &canary_eps, now);
            }
            // The proxy must serve what the status says it does (a reload may have put
            // the file's weights back).
            self.correct_drift(slot);
            step_runs(name, slot, &roles, now, &mut work);
            for live in slot.runs.values() {
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
        self.tick_experiments(&mut inner, now, &mut work, &mut wake_at);
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
            .map(|(n, l)| (n.clone(), l.stored()))
            .collect();
        if let Err(e) = self.store.save(name, &slot.record) {
            tracing::error!(rollout = name, "{e}");
        }
    }
}

/// An experiment's analysis runs (named `<experiment>-<analysis>`) can name the
/// experiment's templates as backends: `backend: canary, baseline: baseline` measure the
/// experiment's own canary and baseline backends, not the Rollout's services.
/// Steps every analysis run of a rollout (records its answers, judges it) and queues the
/// measurements now due, each with the roles its providers resolve against.
fn step_runs(
    name: &str,
    slot: &mut Slot,
    roles: &BTreeMap<String, String>,
    now: Timestamp,
    work: &mut Vec<Work>,
) {
    for (run_name, live) in slot.runs.iter_mut() {
        let roles = experiment_roles(&slot.record.experiments, run_name, roles);
        for req in live.step(now) {
            work.push(Work::new(
                Owner::Rollout(name.to_string()),
                run_name,
                live,
                req,
                &roles,
            ));
        }
    }
}

fn experiment_roles(
    experiments: &BTreeMap<String, Vec<super::store::StoredBackend>>,
    run: &str,
    roles: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut roles = roles.clone();
    for (experiment, backends) in experiments {
        if run.starts_with(&format!("{experiment}-")) {
            for b in backends {
                roles.insert(b.template.clone(), b.backend.clone());
            }
        }
    }
    roles
}
