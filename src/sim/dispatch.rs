//! The dispatcher: hands operations to clients at their intended times, so that latency is
//! measured from the schedule (no coordinated omission).

use super::*;

/// Hands operations to clients at their intended times.
pub(super) async fn dispatch(
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
