//! What the run looks like while it goes: snapshots for the metrics endpoint and the CSV
//! timeline, and the live progress line.

use super::*;

/// The run's state now, for the metrics endpoint and the CSV timeline. `prev` holds the
/// cumulative latency histograms of the previous call, so the last second's own
/// percentiles are the difference.
pub(super) fn snapshot(
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
pub(super) async fn show_progress(
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
