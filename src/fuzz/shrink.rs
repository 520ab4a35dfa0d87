//! Shrinking a failing case while it still fails the same way (same [`Signature`]), every
//! try on a freshly restarted target, within a budget of runs: whole connections first, then
//! writes and pauses (halves, quarters, … single actions), then the bytes of each write.

use super::case::{Action, Case};
use super::model::{Conversation, Sent};
use super::{run_case, FuzzConfig, Signature, Target};

struct Shrinker<'a> {
    target: &'a mut Target,
    cfg: &'a FuzzConfig,
    sig: &'a Signature,
    runs: usize,
    peak: u64,
}

impl Shrinker<'_> {
    /// Whether `candidate` still fails with the signature (a fresh target for each try).
    async fn fails(&mut self, candidate: &Case) -> bool {
        if self.runs >= self.cfg.shrink_budget {
            return false;
        }
        self.runs += 1;
        if self.target.restart().await.is_err() {
            return false;
        }
        matches!(
            run_case(self.target, candidate, self.cfg, &mut self.peak).await,
            Ok(Some(o)) if &o.sig == self.sig
        )
    }

    fn out_of_runs(&self) -> bool {
        self.runs >= self.cfg.shrink_budget
    }
}

fn with_actions(case: &Case, actions: Vec<Action>) -> Case {
    let mut c = Case {
        actions,
        ..case.clone()
    };
    c.normalise();
    c
}

/// The smallest case found that still fails like `case`, and the runs spent.
pub(crate) async fn shrink(
    target: &mut Target,
    cfg: &FuzzConfig,
    case: &Case,
    sig: &Signature,
) -> (Case, usize) {
    let mut s = Shrinker {
        target,
        cfg,
        sig,
        runs: 0,
        peak: 0,
    };
    if let Some(conv) = &case.model {
        return shrink_model(&mut s, case, conv).await;
    }
    let mut best = case.clone();
    let mut progress = true;
    while progress && !s.out_of_runs() {
        // Every pass runs all three steps, in this order, each on what the one before left.
        progress = drop_connections(&mut s, &mut best).await;
        progress |= drop_action_runs(&mut s, &mut best).await;
        progress |= shorten_writes(&mut s, &mut best).await;
    }
    (best, s.runs)
}

/// Step 1: whole connections, the last opened first. Whether one was dropped.
async fn drop_connections(s: &mut Shrinker<'_>, best: &mut Case) -> bool {
    let mut progress = false;
    let conns: Vec<u8> = best.connects().collect();
    for conn in conns.into_iter().rev() {
        let kept: Vec<Action> = best
            .actions
            .iter()
            .filter(|a| match a {
                Action::Connect { conn: c }
                | Action::Write { conn: c, .. }
                | Action::Close { conn: c, .. }
                | Action::Await { conn: c, .. } => *c != conn,
                Action::Pause { .. } => true,
            })
            .cloned()
            .collect();
        let candidate = with_actions(best, kept);
        if candidate.actions.len() < best.actions.len() && s.fails(&candidate).await {
            *best = candidate;
            progress = true;
        }
    }
    progress
}

/// Step 2: runs of actions, halves first, then quarters, … single actions. Whether any was
/// dropped. Connects stay (removing one is step 1's job), and so do pauses: they order what
/// the target notices (a close before the next write), and a reproduction that races is
/// worth less than one that is a few pauses longer.
async fn drop_action_runs(s: &mut Shrinker<'_>, best: &mut Case) -> bool {
    let mut progress = false;
    let mut chunk = best.actions.len() / 2;
    while chunk >= 1 && !s.out_of_runs() {
        let mut start = 0;
        while start < best.actions.len() && !s.out_of_runs() {
            let end = (start + chunk).min(best.actions.len());
            let kept: Vec<Action> = best
                .actions
                .iter()
                .enumerate()
                .filter(|(i, a)| {
                    !(start..end).contains(i)
                        || matches!(a, Action::Connect { .. } | Action::Pause { .. })
                })
                .map(|(_, a)| a.clone())
                .collect();
            let candidate = with_actions(best, kept);
            if candidate.actions.len() < best.actions.len() && s.fails(&candidate).await {
                *best = candidate;
                progress = true;
            } else {
                start = end;
            }
        }
        chunk /= 2;
    }
    progress
}

/// Step 3: the bytes of each write, chunks cut out of it, large ones first. Whether any
/// write got shorter.
async fn shorten_writes(s: &mut Shrinker<'_>, best: &mut Case) -> bool {
    let mut progress = false;
    for at in 0..best.actions.len() {
        let Action::Write { bytes, .. } = &best.actions[at] else {
            continue;
        };
        let mut chunk = bytes.len() / 2;
        while chunk >= 1 && !s.out_of_runs() {
            progress |= shorten_write_by(s, best, at, chunk).await;
            chunk /= 2;
        }
    }
    progress
}

/// Cuts `chunk` bytes out of the write at `best.actions[at]`, at every offset in turn, while
/// the case still fails. Whether it got shorter.
async fn shorten_write_by(s: &mut Shrinker<'_>, best: &mut Case, at: usize, chunk: usize) -> bool {
    let mut progress = false;
    let mut from = 0;
    while let Some(Action::Write { conn, bytes }) = best.actions.get(at).cloned() {
        if from >= bytes.len() || s.out_of_runs() {
            break;
        }
        let end = (from + chunk).min(bytes.len());
        let mut shorter = bytes.clone();
        shorter.drain(from..end);
        let mut actions = best.actions.clone();
        actions[at] = Action::Write {
            conn,
            bytes: shorter,
        };
        let candidate = with_actions(best, actions);
        // Normalising may drop an emptied write: keep positions aligned.
        if candidate.actions.len() == best.actions.len() && s.fails(&candidate).await {
            *best = candidate;
            progress = true;
        } else {
            from = end;
        }
    }
    progress
}

/// A model case shrinks as a conversation, so that every try is still valid and its outcome
/// known: exchanges dropped (runs, then single ones), texts and bodies halved, cuts dropped,
/// idle clients left out.
async fn shrink_model(s: &mut Shrinker<'_>, case: &Case, conv: &Conversation) -> (Case, usize) {
    let profile = s.cfg.profile;
    let make =
        |c: Conversation| Case::of_model(case.seed, case.index, c.without_idle_clients(), profile);
    let mut best = conv.clone();
    let mut progress = true;
    while progress && !s.out_of_runs() {
        progress = false;
        let mut chunk = (best.exchanges.len() / 2).max(1);
        while chunk >= 1 && best.exchanges.len() > 1 && !s.out_of_runs() {
            let mut start = 0;
            while start < best.exchanges.len() && best.exchanges.len() > 1 && !s.out_of_runs() {
                let end = (start + chunk).min(best.exchanges.len());
                let mut c = best.clone();
                c.exchanges.drain(start..end);
                if !c.exchanges.is_empty() && s.fails(&make(c.clone())).await {
                    best = c.without_idle_clients();
                    progress = true;
                } else {
                    start = end;
                }
            }
            chunk /= 2;
        }
        for i in 0..best.exchanges.len() {
            loop {
                if s.out_of_runs() {
                    break;
                }
                let mut c = best.clone();
                let ex = &mut c.exchanges[i];
                let shorter = match &mut ex.what {
                    Sent::Msg { text } if text.len() > 1 => {
                        text.truncate(text.len() / 2);
                        true
                    }
                    Sent::File { body, .. } if body.len() > 1 => {
                        body.truncate(body.len() / 2);
                        true
                    }
                    _ if !ex.cuts.is_empty() => {
                        ex.cuts.clear();
                        true
                    }
                    _ => false,
                };
                if !shorter || !s.fails(&make(c.clone())).await {
                    break;
                }
                best = c;
                progress = true;
            }
        }
    }
    (make(best), s.runs)
}
