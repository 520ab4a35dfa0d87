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
mod mutate;
mod templates;

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
