//! The state directory: one JSON file per Rollout (`rollouts/NAME.json`) and per standalone
//! Experiment (`experiments/NAME.json`), written atomically (temporary file, fsync, rename,
//! fsync of the directory) after every transition, so a crash at any moment leaves either
//! the old state or the new one, never a torn file.

use crate::analysis::AnalysisRunStatus;
use crate::engine::EngineState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use weir_config::argo::{ExperimentStatus, HeaderRoutingMatch, RouteMatch};

/// Everything weir must remember about one Rollout across restarts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutRecord {
    /// The engine's state, with the Rollout status in Argo's shape.
    pub engine: EngineState,
    /// When weir first ran this Rollout (RFC 3339): its age, as a cluster's
    /// `creationTimestamp` gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The stable service's endpoints once a promotion gave it the canary's; wins over the
    /// file on restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_endpoints: Option<Vec<String>>,
    /// Endpoint lists by version hash, so blue-green can switch the active service to any
    /// version it has seen (forward to the new one, back to the old one).
    #[serde(default)]
    pub versions: BTreeMap<String, Vec<String>>,
    /// Experiments whose backends are on the managed routes: experiment -> its backends.
    #[serde(default)]
    pub experiments: BTreeMap<String, Vec<StoredBackend>>,
    /// Managed header routes and mirrors in force, re-applied before traffic on restart.
    #[serde(default)]
    pub header_routes: BTreeMap<String, Vec<HeaderRoutingMatch>>,
    #[serde(default)]
    pub mirrors: BTreeMap<String, (i32, Vec<RouteMatch>)>,
    /// Analysis runs by name: their status with every measurement so far.
    #[serde(default)]
    pub runs: BTreeMap<String, StoredRun>,
    /// The most recent events, newest last.
    #[serde(default)]
    pub events: Vec<StoredEvent>,
}

/// One experiment backend on the managed routes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredBackend {
    /// The experiment template's name (`baseline`, `canary`, ...).
    pub template: String,
    /// The route backend's name: `<experiment>-<template>`.
    pub backend: String,
    pub endpoints: Vec<String>,
    pub weight: u32,
}

/// Everything weir must remember about one standalone `kind: Experiment` across restarts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentRecord {
    /// The Experiment's status in Argo's shape: phase, templates, analysis runs.
    pub status: ExperimentStatus,
    /// Whether its templates serve (from the machine's `Start` until its `Stop`). Their
    /// services stay where the proxy configuration routes them; this only says the
    /// experiment counts them as its running versions.
    #[serde(default)]
    pub serving: bool,
    /// Analysis runs by name, with every measurement so far (finished ones too).
    #[serde(default)]
    pub runs: BTreeMap<String, StoredRun>,
    /// The most recent events, newest last.
    #[serde(default)]
    pub events: Vec<StoredEvent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRun {
    /// "Step" with its index, or "Background".
    pub kind: String,
    pub status: AnalysisRunStatus,
    /// Whether it was told to stop (the rollout moved on or aborted).
    #[serde(default)]
    pub terminated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    pub time: String,
    pub reason: String,
    pub message: String,
    #[serde(default)]
    pub warning: bool,
}

pub struct Store {
    dir: PathBuf,
}

/// The state directory's subdirectory for each kind of record.
const ROLLOUTS: &str = "rollouts";
const EXPERIMENTS: &str = "experiments";

impl Store {
    pub fn open(dir: &Path) -> Result<Store, String> {
        for kind in [ROLLOUTS, EXPERIMENTS] {
            let sub = dir.join(kind);
            std::fs::create_dir_all(&sub)
                .map_err(|e| format!("state directory {}: {e}", sub.display()))?;
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, kind: &str, name: &str) -> PathBuf {
        self.dir.join(kind).join(format!("{name}.json"))
    }

    /// The Rollout's saved record, if any. A file that does not parse is an error, not a
    /// fresh start: silently forgetting a rollout's state could send traffic to the wrong
    /// side.
    pub fn load(&self, name: &str) -> Result<Option<RolloutRecord>, String> {
        load(&self.path(ROLLOUTS, name))
    }

    pub fn save(&self, name: &str, record: &RolloutRecord) -> Result<(), String> {
        save(&self.path(ROLLOUTS, name), record)
    }

    /// The Experiment's saved record, if any; like [`Store::load`], an unreadable file is
    /// an error (a finished experiment must not silently run again).
    pub fn load_experiment(&self, name: &str) -> Result<Option<ExperimentRecord>, String> {
        load(&self.path(EXPERIMENTS, name))
    }

    pub fn save_experiment(&self, name: &str, record: &ExperimentRecord) -> Result<(), String> {
        save(&self.path(EXPERIMENTS, name), record)
    }
}

fn load<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: state file does not parse: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn save<T: Serialize>(path: &Path, record: &T) -> Result<(), String> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| format!("{}: cannot write state: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.load("web").unwrap(), None);
        let mut rec = RolloutRecord::default();
        rec.engine.status.current_step_index = Some(2);
        rec.stable_endpoints = Some(vec!["127.0.0.1:1".into()]);
        store.save("web", &rec).unwrap();
        assert_eq!(store.load("web").unwrap(), Some(rec));
        assert!(!dir.path().join("rollouts/web.json.tmp").exists());
        std::fs::write(dir.path().join("rollouts/bad.json"), b"{not json").unwrap();
        assert!(store.load("bad").unwrap_err().contains("does not parse"));
    }

    #[test]
    fn experiments_have_their_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.load_experiment("web").unwrap(), None);
        let mut rec = ExperimentRecord::default();
        rec.status.phase = "Running".into();
        rec.serving = true;
        store.save_experiment("web", &rec).unwrap();
        assert_eq!(store.load_experiment("web").unwrap(), Some(rec));
        // A Rollout of the same name is another file.
        assert_eq!(store.load("web").unwrap(), None);
        assert!(dir.path().join("experiments/web.json").exists());
    }
}
