//! What an unauthenticated client may hold: a few connections per address,
//! and a few bytes on a WebSocket before its hello is accepted.
//!
//! The byte budget sits on the connection's plaintext reads (above TLS,
//! below HTTP and WebSocket), so nothing a client sends before the hello
//! is buffered past it, whatever the frame sizes say.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The hub's limits on clients, with their defaults (the limits table in
/// docs/operations.md). Tests shorten the times.
#[derive(Debug, Clone)]
pub struct HubLimits {
    /// Connections from one address that have not authenticated yet (TLS,
    /// HTTP requests, WebSockets before their hello).
    pub unauthenticated_per_address: usize,
    /// Time for a request's body and answer, once its head arrived.
    pub request_timeout: std::time::Duration,
    /// The same for a configuration upload (megabytes, by an admin).
    pub upload_timeout: std::time::Duration,
    /// Time for the hello, once the WebSocket is open.
    pub hello_timeout: std::time::Duration,
    /// Messages one connection may send per second, sustained, and in a
    /// burst; past that it is closed.
    pub messages_per_second: f64,
    pub message_burst: u32,
    /// Visits (`request_call`) one kiosk may start per minute.
    pub visits_per_minute: u32,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            unauthenticated_per_address: 256,
            request_timeout: std::time::Duration::from_secs(30),
            upload_timeout: std::time::Duration::from_secs(300),
            // Long enough for a satellite link (600 ms round trips) and a
            // slow kiosk start, short enough that half-open connections do
            // not pile up.
            hello_timeout: std::time::Duration::from_secs(15),
            // A call's start sends a few dozen candidates at once, a kiosk
            // a heartbeat every 30 s: far below this. The load generator's
            // agents hold each call 150 ms at least to stay under it.
            messages_per_second: 100.0,
            message_burst: 200,
            // Touch, cancel, touch again: a resident rarely starts more
            // than two or three a minute.
            visits_per_minute: 6,
        }
    }
}

/// Bytes a WebSocket may send before its hello is accepted. A hello is
/// about 200 bytes; a resume token and a long kiosk id stay far below.
pub const PRE_HELLO_BYTES: u64 = 8 * 1024;

/// How many bytes a connection may still read; `u64::MAX` is no limit.
#[derive(Debug, Clone)]
pub struct ReadBudget(Arc<BudgetInner>);

#[derive(Debug)]
struct BudgetInner {
    left: AtomicU64,
    exceeded: AtomicBool,
}

impl Default for ReadBudget {
    fn default() -> Self {
        ReadBudget(Arc::new(BudgetInner { left: AtomicU64::new(u64::MAX), exceeded: AtomicBool::new(false) }))
    }
}

impl ReadBudget {
    /// From now on, at most `bytes` more.
    pub fn limit(&self, bytes: u64) {
        self.0.left.store(bytes, Ordering::Relaxed);
    }

    /// No limit any more (the hello was accepted).
    pub fn lift(&self) {
        self.0.left.store(u64::MAX, Ordering::Relaxed);
    }

    /// Whether a read was refused for going over the budget.
    pub fn exceeded(&self) -> bool {
        self.0.exceeded.load(Ordering::Relaxed)
    }

    fn spend(&self, n: u64) -> bool {
        let ok = self
            .0
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| match left {
                u64::MAX => Some(u64::MAX),
                left => left.checked_sub(n),
            })
            .is_ok();
        if !ok {
            self.0.exceeded.store(true, Ordering::Relaxed);
        }
        ok
    }
}

/// A connection's stream, whose reads spend its [`ReadBudget`].
#[derive(Debug)]
pub struct Budgeted<S> {
    inner: S,
    budget: ReadBudget,
}

impl<S> Budgeted<S> {
    pub fn new(inner: S, budget: ReadBudget) -> Self {
        Budgeted { inner, budget }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Budgeted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                if this.budget.spend(n) {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(io::Error::other("more bytes than allowed before authentication")))
                }
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budgeted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Connections not yet authenticated, per client address.
#[derive(Debug, Clone, Default)]
pub struct AddressSlots {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressSlots {
    /// A slot for a new connection from `ip`, or `None` if it already
    /// holds `max` unauthenticated ones.
    pub fn take(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot(Arc::new(SlotInner { slots: self.clone(), ip, held: AtomicBool::new(true) })))
    }

    fn give_back(&self, ip: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// One unauthenticated connection's place; given back when the connection
/// authenticates ([`Slot::release`]) or ends.
#[derive(Debug, Clone)]
pub struct Slot(Arc<SlotInner>);

#[derive(Debug)]
struct SlotInner {
    slots: AddressSlots,
    ip: IpAddr,
    held: AtomicBool,
}

impl Slot {
    pub fn release(&self) {
        if self.0.held.swap(false, Ordering::Relaxed) {
            self.0.slots.give_back(self.0.ip);
        }
    }
}

impl Drop for SlotInner {
    fn drop(&mut self) {
        if self.held.swap(false, Ordering::Relaxed) {
            self.slots.give_back(self.ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_past_the_limit_until_lifted() {
        let b = ReadBudget::default();
        assert!(b.spend(1 << 40), "no limit by default");
        b.limit(100);
        assert!(b.spend(60));
        assert!(!b.spend(60));
        assert!(b.exceeded());
        b.lift();
        assert!(b.spend(1 << 20));
    }

    #[test]
    fn slots_per_address_are_capped_and_given_back_once() {
        let slots = AddressSlots::default();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let one = slots.take(a, 2).unwrap();
        let two = slots.take(a, 2).unwrap();
        assert!(slots.take(a, 2).is_none());
        assert!(slots.take(b, 2).is_some(), "another address has its own slots");
        one.release();
        one.release();
        drop(one);
        let three = slots.take(a, 2).unwrap();
        assert!(slots.take(a, 2).is_none(), "released once, not twice");
        drop(two);
        drop(three);
        assert!(slots.open.lock().unwrap().is_empty());
    }
}
