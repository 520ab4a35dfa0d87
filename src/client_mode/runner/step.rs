//! The steps of a client scenario in order: each dispatched to its kind, a crash of the
//! client noticed between steps, and a departure graded (rule or decision).

use super::*;

impl Run<'_> {
    /// Runs every step; warnings are kept and the run goes on (as in server mode).
    pub(super) async fn steps(&mut self) -> Result<(), (usize, StepErr)> {
        for (i, step) in self.sc.file.steps.iter().enumerate() {
            self.transcript
                .push(format!("step {}: {}", i + 1, step_title(step)));
            let r = self.step(step).await;
            // A client that died by a signal is a crash whatever the step saw (CLI-4).
            let r = match self.crash(step) {
                Some(crash) => Err(crash),
                None => r,
            };
            match r {
                Ok(()) => {}
                Err(StepErr::Mismatch {
                    rule,
                    expected,
                    actual,
                    hex,
                }) => {
                    let f = self.departure(i, rule, expected, actual, hex);
                    self.transcript
                        .push(format!("  departure: {}: {}", f.blamed(), f.actual));
                    if f.level.is_warning() && !self.opts.strict {
                        self.warnings.push(f);
                    } else {
                        self.failure_taken = Some(f);
                        return Err((i, mismatch("", "")));
                    }
                }
                Err(e) => return Err((i, e)),
            }
        }
        Ok(())
    }

    pub(super) fn crash(&mut self, step: &ClientStep) -> Option<StepErr> {
        let rule = match step_rule(step) {
            Some(r @ ("CLI-3" | "CLI-4")) => r.to_string(),
            _ => "CLI-4".to_string(),
        };
        for u in self.clients.values_mut() {
            let Some(p) = u.proc.as_mut() else { continue };
            if u.crash_seen || p.signalled() {
                continue;
            }
            if let Some(exit @ Exit::Signal(_)) = p.exited() {
                u.crash_seen = true;
                return Some(mismatch_rule(
                    &rule,
                    format!("client {} keeps running (no input crashes it)", u.label),
                    format!("client {} {exit}", u.label),
                ));
            }
        }
        None
    }

    pub(super) fn departure(
        &self,
        index: usize,
        blamed: Option<String>,
        expected: String,
        actual: String,
        actual_hex: Option<String>,
    ) -> Failure {
        let step = &self.sc.file.steps[index];
        let id = blamed
            .or_else(|| step_rule(step).map(str::to_string))
            .unwrap_or_else(|| self.sc.file.rules[0].clone());
        let line = self.sc.step_lines.get(index).copied().unwrap_or(0);
        let mismatch = crate::verdict::Mismatch {
            expected,
            actual,
            actual_hex,
        };
        Failure::graded(index, line, id, mismatch)
    }

    pub(super) async fn step(&mut self, step: &ClientStep) -> StepResult {
        match step {
            ClientStep::Start(c) => self.start_client(c).await,
            ClientStep::Type(t) => self.type_action(t).await,
            ClientStep::ExpectFromClient(e) => self.expect_from_client(e).await,
            ClientStep::ToClient(t) => self.write_to_client(t).await,
            ClientStep::ExpectOutput(o) => self.expect_output(o).await,
            ClientStep::ExpectFile(e) => self.expect_file(e).await,
            ClientStep::ExpectNoFile(n) => self.expect_no_file(n).await,
            ClientStep::ExpectNoFileOutside(r) => {
                let u = self.under(&r.client)?;
                let outside = u.sandbox.written_outside(&u.before);
                match outside.first() {
                    None => Ok(()),
                    Some(p) => Err(mismatch_rule(
                        r.rule.as_deref().unwrap_or("CLI-1"),
                        "nothing written outside the download folder",
                        format!("the client wrote {}", p.display()),
                    )),
                }
            }
            ClientStep::ExpectSilence(s) => self.expect_silence(s).await,
            ClientStep::P2pOffer(p) => self.p2p_offer(p).await,
            ClientStep::P2pFetch(p) => self.p2p_fetch(p).await,
            ClientStep::ExpectAlive(a) => {
                tokio::time::sleep(Duration::from_secs_f64(a.window.unwrap_or(0.2))).await;
                let p = self.proc(&a.client)?;
                match p.exited() {
                    None => Ok(()),
                    Some(e) => Err(mismatch_rule(
                        a.rule.as_deref().unwrap_or("CLI-4"),
                        "the client still running",
                        format!("the client {e}"),
                    )),
                }
            }
            ClientStep::ExpectExit(e) => {
                let wait = self.wait(e.timeout);
                let p = self.proc(&e.client)?;
                match p.wait(wait).await {
                    None => Err(mismatch_rule(
                        e.rule.as_deref().unwrap_or("CLI-4"),
                        "the client exits",
                        format!("still running after {wait:?}"),
                    )),
                    Some(Exit::Code(c)) if e.code.is_none_or(|want| want == c) => Ok(()),
                    Some(x) => Err(mismatch(
                        match e.code {
                            Some(c) => format!("exit status {c}"),
                            None => "an exit with a status".into(),
                        },
                        format!("the client {x}"),
                    )),
                }
            }
            ClientStep::Close(c) => {
                let how = if c.half {
                    "half-closes (FIN, still reading)"
                } else if c.abrupt {
                    "resets (RST)"
                } else {
                    "closes (FIN)"
                };
                self.note(format!("{} x harness {how}", c.client));
                self.link(&c.client)?.close(c.half, c.abrupt).await;
                Ok(())
            }
            ClientStep::EndInput(c) => {
                self.note(format!("{c} x standard input closed"));
                self.proc(c)?.end_input();
                Ok(())
            }
            ClientStep::Sleep(s) => {
                tokio::time::sleep(Duration::from_secs_f64(*s)).await;
                Ok(())
            }
        }
    }
}
