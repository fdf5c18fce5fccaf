//! Hot reload: on SIGHUP or when the file changes, the new configuration is read,
//! validated and swapped in atomically. An invalid file is refused with a logged error
//! and the old configuration keeps serving.

use crate::state::Proxy;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use weir_config::ProxyConfig;

/// Reads and validates a configuration file; errors are ready to print.
pub type Loader = Arc<dyn Fn(&std::path::Path) -> Result<ProxyConfig, String> + Send + Sync>;

/// Applies the file at `path` now. Returns the new generation, or the reason it was
/// refused (the old configuration stays live).
pub fn reload_now(proxy: &Proxy, path: &std::path::Path, loader: &Loader) -> Result<u64, String> {
    let result = loader(path).and_then(|config| {
        let old = proxy.config();
        let addrs = |c: &ProxyConfig| -> Vec<String> {
            c.listeners
                .iter()
                .map(|l| l.address.value.clone())
                .collect()
        };
        if addrs(&old) != addrs(&config) || old.admin.address.value != config.admin.address.value {
            tracing::warn!("listener addresses changed: they take effect at the next restart");
        }
        proxy.reload(config)
    });
    match &result {
        Ok(generation) => {
            proxy.reloads_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!(file = %path.display(), generation, "configuration reloaded");
        }
        Err(e) => {
            proxy.reloads_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(file = %path.display(), "configuration refused, the previous one keeps serving:\n{e}");
        }
    }
    result
}

/// SIGHUP, taken from the moment this is made (inside a tokio runtime).
pub struct Hangups(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Hangups {
    pub fn register() -> Self {
        Hangups(
            #[cfg(unix)]
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
        )
    }
}

/// Watches `path` (polling its modification time and length every `every`) and
/// listens for SIGHUP, reloading on either.
/// `hangups` is registered by the caller before it says it is ready, so a SIGHUP sent then
/// reloads instead of ending the process (its default action).
pub fn watch(proxy: Arc<Proxy>, path: PathBuf, loader: Loader, every: Duration, hangups: Hangups) {
    #[cfg(unix)]
    let mut hup = hangups.0;
    #[cfg(not(unix))]
    let _ = hangups;
    tokio::spawn(async move {
        let stamp = |p: &std::path::Path| -> Option<(SystemTime, u64)> {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        };
        let mut last = stamp(&path);
        let mut tick = tokio::time::interval(every);
        loop {
            #[cfg(unix)]
            let by_signal = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let by_signal = std::future::pending::<()>();
            let forced = tokio::select! {
                _ = tick.tick() => false,
                _ = by_signal => true,
            };
            let now = stamp(&path);
            if forced || now != last {
                last = now;
                let _ = reload_now(&proxy, &path, &loader);
            }
        }
    });
}
