//! Run the simulated API server until Ctrl-C, for trying it with kubectl:
//! `cargo run --example serve -- /tmp/sim.kubeconfig` then
//! `kubectl --kubeconfig /tmp/sim.kubeconfig get namespaces`.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sim.kubeconfig".into());
    let server =
        weir_apiserver_sim::ApiServer::start(weir_apiserver_sim::Options::default()).await?;
    server.write_kubeconfig(&path)?;
    println!("serving at {}; kubeconfig written to {path}", server.url());
    tokio::signal::ctrl_c().await?;
    server.shutdown();
    Ok(())
}
