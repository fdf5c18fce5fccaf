//! A timer that is armed once and moved lazily: waiting with a deadline costs no timer
//! registration as long as the timer already fires at or before it. When it fires, the
//! waiter compares the time with its own deadline and, if that is not reached yet, moves
//! the timer there. On a keep-alive connection whose requests all have the same timeout,
//! the timer is re-registered about once per timeout period instead of once per request
//! (`tokio::time::timeout` registers and removes a timer-wheel entry every time).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use tokio::time::{Instant, Sleep};

pub(crate) struct LazyTimer {
    sleep: Pin<Box<Sleep>>,
}

impl LazyTimer {
    pub fn new(deadline: Instant) -> Self {
        LazyTimer {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    /// Runs `fut` until it completes (`Ok`) or `deadline` passes (`Err`).
    ///
    /// `fut` comes pinned by the caller, who keeps it in its own frame: an async fn that
    /// took the future by value would hold it twice in its state (the argument and the
    /// pinned local), and a request's future would grow by the size of the upstream call
    /// (2 KB), copied on every move.
    pub async fn run<F: Future>(
        &mut self,
        deadline: Instant,
        mut fut: Pin<&mut F>,
    ) -> Result<F::Output, ()> {
        // Later than this deadline would fire too late: move it earlier (the only case
        // that registers the timer again).
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            while self.sleep.as_mut().poll(cx).is_ready() {
                if Instant::now() >= deadline {
                    return Poll::Ready(Err(()));
                }
                // Fired for an earlier waiter: move on to this deadline.
                self.sleep.as_mut().reset(deadline);
            }
            Poll::Pending
        })
        .await
    }

    /// Waits until `deadline` (moving the timer as [`LazyTimer::run`] does).
    pub async fn until(&mut self, deadline: Instant) {
        let _ = self
            .run(deadline, std::pin::pin!(std::future::pending::<()>()))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn each_deadline_is_honoured_whatever_the_timer_was_armed_for() {
        let start = Instant::now();
        let mut t = LazyTimer::new(start + Duration::from_secs(1));
        // Finishes before its deadline.
        let ok = t
            .run(
                start + Duration::from_secs(5),
                std::pin::pin!(async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    7
                }),
            )
            .await;
        assert_eq!(ok, Ok(7));
        // The timer fired at 1 s for nobody; a later deadline is still honoured exactly.
        let t0 = Instant::now();
        let late = t
            .run(
                t0 + Duration::from_secs(3),
                std::pin::pin!(std::future::pending::<()>()),
            )
            .await;
        assert_eq!(late, Err(()));
        assert_eq!(Instant::now() - t0, Duration::from_secs(3));
        // An earlier deadline than the armed one moves the timer back.
        let mut t = LazyTimer::new(Instant::now() + Duration::from_secs(60));
        let t0 = Instant::now();
        t.until(t0 + Duration::from_millis(250)).await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(250));
    }
}
