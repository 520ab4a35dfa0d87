//! The binaries as a person uses them: msrp-server and two scripted msrp-client sessions.

mod support;

use std::process::Command;

use support::process::{tempdir, Proc};

#[test]
fn two_scripted_clients_chat_list_and_transfer_a_file_with_ack() {
    let mut server = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-server")).args(["--listen", "127.0.0.1:0"]),
        true,
    );
    let line = server.wait_for("listening on");
    let addr = line.rsplit(' ').next().unwrap().to_string();

    let dir = tempdir("session");
    let src = dir.join("documento.txt");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let client = |name: &str, dl: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_msrp-client"));
        cmd.args(["--server", &addr, "--name", name, "--download-dir"])
            .arg(dir.join(dl));
        Proc::spawn(&mut cmd, false)
    };

    let mut b = client("clt2", "dl-b");
    b.wait_for("connected to");
    let mut a = client("clt1", "dl-a");
    a.wait_for("connected to");

    a.type_line("/msg clt2 Hola, ¿cómo estás?");
    b.wait_for("[clt1] Hola, ¿cómo estás?");
    b.type_line("@clt1 Hola, bien, ¿y tú?");
    a.wait_for("[clt2] Hola, bien, ¿y tú?");

    a.type_line("/list");
    a.wait_for("Lista de clientes:");
    assert_eq!(a.wait_for("Cliente 1:"), "Cliente 1: clt2");
    assert_eq!(a.wait_for("Cliente 2:"), "Cliente 2: clt1");

    a.type_line(&format!("/send clt2 {}", src.display()));
    let saved = b.wait_for("saved documento.txt from clt1");
    assert!(saved.ends_with("dl-b/documento.txt"), "{saved}");
    a.wait_for("clt2 received documento.txt (ACK)");
    assert_eq!(std::fs::read(dir.join("dl-b/documento.txt")).unwrap(), data);

    // The same name again is saved beside it, never over it.
    a.type_line(&format!("/send clt2 {} --p2p", src.display()));
    let saved = b.wait_for("saved documento.txt from clt1");
    assert!(saved.contains("dl-b/documento (1).txt"), "{saved}");
    a.wait_for("clt2 received documento.txt (ACK)");
    assert_eq!(
        std::fs::read(dir.join("dl-b/documento (1).txt")).unwrap(),
        data
    );

    a.type_line("/msg nobody hi");
    a.wait_for("error: invalid name \"nobody\"");
    a.type_line("/msg zzz~ hi");
    a.wait_for("error: unknown-recipient: zzz~ is not connected");

    a.type_line("/quit");
    assert!(a.wait_exit().success());
    assert!(b.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let mut c = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_msrp-client")).args([
            "--server",
            "127.0.0.1:1",
            "--name",
            "abcd",
        ]),
        true,
    );
    c.wait_for("cannot connect to 127.0.0.1:1");
    assert!(!c.wait_exit().success());
}
