//! `msrp-client`: an interactive (or scripted) MSRP client.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use msrp_reference::client::{
    fetch_p2p, serve_p2p, Client, ClientSender, Download, DownloadDir, Event,
};
use msrp_reference::frame::escape_bytes;
use msrp_reference::{FileHeader, Name};
use tokio::io::AsyncBufReadExt;
use tokio::task::JoinSet;

/// MSRP reference client. Type /help once connected. Reads commands line by line from stdin,
/// so it can be scripted: `printf '/list\n/quit\n' | msrp-client --name abcd`.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    server: String,
    /// Your 4-byte name (printable ASCII, no spaces).
    #[arg(long)]
    name: Name,
    /// Where received files are saved (created if missing).
    #[arg(long, default_value = "downloads")]
    download_dir: PathBuf,
    /// Seconds to wait for outstanding ACKs when quitting.
    #[arg(long, default_value_t = 10)]
    ack_wait: u64,
    /// Seconds a P2P offer waits for the recipient, and a P2P fetch waits for data.
    #[arg(long, default_value_t = 60)]
    p2p_wait: u64,
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
        from: Name,
        result: Result<(PathBuf, u64), String>,
    },
}

struct Ui {
    sender: ClientSender,
    downloads: DownloadDir,
    tty: bool,
    p2p_wait: Duration,
    awaiting_ack: VecDeque<Sent>,
    tasks: JoinSet<TaskDone>,
    receiving: Option<Receiving>,
}

/// The relayed file currently arriving.
struct Receiving {
    from: Name,
    header: FileHeader,
    /// `None` when it could not be created: the body is read and dropped, and not ACKed.
    file: Option<Download>,
    next_report: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::connect(&args.server, args.name, Duration::from_secs(10)).await?;
    let downloads = DownloadDir::open(&args.download_dir)?;
    let (sender, mut events) = client.split();
    println!(
        "connected to {} as {}; files go to {}; /help for commands",
        args.server,
        args.name,
        downloads.path().display()
    );
    let mut ui = Ui {
        sender,
        downloads,
        tty: std::io::stdout().is_terminal(),
        p2p_wait: Duration::from_secs(args.p2p_wait),
        awaiting_ack: VecDeque::new(),
        tasks: JoinSet::new(),
        receiving: None,
    };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut quitting = false;
    let mut quit_deadline = None;
    loop {
        if quitting && ui.tasks.is_empty() {
            if ui.awaiting_ack.is_empty() {
                break;
            }
            let deadline = *quit_deadline.get_or_insert_with(|| {
                tokio::time::Instant::now() + Duration::from_secs(args.ack_wait)
            });
            if tokio::time::Instant::now() >= deadline {
                println!("gave up waiting for {} ACK(s)", ui.awaiting_ack.len());
                break;
            }
        }
        let deadline = quit_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            line = lines.next_line(), if !quitting => match line {
                Ok(Some(line)) => quitting = ui.command(line.trim()).await,
                Ok(None) => quitting = true,
                Err(e) => {
                    eprintln!("error: reading commands: {e}");
                    quitting = true;
                }
            },
            Some(event) = events.next() => {
                if !ui.event(event).await {
                    break;
                }
            }
            Some(done) = ui.tasks.join_next() => ui.task_done(done),
            _ = tokio::time::sleep_until(deadline), if quit_deadline.is_some() => {}
        }
    }
    let _ = ui.sender.close().await;
    Ok(())
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
                "/list" => self.sender.list().await.map_err(|e| e.to_string()),
                "/send" => self.send(rest).await,
                "/quit" => return true,
                "/help" => {
                    println!("{HELP}");
                    Ok(())
                }
                _ => Err(format!("unknown command \"{cmd}\"; /help lists them")),
            }
        };
        if let Err(e) = result {
            println!("error: {e}");
        }
        false
    }

    async fn msg(&mut self, rest: &str) -> Result<(), String> {
        let (to, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let to: Name = to.parse().map_err(|e| format!("{e}"))?;
        self.sender
            .send_text(to, Bytes::copy_from_slice(text.as_bytes()))
            .await
            .map_err(|e| e.to_string())
    }

    async fn send(&mut self, rest: &str) -> Result<(), String> {
        let mut words: Vec<&str> = rest.split_whitespace().collect();
        let p2p = words.contains(&"--p2p");
        words.retain(|w| *w != "--p2p");
        let [to, path] = words[..] else {
            return Err("usage: /send NAME PATH [--p2p]".into());
        };
        let to: Name = to.parse().map_err(|e| format!("{e}"))?;
        let path = PathBuf::from(path);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        let filename = path
            .file_name()
            .ok_or_else(|| format!("{} has no file name", path.display()))?
            .to_string_lossy()
            .into_owned();
        let shown = filename.clone();
        let sender = self.sender.clone();
        let tty = self.tty;
        if p2p {
            let listener = sender
                .offer_p2p(to, filename.as_bytes(), size)
                .await
                .map_err(|e| e.to_string())?;
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            println!("offering {shown} ({size} bytes) to {to} on port {port} (P2P)");
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
            println!("sending {shown} ({size} bytes) to {to}");
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
                println!("[{from}] {}", String::from_utf8_lossy(&text))
            }
            Event::List { text } => print!("{}", String::from_utf8_lossy(&text)),
            Event::Error { text, .. } => println!("error: {}", escape_bytes(&text)),
            Event::Ack { filename } => {
                let shown = escape_bytes(&filename);
                match self
                    .awaiting_ack
                    .iter()
                    .position(|s| s.filename == filename)
                {
                    Some(i) => {
                        let sent = self.awaiting_ack.remove(i).expect("index from position");
                        println!("{} received {shown} (ACK)", sent.to);
                    }
                    None => println!("ACK for {shown}, which this session did not send"),
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
                    println!(
                        "error: connection closed during {name}; partial file removed, no ACK sent"
                    );
                }
                match error {
                    Some(e) => println!("disconnected: {e}"),
                    None => println!("disconnected by the server"),
                }
                return false;
            }
        }
        true
    }

    async fn file_start(&mut self, header: FileHeader) {
        let from = header.name;
        let shown = escape_bytes(&header.filename);
        println!("[{from}] sends {shown} ({} bytes)", header.size);
        let file = match self.downloads.create(&header.filename, header.size).await {
            Ok(f) => Some(f),
            Err(e) => {
                println!("error: {e}; the file is discarded and not acknowledged");
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
                println!("error: {e}; the rest is discarded and the file not acknowledged");
                if let Some(f) = r.file.take() {
                    f.abort().await;
                }
            }
        }
        let got = r.header.size - remaining;
        if self.tty && remaining > 0 && got >= r.next_report && r.header.size >= 1 << 20 {
            println!(
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
                println!(
                    "saved {} from {} to {}",
                    escape_bytes(&r.header.filename),
                    r.from,
                    saved.path.display()
                );
                self.acknowledge(r.header.filename).await;
            }
            Err(e) => println!("error: {e}"),
        }
    }

    async fn file_offer(&mut self, offer: FileHeader) {
        let from = offer.name;
        let shown = escape_bytes(&offer.filename);
        println!(
            "[{from}] offers {shown} ({} bytes) by P2P from {}:{}",
            offer.size,
            escape_bytes(&offer.ip),
            offer.port
        );
        let download = match self.downloads.create(&offer.filename, offer.size).await {
            Ok(d) => d,
            Err(e) => {
                println!("error: {e}; the offer is declined");
                return;
            }
        };
        let wait = self.p2p_wait;
        let sender = self.sender.clone();
        let tty = self.tty;
        self.tasks.spawn(async move {
            let result = fetch_to_file(&offer, download, wait, tty).await;
            if let Ok((path, size)) = &result {
                println!(
                    "saved {shown} from {from} to {} ({size} bytes)",
                    path.display()
                );
                if let Err(e) = sender.ack(offer.filename.clone()).await {
                    println!("error: cannot send ACK: {e}");
                }
            }
            TaskDone::Fetched { from, result }
        });
    }

    async fn acknowledge(&mut self, filename: Bytes) {
        if let Err(e) = self.sender.ack(filename).await {
            println!("error: cannot send ACK: {e}");
        }
    }

    fn task_done(&mut self, done: Result<TaskDone, tokio::task::JoinError>) {
        match done {
            Ok(TaskDone::Sent {
                to,
                filename,
                result,
            }) => match result {
                Ok(()) => println!("sent {filename} to {to}; waiting for its ACK"),
                Err(e) => {
                    println!("error: sending {filename} to {to}: {e}");
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
                    println!("error: P2P file from {from}: {e}; partial file removed, no ACK sent");
                }
            }
            Err(e) => println!("error: a transfer task failed: {e}"),
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
            .map_err(|e| e.to_string()),
        Err(e) => {
            download.abort().await;
            Err(e.to_string())
        }
    }
}

/// A progress callback printing quarter steps on a terminal for files of 1 MiB or more.
fn progress(tty: bool, name: &str, size: u64) -> impl FnMut(u64) {
    let name = name.to_string();
    let mut next = size / 4;
    move |done| {
        if tty && size >= 1 << 20 && done >= next && done < size {
            println!("  {name}: {}%", done * 100 / size);
            next = done + size / 4;
        }
    }
}
