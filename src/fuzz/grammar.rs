//! Frame-aware generation: conversations shaped like the suite's (logins, messages, LIST,
//! relay and P2P transfers, ACKs, a recipient leaving mid-body, crowds), built with the
//! codec's own encoders, with fields chosen at and past their limits, then structural
//! mutations (splits, coalescing, dropped or doubled terminators, wrong opcodes, abrupt
//! closes after a prefix) and plain byte mutations.

use bytes::Bytes;
use msrp_reference::frame::{FileHeader, Frame, Name, MAX_FILENAME, MAX_IP};
use msrp_reference::profile::legacy;
use msrp_reference::Profile;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::case::{Action, MAX_CASE_BYTES, MAX_CONNS};

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The classes of bytes a field is filled with.
#[derive(Clone, Copy)]
enum Class {
    Alnum,
    Printable,
    Space,
    Zero,
    Control,
    High,
    Slashes,
    Any,
}

const CLASSES: [Class; 8] = [
    Class::Alnum,
    Class::Printable,
    Class::Space,
    Class::Zero,
    Class::Control,
    Class::High,
    Class::Slashes,
    Class::Any,
];

fn fill(rng: &mut ChaCha8Rng, len: usize, class: Class) -> Vec<u8> {
    (0..len)
        .map(|i| match class {
            Class::Alnum => ALNUM[rng.gen_range(0..ALNUM.len())],
            Class::Printable => rng.gen_range(0x21..=0x7e),
            Class::Space => {
                if i % 3 == 1 {
                    b' '
                } else {
                    b'a'
                }
            }
            Class::Zero => {
                if rng.gen_bool(0.2) {
                    0
                } else {
                    b'z'
                }
            }
            Class::Control => rng.gen_range(1..0x20),
            Class::High => rng.gen_range(0x80..=0xff),
            Class::Slashes => b"../"[i % 3],
            Class::Any => rng.gen(),
        })
        .collect()
}

/// The bytes a client writes for `frame` in `profile`. A frame the legacy dialect cannot
/// express goes out in its strict bytes: the fuzzer means to send it all the same.
pub(crate) fn client_bytes(frame: &Frame, profile: Profile) -> Vec<u8> {
    match profile {
        Profile::Legacy => legacy::encode_client(frame)
            .map(|b| b.to_vec())
            .unwrap_or_else(|_| frame.to_bytes().to_vec()),
        Profile::Strict => frame.to_bytes().to_vec(),
    }
}

/// Builds one case's actions.
struct Gen<'a> {
    rng: &'a mut ChaCha8Rng,
    profile: Profile,
    index: u64,
    actions: Vec<Action>,
    conns: u8,
    budget: usize,
}

impl Gen<'_> {
    /// The login name of connection `k`: unique per case index (base 62), so that names of
    /// one case never meet those a previous case may still hold.
    fn name(&self, k: u8) -> [u8; 4] {
        let i = self.index as usize;
        let n = ALNUM.len();
        [
            ALNUM[k as usize % 26],
            ALNUM[i % n],
            ALNUM[(i / n) % n],
            ALNUM[(i / n / n) % n],
        ]
    }

    fn open(&mut self) -> u8 {
        let c = self.conns.min(MAX_CONNS - 1);
        self.conns = (self.conns + 1).min(MAX_CONNS);
        self.actions.push(Action::Connect { conn: c });
        c
    }

    fn write(&mut self, conn: u8, bytes: Vec<u8>) {
        let room = self.budget.min(bytes.len());
        self.budget -= room;
        let mut bytes = bytes;
        bytes.truncate(room);
        self.actions.push(Action::Write { conn, bytes });
    }

    fn pause(&mut self, ms: u16) {
        self.actions.push(Action::Pause { ms });
    }

    /// A connection logged in with its name (its own write, LEG-1), then a short settle:
    /// the server says nothing on login, so only time orders it before what follows.
    fn login(&mut self) -> (u8, [u8; 4]) {
        let c = self.open();
        let name = self.name(c);
        self.write(c, name.to_vec());
        let ms = self.rng.gen_range(2..15);
        self.pause(ms);
        (c, name)
    }

    fn encode(&self, f: &Frame) -> Vec<u8> {
        client_bytes(f, self.profile)
    }

    fn class(&mut self) -> Class {
        if self.rng.gen_bool(0.5) {
            Class::Alnum
        } else {
            *CLASSES.choose(self.rng).unwrap_or(&Class::Alnum)
        }
    }

    fn filename(&mut self) -> Vec<u8> {
        let lens = [
            0,
            1,
            8,
            127,
            128,
            129,
            200,
            MAX_FILENAME,
            MAX_FILENAME + 1,
            300,
            1000,
            1900,
            2100,
        ];
        let len = if self.rng.gen_bool(0.3) {
            self.rng.gen_range(1..40)
        } else {
            *lens.choose(self.rng).unwrap_or(&8)
        };
        let class = self.class();
        fill(self.rng, len, class)
    }

    fn text(&mut self) -> Vec<u8> {
        let lens = [0, 1, 5, 100, 2046, 2047, 2048, 4096, 65535, 65536, 70000];
        let len = if self.rng.gen_bool(0.4) {
            self.rng.gen_range(1..64)
        } else {
            *lens.choose(self.rng).unwrap_or(&5)
        };
        let class = self.class();
        fill(self.rng, len, class)
    }

    fn ip(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..5) {
            0 => Vec::new(),
            1 => b"127.0.0.1".to_vec(),
            2 => fill(self.rng, MAX_IP, Class::Printable),
            3 => fill(self.rng, MAX_IP + 1, Class::Printable),
            _ => {
                let n = self.rng.gen_range(1..200);
                let class = self.class();
                fill(self.rng, n, class)
            }
        }
    }

    fn port(&mut self) -> u32 {
        *[1, 1024, 65535, 65536, u32::MAX]
            .choose(self.rng)
            .unwrap_or(&1)
    }

    fn size(&mut self) -> u64 {
        *[0, 1, 2047, 2048, 5000, 20000, 1 << 40, u64::MAX]
            .choose(self.rng)
            .unwrap_or(&1)
    }

    /// A name field of 0 to 8 bytes of some class (mostly 4 printable bytes).
    fn odd_name(&mut self) -> Vec<u8> {
        let len = if self.rng.gen_bool(0.5) {
            4
        } else {
            self.rng.gen_range(0..=8)
        };
        let class = *CLASSES.choose(self.rng).unwrap_or(&Class::Printable);
        fill(self.rng, len, class)
    }

    fn to(&self, name: [u8; 4]) -> Name {
        Name::from_array(name)
    }

    fn body(&mut self, len: usize) -> Vec<u8> {
        let len = len.min(self.budget);
        (0..len).map(|i| (i as u8).wrapping_mul(31)).collect()
    }

    fn file_frame(
        &self,
        to: [u8; 4],
        filename: Vec<u8>,
        size: u64,
        port: u32,
        ip: Vec<u8>,
    ) -> Vec<u8> {
        self.encode(&Frame::File(FileHeader {
            name: self.to(to),
            filename: Bytes::from(filename),
            size,
            port,
            ip: Bytes::from(ip),
        }))
    }

    // ---- templates, one per kind of conversation of the suite ----

    fn t_login(&mut self) {
        let c = self.open();
        let name = self.odd_name();
        self.write(c, name);
        if self.rng.gen_bool(0.5) {
            self.pause(5);
            let list = self.encode(&Frame::ListRequest);
            self.write(c, list);
        }
    }

    fn t_msg(&mut self) {
        let (a, _) = self.login();
        let (_, b) = self.login();
        let text = self.text();
        let to = if self.rng.gen_bool(0.8) { b } else { *b"zzzz" };
        let f = self.encode(&Frame::Msg {
            name: self.to(to),
            text: Bytes::from(text),
        });
        self.write(a, f);
    }

    fn t_file_relay(&mut self) {
        let (a, _) = self.login();
        let (b, bn) = self.login();
        let filename = self.filename();
        let size = if self.rng.gen_bool(0.5) {
            self.rng.gen_range(0..6000)
        } else {
            self.size()
        };
        let f = self.file_frame(bn, filename.clone(), size, 0, Vec::new());
        self.write(a, f);
        let body = self.body(size.min(40_000) as usize);
        if !body.is_empty() {
            self.write(a, body);
        }
        if self.rng.gen_bool(0.5) {
            self.pause(10);
            let ack = self.encode(&Frame::Ack {
                filename: Bytes::from(filename),
            });
            self.write(b, ack);
        }
    }

    /// The recipient leaves while the body is being relayed (FILE-8): the sender writes on.
    fn t_relay_leave(&mut self) {
        let (a, _) = self.login();
        let (b, bn) = self.login();
        let size: u64 = self.rng.gen_range(3000..40_000);
        let name = fill(self.rng, 8, Class::Alnum);
        let f = self.file_frame(bn, name, size, 0, Vec::new());
        self.write(a, f);
        let first = self.rng.gen_range(1..size as usize);
        let body = self.body(first);
        self.write(a, body);
        let ms = self.rng.gen_range(5..50);
        self.pause(ms);
        let abrupt = self.rng.gen_bool(0.3);
        self.actions.push(Action::Close { conn: b, abrupt });
        let ms = self.rng.gen_range(5..60);
        self.pause(ms);
        let rest = self.body(size as usize - first);
        self.write(a, rest);
    }

    fn t_p2p(&mut self) {
        let (a, _) = self.login();
        let (_, bn) = self.login();
        let filename = self.filename();
        let size = self.size();
        let port = self.port();
        let ip = self.ip();
        let f = self.file_frame(bn, filename, size, port, ip);
        self.write(a, f);
    }

    fn t_ack(&mut self) {
        let (a, _) = self.login();
        let filename = self.filename();
        let f = self.encode(&Frame::Ack {
            filename: Bytes::from(filename),
        });
        self.write(a, f);
    }

    fn t_opcode(&mut self) {
        let (a, _) = self.login();
        let op: u16 = *[0, 6, 7, 0x00ff, 0x0100, 0xffff, self.rng.gen()]
            .choose(self.rng)
            .unwrap_or(&6);
        let mut f = op.to_be_bytes().to_vec();
        let n = self.rng.gen_range(0..64);
        f.extend(fill(self.rng, n, Class::Any));
        self.write(a, f);
    }

    fn t_many(&mut self) {
        let n = self.rng.gen_range(3..=MAX_CONNS.min(12));
        let mut who = Vec::new();
        for _ in 0..n {
            who.push(self.login());
        }
        for _ in 0..self.rng.gen_range(n..3 * n) {
            let (from, _) = *who.choose(self.rng).unwrap_or(&who[0]);
            let (_, to) = *who.choose(self.rng).unwrap_or(&who[0]);
            let text = fill(self.rng, 12, Class::Alnum);
            let f = self.encode(&Frame::Msg {
                name: self.to(to),
                text: Bytes::from(text),
            });
            self.write(from, f);
            if self.rng.gen_bool(0.15) {
                let abrupt = self.rng.gen_bool(0.5);
                self.actions.push(Action::Close { conn: from, abrupt });
            }
        }
    }

    fn t_garbage(&mut self) {
        let c = if self.rng.gen_bool(0.5) {
            self.login().0
        } else {
            self.open()
        };
        let n = self.rng.gen_range(1..3000);
        let g = fill(self.rng, n, Class::Any);
        self.write(c, g);
    }

    fn t_list(&mut self) {
        let (a, _) = self.login();
        let mut f = self.encode(&Frame::ListRequest);
        if self.rng.gen_bool(0.5) {
            let n = self.rng.gen_range(1..20);
            f.extend(fill(self.rng, n, Class::Any));
        }
        self.write(a, f);
    }

    /// A valid frame cut at some byte, then the connection ends (ROB-2).
    fn t_partial_close(&mut self) {
        let (a, _) = self.login();
        let (_, bn) = self.login();
        let f = match self.rng.gen_range(0..3) {
            0 => self.encode(&Frame::Msg {
                name: self.to(bn),
                text: Bytes::from_static(b"hello there"),
            }),
            1 => self.file_frame(bn, b"f.bin".to_vec(), 100, 0, Vec::new()),
            _ => self.file_frame(bn, b"p.bin".to_vec(), 100, 4000, b"127.0.0.1".to_vec()),
        };
        let cut = self.rng.gen_range(1..f.len().max(2));
        self.write(a, f[..cut.min(f.len())].to_vec());
        let abrupt = self.rng.gen_bool(0.5);
        self.actions.push(Action::Close { conn: a, abrupt });
    }

    // ---- mutations ----

    fn write_positions(&self) -> Vec<usize> {
        self.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| matches!(a, Action::Write { .. }))
            .map(|(i, _)| i)
            .collect()
    }

    fn mutate(&mut self, kind: &mut String) {
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
                0 => {
                    // Split: at every byte when short, else at a few random points.
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
                1 => {
                    // Coalesce with the next write on the same connection.
                    let next = (at + 1..self.actions.len()).find(|&i| {
                        matches!(&self.actions[i], Action::Write { conn: c, .. } if *c == conn)
                    });
                    let Some(next) = next else { continue };
                    if let Action::Write { bytes: more, .. } = self.actions.remove(next) {
                        if let Action::Write { bytes, .. } = &mut self.actions[at] {
                            bytes.extend(more);
                        }
                    }
                    "coalesce"
                }
                2 => {
                    // A terminator dropped, or doubled.
                    let zeros: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == 0).collect();
                    let Some(&z) = zeros.choose(self.rng) else {
                        continue;
                    };
                    let mut b = bytes.clone();
                    if self.rng.gen_bool(0.5) {
                        b.remove(z);
                    } else {
                        b.insert(z, 0);
                    }
                    self.actions[at] = Action::Write { conn, bytes: b };
                    "terminator"
                }
                3 if bytes.len() >= 2 => {
                    let op: u16 = *[0, 6, 0xffff, 1, 2, 3, 4, 5].choose(self.rng).unwrap_or(&0);
                    let mut b = bytes.clone();
                    b[..2].copy_from_slice(&op.to_be_bytes());
                    self.actions[at] = Action::Write { conn, bytes: b };
                    "opcode"
                }
                4 => {
                    // An abrupt close after a prefix of this write; the rest of the case goes.
                    let cut = self.rng.gen_range(0..=bytes.len());
                    self.actions.truncate(at);
                    self.actions.push(Action::Write {
                        conn,
                        bytes: bytes[..cut].to_vec(),
                    });
                    self.actions.push(Action::Close { conn, abrupt: true });
                    "abrupt"
                }
                _ => {
                    // Plain byte mutations: flips, inserts, deletes.
                    let mut b = bytes.clone();
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
            };
            kind.push('+');
            kind.push_str(name);
        }
    }
}

/// The template name and the actions of one case.
pub fn generate(rng: &mut ChaCha8Rng, index: u64, profile: Profile) -> (String, Vec<Action>) {
    let mut g = Gen {
        rng,
        profile,
        index,
        actions: Vec::new(),
        conns: 0,
        budget: MAX_CASE_BYTES,
    };
    let name = match g.rng.gen_range(0..11) {
        0 => {
            g.t_login();
            "login"
        }
        1 => {
            g.t_msg();
            "msg"
        }
        2 => {
            g.t_file_relay();
            "file-relay"
        }
        3 => {
            g.t_relay_leave();
            "relay-leave"
        }
        4 => {
            g.t_p2p();
            "p2p"
        }
        5 => {
            g.t_ack();
            "ack"
        }
        6 => {
            g.t_opcode();
            "opcode"
        }
        7 => {
            g.t_many();
            "many"
        }
        8 => {
            g.t_garbage();
            "garbage"
        }
        9 => {
            g.t_list();
            "list"
        }
        _ => {
            g.t_partial_close();
            "partial-close"
        }
    };
    let mut kind = name.to_string();
    // A third of the cases stay as generated (valid conversations with edge fields).
    if g.rng.gen_bool(0.66) {
        g.mutate(&mut kind);
    }
    (kind, g.actions)
}
