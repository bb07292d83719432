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
/// At most this many `Filters` entries, and this many values per entry (spec §7.2 ListKeys).
pub const MAX_FILTERS: usize = 10;
