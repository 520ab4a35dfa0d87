//! `msrp-server`: the MSRP reference server (strict profile, see SPEC.md; `--profile legacy`
//! speaks the circulating dialect of `legacy-profile.md`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use msrp_reference::profile::Profile;
use msrp_reference::server::{Server, ServerConfig};

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
    shutdown_signal().await?;
    eprintln!("msrp-server shutting down");
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
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
