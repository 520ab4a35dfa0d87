//! Loading scenario files: every mistake a hand-written YAML file can hold is refused with
//! `file:line` and what was wrong, never loaded into something the author did not write.

use std::path::Path;

use msrp::scenario::parse;

const HEAD: &str = "id: dup-check
title: a message arrives
rules: [MSG-1]
";

fn load_error(body: &str) -> (Option<usize>, String) {
    match parse(Path::new("case.yaml"), body) {
        Ok(_) => panic!("loaded, but should have been refused:\n{body}"),
        Err(e) => (e.line, e.message),
    }
}

#[test]
fn a_client_named_twice_is_refused_at_its_second_line() {
    // The case of the report: the first login ("anna") used to vanish without a word.
    let body = format!(
        "{HEAD}clients:\n  ana: anna\n  bob: bobb\n  ana: carl\nsteps:\n  - connect: ana\n  - connect: bob\n"
    );
    let (line, message) = load_error(&body);
    assert_eq!(line, Some(7), "{message}");
    assert!(message.contains("duplicate key \"ana\""), "{message}");
    assert!(message.contains("first at line 5"), "{message}");
}

#[test]
fn every_mapping_of_the_format_refuses_duplicate_keys() {
    let base = format!(
        "{HEAD}clients:\n  a: aaaa\n  b: bbbb\nsteps:\n  - connect: a\n  - connect: b\n  - send: {{ from: a, msg: {{ to: b, text: hi }} }}\n"
    );
    let cases = [
        // top-level key
        (
            base.replacen("rules: [MSG-1]\n", "rules: [MSG-1]\nrules: [MSG-2]\n", 1),
            4,
        ),
        // a flow mapping inside a step
        (
            base.replace("{ from: a, msg:", "{ from: a, from: b, msg:"),
            10,
        ),
        // a nested flow mapping
        (
            base.replace("{ to: b, text: hi }", "{ to: b, text: hi, to: a }"),
            10,
        ),
        // a block mapping inside a step
        (
            base.replace(
                "  - send: { from: a, msg: { to: b, text: hi } }\n",
                "  - send:\n      from: a\n      list: true\n      from: b\n",
            ),
            13,
        ),
        // server settings
        (
            base.replace(
                "clients:",
                "server:\n  max-clients: 3\n  max-clients: 4\nclients:",
            ),
            6,
        ),
    ];
    for (body, want_line) in cases {
        let (line, message) = load_error(&body);
        assert!(message.contains("duplicate"), "{message}\n{body}");
        assert_eq!(line, Some(want_line), "{message}\n{body}");
    }
}

#[test]
fn decisions_are_cited_only_where_they_leave_a_choice() {
    let base = format!(
        "{HEAD}clients:\n  a: aaaa\nsteps:\n  - connect: a\n  - send: {{ from: a, list: true }}\n  - expect: {{ client: a, list: [a] }}\n"
    );
    let with = |extra: &str| base.replace("list: [a] }", &format!("list: [a], {extra} }}"));
    assert!(parse(Path::new("ok.yaml"), &with("decision: DEC-7")).is_ok());
    for (extra, needle) in [
        (
            "decision: DEC-99",
            "\"DEC-99\" is not a decision of SPEC.md",
        ),
        ("decision: DEC-13", "restates what LIST-2 already forces"),
        (
            "decision: DEC-7, rule: LIST-2",
            "a rule or on a decision, not both",
        ),
    ] {
        let (line, message) = load_error(&with(extra));
        assert_eq!(line, Some(9), "{message}");
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
}

#[test]
fn expect_alive_loads_and_refuses_unknown_keys_and_bad_seconds() {
    let ok = format!("{HEAD}clients:\n  a: aaaa\nsteps:\n  - connect: a\n  - expect_alive: {{}}\n  - expect_alive: {{ timeout: 3 }}\n");
    let sc = parse(Path::new("case.yaml"), &ok).expect("expect_alive loads");
    assert!(matches!(
        sc.file.steps[1],
        msrp::scenario::Step::ExpectAlive(_)
    ));
    let (line, message) = load_error(&ok.replace("timeout: 3", "wait: 3"));
    assert!(line.is_some(), "{message}");
    assert!(message.contains("wait"), "{message}");
    let (line, message) = load_error(&ok.replace("timeout: 3", "timeout: -1"));
    assert_eq!(line, Some(9), "{message}");
}

#[test]
fn steps_that_cannot_mean_anything_are_refused_at_their_line() {
    let base = format!("{HEAD}clients:\n  a: aaaa\nsteps:\n  - connect: a\n");
    let cases = [
        (
            "  - send: { from: a, list: false }\n",
            "list: false sends nothing",
        ),
        (
            "  - send: { from: a, list: true, ack: f }\n",
            "send needs exactly one of msg, file, list, ack, error, raw, data; found list, ack",
        ),
        ("  - send: { from: a }\n", "found none"),
        (
            "  - send: { from: a, data: { len: 268435457 } }\n",
            "data: at most 268435456 bytes",
        ),
        (
            "  - expect: { client: a, ack: { any: false } }\n",
            "any: false would match nothing",
        ),
        (
            "  - expect: { client: a, list_text: { regex: '(' } }\n",
            "bad regex",
        ),
        (
            "  - expect: { client: a, error: no-such-reason }\n",
            "not a reason token of ERR-1",
        ),
        (
            "  - expect: { client: a, file: { from: a, sha256: abcd } }\n",
            "is not 32 bytes of hex",
        ),
    ];
    for (step, says) in cases {
        let (line, message) = load_error(&format!("{base}{step}"));
        assert_eq!(line, Some(8), "{step}: {message}");
        assert!(message.contains(says), "{step}: {message}");
    }
}
