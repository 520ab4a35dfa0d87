//! The state every task of a run shares: the ledger, counters, error tallies (the target's
//! and the simulator's own, kept apart) and latency histograms by operation kind.

use super::*;

/// What a client is asked to do, and when it should have happened.
#[derive(Debug)]
pub(super) enum Op {
    Msg { to: u32, size: usize },
    List,
    File { to: u32, size: u64, p2p: bool },
}

/// State every task of a run shares.
pub(super) struct Shared {
    pub(super) start: Instant,
    pub(super) ledger: Ledger,
    pub(super) index_of: HashMap<Name, u32>,
    pub(super) names: HashMap<u32, Name>,
    pub(super) completed: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) errors: Mutex<BTreeMap<String, u64>>,
    /// Failures of the simulator itself, kept apart from the target's.
    pub(super) harness: Mutex<BTreeMap<String, u64>>,
    /// Resources already announced on stderr (once each).
    pub(super) announced: Mutex<HashSet<LocalResource>>,
    pub(super) embedded: bool,
    pub(super) p2p_slots: Arc<Semaphore>,
    /// P2P side transfers fetched whole (a subset of the files delivered).
    pub(super) p2p_fetched: AtomicU64,
    pub(super) connected: AtomicU64,
    /// P2P transfers that failed for reasons not (yet) known to be the simulator's:
    /// `(from, to, filename, error)`. Judged at the end, because the other side may still
    /// find that it ran out of descriptors and mark the file not sent.
    pub(super) p2p_failures: Mutex<Vec<(u32, u32, String, &'static str)>>,
    pub(super) sample: Mutex<Histogram<u64>>,
    /// Latency histograms by kind, in shards picked by client number: one histogram set
    /// per client would cost ~0.5 MB each at 10 000 clients, one shared set would contend.
    pub(super) latencies: Vec<Mutex<KindHistograms>>,
    pub(super) stopping: AtomicBool,
    pub(super) seed: u64,
    /// When the dispatcher started (µs since `start`; `u64::MAX` before), for the rate the
    /// schedule asks for at a given moment.
    pub(super) dispatch_start_us: AtomicU64,
}

pub(super) const LATENCY_SHARDS: usize = 32;

/// What a latency was measured for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Msg,
    List,
    File,
}

/// One histogram per operation kind.
pub(super) struct KindHistograms {
    pub(super) msg: Histogram<u64>,
    pub(super) list: Histogram<u64>,
    pub(super) file: Histogram<u64>,
}

impl KindHistograms {
    pub(super) fn new() -> Self {
        KindHistograms {
            msg: new_histogram(),
            list: new_histogram(),
            file: new_histogram(),
        }
    }
}

impl Shared {
    /// The state of a run of `cfg` whose clients are numbered from `base`.
    pub(super) fn new(cfg: &SimConfig, base: u32) -> Shared {
        let names: HashMap<u32, Name> = (0..cfg.clients as u32)
            .map(|i| (base + i, client_name(base + i)))
            .collect();
        Shared {
            start: Instant::now(),
            ledger: Ledger::default(),
            index_of: names.iter().map(|(i, n)| (*n, *i)).collect(),
            names,
            completed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            harness: Mutex::new(BTreeMap::new()),
            announced: Mutex::new(HashSet::new()),
            embedded: cfg.embedded,
            p2p_slots: Arc::new(Semaphore::new(cfg.p2p_slots.max(1))),
            p2p_fetched: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            p2p_failures: Mutex::new(Vec::new()),
            sample: Mutex::new(new_histogram()),
            latencies: (0..LATENCY_SHARDS)
                .map(|_| Mutex::new(KindHistograms::new()))
                .collect(),
            stopping: AtomicBool::new(false),
            seed: cfg.seed ^ (u64::from(cfg.shard.0) << 40),
            dispatch_start_us: AtomicU64::new(u64::MAX),
        }
    }

    /// Every latency recorded so far, the shards added up.
    pub(super) fn latency_totals(&self) -> KindHistograms {
        let mut hists = KindHistograms::new();
        for shard in &self.latencies {
            if let Ok(h) = shard.lock() {
                let _ = hists.msg.add(&h.msg);
                let _ = hists.list.add(&h.list);
                let _ = hists.file.add(&h.file);
            }
        }
        hists
    }

    /// Counts an error of the target (or of the connection to it).
    pub(super) fn error(&self, what: &str) {
        self.error_n(what, 1);
    }

    pub(super) fn error_n(&self, what: &str, n: u64) {
        if let Ok(mut e) = self.errors.lock() {
            *e.entry(what.to_string()).or_default() += n;
        }
    }

    /// Counts a failure of the simulator itself: `what` it was doing and which resource
    /// ran out. The first time each resource runs out it says so on stderr at once, with
    /// the limit and how to raise it, so nobody waits for the summary to learn it.
    pub(super) fn harness_error(&self, what: &str, resource: LocalResource, n: u64) {
        if let Ok(mut h) = self.harness.lock() {
            *h.entry(format!("{what}: {}", resource.key())).or_default() += n;
        }
        let first = self
            .announced
            .lock()
            .map(|mut a| a.insert(resource))
            .unwrap_or(false);
        if first {
            eprintln!(
                "msrp-sim: {what}: {}; {}",
                resource.key(),
                resource.advice(self.embedded)
            );
        }
    }

    pub(super) fn has_harness_errors(&self) -> bool {
        self.harness.lock().map(|h| !h.is_empty()).unwrap_or(false)
    }

    /// True (and counted as the simulator's failure) when `e` says one of this host's
    /// resources ran out; false when it is about the target or the connection.
    pub(super) fn ours(&self, what: &str, e: &ClientError) -> bool {
        self.ours_io(what, e.io_error())
    }

    pub(super) fn ours_io(&self, what: &str, e: Option<&std::io::Error>) -> bool {
        match e.and_then(local_resource) {
            Some(r) => {
                self.harness_error(what, r, 1);
                true
            }
            None => false,
        }
    }

    /// A P2P transfer failed on one side for a reason that is not this host's resources.
    pub(super) fn p2p_failed(&self, from: u32, to: u32, name: &str, what: &'static str) {
        if let Ok(mut f) = self.p2p_failures.lock() {
            f.push((from, to, name.to_string(), what));
        }
    }

    /// Counts the P2P failures whose file was not abandoned by the simulator: when one side
    /// ran out of descriptors, the other side's failure (a reset, a timeout) follows from it.
    pub(super) fn judge_p2p_failures(&self) {
        let failures = self
            .p2p_failures
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default();
        for (from, to, name, what) in failures {
            if !self.ledger.is_not_sent(from, to, &name) {
                self.error(what);
            }
        }
    }

    /// A write to the target failed: the simulator's failure or the connection's.
    pub(super) fn send_failed(&self, what: &str, e: &ClientError) {
        if !self.stopping.load(Ordering::Relaxed) && !self.ours(what, e) {
            self.error("send-failed");
        }
    }

    pub(super) fn since_start_us(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_micros() as u64
    }

    /// Records a latency from an intended time (µs since start) to now.
    pub(super) fn latency(&self, me: u32, kind: Kind, intended_us: u64) {
        let now = self.since_start_us(Instant::now());
        let us = now.saturating_sub(intended_us).max(1);
        let n = self.completed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut h) = self.latencies[me as usize % LATENCY_SHARDS].lock() {
            let hist = match kind {
                Kind::Msg => &mut h.msg,
                Kind::List => &mut h.list,
                Kind::File => &mut h.file,
            };
            let _ = hist.record(us);
        }
        if n.is_multiple_of(16) {
            if let Ok(mut s) = self.sample.lock() {
                let _ = s.record(us);
            }
        }
    }
}
