//! The steps of a generated (non-model) case: its connections, writes (consecutive writes of
//! one connection as one `send` with `split`), pauses and closes, then `expect_alive`.

use std::fmt::Write as _;

use crate::fuzz::case::{Action, Case};

/// The logical client of connection `conn`, and its (unused) 4-byte wire name.
fn client(conn: u8) -> (String, String) {
    (format!("c{conn}"), format!("fz{conn:02}"))
}

/// Appends the `clients:` and `steps:` of `case` to `y`, ending with `expect_alive`.
pub(super) fn raw_steps(y: &mut String, case: &Case) {
    let _ = writeln!(y, "clients:");
    let mut conns: Vec<u8> = case.connects().collect();
    conns.sort_unstable();
    conns.dedup();
    for c in &conns {
        let (logical, wire) = client(*c);
        let _ = writeln!(y, "  {logical}: \"{wire}\"");
    }
    let _ = writeln!(y, "steps:");
    let mut open: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < case.actions.len() {
        i = action_step(y, &case.actions, i, &mut open) + 1;
    }
    for c in open {
        let _ = writeln!(y, "  - disconnect: {}", client(c).0);
    }
    let _ = writeln!(y, "  - expect_alive: {{}}");
}

/// The step of `actions[i]` (with the writes or pauses that follow it and join it); returns
/// the index of the last action it took. `open` tracks the connections not yet closed.
fn action_step(y: &mut String, actions: &[Action], i: usize, open: &mut Vec<u8>) -> usize {
    match &actions[i] {
        Action::Connect { conn } => {
            open.push(*conn);
            let _ = writeln!(
                y,
                "  - connect: {{ client: {}, login: false, settle: 0 }}",
                client(*conn).0
            );
            i
        }
        Action::Write { .. } => send_step(y, actions, i),
        Action::Pause { .. } => sleep_step(y, actions, i),
        // Awaits belong to model cases, written by `model_steps`.
        Action::Await { .. } => i,
        Action::Close { conn, abrupt } => {
            open.retain(|c| c != conn);
            let _ = writeln!(
                y,
                "  - disconnect: {{ client: {}, abrupt: {abrupt} }}",
                client(*conn).0
            );
            i
        }
    }
}

/// The write `actions[i]` and the writes of the same connection right after it: one send,
/// cut where they were. Returns the index of the last write taken.
fn send_step(y: &mut String, actions: &[Action], mut i: usize) -> usize {
    let Action::Write { conn, bytes } = &actions[i] else {
        return i;
    };
    let mut all = bytes.clone();
    let mut sizes = vec![bytes.len()];
    while let Some(Action::Write { conn: c, bytes: b }) = actions.get(i + 1) {
        if c != conn {
            break;
        }
        all.extend_from_slice(b);
        sizes.push(b.len());
        i += 1;
    }
    sizes.pop();
    let split = if sizes.is_empty() {
        String::new()
    } else {
        let s: Vec<String> = sizes.iter().map(usize::to_string).collect();
        format!(", split: [{}]", s.join(", "))
    };
    let _ = writeln!(
        y,
        "  - send: {{ from: {}, raw: \"{}\"{split} }}",
        client(*conn).0,
        hex::encode(&all)
    );
    i
}

/// The pause `actions[i]` and the pauses right after it as one sleep. Returns the index of the
/// last pause taken.
fn sleep_step(y: &mut String, actions: &[Action], mut i: usize) -> usize {
    let Action::Pause { ms } = &actions[i] else {
        return i;
    };
    // At least 50 ms: a replay on a busy machine must still see the target notice what came
    // before (a longer pause only makes the order surer). Pauses in a row (what shrinking
    // leaves between them is gone) are one sleep.
    let mut total = u32::from((*ms).max(50));
    while let Some(Action::Pause { ms }) = actions.get(i + 1) {
        total += u32::from((*ms).max(50));
        i += 1;
    }
    let _ = writeln!(y, "  - sleep: {:.3}", f64::from(total) / 1000.0);
    i
}
