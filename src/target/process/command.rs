//! The command line a target is started from, and the address it will be reached at.

/// How a command line becomes a running server: the template with `{host}` and `{port}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCommand {
    /// The command as the user wrote it.
    pub template: String,
    /// The host the server is reached at (and `{host}` in the template).
    pub host: String,
    /// The port, when it is not chosen by msrp-check: given with `--target`, or hard-wired in
    /// a command without `{port}` (then the protocol's default, 8080).
    pub fixed_port: Option<u16>,
}

impl TargetCommand {
    /// A command reached at `host`; a `{port}` in it gets a free port at every start, unless
    /// `port` fixes it.
    pub fn new(template: &str, host: Option<&str>, port: Option<u16>) -> TargetCommand {
        let fixed_port = match port {
            Some(p) => Some(p),
            None if template.contains("{port}") => None,
            None => Some(8080),
        };
        TargetCommand {
            template: template.to_string(),
            host: host.unwrap_or("127.0.0.1").to_string(),
            fixed_port,
        }
    }

    /// Whether every start gets a fresh port (so targets can run side by side).
    pub fn free_port(&self) -> bool {
        self.fixed_port.is_none()
    }

    /// The command with `{host}` and `{port}` replaced.
    pub fn render(&self, port: u16) -> String {
        self.template
            .replace("{host}", &self.host)
            .replace("{port}", &port.to_string())
    }
}
