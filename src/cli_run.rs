//! `weir run -c FILE [--state-dir DIR]`: standalone mode, the proxy and the rollout
//! controller in one process, from one multi-document YAML file.

use crate::cli_proxy::{base_dir, wait_for_stop_signal, write_ready_file};
use anyhow::anyhow;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weir_control::standalone::{self, api::ControlApi, Controller, Store};

pub async fn run(
    path: PathBuf,
    state_dir: Option<PathBuf>,
    ready_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let file = standalone::parse_run_file(&path.display().to_string(), &text)
        .map_err(|e| anyhow!("configuration refused:\n{e}"))?;
    if file.proxy.listeners.is_empty() {
        return Err(anyhow!(
            "{}: listeners: at least one listener is needed",
            path.display()
        ));
    }
    let state_dir = match state_dir {
        Some(d) => d,
        None => default_state_dir(
            &path,
            std::env::var_os("XDG_STATE_HOME"),
            std::env::var_os("HOME"),
        )?,
    };
    let store = Store::open(&state_dir).map_err(|e| anyhow!(e))?;
    let grace = file.proxy.shutdown_grace_period.get();
    // The saved state is put on the proxy before it accepts a connection, so a restart
    // never serves the file's default weights in the middle of a rollout.
    let running = weir_proxy::run::start_with(file.proxy.clone(), &base_dir(&path), |proxy| {
        standalone::prepare(proxy, &file, &store)
    })
    .await
    .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let controller = Controller::new(running.proxy.clone(), path.clone(), file, store)
        .map_err(|e| anyhow!(e))?;
    let token_required = running.admin.token.is_some();
    running
        .admin
        .extensions
        .write()
        .push(Arc::new(ControlApi::new(
            controller.clone(),
            token_required,
        )));
    controller.spawn();
    tracing::info!(
        state = %state_dir.display(),
        "rollout controller running; rollout state is kept in the state directory (--state-dir to choose another)"
    );
    // SIGHUP is handled before the ready file says weir is up: a SIGHUP's default action
    // ends the process, and a supervisor may send one as soon as it sees the file.
    spawn_sighup(controller.clone());
    if let Some(f) = ready_file {
        write_ready_file(&f, &running.listeners, running.admin_address)?;
    }
    wait_for_stop_signal().await;
    tracing::info!(grace = ?grace, "shutting down: no new connections, finishing in-flight requests");
    running.shutdown(grace).await;
    Ok(())
}

/// Where rollout state lives unless `--state-dir` says: under the user's state directory
/// (`$XDG_STATE_HOME`, else `~/.local/state`), in `weir/<file stem>-<hash of the file's
/// absolute path>`, so two run files never share state and nothing is written into the
/// directory the run file is in (a checkout, `examples/`). A `.weir-state` beside the file,
/// where earlier versions kept it, is used when it exists, so an upgrade resumes where it
/// was.
fn default_state_dir(
    run_file: &Path,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> anyhow::Result<PathBuf> {
    let legacy = base_dir(run_file).join(".weir-state");
    if legacy.is_dir() {
        return Ok(legacy);
    }
    let root = match (xdg_state_home, home) {
        (Some(x), _) if Path::new(&x).is_absolute() => PathBuf::from(x),
        (_, Some(h)) if !h.is_empty() => PathBuf::from(h).join(".local/state"),
        _ => {
            return Err(anyhow!(
            "neither XDG_STATE_HOME nor HOME is set: say where rollout state goes with --state-dir"
        ))
        }
    };
    let absolute = std::path::absolute(run_file).unwrap_or_else(|_| run_file.to_path_buf());
    let stem = run_file
        .file_stem()
        .map_or("run".into(), |s| s.to_string_lossy());
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = absolute
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    Ok(root
        .join("weir")
        .join(format!("{stem}-{:08x}", hash as u32)))
}

fn spawn_sighup(controller: Arc<Controller>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Registered here, not in the task: the task may first run after the ready file
        // is written.
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                controller.reload();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::default_state_dir;
    use std::path::Path;

    #[test]
    fn state_goes_under_the_users_state_directory_one_per_run_file() {
        let a = default_state_dir(
            Path::new("/srv/app/weir.yaml"),
            None,
            Some("/home/u".into()),
        )
        .unwrap();
        let b = default_state_dir(
            Path::new("/srv/other/weir.yaml"),
            None,
            Some("/home/u".into()),
        )
        .unwrap();
        assert!(a.starts_with("/home/u/.local/state/weir"), "{a:?}");
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("weir-") && name.len() == "weir-".len() + 8,
            "{name}"
        );
        assert_ne!(a, b, "two run files never share state");
        let x = default_state_dir(
            Path::new("/srv/app/weir.yaml"),
            Some("/var/state".into()),
            Some("/home/u".into()),
        )
        .unwrap();
        assert!(x.starts_with("/var/state/weir"), "{x:?}");
        assert!(default_state_dir(Path::new("/srv/app/weir.yaml"), None, None).is_err());
    }

    #[test]
    fn an_existing_state_directory_beside_the_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".weir-state")).unwrap();
        let file = dir.path().join("weir.yaml");
        assert_eq!(
            default_state_dir(&file, None, Some("/home/u".into())).unwrap(),
            dir.path().join(".weir-state")
        );
    }
}
