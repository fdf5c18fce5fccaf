//! The server: one listener on 127.0.0.1, one hyper HTTP/1.1 connection task per
//! client, the shared cluster state, and the simulated controllers' task.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch, Notify};

use crate::options::Options;
use crate::registry::Registry;
use crate::store::{Cluster, WriteOpts};

/// State every request and controller shares.
pub struct Shared {
    pub state: Mutex<Cluster>,
    pub options: Options,
    /// Requests by (verb, resource[/subresource]).
    pub counts: Mutex<BTreeMap<(String, String), u64>>,
    /// Woken after every commit.
    pub changed: Arc<Notify>,
    /// A message asks every watch with bookmarks on for a BOOKMARK now.
    pub bookmark_now: broadcast::Sender<()>,
}

/// A running server. Dropping it stops it too (the accept loop and controllers end
/// when their shutdown signal's sender goes).
pub struct ApiServer {
    pub(crate) shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl ApiServer {
    /// Bind 127.0.0.1 on a free port and serve. The `default` namespace exists (and
    /// `kube-system`, `kube-public`), as in a new cluster.
    pub async fn start(options: Options) -> std::io::Result<ApiServer> {
        let mut registry = Registry::default();
        crate::builtins::register(&mut registry);
        let changed = Arc::new(Notify::new());
        let cluster = Cluster::new(registry, options.history_limit, changed.clone());
        let (bookmark_now, _) = broadcast::channel(16);
        let shared = Arc::new(Shared {
            state: Mutex::new(cluster),
            options,
            counts: Mutex::new(BTreeMap::new()),
            changed,
            bookmark_now,
        });
        {
            let mut st = shared.state.lock();
            let ns = st
                .registry
                .get(&crate::error::GroupResource::new("", "namespaces"))
                .expect("namespaces is built in");
            if shared.options.gateway_api {
                let crd_ty = st
                    .registry
                    .get(&crate::crd::crd_gr())
                    .expect("CRDs are built in");
                for crd in crate::gateway::crds() {
                    st.create(&crd_ty, "v1", "", crd, WriteOpts::default())
                        .map_err(std::io::Error::other)?;
                }
            }
            for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                let body =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
                st.create(&ns, "v1", "", body, WriteOpts::default())
                    .map_err(std::io::Error::other)?;
            }
        }
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(accept_loop(listener, shared.clone(), rx.clone()));
        tokio::spawn(crate::controllers::run(shared.clone(), rx));
        Ok(ApiServer {
            shared,
            addr,
            shutdown,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig whose current context points at this server over plain HTTP, as
    /// kubectl and kube-rs accept it (no credentials: the server asks for none).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n    namespace: default\ncurrent-context: sim\nusers:\n- name: sim\n  user: {{}}\npreferences: {{}}\n",
            self.url()
        )
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Stop accepting, end the controllers, and close open watches.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        self.shared.state.lock().drop_watches();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(crate::http::handle(shared, req).await) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // On shutdown the connection is dropped, open watches with it.
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}
