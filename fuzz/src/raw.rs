//! Raw text requests: the seeds from the recorded SDK vectors.

#[allow(unused_imports)]
use super::*;

/// `(is POST, raw query, headers, body)` of a raw text request.
pub type RawText = (bool, Vec<u8>, Vec<(String, Vec<u8>)>, Vec<u8>);

/// `RAW <METHOD>\n?<raw query>\n<name>: <value>\n...\n\n<body>` (the `?` keeps an empty
/// query line from ending the head).
pub fn parse_raw_text(data: &[u8]) -> Option<RawText> {
    let rest = data.strip_prefix(b"RAW ")?;
    let split = rest.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&rest[..i], rest[i + 2..].to_vec()),
        None => (rest, Vec::new()),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let post = lines.next()? == b"POST";
    let query = lines.next().unwrap_or_default();
    let query = query.strip_prefix(b"?").unwrap_or(query).to_vec();
    let headers = lines
        .map(|line| {
            let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
            let name = String::from_utf8_lossy(&line[..colon]).into_owned();
            let value = line.get(colon + 1..).unwrap_or_default();
            let value = value.strip_prefix(b" ").unwrap_or(value);
            (name, value.to_vec())
        })
        .collect();
    Some((post, query, headers, body))
}

/// Verifies a raw text request with the vectors' secret, and through the crate's own
/// `fuzzing::verify` entry point. Returns `false` if `data` is not a raw text request.
pub fn run_raw_text(data: &[u8]) -> bool {
    let Some((post, query, headers, body)) = parse_raw_text(data) else {
        return false;
    };
    kms_wire::fuzzing::verify(post, &query, &headers, &body);
    let q = String::from_utf8_lossy(&query);
    let hs = headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
    if let Ok(raw) = RawRequest::from_parts(method(post), Some(&q), hs, body) {
        let _ = verify_mac_only(&raw, CAPTURE_SECRET);
    }
    true
}

/// Entry point of the three signature targets.
pub fn verify_target(data: &[u8], scheme: Scheme) {
    if run_raw_text(data) {
        return;
    }
    let u = Unstructured::new(data);
    match scheme {
        Scheme::V1 => {
            if let Ok(input) = V1Input::arbitrary_take_rest(u) {
                let _ = run_v1(&input);
            }
        }
        Scheme::Acs3 | Scheme::Acs4 => {
            if let Ok(input) = AcsInput::arbitrary_take_rest(u) {
                let _ = run_acs(&input, scheme == Scheme::Acs4);
            }
        }
    }
}
