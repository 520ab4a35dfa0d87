//! The server's connection state machine: any byte stream from one client (login included),
//! then a close; the server must keep serving a fresh client.
#![no_main]
use std::net::SocketAddr;
use std::sync::OnceLock;

use msrp_reference::server::{ServerConfig, ServerHandle};

static SERVER: OnceLock<(tokio::runtime::Runtime, SocketAddr)> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (rt, addr) = SERVER.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let config = ServerConfig {
            handshake_timeout: std::time::Duration::from_millis(200),
            linger: std::time::Duration::from_millis(50),
            ..ServerConfig::default()
        };
        let server = rt.block_on(ServerHandle::start("127.0.0.1:0", config)).expect("server");
        let addr = server.local_addr();
        std::mem::forget(server);
        (rt, addr)
    });
    rt.block_on(msrp_reference::fuzzing::check_server_session(*addr, data));
});
