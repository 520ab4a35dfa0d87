//! `msrp-client`: an interactive (or scripted) MSRP client. Its exit status says whether
//! everything it was asked to do succeeded (see [`EXIT_STATUS`]).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{CommandFactory, Parser};
use msrp_reference::client::console::{
    parse_name, Command, CommandError, Console, Finished, Next, Outcome, Phase, Progress, TaskDone,
    Todo, EXIT_STATUS,
};
use msrp_reference::client::terminal;
use msrp_reference::client::{
    fetch_p2p, serve_p2p, Client, ClientEvents, ClientSender, Download, DownloadDir,
};
use msrp_reference::text::escape_bytes;
use msrp_reference::{FileHeader, Name, Profile};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// MSRP reference client: chat, send files and list clients on an MSRP server.
///
/// Type /help once connected. On a terminal, commands are edited
/// with the usual keys (arrows, Ctrl-A/E/W/R, Up for history) and what arrives is shown above
/// the line being typed; Ctrl-D or Ctrl-C ends input like /quit. The history is kept in
/// $XDG_STATE_HOME/msrp/history (~/.local/state/msrp/history) unless --no-history-file.
/// Otherwise commands are read line by line from stdin, so it can be scripted:
/// `printf '/list\n/quit\n' | msrp-client --name abcd`.
#[derive(Parser, Debug)]
#[command(version, after_help = EXIT_STATUS)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    server: String,
    /// Your name: 4 printable ASCII bytes without spaces (1 to 4 with --profile legacy).
    #[arg(long, required_unless_present_any = ["completions", "man"])]
    name: Option<String>,
    /// The dialect to speak: strict (SPEC.md) or legacy (the circulating dialect of
    /// threaded C servers and clients, SPEC.md "Legacy profile").
    #[arg(long, value_enum, default_value_t = Profile::Strict)]
    profile: Profile,
    /// Where received files are saved (created if missing).
    #[arg(long, default_value = "downloads")]
    download_dir: PathBuf,
    /// Seconds to wait for outstanding ACKs when quitting.
    #[arg(long, default_value_t = 10)]
    ack_wait: u64,
    /// Seconds a P2P offer waits for the recipient, and a P2P fetch waits for data.
    #[arg(long, default_value_t = 60)]
    p2p_wait: u64,
    /// Seconds to keep reading after the end of input (or /quit), once transfers and ACKs
    /// are done, for answers the server still owes (it closes when it has sent them).
    #[arg(long, default_value_t = 5)]
    close_wait: u64,
    /// Keep the line history of an interactive session in memory only.
    #[arg(long)]
    no_history_file: bool,
    #[command(flatten)]
    shell: msrp_reference::shell::ShellSupport,
}

/// The I/O side of a session: the connection, the download folder and the background
/// transfers. What to show and what to do next is the [`Console`]'s to decide.
struct Session {
    console: Console,
    sender: ClientSender,
    downloads: DownloadDir,
    p2p_wait: Duration,
    tasks: JoinSet<TaskDone>,
    /// The download of the relayed file arriving; `None` when none arrives or it could not
    /// be created (the body is then read and dropped, and not ACKed).
    file: Option<Download>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(code) = args.shell.run(Args::command(), env!("CARGO_BIN_NAME")) {
        return code;
    }
    // clap requires --name unless --completions or --man was given, and those returned.
    let Some(name) = args.name.clone() else {
        eprintln!("msrp-client: --name is required");
        std::process::exit(2)
    };
    let code = session(&args, &name).await.code();
    // Exit here rather than return: tokio reads stdin on a blocking thread that runtime
    // shutdown waits for, so a session the server ended while nobody typed would hang until
    // stdin closed (found by the client suite, client-server-closes-mid-body).
    use std::io::Write;
    let _ = std::io::stdout().flush();
    terminal::restore();
    std::process::exit(i32::from(code))
}

/// The whole session: connect, run commands from stdin while showing what arrives, then
/// finish transfers, wait for ACKs, half-close and read the last answers.
async fn session(args: &Args, name: &str) -> Outcome {
    let (mut session, events, name) = match connect(args, name).await {
        Ok(connected) => connected,
        Err(outcome) => return outcome,
    };
    let history = (!args.no_history_file)
        .then(terminal::default_history_file)
        .flatten();
    let lines = terminal::Input::open(format!("{name}> "), history);
    session.run(lines, events).await;
    session.console.outcome()
}

/// Opens the download folder and logs in; on failure, says why on stderr and returns the
/// outcome to exit with.
async fn connect(args: &Args, name: &str) -> Result<(Session, ClientEvents, Name), Outcome> {
    // The download folder first: a local mistake should not cost a login.
    let local_error = |e: &dyn std::fmt::Display| {
        eprintln!("msrp-client: {e}");
        Outcome {
            local_error: true,
            ..Outcome::default()
        }
    };
    let downloads = DownloadDir::open(&args.download_dir).map_err(|e| local_error(&e))?;
    let name = parse_name(name, args.profile).map_err(|e| local_error(&e))?;
    let timeout = Duration::from_secs(10);
    let client = Client::connect_with(&args.server, name, timeout, args.profile)
        .await
        .map_err(|e| {
            eprintln!("msrp-client: {e}");
            Outcome {
                connection_lost: true,
                ..Outcome::default()
            }
        })?;
    let (sender, events) = client.split();
    let mut console = Console::new(
        args.profile,
        std::io::stdout().is_terminal(),
        Duration::from_secs(args.ack_wait),
        Duration::from_secs(args.close_wait),
    );
    console.connected(&args.server, name, downloads.path());
    let mut session = Session {
        console,
        sender,
        downloads,
        p2p_wait: Duration::from_secs(args.p2p_wait),
        tasks: JoinSet::new(),
        file: None,
    };
    session.show();
    Ok((session, events, name))
}

impl Session {
    /// Prints what the console has to say, in order.
    fn show(&mut self) {
        for text in self.console.take_output() {
            terminal::print(&text);
        }
    }

    /// The session loop: commands, events and finished transfers, until the console says
    /// to leave or the connection ends.
    async fn run(&mut self, mut lines: terminal::Input, mut events: ClientEvents) {
        loop {
            let now = Instant::now();
            let wake = match self.console.tick(now.into_std(), !self.tasks.is_empty()) {
                Next::Wait(at) => Instant::from_std(at),
                Next::HalfClose => {
                    self.show();
                    // Half-close rather than close: the server still writes what it owes us
                    // (an ERROR for the last command, say) and then closes (DEC-17).
                    if let Err(e) = self.sender.close().await {
                        self.console.half_close_failed(e);
                        self.show();
                        return;
                    }
                    self.console.half_closed(now.into_std());
                    continue;
                }
                Next::Leave => {
                    self.show();
                    eprintln!("{}", self.console.leave_message());
                    return;
                }
            };
            self.show();
            let commands = self.console.phase() == Phase::Commands;
            tokio::select! {
                line = lines.next_line(), if commands => match line {
                    Ok(Some(line)) => self.command(&line).await,
                    Ok(None) => self.console.input_ended(),
                    Err(e) => self.console.input_failed(e),
                },
                event = events.next() => {
                    let go_on = match event {
                        Some(event) => self.event(event).await,
                        None => false,
                    };
                    if !go_on {
                        self.show();
                        return;
                    }
                },
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    let done = done.unwrap_or_else(|e| TaskDone::Failed(e.to_string()));
                    self.console.task_done(done);
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            self.show();
        }
    }

    /// Runs one typed command.
    async fn command(&mut self, line: &str) {
        let result = match self.console.command(line) {
            None | Some(Command::Quit | Command::Help) => Ok(()),
            Some(Command::Msg { to, text }) => self
                .sender
                .send_text(to, text)
                .await
                .map_err(CommandError::from),
            Some(Command::List) => self.sender.list().await.map_err(CommandError::from),
            Some(Command::Send { to, path, p2p }) => self.send(to, path, p2p).await,
        };
        if let Err(e) = result {
            self.console.command_failed(e);
        }
    }

    /// Starts sending the file at `path` to `to` in the background.
    async fn send(&mut self, to: Name, path: PathBuf, p2p: bool) -> Result<(), CommandError> {
        let local = CommandError::Local;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| local(format!("cannot open {}: {e}", path.display())))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| local(format!("{}: {e}", path.display())))?
            .len();
        let filename = path
            .file_name()
            .ok_or_else(|| local(format!("{} has no file name", path.display())))?
            .to_string_lossy()
            .into_owned();
        let sender = self.sender.clone();
        let progress = progress(self.console.tty(), &filename, size);
        let listener = match p2p {
            true => Some(sender.offer_p2p(to, filename.as_bytes(), size).await?),
            false => None,
        };
        let port = listener
            .as_ref()
            .map(|l| l.local_addr().map(|a| a.port()).unwrap_or(0));
        self.console.sending(to, &filename, size, port);
        self.show();
        let wait = self.p2p_wait;
        self.tasks.spawn(async move {
            let result = match listener {
                Some(listener) => serve_p2p(listener, size, file, wait, progress).await,
                None => {
                    sender
                        .send_file_relay(to, filename.as_bytes(), size, file, progress)
                        .await
                }
            };
            TaskDone::Sent {
                to,
                filename,
                result: result.map_err(|e| e.to_string()),
            }
        });
        Ok(())
    }

    /// Handles one event; false when the connection has ended.
    async fn event(&mut self, event: msrp_reference::client::Event) -> bool {
        match self.console.event(event) {
            Todo::Nothing => {}
            Todo::Save(header) => self.save(header).await,
            Todo::Write { data, remaining } => self.write(data, remaining).await,
            Todo::Fetch { offer, from } => self.fetch(offer, from).await,
            Todo::Stop => {
                if let Some(file) = self.file.take() {
                    file.abort().await;
                }
                return false;
            }
        }
        true
    }

    async fn save(&mut self, header: FileHeader) {
        self.show();
        self.file = match self.downloads.create(&header.filename, header.size).await {
            Ok(f) => Some(f),
            Err(e) => {
                self.console.not_saved(e);
                None
            }
        };
        if header.size == 0 {
            self.write(Bytes::new(), 0).await;
        }
    }

    async fn write(&mut self, data: Bytes, remaining: u64) {
        if let Some(file) = self.file.as_mut() {
            if let Err(e) = file.write(&data).await {
                self.console.write_failed(e);
                if let Some(f) = self.file.take() {
                    f.abort().await;
                }
            }
        }
        if let Some(done) = self.console.received(remaining) {
            self.finish(done).await;
        }
    }

    /// Saves the relayed file that is complete and acknowledges it.
    async fn finish(&mut self, done: Finished) {
        let Some(file) = self.file.take() else {
            return;
        };
        match file.finish().await {
            Ok(saved) => {
                self.console.saved(&done, &saved.path);
                self.show();
                if let Err(e) = self.sender.ack(done.filename).await {
                    self.console.ack_failed(e);
                }
            }
            Err(e) => self.console.local_error(e),
        }
    }

    /// Takes a P2P offer: fetches it in the background, then acknowledges it.
    async fn fetch(&mut self, offer: FileHeader, from: String) {
        self.show();
        let download = match self.downloads.create(&offer.filename, offer.size).await {
            Ok(d) => d,
            Err(e) => {
                self.console.offer_declined(e);
                return;
            }
        };
        let wait = self.p2p_wait;
        let sender = self.sender.clone();
        let tty = self.console.tty();
        self.tasks.spawn(async move {
            let mut result = fetch_to_file(&offer, download, wait, tty).await;
            if let Ok((path, size)) = &result {
                terminal::print(&Console::fetched_line(&offer, &from, path, *size));
                if let Err(e) = sender.ack(offer.filename.clone()).await {
                    result = Err(format!("cannot send its ACK: {e}"));
                }
            }
            TaskDone::Fetched { from, result }
        });
    }
}

async fn fetch_to_file(
    offer: &FileHeader,
    mut download: Download,
    wait: Duration,
    tty: bool,
) -> Result<(PathBuf, u64), String> {
    let shown = escape_bytes(&offer.filename);
    match fetch_p2p(
        offer,
        &mut download,
        wait,
        progress(tty, &shown, offer.size),
    )
    .await
    {
        Ok(_) => download
            .finish()
            .await
            .map(|s| (s.path, s.size))
            .map_err(|e| format!("{e}; no ACK sent")),
        Err(e) => {
            download.abort().await;
            Err(format!("{e}; partial file removed, no ACK sent"))
        }
    }
}

/// A progress callback printing quarter steps on a terminal for files of 1 MiB or more.
fn progress(tty: bool, name: &str, size: u64) -> impl FnMut(u64) {
    let mut progress = Progress::new(tty, name, size);
    move |done| {
        if let Some(line) = progress.step(done) {
            terminal::print(&line);
        }
    }
}
