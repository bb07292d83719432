//! How answers are shown: a table for people, the service's JSON for scripts.

use serde_json::Value;

use crate::{Cli, Output};

pub(crate) fn print(cli: &Cli, answer: &Value, rows: &[(&str, &str)]) {
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(answer).unwrap_or_default()),
        Output::Table => {
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, path) in rows {
                let v = answer.pointer(path).map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string()));
                println!("{k:width$}  {}", v.unwrap_or_default());
            }
        }
    }
}

/// The rows of a key's metadata.
pub(crate) fn metadata_rows() -> Vec<(&'static str, &'static str)> {
    vec![
        ("KeyId", "/KeyMetadata/KeyId"),
        ("KeyState", "/KeyMetadata/KeyState"),
        ("KeySpec", "/KeyMetadata/KeySpec"),
        ("KeyUsage", "/KeyMetadata/KeyUsage"),
        ("ProtectionLevel", "/KeyMetadata/ProtectionLevel"),
        ("PrimaryKeyVersion", "/KeyMetadata/PrimaryKeyVersion"),
        ("CreationDate", "/KeyMetadata/CreationDate"),
        ("DeleteDate", "/KeyMetadata/DeleteDate"),
        ("Description", "/KeyMetadata/Description"),
    ]
}

/// A call with nothing to show but success: the request id (json: the whole answer).
pub(crate) fn done(cli: &Cli, answer: Value) {
    print(cli, &answer, &[("RequestId", "/RequestId")]);
}

/// A listing as columns (json: the whole answer), with the total when the answer has one.
pub(crate) fn list(cli: &Cli, answer: &Value, items: &str, cols: &[&str]) {
    if cli.output == Output::Json {
        return print(cli, answer, &[]);
    }
    let rows: Vec<Vec<String>> = answer
        .pointer(items)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| {
            cols.iter()
                .map(|c| {
                    item.get(*c).map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string())).unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> =
        (0..cols.len()).map(|i| rows.iter().map(|r| r[i].len()).chain([cols[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:w$}")).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(cols.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    if let Some(total) = answer.get("TotalCount") {
        println!("({total} in all)");
    }
}
