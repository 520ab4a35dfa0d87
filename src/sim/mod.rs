//! `msrp-sim`: emulates many clients against a server on a fixed schedule and proves that
//! nothing was lost.
//!
//! A dispatcher hands operations to clients at their *intended* times (a fixed rate), and
//! latency is measured from that intended time, so an overloaded server shows as latency
//! instead of slowing the schedule down (no coordinated omission). Every message carries
//! its per-pair sequence number and intended time; every file is registered in the
//! [`ledger::Ledger`] with its SHA-256 and must come back as an ACK.

pub mod cli;
mod client;
mod config;
mod dispatch;
pub mod html;
pub mod integrity;
pub mod ledger;
pub mod limits;
pub mod metrics;
pub mod payload;
mod progress;
pub mod report;
mod shared;
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

use client::*;
pub use config::{client_name, Mix, Progress, SimConfig, SizeRange, Stop};
use dispatch::*;
use progress::*;
use shared::*;

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
    let shared = Arc::new(Shared::new(cfg, base));

    // Progress from the start: connecting thousands of clients takes a while.
    let schedule = cfg.rate.schedule();
    let progress = tokio::spawn(show_progress(
        shared.clone(),
        cfg.progress,
        cfg.clients as u64,
        observer.clone(),
        schedule.clone(),
    ));
    let mut connected = connect_all(target, cfg, &shared, base).await;
    let connected_count = connected.clients.len() as u64;
    keep_listed(&shared, &mut connected.clients).await;
    let running = start_clients(std::mem::take(&mut connected.clients), &shared);
    dispatch(cfg, &running.ids, &running.queues, &shared).await;
    let seconds = wind_down(cfg, &shared, running).await;

    let (timeline, mut prev) = progress.await.unwrap_or_default();
    shared.judge_p2p_failures();
    let integrity = shared.ledger.integrity();
    let mut last = snapshot(&shared, cfg.clients as u64, &schedule, &mut prev, 0);
    last.lost = Some((integrity.messages.lost, integrity.files.lost));
    observer.publish(last, false);
    let hists = shared.latency_totals();
    let mut operations = BTreeMap::new();
    operations.insert("msg".to_string(), integrity.messages.sent);
    operations.insert("file".to_string(), integrity.files.sent);
    operations.insert("list".to_string(), hists.list.len());
    let mut latency = BTreeMap::new();
    for (k, h) in [
        ("connect", &connected.latency),
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
        connected: connected_count,
        connect_failures: connected.failures,
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

/// The clients that connected, how long connecting took them, and how many the target
/// refused (failures of this host's own resources are counted apart, as the simulator's).
struct Connected {
    clients: BTreeMap<u32, Client>,
    latency: Histogram<u64>,
    failures: u64,
}

/// Connects every client at the configured rate (`--connect-rate` per second).
async fn connect_all(
    target: SocketAddr,
    cfg: &SimConfig,
    shared: &Arc<Shared>,
    base: u32,
) -> Connected {
    let mut out = Connected {
        clients: BTreeMap::new(),
        latency: new_histogram(),
        failures: 0,
    };
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
    while let Some(joined) = connecting.join_next().await {
        match joined {
            Ok((i, Ok(c), took)) => {
                let _ = out.latency.record((took.as_micros() as u64).max(1));
                out.clients.insert(i, c);
                shared.connected.fetch_add(1, Ordering::Relaxed);
            }
            Ok((_, Err(e), _)) => {
                if !shared.ours("connect", &e) {
                    out.failures += 1;
                }
            }
            Err(_) => {
                if let Ok(mut h) = shared.harness.lock() {
                    *h.entry("connect task failed".into()).or_default() += 1;
                }
            }
        }
    }
    out
}

/// Leaves out the clients the server does not list: a client it never registered would turn
/// every message to it into a loss.
async fn keep_listed(shared: &Shared, clients: &mut BTreeMap<u32, Client>) {
    let connected = clients.len() as u64;
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
                unregistered(shared, missing.len() as u64, "not registered within 10 s");
                for i in missing {
                    clients.remove(&i);
                }
            }
        }
        None => unregistered(shared, connected, "no LIST reply within 10 s"),
    }
}

/// The clients at work: one op queue and two tasks (writer, reader) per client.
struct Running {
    ids: Vec<u32>,
    queues: HashMap<u32, mpsc::UnboundedSender<(Op, u64)>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    writers: Vec<tokio::task::JoinHandle<()>>,
    senders: Vec<ClientSender>,
}

fn start_clients(clients: BTreeMap<u32, Client>, shared: &Arc<Shared>) -> Running {
    let mut r = Running {
        ids: clients.keys().copied().collect(),
        queues: HashMap::new(),
        readers: Vec::new(),
        writers: Vec::new(),
        senders: Vec::new(),
    };
    for (id, client) in clients {
        let (sender, events) = client.split();
        let pending = Arc::new(Pending::default());
        let (tx, rx) = mpsc::unbounded_channel();
        r.queues.insert(id, tx);
        r.senders.push(sender.clone());
        r.readers.push(tokio::spawn(read_events(
            id,
            events,
            sender.clone(),
            pending.clone(),
            shared.clone(),
        )));
        r.writers.push(tokio::spawn(execute_ops(
            id,
            sender,
            rx,
            pending,
            shared.clone(),
        )));
    }
    r
}

/// After the schedule: lets the writers finish, waits (up to `--drain`) for what is still in
/// flight, then half-closes every client and collects the readers. Returns the run's length
/// in seconds, up to the end of the drain.
async fn wind_down(cfg: &SimConfig, shared: &Shared, running: Running) -> f64 {
    drop(running.queues);
    for w in running.writers {
        let _ = w.await;
    }
    let deadline = Instant::now() + cfg.drain;
    while !shared.ledger.settled() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = shared.start.elapsed().as_secs_f64();
    shared.stopping.store(true, Ordering::Relaxed);
    // Half-close every client: the server then closes, and each reader ends.
    for s in &running.senders {
        let _ = tokio::time::timeout(Duration::from_secs(1), s.close()).await;
    }
    let collect_deadline = Instant::now() + Duration::from_secs(5);
    for mut r in running.readers {
        match tokio::time::timeout_at(collect_deadline, &mut r).await {
            Ok(Ok(())) => {}
            _ => {
                r.abort();
                shared.error("reader-did-not-finish");
            }
        }
    }
    seconds
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
