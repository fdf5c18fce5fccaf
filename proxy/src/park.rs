//! Parking for idle keep-alive connections: a plain HTTP/1.1 connection that has been idle
//! for [`PARK_AFTER`] gives up its task, its timers and its registration with tokio's I/O
//! driver, and waits as a small record (socket, client address, connection slot, deadline)
//! in a per-listener epoll set of its own. When the client sends again, the set hands the
//! socket back to weir's HTTP/1.1 server on a new task; when the idle timeout passes, the
//! set closes it. A parked connection costs about a hundred bytes of user-space memory
//! instead of a task (see BENCHMARKS.md, memory per idle connection).
//!
//! Connections under load never park (they are never idle for a second), so the
//! per-request path does not change; a parked connection pays four `epoll_ctl` calls to
//! leave tokio's poller and come back.
//!
//! The set is one `mio::Poll` (an epoll instance), itself watched through tokio's
//! `AsyncFd`. Sockets are added under the set's lock, and the kernel reports a socket that
//! is already readable when it is added, so no wake-up is lost between the connection's
//! last look at its socket and the set taking it.

use crate::forward::ClientInfo;
use crate::h1_server::Conn;
use crate::state::Proxy;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use parking_lot::Mutex;
use slab::Slab;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit};
use tokio::time::Instant;

/// A connection idle this long is parked (if its idle timeout is longer).
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// Events taken from the set per `epoll_wait`.
const EVENTS: usize = 256;

/// Once this many connections have parked, the memory their tasks left is handed back to
/// the system ([`set_release_memory`]) when parking has been quiet for [`RELEASE_QUIET`],
/// or [`RELEASE_MAX_WAIT`] after the burst began if it goes on.
const RELEASE_AFTER: u32 = 256;
const RELEASE_QUIET: Duration = Duration::from_millis(250);
const RELEASE_MAX_WAIT: Duration = Duration::from_secs(2);

static RELEASE_MEMORY: OnceLock<fn()> = OnceLock::new();

/// Sets what hands freed memory back to the system (the binary chooses the allocator and
/// knows how). Called from a parking set's task after a burst of connections has parked:
/// allocators keep freed memory for reuse, so without it a burst of connections that are
/// now parked would stay resident as the tasks they no longer have.
pub fn set_release_memory(release: fn()) {
    let _ = RELEASE_MEMORY.set(release);
}

/// Hands freed memory back to the system, if the binary said how.
pub(crate) fn release_memory() {
    if let Some(release) = RELEASE_MEMORY.get() {
        release();
    }
}

/// What every connection weir's HTTP/1.1 server serves on one listener shares, and the
/// set its idle ones park in (plain listeners only).
pub(crate) struct Parking {
    pub proxy: Arc<Proxy>,
    /// A TLS listener: its clients are `https`, and its connections never park (the set
    /// keeps only a socket; a TLS session is more), so it has no set.
    tls: bool,
    pub hyper: Arc<auto::Builder<TokioExecutor>>,
    /// Weak: shutdown takes the `GracefulShutdown` back once the accept loops are done.
    graceful: Weak<GracefulShutdown>,
    pub idle_timeout: Duration,
    shutdown: watch::Receiver<bool>,
    /// The parking set's registry; `None` on a TLS listener.
    registry: Option<mio::Registry>,
    inner: Mutex<Inner>,
    /// Wakes the set's task when the first connection parks (its timer has nothing to wait
    /// for before that).
    first: Notify,
    /// Wakes the set's task on each park once [`RELEASE_AFTER`] connections have parked.
    burst: Notify,
}

struct Inner {
    parked: Slab<Parked>,
    /// (deadline, key, generation) in parking order, which is deadline order: every
    /// connection of a listener has the same idle timeout. Entries whose connection has
    /// left are skipped when their deadline comes.
    deadlines: VecDeque<(Instant, usize, u32)>,
    generation: u32,
    /// Connections parked since memory was last released.
    since_release: u32,
    /// Shut down: nothing parks any more.
    closed: bool,
}

struct Parked {
    stream: std::net::TcpStream,
    addr: SocketAddr,
    permit: OwnedSemaphorePermit,
    generation: u32,
}

impl Parking {
    /// What a listener's connections share, and the future that runs its parking set
    /// (spawn it on the runtime that serves the listener). A TLS listener has no set.
    pub fn new(
        proxy: Arc<Proxy>,
        tls: bool,
        hyper: Arc<auto::Builder<TokioExecutor>>,
        graceful: Arc<GracefulShutdown>,
        idle_timeout: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<(
        Arc<Parking>,
        Option<impl std::future::Future<Output = ()> + Send>,
    )> {
        let poll = if tls { None } else { Some(mio::Poll::new()?) };
        let registry = match &poll {
            Some(poll) => Some(poll.registry().try_clone()?),
            None => None,
        };
        let set = Arc::new(Parking {
            proxy,
            tls,
            hyper,
            graceful: Arc::downgrade(&graceful),
            idle_timeout,
            shutdown,
            registry,
            inner: Mutex::new(Inner {
                parked: Slab::new(),
                deadlines: VecDeque::new(),
                generation: 0,
                since_release: 0,
                closed: false,
            }),
            first: Notify::new(),
            burst: Notify::new(),
        });
        let Some(poll) = poll else {
            return Ok((set, None));
        };
        // SAFETY: the epoll descriptor is owned by `poll`, which the `AsyncFd` owns from
        // here on; it stays open and the same for the `AsyncFd`'s whole life.
        #[allow(unsafe_code)]
        let poll = unsafe { AsyncFd::register_with_interest(poll, tokio::io::Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok((set.clone(), Some(set.run(poll))))
    }

    /// Everything a fresh connection from `addr` needs to be served; `None` once the
    /// proxy is shutting down.
    pub fn conn(self: &Arc<Self>, addr: SocketAddr, permit: OwnedSemaphorePermit) -> Option<Conn> {
        let watcher = self.graceful.upgrade()?.watcher();
        Some(Conn {
            client: ClientInfo {
                interim: Some(Default::default()),
                ..ClientInfo::new(addr, self.tls)
            },
            watcher,
            shutdown: self.shutdown.clone(),
            permit,
            listener: self.clone(),
        })
    }

    /// Whether this listener's idle connections park: only plain ones, and only if they
    /// would still be open after [`PARK_AFTER`].
    pub fn worth_parking(&self) -> bool {
        !self.tls && self.idle_timeout > PARK_AFTER
    }

    /// Takes an idle connection over until its client sends again or `deadline` passes.
    pub fn park(&self, stream: TcpStream, conn: Conn, deadline: Instant) {
        let Conn { client, permit, .. } = conn;
        let Ok(stream) = stream.into_std() else {
            return;
        };
        let mut inner = self.inner.lock();
        if inner.closed {
            return;
        }
        inner.generation = inner.generation.wrapping_add(1);
        let generation = inner.generation;
        let slot = inner.parked.vacant_entry();
        let key = slot.key();
        let fd = stream.as_raw_fd();
        let Some(registry) = &self.registry else {
            return;
        };
        if registry
            .register(&mut SourceFd(&fd), Token(key), Interest::READABLE)
            .is_err()
        {
            return;
        }
        slot.insert(Parked {
            stream,
            addr: client.addr,
            permit,
            generation,
        });
        let first = inner.deadlines.is_empty();
        inner.deadlines.push_back((deadline, key, generation));
        inner.since_release += 1;
        let burst = inner.since_release >= RELEASE_AFTER;
        drop(inner);
        self.proxy
            .parked_connections
            .fetch_add(1, Ordering::Relaxed);
        if first {
            self.first.notify_one();
        }
        if burst {
            self.burst.notify_one();
        }
    }

    /// Serves parked connections whose clients send, closes those whose idle timeout
    /// passes, and closes them all at shutdown.
    async fn run(self: Arc<Self>, mut poll: AsyncFd<mio::Poll>) {
        let mut events = Events::with_capacity(EVENTS);
        let mut shutdown = self.shutdown.clone();
        let mut watching = true;
        // When the current burst of parking began, and when its memory is released.
        let mut burst_began: Option<Instant> = None;
        let mut release_at = None;
        loop {
            let next = self.inner.lock().deadlines.front().map(|d| d.0);
            tokio::select! {
                ready = poll.readable_mut() => {
                    let Ok(mut guard) = ready else { return self.close_all() };
                    let waited = guard.get_inner_mut().poll(&mut events, Some(Duration::ZERO));
                    if waited.is_err() {
                        return self.close_all();
                    }
                    // Fewer than a full batch: the set is drained; the next socket to turn
                    // readable wakes the set again.
                    if events.iter().count() < EVENTS {
                        guard.clear_ready();
                    }
                    drop(guard);
                    for event in events.iter() {
                        self.unpark(event.token().0, event.is_error());
                    }
                }
                () = sleep_until(next) => self.expire(Instant::now()),
                () = self.first.notified(), if next.is_none() => {}
                () = self.burst.notified() => {
                    let now = Instant::now();
                    let began = *burst_began.get_or_insert(now);
                    release_at = Some((now + RELEASE_QUIET).min(began + RELEASE_MAX_WAIT));
                }
                () = sleep_until(release_at) => {
                    release_at = None;
                    burst_began = None;
                    self.inner.lock().since_release = 0;
                    release_memory();
                }
                changed = shutdown.changed(), if watching => match changed {
                    Ok(()) if *shutdown.borrow() => return self.close_all(),
                    Ok(()) => {}
                    Err(_) => watching = false,
                },
            }
        }
    }

    /// The client of parked connection `key` sent something (or closed): serve it again.
    fn unpark(self: &Arc<Self>, key: usize, failed: bool) {
        let Some(parked) = self.inner.lock().parked.try_remove(key) else {
            return;
        };
        self.proxy
            .parked_connections
            .fetch_sub(1, Ordering::Relaxed);
        if failed {
            return;
        }
        let fd = parked.stream.as_raw_fd();
        let Some(registry) = &self.registry else {
            return;
        };
        if registry.deregister(&mut SourceFd(&fd)).is_err() {
            return;
        }
        let Ok(stream) = TcpStream::from_std(parked.stream) else {
            return;
        };
        if let Some(conn) = self.conn(parked.addr, parked.permit) {
            tokio::spawn(crate::h1_server::serve(stream, conn));
        }
    }

    /// Closes the parked connections whose idle timeout has passed by `now`.
    fn expire(&self, now: Instant) {
        let mut closed = Vec::new();
        let mut inner = self.inner.lock();
        while let Some(&(deadline, key, generation)) = inner.deadlines.front() {
            if deadline > now {
                break;
            }
            inner.deadlines.pop_front();
            if inner
                .parked
                .get(key)
                .is_some_and(|p| p.generation == generation)
            {
                closed.push(inner.parked.remove(key));
            }
        }
        drop(inner);
        // Closing a socket takes it out of the epoll set.
        self.proxy
            .parked_connections
            .fetch_sub(closed.len() as u64, Ordering::Relaxed);
    }

    fn close_all(&self) {
        let mut inner = self.inner.lock();
        inner.closed = true;
        let n = inner.parked.len();
        inner.parked.clear();
        inner.deadlines.clear();
        drop(inner);
        self.proxy
            .parked_connections
            .fetch_sub(n as u64, Ordering::Relaxed);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
