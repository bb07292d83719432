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
