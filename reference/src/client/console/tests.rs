//! The console in memory: typed lines, events and deadlines in, text and decisions out.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::client::Event;
use crate::frame::{FileHeader, Name, Reason};

const ACK_WAIT: Duration = Duration::from_secs(10);
const CLOSE_WAIT: Duration = Duration::from_secs(5);

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn console(profile: Profile) -> Console {
    Console::new(profile, false, ACK_WAIT, CLOSE_WAIT)
}

fn output(c: &mut Console) -> String {
    c.take_output().concat()
}

fn header(size: u64, port: u32) -> FileHeader {
    FileHeader {
        name: name("abcd"),
        filename: Bytes::from_static(b"f.txt"),
        size,
        port,
        ip: if port == 0 {
            Bytes::new()
        } else {
            Bytes::from_static(b"10.0.0.1")
        },
    }
}

fn local(e: &str) -> Result<Option<Command>, CommandError> {
    Err(CommandError::Local(e.into()))
}

#[test]
fn typed_lines_become_commands() {
    let strict = Profile::Strict;
    assert_eq!(parse_command("   ", strict), Ok(None));
    let hello = Command::Msg {
        to: name("abcd"),
        text: Bytes::from_static(b"hello  there"),
    };
    assert_eq!(
        parse_command("@abcd hello  there", strict),
        Ok(Some(hello.clone()))
    );
    assert_eq!(
        parse_command("  /msg abcd hello  there ", strict),
        Ok(Some(hello))
    );
    let empty = Command::Msg {
        to: name("abcd"),
        text: Bytes::new(),
    };
    assert_eq!(parse_command("/msg abcd", strict), Ok(Some(empty)));
    assert_eq!(
        parse_command("/list extra", strict),
        Ok(Some(Command::List))
    );
    assert_eq!(parse_command("/quit", strict), Ok(Some(Command::Quit)));
    assert_eq!(parse_command("/help", strict), Ok(Some(Command::Help)));
    let send = |p2p| {
        Ok(Some(Command::Send {
            to: name("abcd"),
            path: PathBuf::from("dir/f.txt"),
            p2p,
        }))
    };
    assert_eq!(parse_command("/send abcd dir/f.txt", strict), send(false));
    assert_eq!(
        parse_command("/send --p2p abcd dir/f.txt", strict),
        send(true)
    );
    assert_eq!(
        parse_command("/send abcd dir/f.txt --p2p", strict),
        send(true)
    );
}

#[test]
fn bad_lines_are_local_errors_that_say_what_was_wrong() {
    let strict = Profile::Strict;
    assert_eq!(
        parse_command("/nope x", strict),
        local("unknown command \"/nope\"; /help lists them")
    );
    assert_eq!(
        parse_command("hello", strict),
        local("unknown command \"hello\"; /help lists them")
    );
    let usage = local("usage: /send NAME PATH [--p2p]");
    assert_eq!(parse_command("/send abcd", strict), usage);
    assert_eq!(parse_command("/send abcd a b", strict), usage);
    // A 2-byte name is fine in the legacy profile (LEG-1) but not in the strict one (NAME-1).
    assert!(matches!(
        parse_command("@ab hi", strict),
        Err(CommandError::Local(_))
    ));
    assert_eq!(
        parse_command("@ab hi", Profile::Legacy),
        Ok(Some(Command::Msg {
            to: Name::parse_legacy("ab").unwrap(),
            text: Bytes::from_static(b"hi"),
        }))
    );
}

#[test]
fn the_console_handles_quit_help_and_errors_itself() {
    let mut c = console(Profile::Strict);
    assert_eq!(c.command(""), None);
    assert_eq!(c.command("/help"), None);
    assert_eq!(output(&mut c), format!("{HELP}\n"));
    assert_eq!(c.command("/list"), Some(Command::List));
    assert_eq!(c.command("/bad"), None);
    assert_eq!(
        output(&mut c),
        "error: unknown command \"/bad\"; /help lists them\n"
    );
    assert_eq!(c.outcome().code(), 2);
    assert_eq!(c.phase(), Phase::Commands);
    assert_eq!(c.command("/quit"), None);
    assert_eq!(c.phase(), Phase::Finishing);
}

#[test]
fn exit_status_prefers_a_lost_connection_then_failures_then_local_errors() {
    let mut c = console(Profile::Strict);
    assert_eq!(c.outcome().code(), 0);
    c.command_failed(CommandError::Local("no such file".into()));
    assert_eq!(c.outcome().code(), 2);
    c.event(Event::Error {
        reason: Some(Reason::UnknownRecipient),
        text: Bytes::from_static(b"unknown-recipient: zzzz"),
    });
    assert_eq!(c.outcome().code(), 1);
    c.command_failed(CommandError::Connection("broken pipe".into()));
    assert_eq!(c.outcome().code(), 3);
    assert_eq!(
        output(&mut c),
        "error: no such file\nerror: unknown-recipient: zzzz\nerror: broken pipe\n"
    );
}

#[test]
fn messages_lists_and_invalid_frames_are_shown() {
    let mut c = console(Profile::Strict);
    c.event(Event::Message {
        from: name("wxyz"),
        text: Bytes::from_static(b"hi there"),
    });
    c.event(Event::List {
        text: Bytes::from_static(b"Lista de clientes:\nCliente 1: abcd\n"),
    });
    assert_eq!(
        output(&mut c),
        "[wxyz] hi there\nLista de clientes:\nCliente 1: abcd\n"
    );
    assert_eq!(c.outcome().code(), 0);
    let todo = c.event(Event::Invalid {
        detail: "too short".into(),
    });
    assert_eq!(todo, Todo::Nothing);
    assert_eq!(
        output(&mut c),
        "error: the server sent an invalid frame: too short\n"
    );
    assert_eq!(c.outcome().code(), 1);
}

#[test]
fn acks_are_matched_to_the_files_sent() {
    let mut c = console(Profile::Strict);
    c.sending(name("abcd"), "a.txt", 3, None);
    c.sending(name("wxyz"), "b.txt", 4, Some(4000));
    assert_eq!(
        output(&mut c),
        "sending a.txt (3 bytes) to abcd\noffering b.txt (4 bytes) to wxyz on port 4000 (P2P)\n"
    );
    c.event(Event::Ack {
        filename: Bytes::from_static(b"b.txt"),
    });
    c.event(Event::Ack {
        filename: Bytes::from_static(b"b.txt"),
    });
    assert_eq!(
        output(&mut c),
        "wxyz received b.txt (ACK)\nACK for b.txt, which this session did not send\n"
    );
    // a.txt is still awaited: finishing waits for it.
    c.input_ended();
    let now = Instant::now();
    assert_eq!(c.tick(now, false), Next::Wait(now + ACK_WAIT));
}

#[test]
fn finishing_waits_for_transfers_then_acks_then_half_closes_and_drains() {
    let mut c = console(Profile::Strict);
    let t0 = Instant::now();
    assert_eq!(c.tick(t0, false), Next::Wait(t0 + IDLE));
    c.sending(name("abcd"), "a.txt", 3, None);
    c.input_ended();
    assert_eq!(c.tick(t0, true), Next::Wait(t0 + IDLE), "a transfer runs");
    c.task_done(TaskDone::Sent {
        to: name("abcd"),
        filename: "a.txt".into(),
        result: Ok(()),
    });
    assert_eq!(c.tick(t0, false), Next::Wait(t0 + ACK_WAIT));
    let later = t0 + ACK_WAIT;
    assert_eq!(c.tick(later, false), Next::HalfClose);
    assert_eq!(
        output(&mut c),
        "sending a.txt (3 bytes) to abcd\nsent a.txt to abcd; waiting for its ACK\n\
         error: gave up waiting for 1 ACK(s) after 10 s: a.txt to abcd\n"
    );
    assert_eq!(c.outcome().code(), 1);
    c.half_closed(later);
    assert_eq!(c.phase(), Phase::Draining);
    assert_eq!(c.tick(later, false), Next::Wait(later + CLOSE_WAIT));
    assert_eq!(c.tick(later + CLOSE_WAIT, false), Next::Leave);
    assert_eq!(
        c.leave_message(),
        "msrp-client: the server had not closed the connection 5 s after this client \
         finished; leaving anyway"
    );
    // The server's close after our half-close is the expected end: nothing to say.
    assert_eq!(c.event(Event::Closed { error: None }), Todo::Stop);
    assert_eq!(output(&mut c), "");
    assert_eq!(c.outcome().code(), 1);
}

#[test]
fn a_failed_send_awaits_no_ack() {
    let mut c = console(Profile::Strict);
    c.sending(name("abcd"), "a.txt", 3, None);
    c.input_ended();
    c.task_done(TaskDone::Sent {
        to: name("abcd"),
        filename: "a.txt".into(),
        result: Err("the file ended after 1 of 3 bytes".into()),
    });
    c.task_done(TaskDone::Failed("panicked".into()));
    assert_eq!(c.tick(Instant::now(), false), Next::HalfClose);
    let text = output(&mut c);
    assert!(text.ends_with(
        "error: sending a.txt to abcd: the file ended after 1 of 3 bytes\n\
         error: a transfer task failed: panicked\n"
    ));
    assert_eq!(c.outcome().code(), 1);
}

#[test]
fn a_relayed_file_is_saved_then_acknowledged() {
    let mut c = console(Profile::Strict);
    assert_eq!(
        c.event(Event::FileStart(header(10, 0))),
        Todo::Save(header(10, 0))
    );
    let data = Bytes::from_static(b"0123");
    let todo = c.event(Event::FileData {
        data: data.clone(),
        remaining: 6,
    });
    assert_eq!(todo, Todo::Write { data, remaining: 6 });
    assert_eq!(c.received(6), None);
    let done = c.received(0).expect("the file is complete");
    assert_eq!(
        done,
        Finished {
            from: "abcd".into(),
            filename: Bytes::from_static(b"f.txt"),
        }
    );
    c.saved(&done, Path::new("dl/f.txt"));
    assert_eq!(
        output(&mut c),
        "[abcd] sends f.txt (10 bytes)\nsaved f.txt from abcd to dl/f.txt\n"
    );
    // Nothing is being received any more: stray body bytes go nowhere.
    let stray = Event::FileData {
        data: Bytes::from_static(b"x"),
        remaining: 0,
    };
    assert_eq!(c.event(stray), Todo::Nothing);
    assert_eq!(c.received(0), None);
}

#[test]
fn a_legacy_relayed_file_does_not_say_who_sent_it() {
    let mut c = console(Profile::Legacy);
    c.event(Event::FileStart(header(0, 0)));
    let done = c.received(0).expect("an empty file is complete at once");
    assert_eq!(done.from, "the server");
    assert_eq!(output(&mut c), "incoming file f.txt (0 bytes)\n");
}

#[test]
fn a_connection_lost_mid_file_says_the_partial_file_is_gone() {
    let mut c = console(Profile::Strict);
    c.event(Event::FileStart(header(10, 0)));
    c.not_saved("disk full");
    let todo = c.event(Event::Closed {
        error: Some("reset by peer".into()),
    });
    assert_eq!(todo, Todo::Stop);
    assert_eq!(
        output(&mut c),
        "[abcd] sends f.txt (10 bytes)\n\
         error: disk full; the file is discarded and not acknowledged\n\
         error: connection closed during f.txt; partial file removed, no ACK sent\n\
         disconnected: reset by peer\n"
    );
    assert_eq!(c.outcome().code(), 3);
    let mut early = console(Profile::Strict);
    early.event(Event::Closed { error: None });
    assert_eq!(output(&mut early), "disconnected by the server\n");
    assert_eq!(early.outcome().code(), 3);
}

#[test]
fn p2p_offers_are_taken_unless_the_session_is_closing() {
    let mut c = console(Profile::Strict);
    let todo = c.event(Event::FileOffer(header(5, 4000)));
    assert_eq!(
        todo,
        Todo::Fetch {
            offer: header(5, 4000),
            from: "abcd".into(),
        }
    );
    assert_eq!(
        output(&mut c),
        "[abcd] offers f.txt (5 bytes) by P2P from 10.0.0.1:4000\n"
    );
    let line = Console::fetched_line(&header(5, 4000), "abcd", Path::new("dl/f.txt"), 5);
    assert_eq!(line, "saved f.txt from abcd to dl/f.txt (5 bytes)\n");

    let mut legacy = console(Profile::Legacy);
    let todo = legacy.event(Event::FileOffer(header(5, 4000)));
    assert!(matches!(todo, Todo::Fetch { from, .. } if from == "10.0.0.1:4000"));
    assert_eq!(
        output(&mut legacy),
        "offered: f.txt (5 bytes) by P2P from 10.0.0.1:4000\n"
    );
    legacy.input_ended();
    assert_eq!(legacy.tick(Instant::now(), false), Next::HalfClose);
    legacy.half_closed(Instant::now());
    assert_eq!(
        legacy.event(Event::FileOffer(header(5, 4000))),
        Todo::Nothing
    );
    assert!(
        output(&mut legacy).ends_with("this session is closing; the offer of f.txt is not taken\n")
    );
}

#[test]
fn progress_is_shown_in_quarters_on_a_terminal_for_large_files_only() {
    let mib4 = 4 << 20;
    let mut p = Progress::new(true, "big", mib4);
    assert_eq!(p.step(1), None);
    assert_eq!(p.step(mib4 / 4), Some("  big: 25%\n".into()));
    assert_eq!(p.step(mib4 / 4 + 1), None);
    assert_eq!(p.step(mib4 * 3 / 4), Some("  big: 75%\n".into()));
    assert_eq!(p.step(mib4), None, "the end is reported by the caller");
    assert_eq!(Progress::new(false, "big", mib4).step(mib4 / 2), None);
    assert_eq!(Progress::new(true, "small", 1000).step(500), None);

    let mut c = Console::new(Profile::Strict, true, ACK_WAIT, CLOSE_WAIT);
    c.event(Event::FileStart(header(mib4, 0)));
    c.take_output();
    assert_eq!(c.received(mib4 / 2), None);
    assert_eq!(output(&mut c), "  f.txt: 50%\n");
}
