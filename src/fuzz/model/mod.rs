//! Conversations whose outcome is known, and the oracle that needs a model of correct
//! behaviour: every message, relayed file and ACK of a valid conversation reaches the client
//! it is addressed to, from the right sender, byte for byte, in the order each sender wrote
//! them, and nothing reaches anyone else.
//!
//! A [`Conversation`] is generated from the case's random stream like any other case, but
//! its actions are *derived* from it ([`Conversation::actions`]): the shrinker removes
//! exchanges and shortens texts and bodies and derives the actions again, so every shrunk
//! case is still a valid conversation with a known outcome. The harness waits for each
//! delivery before the next exchange ([`Action::Await`]), so the order of deliveries is the
//! order of exchanges whatever the target's scheduling: the oracle never blames a server for
//! an order the profile leaves open (ORD-1 binds one sender to one recipient only).

mod judge;
mod received;
#[cfg(test)]
mod tests;

pub use judge::judge;
pub use received::{decode, frames_in, Item};

use bytes::Bytes;
use msrp_reference::frame::{FileHeader, Frame, Name};
use msrp_reference::profile::legacy;
use msrp_reference::Profile;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::case::Action;
use super::grammar::client_bytes;

/// Bytes of printable text a generated name or text is drawn from.
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Legacy pacing between writes of one connection: one write, one read (LEG-2).
const LEGACY_PACE_MS: u16 = 40;
/// Time left after the last delivery for stray frames (a second copy, a message that went to
/// the wrong client too) to arrive before the connections close.
const STRAY_WAIT_MS: u16 = 60;

/// One valid conversation among a few clients, whose outcome the generator knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conversation {
    /// Client `k`'s login name (4 bytes in 0x21..=0x7E); client `k` is connection `k`.
    pub names: Vec<[u8; 4]>,
    /// What the clients send one another, in order.
    pub exchanges: Vec<Exchange>,
}

/// One message or relayed file from one client to another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exchange {
    /// Sender (a client index).
    pub from: u8,
    /// Recipient (a client index; a message may go to its own sender, MSG-5).
    pub to: u8,
    /// The message or file.
    pub what: Sent,
    /// Strict profile: offsets inside the frame's bytes (header and body) where the harness
    /// cuts its writes (ENC-3). Ascending; offsets past the end are ignored.
    pub cuts: Vec<usize>,
}

/// What an exchange carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sent {
    /// A MSG with this text (printable ASCII).
    Msg {
        /// The text, printable ASCII.
        text: Vec<u8>,
    },
    /// A relay-mode FILE with this filename and body; `ack`: the recipient acknowledges it
    /// once it has it all, and the ACK must reach the sender (ACK-2).
    File {
        /// Unique within the conversation (`m{exchange}-…`), so each ACK names one file.
        filename: Vec<u8>,
        /// The body, random bytes.
        body: Vec<u8>,
        /// Whether the recipient acknowledges it.
        ack: bool,
    },
}

fn printable(rng: &mut ChaCha8Rng, len: usize, spaces: bool) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if spaces && i % 7 == 3 && i + 1 < len {
                b' '
            } else {
                ALNUM[rng.gen_range(0..ALNUM.len())]
            }
        })
        .collect()
}

/// A conversation for case `index`: 2–4 clients with names unique to the index, 1–6
/// exchanges. Legacy conversations keep to what the dialect can carry (texts of 1–600
/// bytes without a leading or trailing space or newline, filenames without spaces, no cuts).
pub fn generate(rng: &mut ChaCha8Rng, index: u64, profile: Profile) -> Conversation {
    let clients: u8 = rng.gen_range(2..=4);
    let n = ALNUM.len();
    let i = index as usize;
    let names = (0..clients)
        .map(|k| {
            [
                ALNUM[26 + usize::from(k) % 26],
                ALNUM[i % n],
                ALNUM[(i / n) % n],
                ALNUM[(i / n / n) % n],
            ]
        })
        .collect();
    let legacy = profile == Profile::Legacy;
    let count = rng.gen_range(1..=6);
    let exchanges = (0..count)
        .map(|e| {
            let from = rng.gen_range(0..clients);
            let what = if rng.gen_bool(0.65) {
                let len = match rng.gen_range(0..4) {
                    0 if !legacy => 0,
                    0 | 1 => rng.gen_range(1..16),
                    2 => rng.gen_range(16..200),
                    _ => rng.gen_range(200..600),
                };
                Sent::Msg {
                    text: printable(rng, len, true),
                }
            } else {
                let len = match rng.gen_range(0..3) {
                    0 if !legacy => 0,
                    0 | 1 => rng.gen_range(1..2048),
                    _ => rng.gen_range(2048..24_000),
                };
                let mut filename = format!("m{e}-").into_bytes();
                let stem_len = rng.gen_range(1..12);
                filename.extend(printable(rng, stem_len, false));
                filename.extend_from_slice(b".bin");
                Sent::File {
                    filename,
                    body: (0..len).map(|_| rng.gen()).collect(),
                    ack: rng.gen_bool(0.5),
                }
            };
            // Files go to someone else; a message to oneself is MSG-5's case.
            let to = match what {
                Sent::Msg { .. } if rng.gen_bool(0.15) => from,
                _ => (from + rng.gen_range(1..clients)) % clients,
            };
            let cuts = if legacy || rng.gen_bool(0.5) {
                Vec::new()
            } else {
                let mut c: Vec<usize> = (0..rng.gen_range(1..5))
                    .map(|_| rng.gen_range(1..64))
                    .collect();
                c.sort_unstable();
                c.dedup();
                c
            };
            Exchange {
                from,
                to,
                what,
                cuts,
            }
        })
        .collect();
    Conversation { names, exchanges }
}

impl Exchange {
    /// The frame the sender writes, and a relay body after it.
    pub fn frame(&self, names: &[[u8; 4]]) -> (Frame, Bytes) {
        let to = Name::from_array(names[usize::from(self.to)]);
        match &self.what {
            Sent::Msg { text } => (
                Frame::Msg {
                    name: to,
                    text: Bytes::from(text.clone()),
                },
                Bytes::new(),
            ),
            Sent::File { filename, body, .. } => (
                Frame::File(FileHeader {
                    name: to,
                    filename: Bytes::from(filename.clone()),
                    size: body.len() as u64,
                    port: 0,
                    ip: Bytes::new(),
                }),
                Bytes::from(body.clone()),
            ),
        }
    }
}

fn encode_login(name: [u8; 4], profile: Profile) -> Vec<u8> {
    match profile {
        Profile::Strict => name.to_vec(),
        Profile::Legacy => legacy::encode_login(&Name::from_array(name)).to_vec(),
    }
}

impl Conversation {
    /// The harness's actions: every client connects, logs in and asks for the LIST (whose
    /// answer shows the login was processed); then each exchange is written (cut where its
    /// `cuts` say; legacy writes paced apart) and its delivery awaited, and an ACK, when the
    /// exchange has one, written by the recipient and awaited at the sender.
    pub fn actions(&self, profile: Profile) -> Vec<Action> {
        let legacy = profile == Profile::Legacy;
        let mut out = Vec::new();
        let write = |out: &mut Vec<Action>, conn: u8, bytes: Vec<u8>| {
            if bytes.is_empty() {
                return;
            }
            out.push(Action::Write { conn, bytes });
            if legacy {
                out.push(Action::Pause { ms: LEGACY_PACE_MS });
            }
        };
        let clients = self.names.len() as u8;
        // One login at a time, each confirmed by its LIST reply: the connection order (which
        // LIST-2 and many a server's roster follow) is then the clients' order, in the fuzz
        // run and in the reproduction alike.
        for conn in 0..clients {
            out.push(Action::Connect { conn });
            write(
                &mut out,
                conn,
                encode_login(self.names[usize::from(conn)], profile),
            );
            write(&mut out, conn, client_bytes(&Frame::ListRequest, profile));
            out.push(Action::Await { conn, frames: 1 });
        }
        let mut frames = vec![1u16; usize::from(clients)];
        for ex in &self.exchanges {
            let (frame, body) = ex.frame(&self.names);
            let header = client_bytes(&frame, profile);
            if legacy {
                write(&mut out, ex.from, header);
                write(&mut out, ex.from, body.to_vec());
            } else {
                let mut all = header;
                all.extend_from_slice(&body);
                let mut at = 0;
                for &cut in ex.cuts.iter().filter(|&&c| c < all.len()) {
                    write(&mut out, ex.from, all[at..cut].to_vec());
                    at = cut;
                }
                write(&mut out, ex.from, all[at..].to_vec());
            }
            frames[usize::from(ex.to)] += 1;
            out.push(Action::Await {
                conn: ex.to,
                frames: frames[usize::from(ex.to)],
            });
            if let Sent::File {
                filename,
                ack: true,
                ..
            } = &ex.what
            {
                let ack = Frame::Ack {
                    filename: Bytes::from(filename.clone()),
                };
                write(&mut out, ex.to, client_bytes(&ack, profile));
                frames[usize::from(ex.from)] += 1;
                out.push(Action::Await {
                    conn: ex.from,
                    frames: frames[usize::from(ex.from)],
                });
            }
        }
        out.push(Action::Pause { ms: STRAY_WAIT_MS });
        out
    }

    /// Client indices that take part in some exchange.
    fn used(&self) -> Vec<u8> {
        let mut u: Vec<u8> = self.exchanges.iter().flat_map(|e| [e.from, e.to]).collect();
        u.sort_unstable();
        u.dedup();
        u
    }

    /// The same conversation without the clients no exchange involves (indices renumbered).
    pub fn without_idle_clients(&self) -> Conversation {
        let used = self.used();
        let at = |k: u8| used.iter().position(|&u| u == k).unwrap_or(0) as u8;
        Conversation {
            names: used.iter().map(|&k| self.names[usize::from(k)]).collect(),
            exchanges: self
                .exchanges
                .iter()
                .map(|e| Exchange {
                    from: at(e.from),
                    to: at(e.to),
                    ..e.clone()
                })
                .collect(),
        }
    }
}
