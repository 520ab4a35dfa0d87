#![allow(missing_docs)] // TODO(docs): documented when this file is split
//! `msrp-sim`: emulates many clients against a server on a fixed schedule and proves that
//! nothing was lost.
//!
//! A dispatcher hands operations to clients at their *intended* times (a fixed rate), and
//! latency is measured from that intended time, so an overloaded server shows as latency
//! instead of slowing the schedule down (no coordinated omission). Every message carries
//! its per-pair sequence number and intended time; every file is registered in the
//! [`ledger::Ledger`] with its SHA-256 and must come back as an ACK.

pub mod html;
pub mod ledger;
pub mod limits;
pub mod metrics;
pub mod payload;
pub mod report;
pub mod stages;
pub mod threshold;
pub mod timeline;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use msrp_reference::client::{
    fetch_p2p, serve_p2p, Client, ClientError, ClientEvents, ClientSender, Event,
};
use msrp_reference::frame::{Name, Reason};
use rand::{Rng, SeedableRng};
use sha2::Digest;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use ledger::Ledger;
use limits::{local_resource, LocalResource};
use report::{new_histogram, Latency, RunId, SimReport};
use stages::{RateSpec, Schedule};
use timeline::{LiveLatency, Observer, Snapshot};

/// When a run stops scheduling operations.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    After(Duration),
    Operations(u64),
}

/// Relative weights of the operation kinds.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub msg: u32,
    pub list: u32,
    pub file: u32,
}

impl std::str::FromStr for Mix {
    type Err = String;
    /// `msg=90,list=5,file=5`
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut mix = Mix {
            msg: 0,
            list: 0,
            file: 0,
        };
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("\"{part}\": expected KIND=WEIGHT"))?;
            let v: u32 = v
                .parse()
                .map_err(|_| format!("\"{v}\" is not a whole number"))?;
            match k.trim() {
                "msg" => mix.msg = v,
                "list" => mix.list = v,
                "file" => mix.file = v,
                other => return Err(format!("unknown operation \"{other}\" (msg, list, file)")),
            }
        }
        if mix.msg + mix.list + mix.file == 0 {
            return Err("the mix has no operation with a weight above 0".into());
        }
        Ok(mix)
    }
}

/// An inclusive range of sizes, parsed from `64`, `16..256`, `1k..4m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange(pub u64, pub u64);

impl std::str::FromStr for SizeRange {
    type Err = String;
    fn from_str(s: &str) -> Result<SizeRange, String> {
        fn one(s: &str) -> Result<u64, String> {
            let s = s.trim().to_ascii_lowercase();
            let (num, mult) = match s.strip_suffix('k') {
                Some(n) => (n.to_string(), 1024),
                None => match s.strip_suffix('m') {
                    Some(n) => (n.to_string(), 1024 * 1024),
                    None => (s.clone(), 1),
                },
            };
            num.parse::<u64>()
                .map(|n| n * mult)
                .map_err(|_| format!("\"{s}\" is not a size (e.g. 512, 4k, 2m)"))
        }
        let (lo, hi) = match s.split_once("..") {
            Some((a, b)) => (one(a)?, one(b)?),
            None => (one(s)?, one(s)?),
        };
        if lo > hi {
            return Err(format!("\"{s}\": the lower bound is above the upper one"));
        }
        Ok(SizeRange(lo, hi))
    }
}

/// How progress is shown while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Bar,
    Lines,
    Quiet,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub clients: usize,
    pub connect_rate: f64,
    pub stop: Stop,
    /// Operations per second, fixed or in ramp stages.
    pub rate: RateSpec,
    pub mix: Mix,
    pub text_size: SizeRange,
    pub file_size: SizeRange,
    pub p2p_share: f64,
    pub seed: u64,
    /// `(index, count)`: this process is shard `index` of `count`.
    pub shard: (u32, u32),
    /// How long to wait for deliveries after the last operation.
    pub drain: Duration,
    pub progress: Progress,
    /// The target is a server in this process: its sockets share this process's
    /// open-file limit, so running out there is the simulator's failure too.
    pub embedded: bool,
    /// P2P transfers in flight at most (each holds [`limits::FDS_PER_P2P`] descriptors);
    /// a file beyond that waits for a slot, and the wait counts in its latency.
    pub p2p_slots: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            clients: 32,
            connect_rate: 1000.0,
            stop: Stop::After(Duration::from_secs(10)),
            rate: RateSpec::Fixed(2000.0),
            mix: Mix {
                msg: 90,
                list: 5,
                file: 5,
            },
            text_size: SizeRange(32, 256),
            file_size: SizeRange(1024, 64 * 1024),
            p2p_share: 0.2,
            seed: 1,
            shard: (0, 1),
            drain: Duration::from_secs(10),
            progress: Progress::Quiet,
            embedded: false,
            p2p_slots: limits::DEFAULT_P2P_SLOTS,
        }
    }
}

impl SimConfig {
    /// The options as strings, for the report.
    pub fn parameters(&self, target: &str) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert("target".into(), target.to_string());
        p.insert("clients".into(), self.clients.to_string());
        p.insert("connect-rate".into(), self.connect_rate.to_string());
        p.insert("rate".into(), self.rate.to_string());
        p.insert(
            "stop".into(),
            match self.stop {
                Stop::After(d) => format!("{:.1} s", d.as_secs_f64()),
                Stop::Operations(n) => format!("{n} operations"),
            },
        );
        p.insert(
            "mix".into(),
            format!(
                "msg={},list={},file={}",
                self.mix.msg, self.mix.list, self.mix.file
            ),
        );
        p.insert(
            "text-size".into(),
            format!("{}..{}", self.text_size.0, self.text_size.1),
        );
        p.insert(
            "file-size".into(),
            format!("{}..{}", self.file_size.0, self.file_size.1),
        );
        p.insert("p2p-share".into(), self.p2p_share.to_string());
        p.insert("seed".into(), self.seed.to_string());
        p.insert("shard".into(), format!("{}/{}", self.shard.0, self.shard.1));
        p
    }

    /// True when this run sends P2P files, which need descriptors of their own.
    pub fn uses_p2p(&self) -> bool {
        self.mix.file > 0 && self.p2p_share > 0.0
    }

    /// The open files this run needs at most (see [`limits::descriptors_needed`]).
    pub fn descriptors_needed(&self) -> limits::FdNeed {
        let slots = if self.uses_p2p() {
            self.p2p_slots as u64
        } else {
            0
        };
        limits::descriptors_needed(self.clients as u64, self.embedded, slots)
    }
}

const NAME_CHARS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The wire name of global client number `i` (disjoint across shards).
pub fn client_name(i: u32) -> Name {
    let mut n = [0u8; 4];
    let mut v = i as usize;
    for b in n.iter_mut().rev() {
        *b = NAME_CHARS[v % 62];
        v /= 62;
    }
    Name::from_array(n)
}

/// What a client is asked to do, and when it should have happened.
#[derive(Debug)]
enum Op {
    Msg { to: u32, size: usize },
    List,
    File { to: u32, size: u64, p2p: bool },
}

/// State every task of a run shares.
struct Shared {
    start: Instant,
    ledger: Ledger,
    index_of: HashMap<Name, u32>,
    names: HashMap<u32, Name>,
    completed: AtomicU64,
    bytes: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Failures of the simulator itself, kept apart from the target's.
    harness: Mutex<BTreeMap<String, u64>>,
    /// Resources already announced on stderr (once each).
    announced: Mutex<HashSet<LocalResource>>,
    embedded: bool,
    p2p_slots: Arc<Semaphore>,
    /// P2P side transfers fetched whole (a subset of the files delivered).
    p2p_fetched: AtomicU64,
    connected: AtomicU64,
    /// P2P transfers that failed for reasons not (yet) known to be the simulator's:
    /// `(from, to, filename, error)`. Judged at the end, because the other side may still
    /// find that it ran out of descriptors and mark the file not sent.
    p2p_failures: Mutex<Vec<(u32, u32, String, &'static str)>>,
    sample: Mutex<Histogram<u64>>,
    /// Latency histograms by kind, in shards picked by client number: one histogram set
    /// per client would cost ~0.5 MB each at 10 000 clients, one shared set would contend.
    latencies: Vec<Mutex<KindHistograms>>,
    stopping: AtomicBool,
    seed: u64,
    /// When the dispatcher started (µs since `start`; `u64::MAX` before), for the rate the
    /// schedule asks for at a given moment.
    dispatch_start_us: AtomicU64,
}

const LATENCY_SHARDS: usize = 32;

/// What a latency was measured for.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Msg,
    List,
    File,
}

/// One histogram per operation kind.
struct KindHistograms {
    msg: Histogram<u64>,
    list: Histogram<u64>,
    file: Histogram<u64>,
}

impl KindHistograms {
    fn new() -> Self {
        KindHistograms {
            msg: new_histogram(),
            list: new_histogram(),
            file: new_histogram(),
        }
    }
}

impl Shared {
    /// Counts an error of the target (or of the connection to it).
    fn error(&self, what: &str) {
        self.error_n(what, 1);
    }

    fn error_n(&self, what: &str, n: u64) {
        if let Ok(mut e) = self.errors.lock() {
            *e.entry(what.to_string()).or_default() += n;
        }
    }

    /// Counts a failure of the simulator itself: `what` it was doing and which resource
    /// ran out. The first time each resource runs out it says so on stderr at once, with
    /// the limit and how to raise it, so nobody waits for the summary to learn it.
    fn harness_error(&self, what: &str, resource: LocalResource, n: u64) {
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

    fn has_harness_errors(&self) -> bool {
        self.harness.lock().map(|h| !h.is_empty()).unwrap_or(false)
    }

    /// True (and counted as the simulator's failure) when `e` says one of this host's
    /// resources ran out; false when it is about the target or the connection.
    fn ours(&self, what: &str, e: &ClientError) -> bool {
        self.ours_io(what, e.io_error())
    }

    fn ours_io(&self, what: &str, e: Option<&std::io::Error>) -> bool {
        match e.and_then(local_resource) {
            Some(r) => {
                self.harness_error(what, r, 1);
                true
            }
            None => false,
        }
    }

    /// A P2P transfer failed on one side for a reason that is not this host's resources.
    fn p2p_failed(&self, from: u32, to: u32, name: &str, what: &'static str) {
        if let Ok(mut f) = self.p2p_failures.lock() {
            f.push((from, to, name.to_string(), what));
        }
    }

    /// Counts the P2P failures whose file was not abandoned by the simulator: when one side
    /// ran out of descriptors, the other side's failure (a reset, a timeout) follows from it.
    fn judge_p2p_failures(&self) {
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
    fn send_failed(&self, what: &str, e: &ClientError) {
        if !self.stopping.load(Ordering::Relaxed) && !self.ours(what, e) {
            self.error("send-failed");
        }
    }

    fn since_start_us(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_micros() as u64
    }

    /// Records a latency from an intended time (µs since start) to now.
    fn latency(&self, me: u32, kind: Kind, intended_us: u64) {
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

/// Runs one simulation against `target`.
pub async fn run(target: SocketAddr, target_name: &str, cfg: &SimConfig) -> SimReport {
    run_observed(target, target_name, cfg, Arc::new(Observer::default())).await
}

/// Runs one simulation against `target`, publishing a [`Snapshot`] every second (and a
/// final one once the run is judged) to `observer`.
pub async fn run_observed(
    target: SocketAddr,
    target_name: &str,
    cfg: &SimConfig,
    observer: Arc<Observer>,
) -> SimReport {
    let base = cfg.shard.0 * cfg.clients as u32;
    let names: HashMap<u32, Name> = (0..cfg.clients as u32)
        .map(|i| (base + i, client_name(base + i)))
        .collect();
    let shared = Arc::new(Shared {
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
    });

    // Progress from the start: connecting thousands of clients takes a while.
    let schedule = cfg.rate.schedule();
    let progress = tokio::spawn(show_progress(
        shared.clone(),
        cfg.progress,
        cfg.clients as u64,
        observer.clone(),
        schedule.clone(),
    ));

    // Connect at the requested rate.
    let mut connect_hist = new_histogram();
    let mut connecting = tokio::task::JoinSet::new();
    let addr = target.to_string();
    for i in 0..cfg.clients as u32 {
        let at = shared.start + Duration::from_secs_f64(f64::from(i) / cfg.connect_rate.max(1.0));
        let (addr, name) = (addr.clone(), shared.names[&(base + i)]);
        connecting.spawn(async move {
            tokio::time::sleep_until(at).await;
            let t = Instant::now();
            let c = Client::connect(&addr, name, Duration::from_secs(10)).await;
            (base + i, c, t.elapsed())
        });
    }
    let mut clients: BTreeMap<u32, Client> = BTreeMap::new();
    let mut connect_failures = 0u64;
    while let Some(joined) = connecting.join_next().await {
        match joined {
            Ok((i, Ok(c), took)) => {
                let _ = connect_hist.record((took.as_micros() as u64).max(1));
                clients.insert(i, c);
                shared.connected.fetch_add(1, Ordering::Relaxed);
            }
            Ok((_, Err(e), _)) => {
                if !shared.ours("connect", &e) {
                    connect_failures += 1;
                }
            }
            Err(_) => {
                if let Ok(mut h) = shared.harness.lock() {
                    *h.entry("connect task failed".into()).or_default() += 1;
                }
            }
        }
    }
    let connected = clients.len() as u64;
    // Only clients that did connect are waited for, and only those the server lists
    // take part: a client it never registered would turn every message to it into a loss.
    let names: Vec<Name> = clients.keys().map(|i| shared.names[i]).collect();
    let listed = match clients.values_mut().next() {
        Some(first) => wait_all_listed(first, &names).await,
        None => Some(HashSet::new()),
    };
    match listed {
        Some(listed) => {
            let missing: Vec<u32> = clients
                .keys()
                .copied()
                .filter(|i| !listed.contains(&shared.names[i]))
                .collect();
            if !missing.is_empty() {
                unregistered(&shared, missing.len() as u64, "not registered within 10 s");
                for i in missing {
                    clients.remove(&i);
                }
            }
        }
        None => unregistered(&shared, connected, "no LIST reply within 10 s"),
    }

    // One op queue and two tasks per client.
    let ids: Vec<u32> = clients.keys().copied().collect();
    let mut queues = HashMap::new();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    let mut senders = Vec::new();
    for (id, client) in clients {
        let (sender, events) = client.split();
        let pending = Arc::new(Pending::default());
        let (tx, rx) = mpsc::unbounded_channel();
        queues.insert(id, tx);
        senders.push(sender.clone());
        readers.push(tokio::spawn(read_events(
            id,
            events,
            sender.clone(),
            pending.clone(),
            shared.clone(),
        )));
        writers.push(tokio::spawn(execute_ops(
            id,
            sender,
            rx,
            pending,
            shared.clone(),
        )));
    }

    dispatch(cfg, &ids, &queues, &shared).await;
    drop(queues);
    for w in writers {
        let _ = w.await;
    }
    let deadline = Instant::now() + cfg.drain;
    while !shared.ledger.settled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = shared.start.elapsed().as_secs_f64();
    shared.stopping.store(true, Ordering::Relaxed);
    // Half-close every client: the server then closes, and each reader ends.
    for s in &senders {
        let _ = tokio::time::timeout(Duration::from_secs(1), s.close()).await;
    }
    let collect_deadline = Instant::now() + Duration::from_secs(5);
    for mut r in readers {
        match tokio::time::timeout_at(collect_deadline, &mut r).await {
            Ok(Ok(())) => {}
            _ => {
                r.abort();
                shared.error("reader-did-not-finish");
            }
        }
    }
    let (timeline, mut prev) = progress.await.unwrap_or_default();
    shared.judge_p2p_failures();
    let mut hists = KindHistograms::new();
    for shard in &shared.latencies {
        if let Ok(h) = shard.lock() {
            let _ = hists.msg.add(&h.msg);
            let _ = hists.list.add(&h.list);
            let _ = hists.file.add(&h.file);
        }
    }

    let integrity = shared.ledger.integrity();
    let mut last = snapshot(&shared, cfg.clients as u64, &schedule, &mut prev, 0);
    last.lost = Some((integrity.messages.lost, integrity.files.lost));
    observer.publish(last, false);
    let mut operations = BTreeMap::new();
    operations.insert("msg".to_string(), integrity.messages.sent);
    operations.insert("file".to_string(), integrity.files.sent);

    operations.insert("list".to_string(), hists.list.len());
    let mut latency = BTreeMap::new();
    for (k, h) in [
        ("connect", &connect_hist),
        ("msg", &hists.msg),
        ("list", &hists.list),
        ("file", &hists.file),
    ] {
        if !h.is_empty() {
            latency.insert(k.to_string(), Latency::of(h));
        }
    }
    let errors = shared.errors.lock().map(|e| e.clone()).unwrap_or_default();
    let harness_errors = shared.harness.lock().map(|h| h.clone()).unwrap_or_default();
    SimReport {
        target: target_name.to_string(),
        parameters: vec![cfg.parameters(target_name)],
        seconds,
        clients: cfg.clients as u64,
        connected,
        connect_failures,
        operations,
        p2p_files: shared.p2p_fetched.load(Ordering::Relaxed),
        bytes_delivered: shared.bytes.load(Ordering::Relaxed),
        integrity,
        errors,
        latency,
        timeline,
        runs: vec![RunId {
            target: target_name.to_string(),
            seed: cfg.seed,
            shard: cfg.shard.0,
            shards: cfg.shard.1,
        }],
        sources: Vec::new(),
        harness_errors,
        notes: Vec::new(),
        warnings: Vec::new(),
        thresholds: Vec::new(),
    }
}

/// Connected clients the server did not list. With an embedded server that is out of
/// descriptors this is the simulator's own doing (the server could not accept them);
/// otherwise it is the target's.
fn unregistered(shared: &Shared, n: u64, why: &str) {
    let near_limit = match (limits::open_descriptors(), limits::open_file_limit()) {
        (Some(open), Some(limit)) => open + 16 >= limit.soft,
        _ => false,
    };
    if shared.embedded && (near_limit || shared.has_harness_errors()) {
        shared.harness_error(
            &format!("embedded server accepting clients ({why})"),
            LocalResource::OpenFiles,
            n,
        );
    } else {
        shared.error_n(&format!("clients {why}"), n);
    }
}

/// Waits (up to 10 s) until a LIST shows every one of `names`: logins are silent
/// (NAME-2), so this is how the simulator knows the server registered them. Returns the
/// names of `names` the last LIST showed, or `None` when no LIST reply came at all.
async fn wait_all_listed(client: &mut Client, names: &[Name]) -> Option<HashSet<Name>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen: Option<HashSet<Name>> = None;
    while Instant::now() < deadline {
        if client.sender().list().await.is_err() {
            return seen;
        }
        let reply = tokio::time::timeout_at(deadline, async {
            loop {
                match client.next_event().await {
                    Some(Event::List { text }) => return Some(text),
                    Some(Event::Closed { .. }) | None => return None,
                    Some(_) => {}
                }
            }
        })
        .await;
        match reply {
            Ok(Some(text)) => {
                let listed: HashSet<&[u8]> =
                    msrp_reference::list::names(&text).into_iter().collect();
                let found: HashSet<Name> = names
                    .iter()
                    .copied()
                    .filter(|n| listed.contains(&n.as_bytes()))
                    .collect();
                let all = found.len() == names.len();
                seen = Some(found);
                if all {
                    return seen;
                }
            }
            _ => return seen,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

/// Hands operations to clients at their intended times.
async fn dispatch(
    cfg: &SimConfig,
    ids: &[u32],
    queues: &HashMap<u32, mpsc::UnboundedSender<(Op, u64)>>,
    shared: &Shared,
) {
    if ids.is_empty() {
        return;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(shared.seed);
    let t0 = Instant::now();
    shared
        .dispatch_start_us
        .store(shared.since_start_us(t0), Ordering::Relaxed);
    let schedule = cfg.rate.schedule();
    let total_weight = cfg.mix.msg + cfg.mix.list + cfg.mix.file;
    let mut k: u64 = 0;
    loop {
        let now = Instant::now();
        // Every operation whose intended time has come goes out now, in one batch.
        let due = schedule.ops_at((now - t0).as_secs_f64()) as u64 + 1;
        while k < due {
            // Past the last stage there is nothing more to schedule.
            let Some(at) = schedule.time_of(k) else {
                return;
            };
            let intended = t0 + Duration::from_secs_f64(at);
            let done = match cfg.stop {
                Stop::After(d) => intended - t0 >= d,
                Stop::Operations(n) => k >= n,
            };
            if done {
                return;
            }
            let from = ids[rng.gen_range(0..ids.len())];
            let to = if ids.len() > 1 {
                loop {
                    let t = ids[rng.gen_range(0..ids.len())];
                    if t != from {
                        break t;
                    }
                }
            } else {
                from
            };
            let pick = rng.gen_range(0..total_weight);
            let op = if pick < cfg.mix.msg {
                Op::Msg {
                    to,
                    size: rng.gen_range(cfg.text_size.0..=cfg.text_size.1) as usize,
                }
            } else if pick < cfg.mix.msg + cfg.mix.list {
                Op::List
            } else {
                Op::File {
                    to,
                    size: rng.gen_range(cfg.file_size.0..=cfg.file_size.1),
                    p2p: rng.gen_bool(cfg.p2p_share.clamp(0.0, 1.0)),
                }
            };
            if let Some(q) = queues.get(&from) {
                let _ = q.send((op, shared.since_start_us(intended)));
            }
            k += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What a client's reader needs to know about what its writer did.
#[derive(Default)]
struct Pending {
    lists: Mutex<VecDeque<u64>>,
    files: Mutex<HashMap<String, u64>>,
}

/// Executes one client's operations in order.
async fn execute_ops(
    me: u32,
    sender: ClientSender,
    mut ops: mpsc::UnboundedReceiver<(Op, u64)>,
    pending: Arc<Pending>,
    shared: Arc<Shared>,
) {
    let mut file_seq = 0u64;
    let mut backlog: VecDeque<(Op, u64)> = VecDeque::new();
    loop {
        let (op, intended) = match backlog.pop_front() {
            Some(next) => next,
            None => match ops.recv().await {
                Some(next) => next,
                None => break,
            },
        };
        match op {
            Op::Msg { to, size } => {
                // Messages already due go out together in one write.
                let mut frames = vec![message_frame(&shared, me, to, size, intended)];
                let mut recipients = vec![to];
                while frames.len() < 256 {
                    match ops.try_recv() {
                        Ok((Op::Msg { to, size }, t)) => {
                            frames.push(message_frame(&shared, me, to, size, t));
                            recipients.push(to);
                        }
                        Ok(other) => {
                            backlog.push_back(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = sender.send_frames(&frames).await {
                    for to in recipients {
                        shared.ledger.message_not_sent(me, to);
                    }
                    shared.send_failed("writing messages", &e);
                }
            }
            Op::List => {
                if let Ok(mut l) = pending.lists.lock() {
                    l.push_back(intended);
                }
                if let Err(e) = sender.list().await {
                    if let Ok(mut l) = pending.lists.lock() {
                        l.pop_back();
                    }
                    shared.send_failed("asking for the list", &e);
                }
            }
            Op::File { to, size, p2p } => {
                file_seq += 1;
                let name = format!("f{file_seq:x}.bin");
                let content = payload::file_content(
                    shared.seed ^ (u64::from(me) << 32) ^ file_seq,
                    size as usize,
                );
                let sha: [u8; 32] = sha2::Sha256::digest(&content).into();
                shared.ledger.file_sent(me, to, &name, sha, size);
                if let Ok(mut f) = pending.files.lock() {
                    f.insert(name.clone(), intended);
                }
                let to_name = shared.names[&to];
                let result = if p2p {
                    send_p2p(me, to, &name, content, &sender, &shared).await
                } else {
                    sender
                        .send_file_relay(to_name, name.as_bytes(), size, &content[..], |_| {})
                        .await
                };
                if let Err(e) = result {
                    shared.ledger.file_not_sent(me, to, &name);
                    if let Ok(mut f) = pending.files.lock() {
                        f.remove(&name);
                    }
                    shared.send_failed("sending a file", &e);
                }
            }
        }
    }
}

/// Offers a file by P2P and serves it in the background, holding one P2P slot (and so a
/// bounded number of descriptors) until the transfer ends.
async fn send_p2p(
    me: u32,
    to: u32,
    name: &str,
    content: Vec<u8>,
    sender: &ClientSender,
    shared: &Arc<Shared>,
) -> Result<(), ClientError> {
    let Ok(slot) = shared.p2p_slots.clone().acquire_owned().await else {
        // The semaphore is never closed; should it be, the file is simply not sent.
        return Err(ClientError::P2p("no P2P slot".into()));
    };
    let size = content.len() as u64;
    let listener = sender
        .offer_p2p(shared.names[&to], name.as_bytes(), size)
        .await?;
    let (shared, name) = (shared.clone(), name.to_string());
    tokio::spawn(async move {
        let _slot = slot;
        let served = serve_p2p(
            listener,
            size,
            &content[..],
            Duration::from_secs(30),
            |_| {},
        )
        .await;
        if let Err(e) = served {
            if shared.ours("serving a P2P file", &e) {
                shared.ledger.file_not_sent(me, to, &name);
            } else {
                shared.p2p_failed(me, to, &name, "p2p-serve-failed");
            }
        }
    });
    Ok(())
}

/// A message to `to`, registered in the ledger.
fn message_frame(
    shared: &Shared,
    me: u32,
    to: u32,
    size: usize,
    intended: u64,
) -> msrp_reference::Frame {
    let seq = shared.ledger.next_message(me, to);
    msrp_reference::Frame::Msg {
        name: shared.names[&to],
        text: Bytes::from(payload::message_text(seq, intended, size)),
    }
}

/// A sink that only hashes and counts (P2P downloads).
#[derive(Default)]
struct HashSink {
    hasher: sha2::Sha256,
    len: u64,
}

impl tokio::io::AsyncWrite for HashSink {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A relayed file being received.
struct Incoming {
    from: u32,
    name: String,
    size: u64,
    hasher: sha2::Sha256,
}

/// Reads one client's events, checks every delivery, measures latencies.
async fn read_events(
    me: u32,
    mut events: ClientEvents,
    sender: ClientSender,
    pending: Arc<Pending>,
    shared: Arc<Shared>,
) {
    let mut incoming: Option<Incoming> = None;
    let sender_of = |name: &Name| shared.index_of.get(name).copied();
    while let Some(event) = events.next().await {
        match event {
            Event::Message { from, text } => match sender_of(&from) {
                Some(from) => {
                    let checked = payload::check_message(&text);
                    shared
                        .ledger
                        .message_arrived(from, me, checked.map(|(seq, _)| seq));
                    shared.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
                    if let Some((_, intended)) = checked {
                        shared.latency(me, Kind::Msg, intended);
                    }
                }
                None => shared.error("message-from-unknown-sender"),
            },
            Event::List { .. } => {
                let intended = pending.lists.lock().ok().and_then(|mut l| l.pop_front());
                match intended {
                    Some(t) => shared.latency(me, Kind::List, t),
                    None => shared.error("unrequested-list"),
                }
            }
            Event::FileStart(header) => {
                let from = sender_of(&header.name).unwrap_or(u32::MAX);
                let name = String::from_utf8_lossy(&header.filename).into_owned();
                let file = Incoming {
                    from,
                    name,
                    size: header.size,
                    hasher: sha2::Sha256::new(),
                };
                if header.size == 0 {
                    finish_file(me, file, &sender, &shared).await;
                } else {
                    incoming = Some(file);
                }
            }
            Event::FileData { data, remaining } => {
                if let Some(f) = incoming.as_mut() {
                    f.hasher.update(&data);
                }
                if remaining == 0 {
                    if let Some(f) = incoming.take() {
                        finish_file(me, f, &sender, &shared).await;
                    }
                }
            }
            Event::FileOffer(offer) => {
                let (sender, shared) = (sender.clone(), shared.clone());
                tokio::spawn(async move {
                    let mut sink = HashSink::default();
                    let from = shared
                        .index_of
                        .get(&offer.name)
                        .copied()
                        .unwrap_or(u32::MAX);
                    let name = String::from_utf8_lossy(&offer.filename).into_owned();
                    match fetch_p2p(&offer, &mut sink, Duration::from_secs(30), |_| {}).await {
                        Ok(_) => {
                            shared.p2p_fetched.fetch_add(1, Ordering::Relaxed);
                            let file = Incoming {
                                from,
                                name,
                                size: sink.len,
                                hasher: sink.hasher,
                            };
                            finish_file(me, file, &sender, &shared).await;
                        }
                        Err(e) => {
                            if shared.ours("fetching a P2P file", &e) {
                                shared.ledger.file_not_sent(from, me, &name);
                            } else {
                                shared.p2p_failed(from, me, &name, "p2p-fetch-failed");
                            }
                        }
                    }
                });
            }
            Event::Ack { filename } => {
                let name = String::from_utf8_lossy(&filename).into_owned();
                shared.ledger.ack_arrived(me, &name);
                let intended = pending.files.lock().ok().and_then(|mut f| f.remove(&name));
                if let Some(t) = intended {
                    shared.latency(me, Kind::File, t);
                }
            }
            Event::Error { reason, .. } => {
                shared.error(reason.map_or("invalid-error-text", Reason::as_str))
            }
            // The simulator speaks the strict profile, whose reader never yields it.
            Event::Invalid { .. } => shared.error("invalid-frame"),
            Event::Closed { .. } => {
                if !shared.stopping.load(Ordering::Relaxed) {
                    shared.error("connection-closed-by-server");
                }
                break;
            }
        }
    }
}

/// A file is complete: check it in the ledger and acknowledge it (ACK-4: only now).
async fn finish_file(me: u32, f: Incoming, sender: &ClientSender, shared: &Shared) {
    let digest: [u8; 32] = f.hasher.finalize().into();
    shared
        .ledger
        .file_arrived(f.from, me, &f.name, digest, f.size);
    shared.bytes.fetch_add(f.size, Ordering::Relaxed);
    if let Err(e) = sender.ack(Bytes::from(f.name.into_bytes())).await {
        shared.send_failed("sending an ACK", &e);
    }
}

/// The run's state now, for the metrics endpoint and the CSV timeline. `prev` holds the
/// cumulative latency histograms of the previous call, so the last second's own
/// percentiles are the difference.
fn snapshot(
    shared: &Shared,
    clients: u64,
    schedule: &Schedule,
    prev: &mut Option<KindHistograms>,
    ops_last_second: u64,
) -> Snapshot {
    let mut cum = KindHistograms::new();
    for shard in &shared.latencies {
        if let Ok(h) = shard.lock() {
            let _ = cum.msg.add(&h.msg);
            let _ = cum.list.add(&h.list);
            let _ = cum.file.add(&h.file);
        }
    }
    let mut latency = std::collections::BTreeMap::new();
    for (kind, h, before) in [
        ("msg", &cum.msg, prev.as_ref().map(|p| &p.msg)),
        ("list", &cum.list, prev.as_ref().map(|p| &p.list)),
        ("file", &cum.file, prev.as_ref().map(|p| &p.file)),
    ] {
        let secs = |us: u64| us as f64 / 1e6;
        let last_second = match before {
            Some(b) => {
                let mut d = h.clone();
                d.subtract(b).ok().map(|_| d)
            }
            None => Some(h.clone()),
        }
        .filter(|d| !d.is_empty())
        .map(|d| d.value_at_quantile(0.99) as f64 / 1000.0);
        latency.insert(
            kind,
            LiveLatency {
                count: h.len(),
                sum_seconds: h.mean() * h.len() as f64 / 1e6,
                quantiles: timeline::QUANTILES
                    .iter()
                    .map(|q| (*q, secs(h.value_at_quantile(*q))))
                    .collect(),
                p99_last_second_ms: last_second,
            },
        );
    }
    *prev = Some(cum);
    let (messages, files, files_acked) = shared.ledger.live();
    let dispatch = shared.dispatch_start_us.load(Ordering::Relaxed);
    let now_us = shared.since_start_us(Instant::now());
    let target_rate = if dispatch == u64::MAX || shared.stopping.load(Ordering::Relaxed) {
        0.0
    } else {
        schedule.rate_at(now_us.saturating_sub(dispatch) as f64 / 1e6)
    };
    Snapshot {
        elapsed: now_us as f64 / 1e6,
        target_rate,
        clients,
        connected: shared.connected.load(Ordering::Relaxed),
        ops_last_second,
        completed: shared.completed.load(Ordering::Relaxed),
        bytes_delivered: shared.bytes.load(Ordering::Relaxed),
        messages,
        files,
        files_acked,
        errors: shared.errors.lock().map(|e| e.clone()).unwrap_or_default(),
        harness_errors: shared.harness.lock().map(|h| h.clone()).unwrap_or_default(),
        latency,
        lost: None,
    }
}

/// Shows progress and publishes a snapshot once a second until the run stops; returns
/// operations per second, and the last cumulative histograms.
async fn show_progress(
    shared: Arc<Shared>,
    mode: Progress,
    clients: u64,
    observer: Arc<Observer>,
    schedule: Schedule,
) -> (Vec<u64>, Option<KindHistograms>) {
    let bar = (mode == Progress::Bar).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let mut timeline = Vec::new();
    let mut prev = None;
    let (mut last_ops, mut last_bytes) = (0u64, 0u64);
    // Ticks keep to whole seconds since the start even when a snapshot takes a while.
    let mut tick = tokio::time::interval_at(
        shared.start + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !shared.stopping.load(Ordering::Relaxed) {
        tick.tick().await;
        let ops = shared.completed.load(Ordering::Relaxed);
        let bytes = shared.bytes.load(Ordering::Relaxed);
        let p99 = shared.sample.lock().map(|mut s| {
            let v = s.value_at_quantile(0.99) as f64 / 1000.0;
            s.reset();
            v
        });
        let errors: u64 = shared.errors.lock().map(|e| e.values().sum()).unwrap_or(0);
        let harness: u64 = shared.harness.lock().map(|h| h.values().sum()).unwrap_or(0);
        let connected = shared.connected.load(Ordering::Relaxed);
        timeline.push(ops - last_ops);
        observer.publish(
            snapshot(&shared, clients, &schedule, &mut prev, ops - last_ops),
            true,
        );
        let line = format!(
            "clients {connected}/{clients} | {} ops/s | {:.2} MB/s | p99 {:.2} ms | errors {errors} | harness errors {harness}",
            ops - last_ops,
            (bytes - last_bytes) as f64 / 1e6,
            p99.unwrap_or(0.0)
        );
        (last_ops, last_bytes) = (ops, bytes);
        match (&bar, mode) {
            (Some(b), _) => b.set_message(line),
            (None, Progress::Lines) => {
                eprintln!("{:>5.0}s {line}", shared.start.elapsed().as_secs_f64())
            }
            _ => {}
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    (timeline, prev)
}
