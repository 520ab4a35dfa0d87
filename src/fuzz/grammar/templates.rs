//! The templates of generated cases: each a short conversation of one kind (a login, a
//! message, a relay, a relay whose recipient leaves, …) with fields drawn from edge classes.

use super::*;

impl Gen<'_> {
    pub(super) fn t_login(&mut self) {
        let c = self.open();
        let name = self.odd_name();
        self.write(c, name);
        if self.rng.gen_bool(0.5) {
            self.pause(5);
            let list = self.encode(&Frame::ListRequest);
            self.write(c, list);
        }
    }

    pub(super) fn t_msg(&mut self) {
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

    pub(super) fn t_file_relay(&mut self) {
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
    pub(super) fn t_relay_leave(&mut self) {
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

    pub(super) fn t_p2p(&mut self) {
        let (a, _) = self.login();
        let (_, bn) = self.login();
        let filename = self.filename();
        let size = self.size();
        let port = self.port();
        let ip = self.ip();
        let f = self.file_frame(bn, filename, size, port, ip);
        self.write(a, f);
    }

    pub(super) fn t_ack(&mut self) {
        let (a, _) = self.login();
        let filename = self.filename();
        let f = self.encode(&Frame::Ack {
            filename: Bytes::from(filename),
        });
        self.write(a, f);
    }

    pub(super) fn t_opcode(&mut self) {
        let (a, _) = self.login();
        let op: u16 = *[0, 6, 7, 0x00ff, 0x0100, 0xffff, self.rng.gen()]
            .choose(self.rng)
            .unwrap_or(&6);
        let mut f = op.to_be_bytes().to_vec();
        let n = self.rng.gen_range(0..64);
        f.extend(fill(self.rng, n, Class::Any));
        self.write(a, f);
    }

    pub(super) fn t_many(&mut self) {
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

    pub(super) fn t_garbage(&mut self) {
        let c = if self.rng.gen_bool(0.5) {
            self.login().0
        } else {
            self.open()
        };
        let n = self.rng.gen_range(1..3000);
        let g = fill(self.rng, n, Class::Any);
        self.write(c, g);
    }

    pub(super) fn t_list(&mut self) {
        let (a, _) = self.login();
        let mut f = self.encode(&Frame::ListRequest);
        if self.rng.gen_bool(0.5) {
            let n = self.rng.gen_range(1..20);
            f.extend(fill(self.rng, n, Class::Any));
        }
        self.write(a, f);
    }

    /// A valid frame cut at some byte, then the connection ends (ROB-2).
    pub(super) fn t_partial_close(&mut self) {
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
}
