//! The README's list of supported actions is the action table.

use kms_wire::Action;

#[test]
fn readme_lists_exactly_the_served_actions() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme.find("<!-- actions:begin").expect("actions block");
    let end = readme.find("<!-- actions:end -->").expect("actions block end");
    let block = &readme[start..end];
    let mut listed: Vec<String> = Vec::new();
    for line in block.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| family")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let family = cells[1];
        for action in cells[2].split(',').map(|a| a.trim().trim_matches('`')) {
            let parsed: Action = action.parse().unwrap_or_else(|_| panic!("README lists unknown action {action}"));
            assert_eq!(format!("{:?}", parsed.family()), family, "{action} is listed under the wrong family");
            listed.push(action.to_owned());
        }
    }
    let mut served: Vec<String> = Action::ALL.iter().map(|a| a.as_str().to_owned()).collect();
    listed.sort();
    served.sort();
    assert_eq!(listed, served);
}

/// Every action of the current official SDK is served and in the README's table: a missing one
/// fails here (the list itself is checked against the installed SDK by
/// tests/sdk/python/test_service.py).
#[test]
fn every_action_of_the_current_sdk_is_served_and_listed() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let sdk = std::fs::read_to_string(format!("{root}/docs/reference/sdk-actions.txt")).unwrap();
    let actions: Vec<&str> = sdk.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    assert_eq!(actions.len(), 91, "alibabacloud-kms20160120 3.3.1 has 91 actions");
    for action in actions {
        assert!(action.parse::<Action>().is_ok(), "{action} is not served");
        assert!(readme.contains(&format!("`{action}`")), "{action} is not in the README");
    }
}
