//! Integrity accounting: what was sent, what arrived, and how. Every message carries a
//! per-pair sequence number; every file is registered with its SHA-256 when sent.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::timeline::LiveDelivery;

pub use super::integrity::{Delivery, Integrity};

#[derive(Debug, Default)]
struct Pair {
    sent: u64,
    /// Sequence numbers taken for messages whose write then failed.
    not_sent: u64,
    /// Next sequence number expected in order (sequence numbers start at 1).
    next: u64,
    /// Received ahead of `next`.
    ahead: BTreeSet<u64>,
    duplicated: u64,
    reordered: u64,
    corrupted: u64,
}

#[derive(Debug)]
struct SentFile {
    sha256: [u8; 32],
    size: u64,
    received: u32,
    corrupted: bool,
    acked: bool,
    /// The simulator could not send it (or its recipient could not fetch it for reasons
    /// of its own): kept out of the target's counts.
    not_sent: bool,
}

#[derive(Debug, Default)]
struct Files {
    sent: HashMap<(u32, u32, String), SentFile>,
    unknown: u64,
    acks_unmatched: u64,
}

/// Pairs are spread over this many locks: every message touches its pair twice, from
/// whichever worker thread runs the sender and the recipient.
const PAIR_SHARDS: usize = 64;

/// The shared ledger of a simulation (clients are numbered).
#[derive(Debug)]
pub struct Ledger {
    pairs: Vec<Mutex<HashMap<(u32, u32), Pair>>>,
    files: Mutex<Files>,
    /// Running totals for the live view ([`Ledger::live`]): reading them takes no lock,
    /// where [`Ledger::integrity`] walks every pair.
    live: [LiveCounters; 2],
}

/// Running totals of one kind (`live[0]` messages, `live[1]` files).
#[derive(Debug, Default)]
struct LiveCounters {
    sent: AtomicU64,
    not_sent: AtomicU64,
    delivered: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    corrupted: AtomicU64,
    acked: AtomicU64,
}

const MSG: usize = 0;
const FILE: usize = 1;

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            pairs: (0..PAIR_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            files: Mutex::new(Files::default()),
            live: Default::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
impl Ledger {
    fn pair_shard(
        &self,
        from: u32,
        to: u32,
    ) -> std::sync::MutexGuard<'_, HashMap<(u32, u32), Pair>> {
        let i = (from as usize).wrapping_mul(31).wrapping_add(to as usize) % PAIR_SHARDS;
        lock(&self.pairs[i])
    }

    /// Registers a message about to be sent; returns its sequence number for the pair.
    pub fn next_message(&self, from: u32, to: u32) -> u64 {
        let mut pairs = self.pair_shard(from, to);
        let pair = pairs.entry((from, to)).or_insert_with(|| Pair {
            next: 1,
            ..Pair::default()
        });
        pair.sent += 1;
        bump(&self.live[MSG].sent);
        pair.sent
    }

    /// A message registered with [`Ledger::next_message`] could not be written: it counts
    /// as not sent rather than lost.
    pub fn message_not_sent(&self, from: u32, to: u32) {
        if let Some(pair) = self.pair_shard(from, to).get_mut(&(from, to)) {
            pair.not_sent += 1;
            bump(&self.live[MSG].not_sent);
        }
    }

    /// A message arrived; `seq` is `None` when its text was not intact.
    pub fn message_arrived(&self, from: u32, to: u32, seq: Option<u64>) {
        let mut pairs = self.pair_shard(from, to);
        let pair = pairs.entry((from, to)).or_insert_with(|| Pair {
            next: 1,
            ..Pair::default()
        });
        let live = &self.live[MSG];
        let Some(seq) = seq else {
            pair.corrupted += 1;
            bump(&live.corrupted);
            return;
        };
        if seq < pair.next || pair.ahead.contains(&seq) {
            pair.duplicated += 1;
            bump(&live.duplicated);
        } else if seq == pair.next {
            pair.next += 1;
            bump(&live.delivered);
            while pair.ahead.remove(&pair.next) {
                pair.next += 1;
            }
        } else {
            pair.reordered += 1;
            bump(&live.reordered);
            bump(&live.delivered);
            pair.ahead.insert(seq);
        }
    }

    /// Registers a file about to be sent.
    pub fn file_sent(&self, from: u32, to: u32, name: &str, sha256: [u8; 32], size: u64) {
        bump(&self.live[FILE].sent);
        lock(&self.files).sent.insert(
            (from, to, name.to_string()),
            SentFile {
                sha256,
                size,
                received: 0,
                corrupted: false,
                acked: false,
                not_sent: false,
            },
        );
    }

    /// A file registered with [`Ledger::file_sent`] never reached the target whole because
    /// of the simulator itself: it counts as not sent rather than lost. Returns false if it
    /// had already been received (then it stays counted).
    pub fn file_not_sent(&self, from: u32, to: u32, name: &str) -> bool {
        let mut files = lock(&self.files);
        match files.sent.get_mut(&(from, to, name.to_string())) {
            Some(f) if f.received == 0 => {
                if !f.not_sent {
                    bump(&self.live[FILE].not_sent);
                }
                f.not_sent = true;
                true
            }
            _ => false,
        }
    }

    /// True when that file was marked with [`Ledger::file_not_sent`].
    pub fn is_not_sent(&self, from: u32, to: u32, name: &str) -> bool {
        lock(&self.files)
            .sent
            .get(&(from, to, name.to_string()))
            .is_some_and(|f| f.not_sent)
    }

    /// A file arrived whole (or as far as it came) with this digest.
    pub fn file_arrived(&self, from: u32, to: u32, name: &str, sha256: [u8; 32], size: u64) {
        let mut files = lock(&self.files);
        match files.sent.get_mut(&(from, to, name.to_string())) {
            Some(f) => {
                f.received += 1;
                let live = &self.live[FILE];
                bump(if f.received == 1 {
                    &live.delivered
                } else {
                    &live.duplicated
                });
                if (f.sha256 != sha256 || f.size != size) && !f.corrupted {
                    bump(&live.corrupted);
                }
                if f.sha256 != sha256 || f.size != size {
                    f.corrupted = true;
                }
            }
            None => {
                files.unknown += 1;
                bump(&self.live[FILE].corrupted);
            }
        }
    }

    /// The sender got an ACK for one of its files to someone; returns false if none matched.
    pub fn ack_arrived(&self, from: u32, name: &str) -> bool {
        let mut files = lock(&self.files);
        let hit = files
            .sent
            .iter_mut()
            .find(|((f, _, n), file)| *f == from && n == name && !file.acked)
            .map(|(_, file)| file.acked = true)
            .is_some();
        if hit {
            bump(&self.live[FILE].acked);
        } else {
            files.acks_unmatched += 1;
        }
        hit
    }

    /// The running totals `(messages, files, files acked)`, without walking the ledger:
    /// `sent` excludes what was not sent, as in [`Ledger::integrity`].
    pub fn live(&self) -> (LiveDelivery, LiveDelivery, u64) {
        let read = |c: &LiveCounters| {
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            LiveDelivery {
                sent: get(&c.sent).saturating_sub(get(&c.not_sent)),
                not_sent: get(&c.not_sent),
                delivered: get(&c.delivered),
                duplicated: get(&c.duplicated),
                reordered: get(&c.reordered),
                corrupted: get(&c.corrupted),
            }
        };
        (
            read(&self.live[MSG]),
            read(&self.live[FILE]),
            self.live[FILE].acked.load(Ordering::Relaxed),
        )
    }

    /// True when every message sent has arrived and every file was received and acked.
    pub fn settled(&self) -> bool {
        self.pairs.iter().all(|shard| {
            lock(shard)
                .values()
                .all(|p| p.next - 1 + p.ahead.len() as u64 >= p.sent - p.not_sent)
        }) && lock(&self.files)
            .sent
            .values()
            .all(|f| f.not_sent || (f.received > 0 && f.acked))
    }

    /// The final accounting.
    pub fn integrity(&self) -> Integrity {
        let mut m = Delivery::default();
        for shard in &self.pairs {
            for p in lock(shard).values() {
                let delivered = p.next - 1 + p.ahead.len() as u64;
                let sent = p.sent - p.not_sent;
                m.sent += sent;
                m.not_sent += p.not_sent;
                m.delivered += delivered;
                m.lost += sent.saturating_sub(delivered);
                m.duplicated += p.duplicated;
                m.reordered += p.reordered;
                m.corrupted += p.corrupted;
            }
        }
        let files = lock(&self.files);
        let mut f = Delivery::default();
        let (mut acked, mut unacked) = (0, 0);
        for file in files.sent.values() {
            if file.not_sent {
                f.not_sent += 1;
                continue;
            }
            f.sent += 1;
            match file.received {
                0 => f.lost += 1,
                n => {
                    f.delivered += 1;
                    f.duplicated += u64::from(n - 1);
                }
            }
            if file.corrupted {
                f.corrupted += 1;
            }
            if file.acked {
                acked += 1;
            } else {
                unacked += 1;
            }
        }
        f.corrupted += files.unknown;
        Integrity {
            messages: m,
            files: f,
            files_acked: acked,
            files_unacked: unacked,
            acks_unmatched: files.acks_unmatched,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_duplicates_and_reordering_are_counted() {
        let l = Ledger::default();
        for _ in 0..5 {
            l.next_message(1, 2);
        }
        for seq in [1, 3, 2, 2, 5] {
            l.message_arrived(1, 2, Some(seq));
        }
        l.message_arrived(1, 2, None);
        let m = l.integrity().messages;
        assert_eq!(
            (
                m.sent,
                m.delivered,
                m.lost,
                m.duplicated,
                m.reordered,
                m.corrupted
            ),
            (5, 4, 1, 1, 2, 1)
        );
        assert!(!l.settled());
    }

    #[test]
    fn what_could_not_be_sent_is_not_lost() {
        let l = Ledger::default();
        for _ in 0..3 {
            l.next_message(1, 2);
        }
        l.message_not_sent(1, 2);
        l.message_arrived(1, 2, Some(1));
        l.message_arrived(1, 2, Some(2));
        l.file_sent(1, 2, "a", [1; 32], 10);
        assert!(l.file_not_sent(1, 2, "a"));
        assert!(l.is_not_sent(1, 2, "a"));
        assert!(l.settled());
        let i = l.integrity();
        assert_eq!(
            (i.messages.sent, i.messages.not_sent, i.messages.lost),
            (2, 1, 0)
        );
        assert_eq!((i.files.sent, i.files.not_sent, i.files.lost), (0, 1, 0));
        assert!(!i.faulty());
    }

    #[test]
    fn files_need_a_matching_digest_and_an_ack() {
        let l = Ledger::default();
        l.file_sent(1, 2, "a", [1; 32], 10);
        l.file_sent(1, 3, "b", [2; 32], 10);
        l.file_arrived(1, 2, "a", [1; 32], 10);
        l.file_arrived(1, 3, "b", [9; 32], 10);
        assert!(l.ack_arrived(1, "a"));
        assert!(!l.ack_arrived(1, "zzz"));
        let i = l.integrity();
        assert_eq!(
            (
                i.files.delivered,
                i.files.corrupted,
                i.files_acked,
                i.files_unacked,
                i.acks_unmatched
            ),
            (2, 1, 1, 1, 1)
        );
    }
}
