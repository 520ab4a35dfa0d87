//! `msrp-sim`: emulates dozens to thousands of MSRP clients against a server, on a fixed
//! schedule, and proves that every message and file was delivered exactly once, in order,
//! intact. What the options mean, and the exit status, live in `msrp::sim::cli`.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use msrp::sim::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(code) = cli.shell.run(Cli::command(), env!("CARGO_BIN_NAME")) {
        return code;
    }
    ExitCode::from(cli::main(cli))
}
