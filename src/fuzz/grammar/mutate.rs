//! Mutations applied to two thirds of the generated cases: bytes flipped, cut, repeated or
//! inserted at write positions, so the server meets what is almost a valid conversation.

use super::*;

impl Gen<'_> {
    pub(super) fn write_positions(&self) -> Vec<usize> {
        self.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, Action::Write { .. }))
            .map(|(i, _)| i)
            .collect()
    }

    /// Applies one to three mutations, each at a random write, and names them in `kind`
    /// (`msg+split+bytes`). The random draws keep their order, so a seed's cases stay the
    /// same.
    pub(super) fn mutate(&mut self, kind: &mut String) {
        let rounds = self.rng.gen_range(1..=3);
        for _ in 0..rounds {
            let writes = self.write_positions();
            let Some(&at) = writes.choose(self.rng) else {
                return;
            };
            let Action::Write { conn, bytes } = self.actions[at].clone() else {
                return;
            };
            let name = match self.rng.gen_range(0..7) {
                0 => self.split_write(at, conn, &bytes),
                1 => match self.coalesce(at, conn) {
                    Some(name) => name,
                    None => continue,
                },
                2 => match self.terminator(at, conn, &bytes) {
                    Some(name) => name,
                    None => continue,
                },
                3 if bytes.len() >= 2 => self.opcode(at, conn, &bytes),
                4 => self.abrupt(at, conn, &bytes),
                _ => self.flip_bytes(at, conn, &bytes),
            };
            kind.push('+');
            kind.push_str(name);
        }
    }

    /// The write cut at every byte when short, else at a few random points.
    fn split_write(&mut self, at: usize, conn: u8, bytes: &[u8]) -> &'static str {
        let cuts: Vec<usize> = if bytes.len() <= 64 {
            (1..bytes.len()).collect()
        } else {
            let mut c: Vec<usize> = (0..self.rng.gen_range(1..6))
                .map(|_| self.rng.gen_range(1..bytes.len()))
                .collect();
            c.sort_unstable();
            c.dedup();
            c
        };
        let mut pieces = Vec::new();
        let mut from = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            pieces.push(Action::Write {
                conn,
                bytes: bytes[from..c].to_vec(),
            });
            from = c;
        }
        self.actions.splice(at..=at, pieces);
        "split"
    }

    /// The write coalesced with the next one on the same connection, if there is one.
    fn coalesce(&mut self, at: usize, conn: u8) -> Option<&'static str> {
        let next = (at + 1..self.actions.len())
            .find(|&i| matches!(&self.actions[i], Action::Write { conn: c, .. } if *c == conn))?;
        if let Action::Write { bytes: more, .. } = self.actions.remove(next) {
            if let Action::Write { bytes, .. } = &mut self.actions[at] {
                bytes.extend(more);
            }
        }
        Some("coalesce")
    }

    /// A terminator dropped, or doubled, if the write has one.
    fn terminator(&mut self, at: usize, conn: u8, bytes: &[u8]) -> Option<&'static str> {
        let zeros: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == 0).collect();
        let &z = zeros.choose(self.rng)?;
        let mut b = bytes.to_vec();
        if self.rng.gen_bool(0.5) {
            b.remove(z);
        } else {
            b.insert(z, 0);
        }
        self.actions[at] = Action::Write { conn, bytes: b };
        Some("terminator")
    }

    /// The first two bytes replaced by an opcode, valid or not.
    fn opcode(&mut self, at: usize, conn: u8, bytes: &[u8]) -> &'static str {
        let op: u16 = *[0, 6, 0xffff, 1, 2, 3, 4, 5].choose(self.rng).unwrap_or(&0);
        let mut b = bytes.to_vec();
        b[..2].copy_from_slice(&op.to_be_bytes());
        self.actions[at] = Action::Write { conn, bytes: b };
        "opcode"
    }

    /// An abrupt close after a prefix of this write; the rest of the case goes.
    fn abrupt(&mut self, at: usize, conn: u8, bytes: &[u8]) -> &'static str {
        let cut = self.rng.gen_range(0..=bytes.len());
        self.actions.truncate(at);
        self.actions.push(Action::Write {
            conn,
            bytes: bytes[..cut].to_vec(),
        });
        self.actions.push(Action::Close { conn, abrupt: true });
        "abrupt"
    }

    /// Plain byte mutations: flips, inserts, deletes.
    fn flip_bytes(&mut self, at: usize, conn: u8, bytes: &[u8]) -> &'static str {
        let mut b = bytes.to_vec();
        for _ in 0..self.rng.gen_range(1..=4) {
            if b.is_empty() {
                b.push(self.rng.gen());
                continue;
            }
            let i = self.rng.gen_range(0..b.len());
            match self.rng.gen_range(0..3) {
                0 => b[i] ^= 1 << self.rng.gen_range(0..8),
                1 => b.insert(i, self.rng.gen()),
                _ => {
                    b.remove(i);
                }
            }
        }
        self.actions[at] = Action::Write { conn, bytes: b };
        "bytes"
    }
}
