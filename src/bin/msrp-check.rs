//! `msrp-check`: replays conformance scenarios against an MSRP server and says, rule by rule,
//! where it departs from the strict profile (SPEC.md). What the options mean lives in
//! `msrp::check_cli`.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use msrp::check_cli::{self, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(code) = args.shell.run(Args::command(), env!("CARGO_BIN_NAME")) {
        return code;
    }
    ExitCode::from(check_cli::main(args))
}
