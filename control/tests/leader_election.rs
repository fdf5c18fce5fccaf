//! Leader election against the in-memory API server over real HTTP: one of two candidates
//! leads, the other takes over when the leader dies (after the lease) or lets go (at
//! once), a lost write is not a lead, and a conflicting renew does not make a leader flap.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use tokio::sync::watch;
use tokio::time::{sleep, timeout, Instant};
use weir_apiserver_sim::{ApiServer, Options, WriteFailure};
use weir_control::kubernetes::leader::{lead, Elector, LeaderSettings, Round};

async fn client(server: &ApiServer) -> Client {
    let kc = Kubeconfig::from_yaml(&server.kubeconfig()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Short times, so a takeover happens within a test: a 2 s lease renewed every 200 ms.
fn settings(identity: &str) -> LeaderSettings {
    LeaderSettings {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
        ..LeaderSettings::new("default", "weir-controller", identity)
    }
}

/// A candidate running `lead` in a task: its leading flag, a stop switch, its task.
struct Candidate {
    leading: watch::Receiver<bool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn candidate(server: &ApiServer, identity: &str) -> Candidate {
    let elector = Elector::new(client(server).await, settings(identity));
    let (tx, rx) = watch::channel(false);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(lead(elector, tx, async move {
        let _ = stopped.await;
    }));
    Candidate {
        leading: rx,
        stop: Some(stop),
        task,
    }
}

async fn until_leading(c: &mut Candidate, within: Duration) -> Duration {
    let start = Instant::now();
    timeout(within, c.leading.wait_for(|l| *l))
        .await
        .expect("became the leader in time")
        .unwrap();
    start.elapsed()
}

async fn holder(server: &ApiServer) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client(server).await, "default");
    leases
        .get("weir-controller")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leads_and_the_other_takes_over_when_it_dies_or_lets_go() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let mut a = candidate(&server, "a").await;
    until_leading(&mut a, Duration::from_secs(5)).await;
    let mut b = candidate(&server, "b").await;
    // Over more than a lease's length, b never leads while a renews.
    sleep(Duration::from_secs(3)).await;
    assert!(!*b.leading.borrow());
    assert!(*a.leading.borrow());
    assert_eq!(holder(&server).await.as_deref(), Some("a"));

    // a dies without letting go: b waits out the lease (by its own clock), then leads.
    a.task.abort();
    let waited = until_leading(&mut b, Duration::from_secs(6)).await;
    assert!(
        waited >= Duration::from_millis(1500),
        "b took a live lease after {waited:?}"
    );
    assert_eq!(holder(&server).await.as_deref(), Some("b"));

    // b lets go on stop: c takes the released lease at its next try, well before the
    // lease would have expired.
    let mut c = candidate(&server, "c").await;
    sleep(Duration::from_millis(500)).await;
    assert!(!*c.leading.borrow());
    b.stop.take().unwrap().send(()).unwrap();
    b.task.await.unwrap();
    let waited = until_leading(&mut c, Duration::from_secs(5)).await;
    assert!(waited < Duration::from_millis(1500), "took {waited:?}");
    let lease: Api<Lease> = Api::namespaced(client(&server).await, "default");
    let transitions = lease
        .get("weir-controller")
        .await
        .unwrap()
        .spec
        .unwrap()
        .lease_transitions;
    assert_eq!(transitions, Some(2), "a, then b, then c");
    c.task.abort();
    server.shutdown();
}

#[tokio::test]
async fn a_lost_write_race_is_not_a_lead_and_a_conflicting_renew_does_not_unseat() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let mut first = Elector::new(client(&server).await, settings("first"));
    let mut second = Elector::new(client(&server).await, settings("second"));
    // A write that loses (409, as the second of two creates of the lease does) is not a
    // lead; the next candidate's create wins, and the loser then sees it held.
    server
        .faults()
        .fail_writes("leases", 1, WriteFailure::Conflict);
    assert_eq!(first.round().await.unwrap(), Round::Conflict);
    assert_eq!(second.round().await.unwrap(), Round::Holds);
    assert_eq!(first.round().await.unwrap(), Round::HeldByAnother);

    // The leader's renew meets a 409: not a lost lease, so it keeps leading and the next
    // renew succeeds.
    let mut leader = candidate(&server, "second").await;
    until_leading(&mut leader, Duration::from_secs(5)).await;
    server
        .faults()
        .fail_writes("leases", 2, WriteFailure::Conflict);
    let flapped = timeout(Duration::from_secs(1), leader.leading.wait_for(|l| !*l)).await;
    assert!(
        flapped.is_err(),
        "a conflicting renew made the leader step down"
    );
    leader.task.abort();
    server.shutdown();
}
