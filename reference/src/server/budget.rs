//! One memory budget for the buffers of all connections together (DEC-20).
//!
//! Each connection has an [`Account`] of the bytes its buffers hold: its read buffer
//! (capacity, not length), the frames queued for it, and the relayed body chunks on their way
//! to it. Every change is one atomic add on the account and one on the shared total, so the
//! common path costs two uncontended atomics. Only when the total passes the budget, which
//! is rare, does one task scan the accounts and close the largest holders until the total is
//! back under a low-water mark a little below the budget (so that the next few bytes do not
//! start another scan at once).
//!
//! Largest first, among the connections whose buffers have not been empty for a while: a
//! client that reads a 400 KB LIST reply holds it for a moment, then holds nothing again,
//! while a connection stalled inside a frame holds its bytes for good. Holders whose
//! buffers emptied within [`GRACE`] are taken only if evicting every other holder would not
//! be enough.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::roster::ConnId;

/// Set in [`Account::held`] once the connection is over: later charges and releases are
/// ignored, because what they refer to is freed with the connection.
const CLOSED: usize = 1 << (usize::BITS - 1);
/// Set in [`Account::held`] when the budget chose this connection for closing: its bytes are
/// about to go.
const EVICTED: usize = 1 << (usize::BITS - 2);
const COUNT: usize = !(CLOSED | EVICTED);

/// How recently a connection's buffers must have been empty for it to be spared while
/// steadier holders remain.
pub const GRACE: Duration = Duration::from_secs(1);

/// Milliseconds since the first call, plus an hour so that times before it can be written
/// too, wrapping every 49 days (compared with `wrapping_sub`): a clock that fits 4 bytes of
/// every connection.
fn now_ms() -> u32 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    (epoch.elapsed().as_millis() as u32).wrapping_add(3_600_000)
}

/// A connection's share of the budget. Embedded in the connection's queue state, so it
/// costs no allocation of its own.
#[derive(Debug)]
pub struct Account {
    /// Bytes held, with [`CLOSED`] and [`EVICTED`] in the top bits. (Every field here is
    /// paid by every connection, idle ones included: 10 000 of them must stay under 100 MB.)
    held: AtomicUsize,
    /// When the count was last 0, in [`now_ms`] time.
    last_empty_ms: AtomicU32,
    /// Cancelled to close the connection at once.
    kill: CancellationToken,
    id: ConnId,
}

impl Account {
    /// An empty account for connection `id`; `kill` closes that connection.
    pub fn new(id: ConnId, kill: CancellationToken) -> Self {
        Account {
            held: AtomicUsize::new(0),
            last_empty_ms: AtomicU32::new(now_ms()),
            kill,
            id,
        }
    }

    /// Bytes held now (0 once closed).
    pub fn held(&self) -> usize {
        let h = self.held.load(Ordering::Relaxed);
        if h & CLOSED != 0 {
            0
        } else {
            h & COUNT
        }
    }

    /// Whether the budget closed this connection (DEC-20).
    pub fn evicted(&self) -> bool {
        self.held.load(Ordering::Relaxed) & EVICTED != 0
    }

    /// The token that closes this connection.
    pub fn kill_token(&self) -> &CancellationToken {
        &self.kill
    }

    /// Applies `f` to the held count unless the account is closed; false if it was.
    fn update(&self, f: impl Fn(usize) -> usize) -> bool {
        match self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| {
                (h & CLOSED == 0).then(|| (h & EVICTED) | (f(h & COUNT) & COUNT))
            }) {
            Ok(before) => {
                let before = before & COUNT;
                if before != 0 && f(before) == 0 {
                    self.last_empty_ms.store(now_ms(), Ordering::Relaxed);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Whether this account's buffers were empty within [`GRACE`] before `now` (ms).
    fn recently_empty(&self, now: u32) -> bool {
        let grace = GRACE.as_millis() as u32;
        self.held() == 0 || now.wrapping_sub(self.last_empty_ms.load(Ordering::Relaxed)) < grace
    }
}

/// Anything that carries an [`Account`] (a connection's shared queue state).
pub trait Accounted: Send + Sync + std::fmt::Debug {
    /// The connection's account.
    fn account(&self) -> &Account;
}

/// The budget shared by every connection of one server, whose connections' shared state is
/// a `T` (a concrete type, so the registry holds thin pointers).
#[derive(Debug)]
pub struct MemoryBudget<T> {
    /// Most bytes all accounts together may hold.
    limit: usize,
    /// Bytes held by all open accounts together.
    used: AtomicUsize,
    /// Set while one task scans for the largest holders; others need not scan too.
    scanning: AtomicBool,
    members: Mutex<HashMap<ConnId, Arc<T>>>,
}

impl<T: Accounted> MemoryBudget<T> {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
            scanning: AtomicBool::new(false),
            members: Mutex::new(HashMap::new()),
        }
    }

    /// Bytes held by all connections now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Makes a connection a candidate for eviction.
    pub fn register(&self, member: Arc<T>) {
        let id = member.account().id;
        self.lock().insert(id, member);
    }

    /// Ends a connection's account: what it still held is given back in one step, and later
    /// charges or releases to it are ignored.
    pub fn close(&self, account: &Account) {
        let before = account.held.fetch_or(CLOSED, Ordering::AcqRel);
        if before & CLOSED == 0 {
            self.used.fetch_sub(before & COUNT, Ordering::AcqRel);
        }
        let mut members = self.lock();
        members.remove(&account.id);
        shrink_when_sparse(&mut members);
    }

    /// Records `n` more bytes held by `account`; over budget, closes the largest holders.
    pub fn charge(&self, account: &Account, n: usize) {
        if n == 0 {
            return;
        }
        // The total is raised before the account and lowered after it, so it never dips
        // below the sum of the accounts (and never wraps around).
        let now = self.used.fetch_add(n, Ordering::AcqRel) + n;
        if !account.update(|h| h + n) {
            self.used.fetch_sub(n, Ordering::AcqRel);
            return;
        }
        if now > self.limit {
            self.evict();
        }
    }

    /// Records that `account` holds `n` bytes fewer.
    pub fn release(&self, account: &Account, n: usize) {
        if n == 0 {
            return;
        }
        if account.update(|h| h.saturating_sub(n)) {
            self.used.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Closes the connections holding the most bytes until the total (less what connections
    /// already being closed still hold) is back under the low-water mark.
    fn evict(&self) {
        if self.scanning.swap(true, Ordering::AcqRel) {
            return;
        }
        let low_water = self.limit - self.limit / 32;
        let members = self.lock();
        let used = self.used();
        let now = now_ms();
        let mut doomed = 0usize;
        let mut holders: Vec<(bool, usize, &Arc<T>)> = Vec::new();
        for m in members.values() {
            let a = m.account();
            let held = a.held();
            if a.evicted() {
                doomed += held;
            } else if held > 0 {
                holders.push((a.recently_empty(now), held, m));
            }
        }
        let mut excess = used.saturating_sub(doomed).saturating_sub(low_water);
        if excess > 0 && used > self.limit {
            // Steady holders first (false < true), each group largest first.
            holders.sort_unstable_by_key(|&(recent, held, _)| (recent, std::cmp::Reverse(held)));
            for (_, held, m) in holders {
                if excess == 0 {
                    break;
                }
                let a = m.account();
                a.held.fetch_or(EVICTED, Ordering::AcqRel);
                tracing::warn!(
                    conn = a.id,
                    held,
                    used,
                    budget = self.limit,
                    "memory budget exceeded: closing the connection holding the most buffered bytes (DEC-20)"
                );
                a.kill.cancel();
                excess = excess.saturating_sub(held);
            }
        }
        drop(members);
        self.scanning.store(false, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Arc<T>>> {
        // Nothing panics while holding it; a poisoned map is still a valid map.
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Gives back most of a map's table once it is three-quarters empty: after a burst of
/// 20 000 connections the table would otherwise stay at its peak size for good. Rehashing
/// costs O(len) and happens only each time the map has shrunk fourfold.
pub(crate) fn shrink_when_sparse<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 256 && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Conn(Account);
    impl Accounted for Conn {
        fn account(&self) -> &Account {
            &self.0
        }
    }

    fn conn(budget: &MemoryBudget<Conn>, id: ConnId) -> Arc<Conn> {
        let c = Arc::new(Conn(Account::new(id, CancellationToken::new())));
        budget.register(c.clone());
        c
    }

    #[test]
    fn the_largest_holders_are_evicted_first() {
        let b = MemoryBudget::new(1000);
        let (small, big, idle, new) = (conn(&b, 1), conn(&b, 2), conn(&b, 3), conn(&b, 4));
        b.charge(&small.0, 100);
        b.charge(&big.0, 600);
        b.charge(&new.0, 200);
        assert!(!big.0.kill.is_cancelled());
        b.charge(&new.0, 200);
        assert!(big.0.kill.is_cancelled() && big.0.evicted());
        for c in [&small, &idle, &new] {
            assert!(!c.0.kill.is_cancelled());
        }
        // The evicted connection's bytes count as gone: no second eviction before they go.
        b.charge(&small.0, 10);
        assert!(!new.0.kill.is_cancelled());
        b.close(&big.0);
        assert_eq!(b.used(), 510);
    }

    #[test]
    fn a_holder_that_was_empty_a_moment_ago_goes_after_steady_holders() {
        let b = MemoryBudget::new(1000);
        let (steady, reader) = (conn(&b, 1), conn(&b, 2));
        b.charge(&steady.0, 300);
        // The steady holder's buffers have not been empty for longer than the grace.
        let long_ago = now_ms().wrapping_sub(10 * GRACE.as_millis() as u32);
        steady.0.last_empty_ms.store(long_ago, Ordering::Relaxed);
        // A reader is owed a big reply; it emptied its queue just now.
        b.charge(&reader.0, 100);
        b.release(&reader.0, 100);
        b.charge(&reader.0, 750);
        assert!(steady.0.kill.is_cancelled(), "the steady holder goes first");
        assert!(!reader.0.kill.is_cancelled());
    }

    #[test]
    fn a_closed_account_ignores_late_charges_and_releases() {
        let b = MemoryBudget::new(1000);
        let c = conn(&b, 1);
        b.charge(&c.0, 300);
        b.close(&c.0);
        assert_eq!(b.used(), 0);
        b.release(&c.0, 300);
        b.charge(&c.0, 5000);
        assert_eq!(b.used(), 0);
        assert!(!c.0.kill.is_cancelled());
    }
}
