//! The interactive client's terminal: line editing and history (rustyline) when stdin and
//! stdout are both a terminal that takes control sequences, plain lines otherwise, and one
//! way to print ([`print()`]) that puts incoming text above the line being typed rather than
//! through it.
//!
//! Scripted use is unchanged: with stdin a pipe or a file (or `TERM=dumb`), commands are
//! read line by line with no prompt and no control sequence is written (the colour policy
//! of [`crate::color`]: none into files, pipes or terminals that cannot take them).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Mutex, OnceLock};

use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor, ExternalPrinter};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::color::{capable_terminal, Stream};

/// Where [`print`] sends text while the line editor runs.
static PRINTER: OnceLock<Mutex<Box<dyn ExternalPrinter + Send>>> = OnceLock::new();
/// The terminal settings before the line editor first ran, for [`restore`].
static SAVED_TERMIOS: OnceLock<libc::termios> = OnceLock::new();
/// True while the editor waits for a line (the terminal is then in raw mode).
static READING: AtomicBool = AtomicBool::new(false);

/// Prints `text` (one or more lines, each ending in a line feed) on stdout: above the line
/// being edited when the line editor runs, plainly otherwise. Never fails or panics: a
/// stdout that cannot be written to (a closed pipe) loses the text.
pub fn print(text: &str) {
    if let Some(printer) = PRINTER.get() {
        if let Ok(mut printer) = printer.lock() {
            if printer.print(text.to_string()).is_ok() {
                return;
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Puts the terminal back as it was if the process is about to exit while the line editor
/// waits for a line (the server ended the session while the user was typing), and moves to
/// a fresh line. Call it before `std::process::exit`; it does nothing otherwise.
pub fn restore() {
    if !READING.load(Ordering::SeqCst) {
        return;
    }
    // The editor thread shows what was printed last (through a pipe it watches) and redraws
    // the prompt; give it that moment, then hold the printer so nothing follows our new line.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let _held = PRINTER.get().map(|p| p.lock());
    if let Some(saved) = SAVED_TERMIOS.get() {
        // SAFETY: tcsetattr reads a termios this process got from tcgetattr on the same fd.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
        }
    }
    // Bracketed paste off (rustyline turns it on while editing), then a new line.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"\x1b[?2004l\r\n");
    let _ = out.flush();
}

/// The history file: `$XDG_STATE_HOME/msrp/history`, else `~/.local/state/msrp/history`;
/// `None` when neither variable gives an absolute path.
pub fn default_history_file() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| {
        let p = PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    std::env::var_os("XDG_STATE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".local/state"))
        })
        .map(|state| state.join("msrp").join("history"))
}

/// Where the commands come from.
pub enum Input {
    /// Line by line from a stdin that is not an interactive terminal (scripted use).
    Plain(tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>),
    /// From the line editor, which runs on its own thread and reads the next line only when
    /// asked, so nothing is prompted for once the session stops taking commands.
    Edited {
        /// Lines from the editor thread: `Ok(None)` at end of input (Ctrl-D), `Err` when the
        /// terminal fails.
        lines: mpsc::Receiver<std::io::Result<Option<String>>>,
        /// Asks the editor thread to read the next line.
        more: std_mpsc::Sender<()>,
        /// A line was handed over and the editor waits to be asked for the next.
        owed: bool,
    },
}

impl Input {
    /// The line editor with `prompt` when stdin and stdout are a capable terminal (history
    /// loaded from, and each line appended to, `history` if given: failures there are
    /// ignored), plain lines otherwise or if the editor cannot start.
    pub fn open(prompt: String, history: Option<PathBuf>) -> Input {
        if std::io::stdin().is_terminal() && capable_terminal(Stream::Stdout) {
            if let Some(input) = edited(prompt, history) {
                return input;
            }
        }
        Input::Plain(tokio::io::BufReader::new(tokio::io::stdin()).lines())
    }

    /// True when the line editor runs.
    pub fn is_edited(&self) -> bool {
        matches!(self, Input::Edited { .. })
    }

    /// The next command line; `None` at the end of input (Ctrl-D, or Ctrl-C in the editor).
    /// Cancel-safe, for `tokio::select!`.
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        match self {
            Input::Plain(lines) => lines.next_line().await,
            Input::Edited { lines, more, owed } => {
                if std::mem::take(owed) && more.send(()).is_err() {
                    return Ok(None);
                }
                let line = lines.recv().await.unwrap_or(Ok(None));
                if matches!(line, Ok(Some(_))) {
                    *owed = true;
                }
                line
            }
        }
    }
}

/// Starts the editor thread; `None` if rustyline cannot take the terminal.
fn edited(prompt: String, history: Option<PathBuf>) -> Option<Input> {
    let config = Config::builder()
        .auto_add_history(true)
        .history_ignore_space(true)
        .history_ignore_dups(true)
        .ok()?
        .max_history_size(1000)
        .ok()?
        .build();
    let mut editor = DefaultEditor::with_config(config).ok()?;
    let printer = editor.create_external_printer().ok()?;
    // SAFETY: a zeroed termios is a valid value to be overwritten by tcgetattr.
    let mut termios: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes into the termios it is given.
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut termios) } == 0 {
        let _ = SAVED_TERMIOS.set(termios);
    }
    if PRINTER.set(Mutex::new(Box::new(printer))).is_err() {
        return None;
    }
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let (line_tx, lines) = mpsc::channel(1);
    let (more, more_rx) = std_mpsc::channel();
    std::thread::Builder::new()
        .name("line-editor".into())
        .spawn(move || edit_lines(editor, &prompt, history.as_deref(), line_tx, more_rx))
        .ok()?;
    Some(Input::Edited {
        lines,
        more,
        owed: false,
    })
}

/// The editor thread: a line, then wait to be asked for the next.
fn edit_lines(
    mut editor: DefaultEditor,
    prompt: &str,
    history: Option<&Path>,
    lines: mpsc::Sender<std::io::Result<Option<String>>>,
    more: std_mpsc::Receiver<()>,
) {
    loop {
        READING.store(true, Ordering::SeqCst);
        let read = editor.readline(prompt);
        READING.store(false, Ordering::SeqCst);
        let line = match read {
            Ok(line) => {
                if let Some(path) = history {
                    save_history(&mut editor, path);
                }
                Ok(Some(line))
            }
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => Ok(None),
            Err(e) => Err(std::io::Error::other(e)),
        };
        let last = !matches!(line, Ok(Some(_)));
        if lines.blocking_send(line).is_err() || last || more.recv().is_err() {
            return;
        }
    }
}

/// Appends the newest history line to `path`, creating its folder; errors are ignored
/// (history is a convenience, never a reason to fail).
fn save_history(editor: &mut DefaultEditor, path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = editor.append_history(path);
}
