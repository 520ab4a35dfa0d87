//! What a run is asked to do: its stop condition, operation mix, sizes, rate and client
//! count ([`SimConfig`]), and the wire name of each client.

use super::*;

/// When a run stops scheduling operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long (`--duration`).
    After(Duration),
    /// After this many operations have been scheduled (`--operations`).
    Operations(u64),
}

/// Relative weights of the operation kinds.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Weight of messages.
    pub msg: u32,
    /// Weight of LIST requests.
    pub list: u32,
    /// Weight of file transfers (relay or P2P, see [`SimConfig::p2p_share`]).
    pub file: u32,
}

impl std::str::FromStr for Mix {
    type Err = String;
    /// `msg=90,list=5,file=5`
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut mix = Mix {
            msg: 0,
            list: 0,
            file: 0,
        };
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("\"{part}\": expected KIND=WEIGHT"))?;
            let v: u32 = v
                .parse()
                .map_err(|_| format!("\"{v}\" is not a whole number"))?;
            match k.trim() {
                "msg" => mix.msg = v,
                "list" => mix.list = v,
                "file" => mix.file = v,
                other => return Err(format!("unknown operation \"{other}\" (msg, list, file)")),
            }
        }
        if mix.msg + mix.list + mix.file == 0 {
            return Err("the mix has no operation with a weight above 0".into());
        }
        Ok(mix)
    }
}

/// An inclusive range of sizes, parsed from `64`, `16..256`, `1k..4m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange(pub u64, pub u64);

impl std::str::FromStr for SizeRange {
    type Err = String;
    fn from_str(s: &str) -> Result<SizeRange, String> {
        fn one(s: &str) -> Result<u64, String> {
            let s = s.trim().to_ascii_lowercase();
            let (num, mult) = match s.strip_suffix('k') {
                Some(n) => (n.to_string(), 1024),
                None => match s.strip_suffix('m') {
                    Some(n) => (n.to_string(), 1024 * 1024),
                    None => (s.clone(), 1),
                },
            };
            num.parse::<u64>()
                .map(|n| n * mult)
                .map_err(|_| format!("\"{s}\" is not a size (e.g. 512, 4k, 2m)"))
        }
        let (lo, hi) = match s.split_once("..") {
            Some((a, b)) => (one(a)?, one(b)?),
            None => (one(s)?, one(s)?),
        };
        if lo > hi {
            return Err(format!("\"{s}\": the lower bound is above the upper one"));
        }
        Ok(SizeRange(lo, hi))
    }
}

/// How progress is shown while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// One line rewritten in place (a terminal).
    Bar,
    /// A line every second (a log).
    Lines,
    /// Nothing until the report.
    Quiet,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Emulated clients, each with its own connection.
    pub clients: usize,
    /// Connections opened per second at the start.
    pub connect_rate: f64,
    /// When scheduling stops.
    pub stop: Stop,
    /// Operations per second, fixed or in ramp stages.
    pub rate: RateSpec,
    /// Relative weights of messages, LISTs and files.
    pub mix: Mix,
    /// Message text length, bytes (inclusive range, drawn uniformly).
    pub text_size: SizeRange,
    /// File size, bytes (inclusive range, drawn uniformly).
    pub file_size: SizeRange,
    /// Share of files sent peer to peer (0.0–1.0), the rest relayed.
    pub p2p_share: f64,
    /// Every random choice of the run derives from it.
    pub seed: u64,
    /// `(index, count)`: this process is shard `index` of `count`.
    pub shard: (u32, u32),
    /// How long to wait for deliveries after the last operation.
    pub drain: Duration,
    /// How progress is shown.
    pub progress: Progress,
    /// The target is a server in this process: its sockets share this process's
    /// open-file limit, so running out there is the simulator's failure too.
    pub embedded: bool,
    /// P2P transfers in flight at most (each holds [`limits::FDS_PER_P2P`] descriptors);
    /// a file beyond that waits for a slot, and the wait counts in its latency.
    pub p2p_slots: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            clients: 32,
            connect_rate: 1000.0,
            stop: Stop::After(Duration::from_secs(10)),
            rate: RateSpec::Fixed(2000.0),
            mix: Mix {
                msg: 90,
                list: 5,
                file: 5,
            },
            text_size: SizeRange(32, 256),
            file_size: SizeRange(1024, 64 * 1024),
            p2p_share: 0.2,
            seed: 1,
            shard: (0, 1),
            drain: Duration::from_secs(10),
            progress: Progress::Quiet,
            embedded: false,
            p2p_slots: limits::DEFAULT_P2P_SLOTS,
        }
    }
}

impl SimConfig {
    /// The options as strings, for the report.
    pub fn parameters(&self, target: &str) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert("target".into(), target.to_string());
        p.insert("clients".into(), self.clients.to_string());
        p.insert("connect-rate".into(), self.connect_rate.to_string());
        p.insert("rate".into(), self.rate.to_string());
        p.insert(
            "stop".into(),
            match self.stop {
                Stop::After(d) => format!("{:.1} s", d.as_secs_f64()),
                Stop::Operations(n) => format!("{n} operations"),
            },
        );
        p.insert(
            "mix".into(),
            format!(
                "msg={},list={},file={}",
                self.mix.msg, self.mix.list, self.mix.file
            ),
        );
        p.insert(
            "text-size".into(),
            format!("{}..{}", self.text_size.0, self.text_size.1),
        );
        p.insert(
            "file-size".into(),
            format!("{}..{}", self.file_size.0, self.file_size.1),
        );
        p.insert("p2p-share".into(), self.p2p_share.to_string());
        p.insert("seed".into(), self.seed.to_string());
        p.insert("shard".into(), format!("{}/{}", self.shard.0, self.shard.1));
        p
    }

    /// True when this run sends P2P files, which need descriptors of their own.
    pub fn uses_p2p(&self) -> bool {
        self.mix.file > 0 && self.p2p_share > 0.0
    }

    /// The open files this run needs at most (see [`limits::descriptors_needed`]).
    pub fn descriptors_needed(&self) -> limits::FdNeed {
        let slots = if self.uses_p2p() {
            self.p2p_slots as u64
        } else {
            0
        };
        limits::descriptors_needed(self.clients as u64, self.embedded, slots)
    }
}

const NAME_CHARS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The wire name of global client number `i` (disjoint across shards).
pub fn client_name(i: u32) -> Name {
    let mut n = [0u8; 4];
    let mut v = i as usize;
    for b in n.iter_mut().rev() {
        *b = NAME_CHARS[v % 62];
        v /= 62;
    }
    Name::from_array(n)
}
