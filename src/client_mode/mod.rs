//! Client mode: `msrp-check --client 'COMMAND' scenarios/client/` plays the server (and any
//! peer) to client programs, and says, rule by rule, where a client departs from the strict
//! profile and the client duties (SPEC.md §2.9).
//!
//! - [`model`] and [`load`]: the client scenario format (`mode: client`), file:line errors.
//! - [`driver`]: how to make a given client act and how it shows what it receives.
//! - [`sandbox`]: per-client deep temporary folders, compared before and after.
//! - [`process`]: the client process, in its own process group.
//! - [`runner`]: one scenario, steps to verdict; [`run_all`] many at once.

pub mod cli;
pub mod driver;
mod link;
pub mod load;
pub mod model;
pub mod process;
pub mod runner;
pub mod sandbox;

use std::sync::Arc;

pub use driver::{Driver, DriverError};
pub use load::{load_all, ClientScenario};
pub use runner::{run_client_scenario, ClientRunOptions, COMMAND_PLACEHOLDERS};

use crate::check::Selection;
use crate::rules::Level;
use crate::runner::RunResult;
use crate::verdict::Verdict;

/// Which client scenarios a selection picks (ids, rule IDs, tags, as in server mode).
pub fn selects(sel: &Selection, sc: &ClientScenario) -> bool {
    sel.selects(&sc.as_report_scenario())
}

/// Why a client run cannot start at all (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The `--client` command template cannot be used (empty, unknown placeholder, unbalanced
    /// quotes, program not found).
    #[error("--client \"{command}\": {message}")]
    Command {
        /// The template as given.
        command: String,
        /// What is wrong with it.
        message: String,
    },
    /// The driver file cannot be loaded or is invalid.
    #[error("{0}")]
    Driver(#[from] DriverError),
    /// The profile asked for is not available in client mode, or not the driver's.
    #[error("{0}")]
    Profile(String),
}

/// Checks a command template before anything runs: known placeholders, balanced quotes,
/// and a program that exists.
pub fn check_command(command: &str) -> Result<(), SetupError> {
    let err = |message: String| SetupError::Command {
        command: command.to_string(),
        message,
    };
    if command.trim().is_empty() {
        return Err(err("the command is empty".into()));
    }
    driver::check_template(command, &COMMAND_PLACEHOLDERS).map_err(err)?;
    let program = command.split_whitespace().next().unwrap_or("");
    // A program given by path must exist; one looked up in PATH must be found there.
    let found = if program.contains('/') {
        std::path::Path::new(program).is_file()
    } else if program.contains(['\'', '"', '$', '=']) {
        // Quoting or variables: only the shell can tell; a failure to start is reported
        // per scenario with the shell's message.
        true
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
            || is_shell_builtin(program)
    };
    if !found {
        return Err(err(format!(
            "cannot start: \"{program}\" is not a file nor a program in PATH"
        )));
    }
    Ok(())
}

fn is_shell_builtin(p: &str) -> bool {
    ["exec", "env", "cd", "true", "false", "test"].contains(&p)
}

/// Checks that the driver fits the profile of the run. Only the strict profile exists in
/// client mode so far; the legacy profile is being built apart.
pub fn check_profile(profile: &str, driver: &Driver) -> Result<(), SetupError> {
    if profile != "strict" {
        return Err(SetupError::Profile(format!(
            "--profile {profile}: client mode has only the strict profile so far"
        )));
    }
    if driver.file.profile != profile {
        return Err(SetupError::Profile(format!(
            "the driver {} ({}) is for the {} profile; this run uses the {profile} profile",
            driver.file.name,
            driver.path.display(),
            driver.file.profile
        )));
    }
    Ok(())
}

/// Runs client scenarios, `jobs` at once (each has its own listener, sandboxes and
/// processes); `report` sees each result in scenario order as soon as it and all before it
/// are done.
pub async fn run_all(
    scenarios: Vec<ClientScenario>,
    opts: &ClientRunOptions,
    jobs: usize,
    report: impl FnMut(&mut RunResult),
) -> Vec<RunResult> {
    let opts = Arc::new(opts.clone());
    let scenarios = Arc::new(scenarios);
    let run = |i: usize| {
        let (opts, scenarios) = (opts.clone(), scenarios.clone());
        async move { Box::pin(run_client_scenario(&scenarios[i], &opts)).await }
    };
    let failed = |i: usize, e| {
        let sc = &scenarios[i];
        RunResult::not_run(
            sc.outcome()
                .not_run_as(Verdict::Error, format!("harness task failed: {e}")),
        )
    };
    crate::ordered::run_in_order(scenarios.len(), jobs, run, failed, report).await
}

/// Rule → client scenarios that check it: the rules a client is held to (what it sends,
/// ENC-3, and the client duties).
pub fn coverage(scenarios: &[ClientScenario]) -> Vec<(&'static str, Level, Vec<String>)> {
    const CLIENT_RULES: [&str; 9] = [
        "ENC-3", "NAME-1", "MSG-1", "FILE-1", "FILE-2", "FILE-4", "LIST-1", "ACK-1", "ACK-4",
    ];
    let scenarios = scenarios
        .iter()
        .map(|s| (&s.file.id[..], &s.file.rules[..]));
    crate::rules::coverage(
        |id| CLIENT_RULES.contains(&id) || crate::rules::is_client_duty(id),
        scenarios,
    )
}
