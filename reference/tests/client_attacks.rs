//! msrp-client against a hostile server: it never writes outside its download directory,
//! never overwrites, never acknowledges an incomplete file, and says what happened.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use bytes::BytesMut;
use msrp_reference::decode::{Decoded, Decoder, Limits};
use msrp_reference::frame::{FileHeader, Frame, Name};
use support::process::{tempdir, Proc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpListener;

/// A server that plays `script` to the first client while recording, from its first byte and
/// at the same time, everything the client sends (so an ACK sent while the script still runs
/// is seen).
struct Hostile {
    addr: String,
    received: Arc<Mutex<Vec<u8>>>,
    _rt: tokio::runtime::Runtime,
}

impl Hostile {
    fn start<F, Fut>(script: F) -> Hostile
    where
        F: FnOnce(OwnedWriteHalf) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = OwnedWriteHalf> + Send,
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = received.clone();
        let login = received.clone();
        rt.spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (mut rd, wr) = s.into_split();
            let recorder = async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = rd.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    rec.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            };
            // The write half lives until the client has closed: the script's close (if any)
            // is a half-close.
            let (_, _wr) = tokio::join!(recorder, async move {
                // The client's login comes first; the script starts once it is there.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                while login.lock().unwrap().len() < 4 && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                script(wr).await
            });
        });
        Hostile {
            addr,
            received,
            _rt: rt,
        }
    }

    /// The frames the client sent after its login, decoded by the codec (an `00 04` inside a
    /// message text is not an ACK).
    fn frames(&self) -> Vec<Frame> {
        let mut buf = BytesMut::from(&self.received.lock().unwrap()[..]);
        let mut decoder = Decoder::client_to_server(Limits::default());
        let mut frames = Vec::new();
        while let Ok(Some(item)) = decoder.decode(&mut buf) {
            if let Decoded::Frame(f) = item {
                frames.push(f);
            }
        }
        frames
    }

    /// Whether the client sent an ACK frame.
    fn got_ack(&self) -> bool {
        self.frames().iter().any(|f| matches!(f, Frame::Ack { .. }))
    }

    /// No ACK arrives: checked after `grace`, long enough for an ACK the client sent together
    /// with the line the test waited for to have reached the recorder.
    fn assert_no_ack(&self, grace: Duration) {
        std::thread::sleep(grace);
        assert!(!self.got_ack(), "unexpected ACK: {:?}", self.frames());
    }
}

fn client(addr: &str, dir: &Path) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_msrp-client"));
    cmd.args([
        "--server",
        addr,
        "--name",
        "vict",
        "--p2p-wait",
        "2",
        "--download-dir",
    ])
    .arg(dir);
    let mut p = Proc::spawn(&mut cmd, false);
    p.wait_for("connected to");
    p
}

fn file(name: &[u8], size: u64, port: u32) -> Vec<u8> {
    Frame::File(FileHeader {
        name: Name::from_array(*b"evil"),
        filename: Bytes::copy_from_slice(name),
        size,
        port,
        ip: Bytes::from_static(if port == 0 { b"" } else { b"127.0.0.1" }),
    })
    .to_bytes()
    .to_vec()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn path_traversal_and_absolute_names_never_leave_the_download_dir() {
    for evil in [
        &b"../../escaped.txt"[..],
        b"/tmp/msrp-escaped.txt",
        b"..\\escaped.txt",
        b"..",
    ] {
        let root = tempdir("traversal");
        let dl = root.join("dl");
        let frame = [file(evil, 3, 0), b"abc".to_vec()].concat();
        let h = Hostile::start(move |mut s| async move {
            s.write_all(&frame).await.unwrap();
            s
        });
        let mut c = client(&h.addr, &dl);
        let line = c.wait_for("disconnected");
        assert!(
            line.contains("invalid frame") && line.contains("FILE-6"),
            "{line}"
        );
        assert!(files_in(&dl).is_empty(), "{:?}", files_in(&dl));
        assert_eq!(files_in(&root), vec!["dl".to_string()]);
        assert!(!Path::new("/tmp/msrp-escaped.txt").exists());
        assert!(!std::env::temp_dir().join("escaped.txt").exists());
        h.assert_no_ack(Duration::from_millis(300));
    }
}

#[test]
fn control_characters_and_device_names_are_sanitized_and_nothing_is_overwritten() {
    let root = tempdir("sanitize");
    let dl = root.join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    std::fs::write(dl.join("report.txt"), b"mine").unwrap();
    let mut frames = Vec::new();
    for name in [
        &b"a\x1b[31mred\x07.txt"[..],
        b"CON",
        b"aux.txt",
        b"report.txt",
        b".bashrc",
    ] {
        frames.extend(file(name, 3, 0));
        frames.extend_from_slice(b"xyz");
    }
    let h = Hostile::start(move |mut s| async move {
        s.write_all(&frames).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        s
    });
    let mut c = client(&h.addr, &dl);
    for _ in 0..5 {
        c.wait_for("saved ");
    }
    assert_eq!(
        files_in(&dl),
        vec![
            "_CON",
            "_aux.txt",
            "_bashrc",
            "a_[31mred_.txt",
            "report (1).txt",
            "report.txt"
        ]
    );
    assert_eq!(
        std::fs::read(dl.join("report.txt")).unwrap(),
        b"mine",
        "never overwritten"
    );
    assert_eq!(std::fs::read(dl.join("report (1).txt")).unwrap(), b"xyz");
    // Every complete file is acknowledged, under the name the server sent (ACK-1), not the
    // sanitized one it was saved under.
    let acks = || -> Vec<Vec<u8>> {
        h.frames()
            .into_iter()
            .filter_map(|f| match f {
                Frame::Ack { filename } => Some(filename.to_vec()),
                _ => None,
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while acks().len() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        acks(),
        vec![
            b"a\x1b[31mred\x07.txt".to_vec(),
            b"CON".to_vec(),
            b"aux.txt".to_vec(),
            b"report.txt".to_vec(),
            b".bashrc".to_vec()
        ],
        "complete files are acknowledged, each once"
    );
}

#[test]
fn a_body_shorter_than_declared_is_removed_and_not_acknowledged() {
    let root = tempdir("short");
    let dl = root.join("dl");
    let frame = [file(b"short.bin", 1000, 0), vec![7u8; 400]].concat();
    let h = Hostile::start(move |mut s| async move {
        s.write_all(&frame).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = s.shutdown().await;
        s
    });
    let mut c = client(&h.addr, &dl);
    let line = c.wait_for("partial file removed");
    assert!(
        line.contains("short.bin") && line.contains("no ACK"),
        "{line}"
    );
    assert!(files_in(&dl).is_empty(), "{:?}", files_in(&dl));
    h.assert_no_ack(Duration::from_millis(300));
}

#[test]
fn a_file_larger_than_the_disk_is_refused_up_front() {
    let root = tempdir("huge");
    let dl = root.join("dl");
    let frame = [file(b"huge.bin", u64::MAX / 2, 0), vec![1u8; 10_000]].concat();
    let h = Hostile::start(move |mut s| async move {
        s.write_all(&frame).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        s
    });
    let mut c = client(&h.addr, &dl);
    let line = c.wait_for("does not fit");
    assert!(
        line.contains("huge.bin") && line.contains("not acknowledged"),
        "{line}"
    );
    assert!(files_in(&dl).is_empty(), "{:?}", files_in(&dl));
    h.assert_no_ack(Duration::from_millis(300));
}

#[test]
fn a_p2p_offer_to_a_closed_port_is_reported_and_leaves_nothing() {
    let root = tempdir("p2p-closed");
    let dl = root.join("dl");
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let frame = file(b"p2p.bin", 100, u32::from(port));
    let h = Hostile::start(move |mut s| async move {
        s.write_all(&frame).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        s
    });
    let mut c = client(&h.addr, &dl);
    let line = c.wait_for("error: P2P file from evil");
    assert!(
        line.contains("cannot connect") && line.contains("no ACK"),
        "{line}"
    );
    assert!(files_in(&dl).is_empty(), "{:?}", files_in(&dl));
    h.assert_no_ack(Duration::from_millis(300));
}

#[test]
fn a_flood_of_frames_is_shown_and_the_client_stays_usable() {
    let root = tempdir("flood");
    let dl = root.join("dl");
    let mut wire = Vec::new();
    for i in 0..50_000 {
        wire.extend_from_slice(
            &Frame::Msg {
                name: Name::from_array(*b"evil"),
                text: Bytes::from(format!("spam {i}")),
            }
            .to_bytes(),
        );
    }
    let h = Hostile::start(move |mut s| async move {
        s.write_all(&wire).await.unwrap();
        s
    });
    let mut c = client(&h.addr, &dl);
    c.wait_for("[evil] spam 49999");
    c.type_line("/list");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !h.frames().contains(&Frame::ListRequest) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        h.frames().contains(&Frame::ListRequest),
        "the client still sends commands"
    );
}
