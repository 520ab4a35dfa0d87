//! A fuzz case: what the harness does to the target, as plain data (connections opened,
//! raw writes, pauses, closes), so that it can be run, shrunk, compared and written out as a
//! scenario. Every case is a pure function of `(seed, index, profile)`.

use msrp_reference::Profile;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::model::Conversation;

/// Most bytes one case writes in all: cases stay cheap and the harness's memory bounded.
pub const MAX_CASE_BYTES: usize = 256 * 1024;
/// Most connections one case opens.
pub const MAX_CONNS: u8 = 16;

/// One thing a case does, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Open connection `conn` (nothing written yet: the login is a [`Action::Write`]).
    Connect {
        /// Index of the connection, below [`MAX_CONNS`].
        conn: u8,
    },
    /// One write of these bytes on `conn`.
    Write {
        /// Index of the connection.
        conn: u8,
        /// The bytes, written in one write.
        bytes: Vec<u8>,
    },
    /// Wait this many milliseconds (lets the target notice a close, or a login).
    Pause {
        /// Milliseconds to wait.
        ms: u16,
    },
    /// Close `conn`: a reset (RST) when `abrupt`, else a graceful close (FIN).
    Close {
        /// Index of the connection.
        conn: u8,
        /// True for a reset (RST), false for a graceful close (FIN).
        abrupt: bool,
    },
    /// Wait (at most the run's wait) until `conn` has received `frames` whole frames in all,
    /// as the profile's decoder counts them (a FILE counts once all its body is in).
    Await {
        /// Index of the connection.
        conn: u8,
        /// Whole frames received on it since it opened.
        frames: u16,
    },
}

/// One line per action, as `msrp-check fuzz --dump` lists a case: `connect c0`,
/// `write c0 <hex>`, `pause 5 ms`, `await c1 3 frames`, `close c0 (reset)`.
impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Connect { conn } => write!(f, "connect c{conn}"),
            Action::Write { conn, bytes } => write!(f, "write c{conn} {}", hex::encode(bytes)),
            Action::Pause { ms } => write!(f, "pause {ms} ms"),
            Action::Await { conn, frames } => write!(f, "await c{conn} {frames} frames"),
            Action::Close { conn, abrupt } => {
                write!(f, "close c{conn}{}", if *abrupt { " (reset)" } else { "" })
            }
        }
    }
}

/// One generated case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Case {
    /// The run's seed.
    pub seed: u64,
    /// The case's index under that seed.
    pub index: u64,
    /// The generator's template and mutations, e.g. `relay-leave+split`.
    pub kind: String,
    /// What the case does.
    pub actions: Vec<Action>,
    /// A valid conversation whose outcome is known: the actions are derived from it, and the
    /// model oracle judges what each client received ([`super::model`]).
    pub model: Option<Conversation>,
}

impl Case {
    /// The connection of each `Connect` action, in the order the case opens them.
    pub fn connects(&self) -> impl Iterator<Item = u8> + '_ {
        self.actions.iter().filter_map(|a| match a {
            Action::Connect { conn } => Some(*conn),
            _ => None,
        })
    }

    /// Connections the case opens.
    pub fn connections(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::Connect { .. }))
            .count()
    }

    /// Writes the case makes (each write is one "frame" of the reproduction, whatever it holds).
    pub fn writes(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::Write { .. }))
            .count()
    }

    /// Bytes the case writes in all.
    pub fn bytes(&self) -> usize {
        self.actions
            .iter()
            .map(|a| match a {
                Action::Write { bytes, .. } => bytes.len(),
                _ => 0,
            })
            .sum()
    }

    /// Every byte the case writes, connection by connection in the order of its actions:
    /// what "the same case sends the same bytes" compares.
    pub fn wire_bytes(&self) -> Vec<(u8, Vec<u8>)> {
        let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
        for a in &self.actions {
            if let Action::Write { conn, bytes } = a {
                match out.iter_mut().find(|(c, _)| c == conn) {
                    Some((_, b)) => b.extend_from_slice(bytes),
                    None => out.push((*conn, bytes.clone())),
                }
            }
        }
        out
    }

    /// The case that plays `conv` (kind `model`).
    pub fn of_model(seed: u64, index: u64, conv: Conversation, profile: Profile) -> Case {
        Case {
            seed,
            index,
            kind: "model".into(),
            actions: conv.actions(profile),
            model: Some(conv),
        }
    }

    /// Drops actions on connections that are never opened, and closes nothing twice, so that
    /// a shrunk case is still well formed.
    pub fn normalise(&mut self) {
        let mut open = [false; 256];
        self.actions.retain(|a| match a {
            Action::Connect { conn } => {
                let fresh = !open[*conn as usize];
                open[*conn as usize] = true;
                fresh
            }
            Action::Write { conn, bytes } => open[*conn as usize] && !bytes.is_empty(),
            Action::Close { conn, .. } => std::mem::replace(&mut open[*conn as usize], false),
            Action::Await { conn, .. } => open[*conn as usize],
            Action::Pause { .. } => true,
        });
        while matches!(self.actions.last(), Some(Action::Pause { .. })) {
            self.actions.pop();
        }
    }
}

/// The random stream of case `index` under `seed`: independent of every other case, so
/// `--seed S --case N` alone regenerates it (SplitMix64 of the pair as the ChaCha seed).
pub fn case_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ChaCha8Rng::seed_from_u64(z)
}

/// Every this many cases, one is a model conversation (the index decides, so the other
/// cases of a seed stay what they were before model cases existed).
pub const MODEL_EVERY: u64 = 5;

/// Case `index` of `seed` for `profile`.
pub fn generate(seed: u64, index: u64, profile: Profile) -> Case {
    let mut rng = case_rng(seed, index);
    if index % MODEL_EVERY == MODEL_EVERY - 1 {
        let conv = super::model::generate(&mut rng, index, profile);
        return Case::of_model(seed, index, conv, profile);
    }
    let (kind, mut actions) = super::grammar::generate(&mut rng, index, profile);
    let mut case = Case {
        seed,
        index,
        kind,
        actions: std::mem::take(&mut actions),
        model: None,
    };
    case.normalise();
    case
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_index_give_the_same_case() {
        for profile in [Profile::Strict, Profile::Legacy] {
            for i in 0..300 {
                let a = generate(7, i, profile);
                let b = generate(7, i, profile);
                assert_eq!(a, b);
                assert!(a.bytes() <= MAX_CASE_BYTES, "{} bytes", a.bytes());
                assert!(a.connections() <= MAX_CONNS as usize);
            }
        }
        assert_ne!(
            generate(7, 1, Profile::Strict).wire_bytes(),
            generate(8, 1, Profile::Strict).wire_bytes()
        );
    }

    #[test]
    fn normalise_drops_what_has_no_connection() {
        let mut c = Case {
            seed: 0,
            index: 0,
            kind: "t".into(),
            model: None,
            actions: vec![
                Action::Write {
                    conn: 1,
                    bytes: vec![1],
                },
                Action::Connect { conn: 0 },
                Action::Close {
                    conn: 0,
                    abrupt: false,
                },
                Action::Close {
                    conn: 0,
                    abrupt: true,
                },
                Action::Pause { ms: 3 },
            ],
        };
        c.normalise();
        assert_eq!(c.actions.len(), 2);
    }
}
