//! `weir run -c FILE [--state-dir DIR]`: standalone mode, the proxy and the rollout
//! controller in one process, from one multi-document YAML file.

use crate::cli_proxy::{base_dir, wait_for_stop_signal, write_ready_file};
use anyhow::anyhow;
use std::path::PathBuf;
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
    let state_dir = state_dir.unwrap_or_else(|| base_dir(&path).join(".weir-state"));
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
    running.admin.extensions.write().push(Arc::new(ControlApi {
        controller: controller.clone(),
    }));
    controller.spawn();
    tracing::info!(state = %state_dir.display(), "rollout controller running");
    if let Some(f) = ready_file {
        write_ready_file(&f, &running.listeners, running.admin_address)?;
    }
    spawn_sighup(controller.clone());
    wait_for_stop_signal().await;
    tracing::info!(grace = ?grace, "shutting down: no new connections, finishing in-flight requests");
    running.shutdown(grace).await;
    Ok(())
}

fn spawn_sighup(controller: Arc<Controller>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            controller.reload();
        }
    });
}
