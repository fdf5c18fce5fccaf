//! Starts the real `weir` binary on a configuration and talks to its admin API.

use super::client::Client;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Weir {
    pub dir: tempfile::TempDir,
    pub child: Child,
    pub listeners: Vec<SocketAddr>,
    pub admin: SocketAddr,
    admin_client: Client,
    /// The subcommand and its flags, and the environment added, to start the same way again.
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Weir {
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("weir.yaml")
    }

    /// Writes `yaml` to a fresh directory (with `files` beside it) and runs
    /// `weir proxy -c weir.yaml` until it reports its listeners.
    pub async fn start(yaml: &str) -> Weir {
        Self::start_with_files(yaml, &[]).await
    }

    pub async fn start_with_files(yaml: &str, files: &[(&str, &[u8])]) -> Weir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        std::fs::write(dir.path().join("weir.yaml"), yaml).unwrap();
        Self::launch(dir, &["proxy"], &[]).await
    }

    /// `weir proxy` on `yaml` with `env` added to its environment.
    pub async fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Weir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("weir.yaml"), yaml).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::launch(dir, &["proxy"], &env).await
    }

    /// `weir proxy` on `yaml` with `args` after the subcommand; `files` are written beside
    /// the configuration first (a kubeconfig, say).
    #[allow(dead_code)]
    pub async fn start_proxy_with_args(yaml: &str, args: &[&str], files: &[(&str, &[u8])]) -> Weir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        std::fs::write(dir.path().join("weir.yaml"), yaml).unwrap();
        let mode: Vec<&str> = std::iter::once("proxy")
            .chain(args.iter().copied())
            .collect();
        Self::launch(dir, &mode, &[]).await
    }

    /// `weir run` (standalone: proxy and rollout controller) on `yaml`, with the state
    /// directory inside the test's directory.
    pub async fn start_run(yaml: &str) -> Weir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("weir.yaml"), yaml).unwrap();
        Self::launch(dir, &["run", "--state-dir", "state"], &[]).await
    }

    /// Kills the process with SIGKILL (no chance to save anything) and starts it again
    /// on the same directory, configuration and state.
    pub async fn kill9_and_restart(self) -> Weir {
        self.kill9_and_restart_after(async {}).await
    }

    /// [`Self::kill9_and_restart`], restarting only once `while_down` is done.
    pub async fn kill9_and_restart_after(
        self,
        while_down: impl std::future::Future<Output = ()>,
    ) -> Weir {
        let mut me = self;
        me.signal("KILL");
        let _ = me.child.wait();
        while_down.await;
        let dir = tempfile::TempDir::new().unwrap();
        // Move the directory out of `me` without running its Drop (which would kill again).
        let dir = std::mem::replace(&mut me.dir, dir);
        let args = me.args.clone();
        let env = std::mem::take(&mut me.env);
        let _ = std::fs::remove_file(dir.path().join("ready.json"));
        drop(me);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::launch(dir, &args, &env).await
    }

    async fn launch(dir: tempfile::TempDir, mode: &[&str], env: &[(String, String)]) -> Weir {
        let ready = dir.path().join("ready.json");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("weir.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(mode)
            .arg("-c")
            .arg(dir.path().join("weir.yaml"))
            .arg("--ready-file")
            .arg(&ready)
            .current_dir(dir.path())
            .env(
                "RUST_LOG",
                std::env::var("WEIR_TEST_PROXY_LOG").unwrap_or("info".into()),
            )
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("weir binary runs");
        let mut weir = Weir {
            dir,
            child,
            listeners: vec![],
            admin: "127.0.0.1:1".parse().unwrap(),
            admin_client: Client::http1(),
            args: mode.iter().map(|s| s.to_string()).collect(),
            env: env.to_vec(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                weir.listeners = v["listeners"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().parse().unwrap())
                    .collect();
                weir.admin = v["admin"].as_str().unwrap().parse().unwrap();
                return weir;
            }
            if let Ok(Some(status)) = weir.child.try_wait() {
                panic!(
                    "weir exited with {status} before it was ready:\n{}",
                    weir.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "weir did not become ready:\n{}",
                weir.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// An EndpointSlice of Service `default/weir-proxy-admin` (the controller's
    /// `--proxy-service default/weir-proxy-admin:admin`) holding this proxy's admin port
    /// as replica `i`, as the EndpointSlice controller would list a proxy pod.
    #[allow(dead_code)]
    pub fn admin_endpoint_slice(&self, i: usize) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("weir-proxy-admin-{i}"), "namespace": "default",
                "labels": {"kubernetes.io/service-name": "weir-proxy-admin"}},
            "addressType": "IPv4",
            "ports": [{"name": "admin", "port": self.admin.port(), "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
        })
    }

    /// The first listener as an authority, e.g. `127.0.0.1:34567`.
    pub fn authority(&self) -> String {
        self.listeners[0].to_string()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weir.log")).unwrap_or_default()
    }

    pub async fn admin_call(
        &self,
        method: &str,
        path: &str,
        body: &str,
        token: Option<&str>,
    ) -> (u16, String) {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.admin));
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let o = self
            .admin_client
            .request(b.body(Full::new(Bytes::from(body.to_string()))).unwrap())
            .await
            .expect("admin answers");
        (o.status, String::from_utf8_lossy(&o.body).into_owned())
    }

    pub async fn admin_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.admin_call("GET", path, "", None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// `PUT /routes/{route}/weights`; returns the new generation.
    pub async fn set_weights(&self, route: &str, weights: &str) -> u64 {
        let (status, body) = self
            .admin_call("PUT", &format!("/routes/{route}/weights"), weights, None)
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["generation"]
            .as_u64()
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.admin_call("GET", "/metrics", "", None).await.1
    }

    /// The value of the sample whose name and labels are exactly `series`, or 0.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0.0)
    }

    /// Runs the `weir` CLI against this instance (`weir ARGS --admin ADDR`, e.g.
    /// `["rollouts", "abort", "web"]`); returns (exit code, stdout + stderr).
    pub async fn cli(&self, args: &[&str]) -> (i32, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weir"));
        cmd.args(args).arg("--admin").arg(self.admin.to_string());
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Rewrites the configuration file in place (for reload tests).
    pub fn write_config(&self, yaml: &str) {
        let tmp = self.dir.path().join("weir.yaml.tmp");
        std::fs::write(&tmp, yaml).unwrap();
        std::fs::rename(&tmp, self.config_path()).unwrap();
    }

    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A proxy configuration with one route `web` over the given backends and weights.
pub fn config(backends: &[(&str, SocketAddr, u32)], extra_route: &str, extra_top: &str) -> String {
    let mut y =
        String::from("listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n");
    y.push_str(extra_top);
    y.push_str("services:\n");
    for (name, addr, _) in backends {
        y.push_str(&format!("  {name}:\n    endpoints: [\"{addr}\"]\n"));
    }
    y.push_str("routes:\n  - name: web\n    backends:\n");
    for (name, _, w) in backends {
        y.push_str(&format!("      - service: {name}\n        weight: {w}\n"));
    }
    y.push_str(extra_route);
    y
}
