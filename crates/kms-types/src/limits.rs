//! Limits documented by the API (spec §6). One place, so handlers and tests agree.

/// Largest decoded `Plaintext` accepted by `Encrypt` (spec §6.5: 6 KiB).
pub const MAX_PLAINTEXT_BYTES: usize = 6144;
/// `NumberOfBytes` range of the data-key actions (spec §6.5).
pub const DATA_KEY_BYTES: std::ops::RangeInclusive<u32> = 1..=1024;
/// Longest `EncryptionContext`, in characters (spec §6.6).
pub const MAX_ENCRYPTION_CONTEXT_CHARS: usize = 8192;
/// Longest key `Description` (spec §7.2 CreateKey).
pub const MAX_DESCRIPTION_CHARS: usize = 8192;
/// Largest `PageSize` of the paged list actions (spec §6.12).
pub const MAX_PAGE_SIZE: u32 = 100;
/// Default `PageSize` of the key and alias lists (spec §6.12).
pub const DEFAULT_PAGE_SIZE: u32 = 10;
/// Largest secret value (`SecretData`), in bytes (spec §6.10).
pub const MAX_SECRET_DATA_BYTES: usize = 30_720;
/// At most this many `Filters` entries, and this many values per entry (spec §7.2 ListKeys).
pub const MAX_FILTERS: usize = 10;
/// `PendingWindowInDays` of ScheduleKeyDeletion (spec §6.9).
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=366;
/// Automatic rotation interval, in seconds: 7 to 730 days (spec §6.8, §12).
pub const ROTATION_INTERVAL_SECS: std::ops::RangeInclusive<i64> = 7 * 86_400..=730 * 86_400;

/// Parses a rotation interval `<integer><d|h|m|s>` into seconds (spec §6.8).
pub fn parse_interval(s: &str) -> Option<i64> {
    // Not `split_at`: the last character may be several bytes long (found by fuzzing).
    let (digits, unit) = s.split_at_checked(s.len().checked_sub(1)?)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let scale = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units() {
        assert_eq!(parse_interval("7d"), Some(604_800));
        assert_eq!(parse_interval("604800s"), Some(604_800));
        assert_eq!(parse_interval("168h"), Some(604_800));
        assert_eq!(parse_interval("10080m"), Some(604_800));
        for bad in ["", "d", "7", "7w", "-7d", "7.5d", " 7d", "99999999999999999999d", "7é", "é", "7\u{fffd}"] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
    }
}
