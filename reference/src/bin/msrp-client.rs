//! `msrp-client`: an interactive (or scripted) MSRP client. Its exit status says whether
//! everything it was asked to do succeeded (see [`EXIT_STATUS`]).

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{CommandFactory, Parser};
use msrp_reference::client::terminal;
use msrp_reference::client::{
    fetch_p2p, serve_p2p, Client, ClientError, ClientSender, Download, DownloadDir, Event,
};
use msrp_reference::text::escape_bytes;
use msrp_reference::{FileHeader, Name, Profile};
use tokio::task::JoinSet;

/// Prints a line through [`terminal::print`]: above the line being typed when the line
/// editor runs.
macro_rules! say {
    ($($arg:tt)*) => {
        terminal::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

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

/// The exit statuses, shown by `--help`; the README repeats them.
const EXIT_STATUS: &str = "\
Exit status:
  0  everything succeeded: no ERROR from the server, every file sent was acknowledged
  1  the server answered with an ERROR, or a transfer failed or was not acknowledged
     within --ack-wait, or a P2P file could not be fetched
  2  usage or local errors: bad options, an unknown command, an invalid name, a file to
     send that cannot be read, a received file that cannot be saved
  3  the server could not be reached, or the connection was lost or cut by the server
     before the session ended
When several apply, the status is the first of 3, 1, 2.";

/// What went wrong during a session; the exit status is derived from it.
#[derive(Debug, Default)]
struct Outcome {
    /// The connection could not be made or ended before we half-closed it.
    connection_lost: bool,
    /// An ERROR arrived, or a transfer failed or went unacknowledged.
    failed: bool,
    /// A command or a local file could not be used.
    local_error: bool,
}

impl Outcome {
    fn code(&self) -> u8 {
        if self.connection_lost {
            3
        } else if self.failed {
            1
        } else if self.local_error {
            2
        } else {
            0
        }
    }
}

/// A command that could not be carried out, and whose fault that was.
enum CommandError {
    /// Bad input or a local file: exit status 2.
    Local(String),
    /// Writing to the server failed: the connection is gone (exit status 3).
    Connection(String),
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(m) => CommandError::Local(m),
            other => CommandError::Connection(other.to_string()),
        }
    }
}

/// Where the session is: reading commands, finishing transfers and ACKs, or half-closed
/// and reading what the server still sends until it closes (DEC-17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Commands,
    Finishing,
    Draining,
}

const HELP: &str = "\
commands:
  /msg NAME text        send a text message (also: @NAME text)
  /list                 list connected clients
  /send NAME PATH       send a file through the server
  /send NAME PATH --p2p send a file directly (the recipient connects to you)
  /quit                 wait for transfers and ACKs, then leave
  /help                 this text";

/// A file this client sent and whose ACK it awaits.
struct Sent {
    filename: Bytes,
    to: Name,
}

/// What a finished background task reports.
enum TaskDone {
    Sent {
        to: Name,
        filename: String,
        result: Result<(), String>,
    },
    Fetched {
        /// Who sent it, as far as the profile says ("abcd", or the peer's address).
        from: String,
        result: Result<(PathBuf, u64), String>,
    },
}

struct Ui {
    sender: ClientSender,
    profile: Profile,
    downloads: DownloadDir,
    tty: bool,
    p2p_wait: Duration,
    awaiting_ack: VecDeque<Sent>,
    tasks: JoinSet<TaskDone>,
    receiving: Option<Receiving>,
    phase: Phase,
    outcome: Outcome,
}

/// The relayed file currently arriving.
struct Receiving {
    /// Who sent it, as far as the profile says.
    from: String,
    header: FileHeader,
    /// `None` when it could not be created: the body is read and dropped, and not ACKed.
    file: Option<Download>,
    next_report: u64,
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
    let mut outcome = Outcome::default();
    // The download folder first: a local mistake should not cost a login.
    let downloads = match DownloadDir::open(&args.download_dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("msrp-client: {e}");
            outcome.local_error = true;
            return outcome;
        }
    };
    let name = match parse_name(name, args.profile) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("msrp-client: {e}");
            outcome.local_error = true;
            return outcome;
        }
    };
    let client =
        match Client::connect_with(&args.server, name, Duration::from_secs(10), args.profile).await
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("msrp-client: {e}");
                outcome.connection_lost = true;
                return outcome;
            }
        };
    let (sender, mut events) = client.split();
    say!(
        "connected to {} as {}{}; files go to {}; /help for commands",
        args.server,
        name,
        match args.profile {
            Profile::Strict => "",
            Profile::Legacy => " (legacy profile)",
        },
        downloads.path().display()
    );
    let mut ui = Ui {
        sender,
        profile: args.profile,
        downloads,
        tty: std::io::stdout().is_terminal(),
        p2p_wait: Duration::from_secs(args.p2p_wait),
        awaiting_ack: VecDeque::new(),
        tasks: JoinSet::new(),
        receiving: None,
        phase: Phase::Commands,
        outcome,
    };
    let history = (!args.no_history_file)
        .then(terminal::default_history_file)
        .flatten();
    let mut lines = terminal::Input::open(format!("{name}> "), history);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let now = tokio::time::Instant::now();
        if ui.phase == Phase::Finishing && ui.tasks.is_empty() {
            if !ui.awaiting_ack.is_empty() {
                let ack_deadline =
                    *deadline.get_or_insert(now + Duration::from_secs(args.ack_wait));
                if now >= ack_deadline {
                    let missing: Vec<String> = ui
                        .awaiting_ack
                        .drain(..)
                        .map(|s| format!("{} to {}", escape_bytes(&s.filename), s.to))
                        .collect();
                    say!(
                        "error: gave up waiting for {} ACK(s) after {} s: {}",
                        missing.len(),
                        args.ack_wait,
                        missing.join(", ")
                    );
                    ui.outcome.failed = true;
                }
            }
            if ui.awaiting_ack.is_empty() {
                // Half-close rather than close: the server still writes what it owes us
                // (an ERROR for the last command, say) and then closes (DEC-17).
                if let Err(e) = ui.sender.close().await {
                    say!("disconnected: {e}");
                    ui.outcome.connection_lost = true;
                    break;
                }
                ui.phase = Phase::Draining;
                deadline = Some(now + Duration::from_secs(args.close_wait));
            }
        }
        if ui.phase == Phase::Draining && deadline.is_some_and(|d| now >= d) {
            eprintln!(
                "msrp-client: the server had not closed the connection {} s after this client \
                 finished; leaving anyway",
                args.close_wait
            );
            break;
        }
        let wake = deadline.unwrap_or_else(|| now + Duration::from_secs(3600));
        tokio::select! {
            line = lines.next_line(), if ui.phase == Phase::Commands => match line {
                Ok(Some(line)) => {
                    if ui.command(line.trim()).await {
                        ui.phase = Phase::Finishing;
                    }
                }
                Ok(None) => ui.phase = Phase::Finishing,
                Err(e) => {
                    say!("error: reading commands: {e}");
                    ui.outcome.local_error = true;
                    ui.phase = Phase::Finishing;
                }
            },
            event = events.next() => match event {
                Some(event) => {
                    if !ui.event(event).await {
                        break;
                    }
                }
                None => break,
            },
            Some(done) = ui.tasks.join_next(), if !ui.tasks.is_empty() => ui.task_done(done),
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    ui.outcome
}

impl Ui {
    /// Runs one typed command; true when the user asked to quit.
    async fn command(&mut self, line: &str) -> bool {
        if line.is_empty() {
            return false;
        }
        let result = if let Some(rest) = line.strip_prefix('@') {
            self.msg(rest).await
        } else {
            let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
            match cmd {
                "/msg" => self.msg(rest).await,
                "/list" => self.sender.list().await.map_err(CommandError::from),
                "/send" => self.send(rest).await,
                "/quit" => return true,
                "/help" => {
                    say!("{HELP}");
                    Ok(())
                }
                _ => Err(CommandError::Local(format!(
                    "unknown command \"{cmd}\"; /help lists them"
                ))),
            }
        };
        match result {
            Ok(()) => {}
            Err(CommandError::Local(e)) => {
                say!("error: {e}");
                self.outcome.local_error = true;
            }
            Err(CommandError::Connection(e)) => {
                say!("error: {e}");
                self.outcome.connection_lost = true;
            }
        }
        false
    }

    async fn msg(&mut self, rest: &str) -> Result<(), CommandError> {
        let (to, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let to = parse_name(to, self.profile).map_err(CommandError::Local)?;
        Ok(self
            .sender
            .send_text(to, Bytes::copy_from_slice(text.as_bytes()))
            .await?)
    }

    async fn send(&mut self, rest: &str) -> Result<(), CommandError> {
        let local = CommandError::Local;
        let mut words: Vec<&str> = rest.split_whitespace().collect();
        let p2p = words.contains(&"--p2p");
        words.retain(|w| *w != "--p2p");
        let [to, path] = words[..] else {
            return Err(local("usage: /send NAME PATH [--p2p]".into()));
        };
        let to = parse_name(to, self.profile).map_err(local)?;
        let path = PathBuf::from(path);
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
        let shown = filename.clone();
        let sender = self.sender.clone();
        let tty = self.tty;
        if p2p {
            let listener = sender.offer_p2p(to, filename.as_bytes(), size).await?;
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            say!("offering {shown} ({size} bytes) to {to} on port {port} (P2P)");
            let wait = self.p2p_wait;
            self.tasks.spawn(async move {
                let result = serve_p2p(listener, size, file, wait, progress(tty, &shown, size))
                    .await
                    .map_err(|e| e.to_string());
                TaskDone::Sent {
                    to,
                    filename: shown,
                    result,
                }
            });
        } else {
            say!("sending {shown} ({size} bytes) to {to}");
            self.tasks.spawn(async move {
                let result = sender
                    .send_file_relay(
                        to,
                        filename.as_bytes(),
                        size,
                        file,
                        progress(tty, &shown, size),
                    )
                    .await
                    .map_err(|e| e.to_string());
                TaskDone::Sent {
                    to,
                    filename: shown,
                    result,
                }
            });
        }
        self.awaiting_ack.push_back(Sent {
            filename: Bytes::copy_from_slice(
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .as_bytes(),
            ),
            to,
        });
        Ok(())
    }

    /// Shows one event; false when the connection has ended.
    async fn event(&mut self, event: Event) -> bool {
        match event {
            Event::Message { from, text } => {
                say!("[{from}] {}", msrp_reference::color::printable(&text))
            }
            Event::List { text } => terminal::print(&msrp_reference::color::printable(&text)),
            Event::Error { text, .. } => {
                say!("error: {}", escape_bytes(&text));
                self.outcome.failed = true;
            }
            Event::Invalid { detail } => {
                say!("error: the server sent an invalid frame: {detail}");
                self.outcome.failed = true;
            }
            Event::Ack { filename } => {
                let shown = escape_bytes(&filename);
                match self
                    .awaiting_ack
                    .iter()
                    .position(|s| s.filename == filename)
                {
                    Some(i) => {
                        let sent = self.awaiting_ack.remove(i).expect("index from position");
                        say!("{} received {shown} (ACK)", sent.to);
                    }
                    None => say!("ACK for {shown}, which this session did not send"),
                }
            }
            Event::FileStart(header) => self.file_start(header).await,
            Event::FileData { data, remaining } => self.file_data(data, remaining).await,
            Event::FileOffer(offer) => self.file_offer(offer).await,
            Event::Closed { error } => {
                if let Some(r) = self.receiving.take() {
                    if let Some(f) = r.file {
                        f.abort().await;
                    }
                    let name = escape_bytes(&r.header.filename);
                    say!(
                        "error: connection closed during {name}; partial file removed, no ACK sent"
                    );
                }
                match (error, self.phase) {
                    // The expected end: we half-closed and the server has sent all it owed.
                    (None, Phase::Draining) => {}
                    (Some(e), _) => {
                        say!("disconnected: {e}");
                        self.outcome.connection_lost = true;
                    }
                    (None, _) => {
                        say!("disconnected by the server");
                        self.outcome.connection_lost = true;
                    }
                }
                return false;
            }
        }
        true
    }

    async fn file_start(&mut self, header: FileHeader) {
        let from = match self.profile {
            Profile::Strict => header.name.to_string(),
            Profile::Legacy => "the server".to_string(),
        };
        let shown = escape_bytes(&header.filename);
        match self.profile {
            Profile::Strict => say!("[{}] sends {shown} ({} bytes)", header.name, header.size),
            // LEG-8: the name field is the recipient's own; the dialect does not say who sent.
            Profile::Legacy => say!("incoming file {shown} ({} bytes)", header.size),
        }
        let file = match self.downloads.create(&header.filename, header.size).await {
            Ok(f) => Some(f),
            Err(e) => {
                say!("error: {e}; the file is discarded and not acknowledged");
                self.outcome.local_error = true;
                None
            }
        };
        let size = header.size;
        self.receiving = Some(Receiving {
            from,
            header,
            file,
            next_report: size / 4,
        });
        if size == 0 {
            self.file_data(Bytes::new(), 0).await;
        }
    }

    async fn file_data(&mut self, data: Bytes, remaining: u64) {
        let Some(r) = self.receiving.as_mut() else {
            return;
        };
        if let Some(file) = r.file.as_mut() {
            if let Err(e) = file.write(&data).await {
                say!("error: {e}; the rest is discarded and the file not acknowledged");
                self.outcome.local_error = true;
                if let Some(f) = r.file.take() {
                    f.abort().await;
                }
            }
        }
        let got = r.header.size - remaining;
        if self.tty && remaining > 0 && got >= r.next_report && r.header.size >= 1 << 20 {
            say!(
                "  {}: {}%",
                escape_bytes(&r.header.filename),
                got * 100 / r.header.size
            );
            r.next_report = got + r.header.size / 4;
        }
        if remaining > 0 {
            return;
        }
        let Some(r) = self.receiving.take() else {
            return;
        };
        let Some(file) = r.file else {
            return;
        };
        match file.finish().await {
            Ok(saved) => {
                say!(
                    "saved {} from {} to {}",
                    escape_bytes(&r.header.filename),
                    r.from,
                    saved.path.display()
                );
                self.acknowledge(r.header.filename).await;
            }
            Err(e) => {
                say!("error: {e}");
                self.outcome.local_error = true;
            }
        }
    }

    async fn file_offer(&mut self, offer: FileHeader) {
        let shown = escape_bytes(&offer.filename);
        let from = match self.profile {
            Profile::Strict => offer.name.to_string(),
            Profile::Legacy => format!("{}:{}", escape_bytes(&offer.ip), offer.port),
        };
        let who = match self.profile {
            Profile::Strict => format!("[{from}] offers"),
            // LEG-8: the name field is the recipient's own; the dialect does not say who sent.
            Profile::Legacy => "offered:".to_string(),
        };
        say!(
            "{who} {shown} ({} bytes) by P2P from {}:{}",
            offer.size,
            escape_bytes(&offer.ip),
            offer.port
        );
        if self.phase == Phase::Draining {
            // Our side is half-closed: the ACK could not be sent any more.
            say!("this session is closing; the offer of {shown} is not taken");
            return;
        }
        let download = match self.downloads.create(&offer.filename, offer.size).await {
            Ok(d) => d,
            Err(e) => {
                say!("error: {e}; the offer is declined");
                self.outcome.local_error = true;
                return;
            }
        };
        let wait = self.p2p_wait;
        let sender = self.sender.clone();
        let tty = self.tty;
        self.tasks.spawn(async move {
            let mut result = fetch_to_file(&offer, download, wait, tty).await;
            if let Ok((path, size)) = &result {
                say!(
                    "saved {shown} from {from} to {} ({size} bytes)",
                    path.display()
                );
                if let Err(e) = sender.ack(offer.filename.clone()).await {
                    result = Err(format!("cannot send its ACK: {e}"));
                }
            }
            TaskDone::Fetched { from, result }
        });
    }

    async fn acknowledge(&mut self, filename: Bytes) {
        if let Err(e) = self.sender.ack(filename).await {
            say!("error: cannot send ACK: {e}");
            self.outcome.failed = true;
        }
    }

    fn task_done(&mut self, done: Result<TaskDone, tokio::task::JoinError>) {
        match done {
            Ok(TaskDone::Sent {
                to,
                filename,
                result,
            }) => match result {
                Ok(()) => say!("sent {filename} to {to}; waiting for its ACK"),
                Err(e) => {
                    say!("error: sending {filename} to {to}: {e}");
                    self.outcome.failed = true;
                    if let Some(i) = self
                        .awaiting_ack
                        .iter()
                        .position(|s| s.filename == filename.as_bytes())
                    {
                        self.awaiting_ack.remove(i);
                    }
                }
            },
            Ok(TaskDone::Fetched { from, result }) => {
                if let Err(e) = result {
                    say!("error: P2P file from {from}: {e}");
                    self.outcome.failed = true;
                }
            }
            Err(e) => {
                say!("error: a transfer task failed: {e}");
                self.outcome.failed = true;
            }
        }
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
    let name = name.to_string();
    let mut next = size / 4;
    move |done| {
        if tty && size >= 1 << 20 && done >= next && done < size {
            say!("  {name}: {}%", done * 100 / size);
            next = done + size / 4;
        }
    }
}

/// A user-typed name, valid in `profile` (NAME-1; LEG-1 allows 1 to 4 bytes).
fn parse_name(s: &str, profile: Profile) -> Result<Name, String> {
    match profile {
        Profile::Strict => Name::parse(s),
        Profile::Legacy => Name::parse_legacy(s),
    }
    .map_err(|e| e.to_string())
}
