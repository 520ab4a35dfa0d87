//! `msrp-server`: the MSRP reference server (strict profile, see SPEC.md; `--profile legacy`
//! speaks the circulating dialect of `legacy-profile.md`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use msrp_reference::profile::Profile;
use msrp_reference::server::{Server, ServerConfig, ServerHandle};

/// MSRP reference server (strict profile). Not RFC 4975.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: String,
    /// Most clients logged in at once; the next gets ERROR server-full (CONN-2).
    #[arg(long, default_value_t = ServerConfig::default().max_clients)]
    max_clients: usize,
    /// Longest text message in bytes; longer gets ERROR too-large (LIM-1).
    #[arg(long, default_value_t = ServerConfig::default().max_text)]
    max_text: usize,
    /// Seconds a new connection has to send its 4-byte name (NAME-6); fractions allowed.
    #[arg(long, default_value_t = 10.0, value_parser = parse_seconds)]
    handshake_timeout: f64,
    /// Dialect: strict (SPEC.md) or legacy (the circulating dialect, SPEC.md "Legacy profile").
    #[arg(long, value_enum, default_value_t = Profile::Strict)]
    profile: Profile,
    /// Bytes that all connections' buffers together may hold (read buffers, queued frames,
    /// relayed chunks); past it the largest holders are closed (DEC-20). Bytes, or a size with
    /// a unit: KiB, MiB, GiB (also K, M, G, KB, MB, GB as powers of 1000 for the *B forms).
    #[arg(long, default_value = "128MiB", value_parser = parse_size)]
    memory_budget: usize,
    /// Seconds a connection inside a frame or a relayed body may send nothing before it is
    /// closed (DEC-21); fractions allowed; 0 disables. Idle connections between frames are
    /// never closed by it.
    #[arg(long, default_value_t = 30.0, value_parser = parse_seconds_or_zero)]
    frame_timeout: f64,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    shell: msrp_reference::shell::ShellSupport,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v < 1e6 => Ok(v),
        _ => Err(format!("\"{s}\" is not a positive number of seconds")),
    }
}

fn parse_seconds_or_zero(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(0.0) => Ok(0.0),
        _ => parse_seconds(s).map_err(|e| format!("{e} (or 0 to disable)")),
    }
}

/// `"128MiB"`, `"64 KiB"`, `"1G"`, `"500000"` → bytes.
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let unit_bytes: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "\"{s}\": unknown unit (use bytes, KiB, MiB or GiB)"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_bytes))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("\"{s}\" is not a positive size in bytes (e.g. 128MiB)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    if let Some(code) = args.shell.run(Args::command(), env!("CARGO_BIN_NAME")) {
        return Ok(code);
    }
    let level = ["warn", "info", "debug", "trace"][usize::from(args.verbose.min(3))];
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(format!(
                    "msrp_reference={level},msrp_server={level}"
                ))
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(msrp_reference::color::enabled(
            msrp_reference::color::Stream::Stderr,
        ))
        .init();

    let config = ServerConfig {
        max_clients: args.max_clients,
        max_text: args.max_text,
        handshake_timeout: Duration::from_secs_f64(args.handshake_timeout),
        profile: args.profile,
        memory_budget: args.memory_budget,
        frame_timeout: (args.frame_timeout > 0.0)
            .then(|| Duration::from_secs_f64(args.frame_timeout)),
        ..ServerConfig::default()
    };
    let server = Server::bind(&args.listen, config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = server.local_addr()?;
    match args.profile {
        Profile::Strict => eprintln!("msrp-server listening on {addr}"),
        // The address stays the last word: scripts read it from there.
        Profile::Legacy => eprintln!("msrp-server (legacy profile) listening on {addr}"),
    }
    let handle = server.spawn();
    tokio::select! {
        r = shutdown_signal() => r?,
        _ = return_freed_memory(&handle) => {}
    }
    eprintln!("msrp-server shutting down");
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// After a burst of connection buffers (an attack that the memory budget cut short, DEC-20, or
/// thousands of clients leaving), glibc's malloc keeps the freed pages for reuse, so the
/// server would hold its peak for good: 3 000 stalled 65 KB texts left 225 MiB behind after
/// they closed (BENCHMARKS.md). At most once a second, if the bytes buffered have fallen well
/// below their high-water mark, or many connections have ended, since the last trim, hand
/// the free pages back.
async fn return_freed_memory(handle: &ServerHandle) {
    const BYTES_DROP: usize = 1 << 20;
    const CLOSED: u64 = 100;
    let mut bytes_high = 0usize;
    let mut closed_at_trim = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let (bytes, closed) = (handle.buffered_bytes(), handle.connections_closed());
        bytes_high = bytes_high.max(bytes);
        if bytes_high - bytes >= BYTES_DROP || closed - closed_at_trim >= CLOSED {
            let released = trim_heap();
            tracing::debug!(
                bytes_high,
                bytes,
                closed,
                released,
                "returned freed heap memory"
            );
            (bytes_high, closed_at_trim) = (bytes, closed);
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() -> bool {
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks and takes no
    // pointer from us; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) != 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() -> bool {
    false
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot install the SIGINT handler")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_and_without_units() {
        assert_eq!(parse_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_size("64 KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("500000"), Ok(500_000));
        for bad in [
            "",
            "0",
            "MiB",
            "12 parsecs",
            "-5",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_frame_timeout_takes_zero_to_disable() {
        assert_eq!(parse_seconds_or_zero("0"), Ok(0.0));
        assert_eq!(parse_seconds_or_zero("2.5"), Ok(2.5));
        assert!(parse_seconds_or_zero("-1").is_err());
    }
}
