//! The simulator's own resource limits. Every simulated client holds a socket, the embedded
//! server holds one more per client, and each P2P transfer holds a listener and two
//! connections: with too low an open-file limit the simulator fails on its side, and that
//! must be reported as its failure, never as the target's.

use std::io;

/// How many P2P transfers may be in flight at once by default; each holds up to
/// [`FDS_PER_P2P`] descriptors until it ends.
pub const DEFAULT_P2P_SLOTS: usize = 64;

/// Descriptors one P2P transfer holds: the sender's listener and accepted socket and the
/// recipient's connection (both ends are in this process).
pub const FDS_PER_P2P: u64 = 3;

/// Descriptors kept free for everything else: the runtime's epoll and event descriptors,
/// report files, name resolution.
pub const SPARE_FDS: u64 = 32;

/// The open-file limit (`RLIMIT_NOFILE`) of this process. `u64::MAX` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit, the one in force.
    pub soft: u64,
    /// The hard limit, the ceiling the soft limit can be raised to without privileges.
    pub hard: u64,
}

/// Why the simulator cannot run with the limits it has.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The hard limit is below what the run needs; only an administrator can raise it.
    #[error(
        "this run needs about {need} open files ({breakdown}), but the open-file limit is \
         {soft} (hard limit {hard}). {advice}"
    )]
    TooLow {
        /// Descriptors the run needs, estimated.
        need: u64,
        /// What the estimate is made of (`20000 client sockets, …`).
        breakdown: String,
        /// The soft open-file limit.
        soft: u64,
        /// The hard open-file limit.
        hard: u64,
        /// How to raise the limit or lower the need, for the person.
        advice: String,
    },
    /// Raising the soft limit up to the hard one was refused.
    #[error("cannot raise the open-file limit from {from} to {to}: {source}")]
    Raise {
        /// The soft limit before.
        from: u64,
        /// The limit asked for (the hard limit).
        to: u64,
        /// Why `setrlimit` refused.
        source: io::Error,
    },
}

/// Reads `RLIMIT_NOFILE`; `None` where the platform has no such limit.
pub fn open_file_limit() -> Option<FdLimit> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
            return None;
        }
        // rlim_t is u64 on Linux but not on every Unix.
        #[allow(clippy::unnecessary_cast)]
        let conv = |v: libc::rlim_t| {
            if v == libc::RLIM_INFINITY {
                u64::MAX
            } else {
                v as u64
            }
        };
        Some(FdLimit {
            soft: conv(r.rlim_cur),
            hard: conv(r.rlim_max),
        })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Sets the soft open-file limit to `to` (at most the hard limit).
fn set_soft_limit(to: u64, hard: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        #[allow(clippy::unnecessary_cast)]
        let conv = |v: u64| {
            if v == u64::MAX {
                libc::RLIM_INFINITY
            } else {
                v as libc::rlim_t
            }
        };
        let r = libc::rlimit {
            rlim_cur: conv(to),
            rlim_max: conv(hard),
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = (to, hard);
        Ok(())
    }
}

/// Descriptors open in this process now (Linux: `/proc/self/fd`); `None` where unknown.
pub fn open_descriptors() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64)
}

/// What a run will hold open at most, and the parts of that sum for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdNeed {
    /// Descriptors the run holds open at most.
    pub total: u64,
    /// The parts of `total`, for messages (`20000 client sockets, 20001 for the embedded server,
    /// …`).
    pub breakdown: String,
}

/// Estimates the descriptors a run needs: one per client, one more per client for the
/// embedded server (its sockets count against this process's limit), [`FDS_PER_P2P`] per
/// P2P slot when P2P files are sent, what is open already, and [`SPARE_FDS`].
pub fn descriptors_needed(clients: u64, embedded: bool, p2p_slots: u64) -> FdNeed {
    let open = open_descriptors().unwrap_or(8);
    let server = if embedded { clients + 1 } else { 0 };
    let p2p = p2p_slots * FDS_PER_P2P;
    let mut parts = vec![format!("{clients} client sockets")];
    if embedded {
        parts.push(format!("{server} for the embedded server"));
    }
    if p2p > 0 {
        parts.push(format!("{p2p} for {p2p_slots} concurrent P2P transfers"));
    }
    parts.push(format!("{} already open or spare", open + SPARE_FDS));
    FdNeed {
        total: clients + server + p2p + open + SPARE_FDS,
        breakdown: parts.join(", "),
    }
}

/// How a person raises the limit, or lowers the need.
pub fn advice(embedded: bool) -> String {
    let mut s = String::from(
        "Raise the limit: `ulimit -n N` in the shell that starts msrp-sim (up to the hard \
         limit); the hard limit itself as root (`ulimit -Hn N`), with `nofile` in \
         /etc/security/limits.conf, or LimitNOFILE= in a systemd unit. Or run fewer \
         --clients per process (--shard I/N spreads them over processes)",
    );
    if embedded {
        s.push_str(
            ", or start msrp-server separately and give --target: the embedded server's \
             sockets count against msrp-sim's own limit",
        );
    }
    s.push('.');
    s
}

/// Makes sure `need` descriptors fit: raises the soft limit up to the hard limit when that
/// suffices and returns a note saying so; fails when even the hard limit is too low.
/// `Ok(None)`: nothing had to change (or the platform has no such limit).
pub fn ensure_open_files(need: &FdNeed, embedded: bool) -> Result<Option<String>, LimitError> {
    let Some(limit) = open_file_limit() else {
        return Ok(None);
    };
    if need.total <= limit.soft {
        return Ok(None);
    }
    if need.total > limit.hard {
        return Err(LimitError::TooLow {
            need: need.total,
            breakdown: need.breakdown.clone(),
            soft: limit.soft,
            hard: limit.hard,
            advice: advice(embedded),
        });
    }
    // Raise to the hard limit rather than to the estimate: P2P bursts and the runtime
    // may need a little more than counted, and the hard limit is the caller's choice.
    set_soft_limit(limit.hard, limit.hard).map_err(|source| LimitError::Raise {
        from: limit.soft,
        to: limit.hard,
        source,
    })?;
    Ok(Some(format!(
        "raised the soft open-file limit from {} to the hard limit {} (this run needs about {})",
        limit.soft,
        show_limit(limit.hard),
        need.total
    )))
}

fn show_limit(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

/// Which of the simulator's own resources an OS error says ran out, if any: `EMFILE` and
/// `ENFILE` (open files), `EADDRNOTAVAIL` (local ports), `ENOMEM`/`ENOBUFS` (memory).
/// Anything else (a refused or reset connection, say) is about the peer.
pub fn local_resource(e: &io::Error) -> Option<LocalResource> {
    #[cfg(unix)]
    {
        match e.raw_os_error()? {
            libc::EMFILE => Some(LocalResource::OpenFiles),
            libc::ENFILE => Some(LocalResource::SystemOpenFiles),
            libc::EADDRNOTAVAIL => Some(LocalResource::Ports),
            libc::ENOMEM | libc::ENOBUFS => Some(LocalResource::Memory),
            _ => None,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        None
    }
}

/// A resource of the simulator's host that ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LocalResource {
    /// This process's open-file limit (`EMFILE`).
    OpenFiles,
    /// The system-wide open-file table (`ENFILE`).
    SystemOpenFiles,
    /// Local ports for outgoing connections (`EADDRNOTAVAIL`).
    Ports,
    /// Kernel memory or socket buffers (`ENOMEM`, `ENOBUFS`).
    Memory,
}

impl LocalResource {
    /// A short key for reports.
    pub fn key(self) -> &'static str {
        match self {
            LocalResource::OpenFiles => "too many open files",
            LocalResource::SystemOpenFiles => "system open-file table full",
            LocalResource::Ports => "no local port free",
            LocalResource::Memory => "out of memory or socket buffers",
        }
    }

    /// What to do about it, with the current limit where there is one.
    pub fn advice(self, embedded: bool) -> String {
        match self {
            LocalResource::OpenFiles => {
                let limit = open_file_limit().map_or_else(
                    || "unknown".to_string(),
                    |l| format!("{} (hard {})", show_limit(l.soft), show_limit(l.hard)),
                );
                format!(
                    "msrp-sim ran out of open files: its limit is {limit}. {}",
                    advice(embedded)
                )
            }
            LocalResource::SystemOpenFiles => {
                "the whole system ran out of open files: raise fs.file-max (sysctl) or run \
                 fewer clients on this host"
                    .into()
            }
            LocalResource::Ports => "no local port was free for a new connection: widen \
                 net.ipv4.ip_local_port_range, use several source addresses or hosts \
                 (--shard), or fewer clients"
                .into(),
            LocalResource::Memory => {
                "the kernel refused memory or socket buffers: fewer clients or smaller \
                 files on this host"
                    .into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_need_counts_the_embedded_server_and_p2p() {
        let alone = descriptors_needed(1000, false, 0);
        let embedded = descriptors_needed(1000, true, 0);
        let p2p = descriptors_needed(1000, false, 10);
        assert_eq!(embedded.total - alone.total, 1001);
        assert_eq!(p2p.total - alone.total, 30);
        assert!(embedded.breakdown.contains("embedded server"));
    }

    #[cfg(unix)]
    #[test]
    fn emfile_is_ours_and_a_reset_is_not() {
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(local_resource(&e), Some(LocalResource::OpenFiles));
        let e = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(local_resource(&e), None);
    }
}
