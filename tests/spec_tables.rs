//! `src/rules.rs` and `SPEC.md` state the same rules (IDs and levels, in order) and the same
//! decisions: a rule or decision added to one and not the other fails here.

use msrp::rules::{Level, DECISIONS, RULES};

fn spec() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/SPEC.md")).expect("SPEC.md")
}

/// `- **ID** (LEVEL) …` items of the given sections, in order.
fn items(spec: &str) -> Vec<(String, Option<String>)> {
    spec.lines()
        .filter_map(|l| l.strip_prefix("- **"))
        .filter_map(|rest| {
            let (id, after) = rest.split_once("**")?;
            let level = after
                .trim_start()
                .strip_prefix('(')
                .and_then(|a| a.split_once(')'))
                .map(|(lvl, _)| lvl.to_string());
            Some((id.to_string(), level))
        })
        .collect()
}

#[test]
fn the_rule_table_and_spec_list_the_same_rules_at_the_same_levels() {
    let spec = spec();
    let rules_section = &spec[..spec.find("## 4. Decisions").expect("§4 in SPEC.md")];
    let in_spec: Vec<(String, String)> = items(rules_section)
        .into_iter()
        .filter_map(|(id, lvl)| Some((id, lvl.filter(|l| l == "MUST" || l == "SHOULD")?)))
        // The legacy profile's rules have their own table; the client duties (CLI-n) are in
        // RULES, after the profile's, and checked here like every other rule.
        .filter(|(id, _)| !id.starts_with("LEG-"))
        .collect();
    let in_table: Vec<(String, String)> = RULES
        .iter()
        .map(|r| {
            let lvl = match r.level {
                Level::Must => "MUST",
                Level::Should => "SHOULD",
                Level::Decision => "DECISION",
            };
            (r.id.to_string(), lvl.to_string())
        })
        .collect();
    assert_eq!(in_table, in_spec);
}

#[test]
fn the_decision_table_and_spec_list_the_same_decisions() {
    let spec = spec();
    let start = spec.find("## 4. Decisions").expect("§4 in SPEC.md");
    let end = spec[start..]
        .find("\n## 5.")
        .map_or(spec.len(), |e| start + e);
    let in_spec: Vec<String> = items(&spec[start..end])
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| id.starts_with("DEC-"))
        .collect();
    let in_table: Vec<String> = DECISIONS.iter().map(|d| d.id.to_string()).collect();
    assert_eq!(in_table, in_spec);
    for d in DECISIONS {
        if let Some(rule) = d.restates {
            assert!(
                msrp::rules::rule(rule).is_some(),
                "{} restates {rule}, which is not a rule",
                d.id
            );
        }
    }
}
