//! Writes a scenario's recordings as a pcap file that Wireshark opens decoded: Ethernet,
//! IP and TCP headers with correct checksums (etherparse builds them), a three-way handshake
//! and a FIN or RST per connection, consistent sequence and acknowledgement numbers, segments
//! of at most 65 495 bytes, and the real time of every write and read.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, SystemTime};

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

use crate::record::{ConnRecord, Direction, RecordEvent};

/// Largest TCP payload in one packet: 65 535 (IPv4 total length) − 20 − 20.
pub const MAX_SEGMENT: usize = 65_495;

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// Why a pcap could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// The file could not be created or written.
    #[error("{path}: {source}")]
    Io {
        /// The pcap file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The pcap writer refused a packet or header.
    #[error("{path}: {source}")]
    Pcap {
        /// The pcap file.
        path: String,
        /// What the pcap library said.
        source: pcap_file::PcapError,
    },
    /// Serialising a packet's headers failed; the text is etherparse's error.
    #[error("building a packet: {0}")]
    Build(String),
}

struct Packet {
    at: Duration,
    data: Vec<u8>,
}

/// One side of a synthesized TCP connection.
struct Side {
    addr: SocketAddr,
    mac: [u8; 6],
    /// Next sequence number this side sends.
    seq: u32,
}

struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
    fin: bool,
    rst: bool,
}

const ACK: Flags = Flags {
    syn: false,
    ack: true,
    psh: false,
    fin: false,
    rst: false,
};

fn build(
    from: &Side,
    to: &Side,
    ack: u32,
    flags: Flags,
    payload: &[u8],
) -> Result<Vec<u8>, PcapError> {
    let eth = PacketBuilder::ethernet2(from.mac, to.mac);
    let ip = match (from.addr.ip(), to.addr.ip()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => eth.ipv4(a.octets(), b.octets(), 64),
        (a, b) => eth.ipv6(v6(a), v6(b), 64),
    };
    let mut tcp = ip.tcp(from.addr.port(), to.addr.port(), from.seq, 65_535);
    if flags.syn {
        tcp = tcp.syn();
    }
    if flags.ack {
        tcp = tcp.ack(ack);
    }
    if flags.psh {
        tcp = tcp.psh();
    }
    if flags.fin {
        tcp = tcp.fin();
    }
    if flags.rst {
        tcp = tcp.rst();
    }
    let mut out = Vec::with_capacity(tcp.size(payload.len()));
    tcp.write(&mut out, payload)
        .map_err(|e| PcapError::Build(e.to_string()))?;
    Ok(out)
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V6(v) => v.octets(),
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
    }
}

/// The packets of one recorded connection. The harness is the client side (it connected).
fn connection_packets(r: &ConnRecord) -> Result<Vec<Packet>, PcapError> {
    let (Some(local), Some(peer)) = (r.local, r.peer) else {
        return Ok(Vec::new());
    };
    let mut c = Side {
        addr: local,
        mac: CLIENT_MAC,
        seq: 1_000,
    };
    let mut s = Side {
        addr: peer,
        mac: SERVER_MAC,
        seq: 50_000,
    };
    let t0 = r.opened_at;
    let mut out = handshake(&mut c, &mut s, t0)?;
    let mut closed = false;
    let mut last = t0;
    for e in &r.events {
        match e {
            RecordEvent::Data { at, dir, bytes } => {
                last = *at;
                let (from, to) = match dir {
                    Direction::Out => (&mut c, &mut s),
                    Direction::In => (&mut s, &mut c),
                };
                out.extend(data_segments(from, to, *at, bytes)?);
            }
            RecordEvent::Close { at, by_peer, reset } => {
                let (from, to) = if *by_peer {
                    (&mut s, &mut c)
                } else {
                    (&mut c, &mut s)
                };
                out.extend(close_segments(from, to, *at, *reset)?);
                closed = true;
                break;
            }
        }
    }
    if !closed {
        let fin = Flags { fin: true, ..ACK };
        out.push(Packet {
            at: last,
            data: build(&c, &s, s.seq, fin, &[])?,
        });
    }
    Ok(out)
}

/// The three-way handshake that opens a recorded connection at `t0`.
fn handshake(c: &mut Side, s: &mut Side, t0: Duration) -> Result<Vec<Packet>, PcapError> {
    let mut out = Vec::new();
    let syn = Flags {
        syn: true,
        ack: false,
        psh: false,
        fin: false,
        rst: false,
    };
    out.push(Packet {
        at: t0,
        data: build(c, s, 0, syn, &[])?,
    });
    c.seq += 1;
    let synack = Flags {
        syn: true,
        ack: true,
        psh: false,
        fin: false,
        rst: false,
    };
    out.push(Packet {
        at: t0,
        data: build(s, c, c.seq, synack, &[])?,
    });
    s.seq += 1;
    out.push(Packet {
        at: t0,
        data: build(c, s, s.seq, ACK, &[])?,
    });
    Ok(out)
}

/// The segments of `bytes` sent by `from` at `at` (at most [`MAX_SEGMENT`] each), and the
/// ACK of the other side.
fn data_segments(
    from: &mut Side,
    to: &mut Side,
    at: Duration,
    bytes: &[u8],
) -> Result<Vec<Packet>, PcapError> {
    let mut out = Vec::new();
    for seg in bytes.chunks(MAX_SEGMENT) {
        let psh = Flags { psh: true, ..ACK };
        out.push(Packet {
            at,
            data: build(from, to, to.seq, psh, seg)?,
        });
        from.seq = from.seq.wrapping_add(seg.len() as u32);
    }
    out.push(Packet {
        at,
        data: build(to, from, from.seq, ACK, &[])?,
    });
    Ok(out)
}

/// `from` closing at `at`: a reset, or a FIN and its ACK.
fn close_segments(
    from: &mut Side,
    to: &mut Side,
    at: Duration,
    reset: bool,
) -> Result<Vec<Packet>, PcapError> {
    if reset {
        let rst = Flags { rst: true, ..ACK };
        return Ok(vec![Packet {
            at,
            data: build(from, to, to.seq, rst, &[])?,
        }]);
    }
    let fin = Flags { fin: true, ..ACK };
    let mut out = vec![Packet {
        at,
        data: build(from, to, to.seq, fin, &[])?,
    }];
    from.seq = from.seq.wrapping_add(1);
    out.push(Packet {
        at,
        data: build(to, from, from.seq, ACK, &[])?,
    });
    Ok(out)
}

/// Writes the recordings of one scenario run to `path`. `started` is the wall-clock time of
/// the run's start; the records' offsets are added to it.
pub fn write_pcap(
    path: &Path,
    records: &[ConnRecord],
    started: SystemTime,
) -> Result<(), PcapError> {
    let shown = path.display().to_string();
    let mut packets = Vec::new();
    for r in records {
        packets.extend(connection_packets(r)?);
    }
    // Stable: packets of one connection at the same instant keep their order.
    packets.sort_by_key(|p| p.at);
    let base = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let file = std::fs::File::create(path).map_err(|source| PcapError::Io {
        path: shown.clone(),
        source,
    })?;
    let header = PcapHeader {
        snaplen: 262_144,
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut w =
        PcapWriter::with_header(std::io::BufWriter::new(file), header).map_err(|source| {
            PcapError::Pcap {
                path: shown.clone(),
                source,
            }
        })?;
    for p in &packets {
        let packet = PcapPacket::new(base + p.at, p.data.len() as u32, &p.data);
        w.write_packet(&packet).map_err(|source| PcapError::Pcap {
            path: shown.clone(),
            source,
        })?;
    }
    let mut inner = w.into_writer();
    inner.flush().map_err(|source| PcapError::Io {
        path: shown,
        source,
    })?;
    Ok(())
}
