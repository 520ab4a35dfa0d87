//! A client's life in a scenario: started in its sandbox, driven by typed commands, stopped
//! at the end with its sandbox compared and its output tails kept.

use super::*;

impl Run<'_> {
    pub(super) async fn start_client(&mut self, label: &str) -> StepResult {
        let addr = self
            .listener
            .local_addr()
            .map_err(|e| StepErr::Broken(format!("listener: {e}")))?;
        let connect_wait = self.opts.connect_wait;
        let template = self.opts.command.clone();
        let start = self.start;
        let budget = self.budget.clone();
        let u = self.under(label)?;
        if u.proc.is_some() {
            return Err(StepErr::Broken(format!(
                "client \"{label}\" is already started"
            )));
        }
        let name = String::from_utf8_lossy(&u.wire).into_owned();
        let command = fill(
            &template,
            &[
                ("host", &shell_quote(&addr.ip().to_string())),
                ("port", &addr.port().to_string()),
                ("name", &shell_quote(&name)),
                (
                    "download_dir",
                    &shell_quote(&u.sandbox.downloads.display().to_string()),
                ),
            ],
        );
        let proc = ClientProcess::start(&command, &u.sandbox.work)
            .map_err(|e| StepErr::Broken(e.to_string()))?;
        u.proc = Some(proc);
        let deadline = Instant::now() + connect_wait;
        // Accept while watching the process: one that dies first is reported at once.
        loop {
            let slice = Instant::now() + Duration::from_millis(50);
            match tokio::time::timeout_at(slice.min(deadline), self.listener.accept()).await {
                Ok(Ok((stream, _))) => {
                    let record = ConnRecord::new(label, start, false, budget.clone());
                    let link = Link::new(stream, record);
                    self.under(label)?.link = Some(link);
                    self.note(format!("{label} connected"));
                    return Ok(());
                }
                Ok(Err(e)) => return Err(StepErr::Broken(format!("accept failed: {e}"))),
                Err(_) => {}
            }
            let u = self.under(label)?;
            let Some(p) = u.proc.as_mut() else {
                return Err(StepErr::Broken("the process is gone".into()));
            };
            if let Some(exit) = p.exited() {
                let (_, err) = p.tails(5);
                return Err(StepErr::Broken(format!(
                    "the client `{}` {exit} before connecting to {addr}{}",
                    p.command,
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!("; its stderr: {err}")
                    }
                )));
            }
            if Instant::now() >= deadline {
                return Err(StepErr::Broken(format!(
                    "the client `{}` never connected to {addr} within {connect_wait:?}",
                    p.command
                )));
            }
        }
    }

    pub(super) async fn type_action(&mut self, t: &TypeStep) -> StepResult {
        let Some(template) = self.opts.driver.action(&t.action) else {
            return Err(StepErr::Skip(format!(
                "the driver {} has no {} action",
                self.opts.driver.file.name, t.action
            )));
        };
        let template = template.to_string();
        let to = match &t.to {
            Some(to) => String::from_utf8_lossy(&self.wire(to)?).into_owned(),
            None => String::new(),
        };
        let file = t.file.clone().unwrap_or_default();
        let opts = self.opts;
        let u = self.under(&t.client)?;
        let path = match opts.driver.file.send_path {
            SendPath::Relative => format!("{}/{file}", opts.driver.file.send_dir),
            SendPath::Name => file.clone(),
            SendPath::Absolute => u.sandbox.outbox.join(&file).display().to_string(),
        };
        let line = fill(
            &template,
            &[
                ("to", &to),
                ("text", t.text.as_deref().unwrap_or("")),
                ("path", &path),
                ("file", &file),
            ],
        );
        let wait = self.wait(None);
        let typed = self.proc(&t.client)?.type_line(&line, wait).await;
        self.note(format!("{} types: {line}", t.client));
        typed.map_err(|e| mismatch_rule("CLI-4", "the client reads its commands", e.to_string()))
    }

    /// Ends every client: quit (or end of input), close the connection, wait, signal the
    /// group if it must; then compares each sandbox. Returns a failure found on the way (a
    /// crash, or a file written outside the download folder).
    pub(super) async fn teardown(&mut self) -> Option<Failure> {
        let mut failure = None;
        let steps = self.sc.file.steps.len();
        let quit = self.opts.driver.action("quit").map(str::to_string);
        let labels: Vec<String> = self.clients.keys().cloned().collect();
        for label in labels {
            let Some(u) = self.clients.get_mut(&label) else {
                continue;
            };
            if let Some(p) = u.proc.as_mut() {
                if p.exited().is_none() {
                    if let Some(q) = &quit {
                        let _ = p.type_line(q, Duration::from_millis(200)).await;
                    }
                    p.end_input();
                }
            }
            if let Some(link) = u.link.as_mut() {
                link.close(false, false).await;
            }
            if let Some(p) = u.proc.as_mut() {
                let already = p.exited();
                let (exit, signalled) = p.stop(Duration::from_secs(2)).await;
                let shown = exit.map_or("did not end even after SIGKILL".into(), |e| e.to_string());
                if signalled && already.is_none() {
                    self.notes.push(format!(
                        "client {label} did not exit within 2 s of its input ending and its connection closing; the harness signalled its process group ({shown})"
                    ));
                }
                u.exit_shown = Some(shown.clone());
                if let (Some(Exit::Signal(_)), false, false) = (exit, signalled, u.crash_seen) {
                    u.crash_seen = true;
                    failure.get_or_insert_with(|| {
                        let (level, statement) =
                            blame("CLI-4").unwrap_or((Level::Must, String::new()));
                        Failure {
                            step: steps,
                            line: self.sc.step_lines.last().copied().unwrap_or(0),
                            rule: "CLI-4".into(),
                            level,
                            statement,
                            expected: "the client ends without crashing".into(),
                            actual: format!("client {label} {shown} at the end of the scenario"),
                            actual_hex: None,
                        }
                    });
                }
            }
            let outside = u.sandbox.written_outside(&u.before);
            if let Some(p) = outside.first() {
                let (level, statement) = blame("CLI-1").unwrap_or((Level::Must, String::new()));
                failure.get_or_insert_with(|| Failure {
                    step: steps,
                    line: self.sc.step_lines.last().copied().unwrap_or(0),
                    rule: "CLI-1".into(),
                    level,
                    statement,
                    expected: "nothing written outside the download folder".into(),
                    actual: format!(
                        "client {label} wrote {}{}",
                        p.display(),
                        if outside.len() > 1 {
                            format!(" (and {} more paths)", outside.len() - 1)
                        } else {
                            String::new()
                        }
                    ),
                    actual_hex: None,
                });
            }
        }
        for u in self.clients.values_mut() {
            if let Some(link) = u.link.take() {
                self.done_records.push(link.record);
            }
        }
        failure
    }

    /// Output tails of every client, for a failing report.
    pub fn tails(&self) -> Vec<String> {
        let mut out = Vec::new();
        for u in self.clients.values() {
            if let Some(p) = &u.proc {
                let (o, e) = p.tails(10);
                out.push(format!(
                    "client {} (`{}`) {}; stdout tail:\n{}\nstderr tail:\n{}",
                    u.label,
                    p.command,
                    u.exit_shown.as_deref().unwrap_or("still running"),
                    if o.is_empty() { "(nothing)" } else { &o },
                    if e.is_empty() { "(nothing)" } else { &e }
                ));
            }
        }
        out
    }
}
