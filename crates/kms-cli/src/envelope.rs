//! Envelope encryption of files and streams: one data key from the KMS per file, the data in
//! AES-256-GCM chunks, in constant memory whatever the size.
//!
//! The format (`docs/envelope-format.md` says the same for other tools), integers big-endian:
//!
//! ```text
//! magic "KMSENV" ‖ version 0x01 ‖ header length u32 ‖ header ‖ chunk ‖ chunk ‖ … ‖ final chunk
//! header  = key id (u16 length ‖ UTF-8) ‖ data key CiphertextBlob (u16 length ‖ bytes)
//!         ‖ encryption context (u16 length ‖ canonical JSON, `{}` when none)
//!         ‖ chunk size u32 ‖ nonce prefix (7 random bytes)
//! chunk   = AES-256-GCM(data key, nonce = prefix ‖ index u32 ‖ final flag u8,
//!                       aad = magic ‖ version ‖ context field ‖ chunk size ‖ prefix,
//!                       plaintext) ‖ tag (16)
//! ```
//!
//! Every chunk but the last holds exactly `chunk size` bytes of plaintext; the last holds fewer
//! (possibly none) and its nonce's flag is 1. So a changed byte fails its chunk's tag, swapped
//! chunks fail (the index is in the nonce), a truncated file lacks its final chunk, bytes after
//! the final chunk are refused, and the context, chunk size and prefix cannot be altered (they
//! are every chunk's AAD). The key id and wrapped data key are not: re-wrapping the data key
//! under another KMS key (ReEncrypt, another region) rewrites the header alone, and a wrong
//! wrapped key simply yields a data key under which no chunk opens.

use std::io::{self, Read, Write};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

pub const MAGIC: &[u8; 6] = b"KMSENV";
pub const VERSION: u8 = 1;
/// 64 KiB of plaintext per chunk: large enough that the tags cost 0.02 %, small enough that
/// memory stays flat.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const PREFIX: usize = 7;
/// A header larger than this is not one this tool wrote.
const MAX_HEADER: usize = 64 * 1024;

/// What the file header records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key_id: String,
    /// The data key as the KMS wrapped it (base64-decoded CiphertextBlob).
    pub wrapped_key: Vec<u8>,
    /// Canonical JSON of the encryption context (`{}` when none).
    pub context: String,
    pub chunk_size: u32,
    pub nonce_prefix: [u8; PREFIX],
}

/// Why a stream does not decrypt. None of these carries data.
#[derive(Debug)]
pub enum EnvelopeError {
    /// Not this format, or a version this tool does not read.
    NotEnvelope(&'static str),
    /// A chunk failed authentication, the chunks are out of order, the end is missing, or
    /// bytes follow the end: the file was changed.
    Tampered(&'static str),
    Io(io::Error),
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotEnvelope(why) => write!(f, "not a kms envelope file: {why}"),
            Self::Tampered(why) => write!(f, "the file was altered or cut short: {why}"),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for EnvelopeError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> Result<(), EnvelopeError> {
    let len = u16::try_from(b.len()).map_err(|_| EnvelopeError::NotEnvelope("a header field over 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

impl Header {
    /// The bytes before the first chunk: magic, version, length, header.
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        let mut h = Vec::new();
        put_bytes(&mut h, self.key_id.as_bytes())?;
        put_bytes(&mut h, &self.wrapped_key)?;
        put_bytes(&mut h, self.context.as_bytes())?;
        h.extend_from_slice(&self.chunk_size.to_be_bytes());
        h.extend_from_slice(&self.nonce_prefix);
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        out.extend_from_slice(&(h.len() as u32).to_be_bytes());
        out.extend_from_slice(&h);
        Ok(out)
    }

    /// What every chunk authenticates besides itself.
    pub fn aad(&self) -> Result<Vec<u8>, EnvelopeError> {
        let mut a = MAGIC.to_vec();
        a.push(VERSION);
        put_bytes(&mut a, self.context.as_bytes())?;
        a.extend_from_slice(&self.chunk_size.to_be_bytes());
        a.extend_from_slice(&self.nonce_prefix);
        Ok(a)
    }

    /// Reads the header from the start of a stream.
    pub fn read(input: &mut impl Read) -> Result<Self, EnvelopeError> {
        let mut fixed = [0u8; 11];
        input.read_exact(&mut fixed).map_err(|_| EnvelopeError::NotEnvelope("shorter than a header"))?;
        if &fixed[..6] != MAGIC {
            return Err(EnvelopeError::NotEnvelope("no KMSENV mark"));
        }
        if fixed[6] != VERSION {
            return Err(EnvelopeError::NotEnvelope("an unknown version"));
        }
        let len = u32::from_be_bytes([fixed[7], fixed[8], fixed[9], fixed[10]]) as usize;
        if len > MAX_HEADER {
            return Err(EnvelopeError::NotEnvelope("a header too large"));
        }
        let mut h = vec![0u8; len];
        input.read_exact(&mut h).map_err(|_| EnvelopeError::NotEnvelope("a cut header"))?;
        Self::parse(&h)
    }

    /// The header fields from their bytes (after magic, version and length).
    pub fn parse(h: &[u8]) -> Result<Self, EnvelopeError> {
        let mut r = Cursor(h);
        let key_id = String::from_utf8(r.field()?.to_vec()).map_err(|_| malformed())?;
        let wrapped_key = r.field()?.to_vec();
        let context = String::from_utf8(r.field()?.to_vec()).map_err(|_| malformed())?;
        let size = r.take(4)?;
        let chunk_size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]);
        let nonce_prefix: [u8; PREFIX] = r.take(PREFIX)?.try_into().map_err(|_| malformed())?;
        if !r.0.is_empty() {
            return Err(malformed());
        }
        if chunk_size == 0 || chunk_size as usize > 16 * 1024 * 1024 {
            return Err(EnvelopeError::NotEnvelope("a chunk size out of range"));
        }
        Ok(Self { key_id, wrapped_key, context, chunk_size, nonce_prefix })
    }
}

fn malformed() -> EnvelopeError {
    EnvelopeError::NotEnvelope("a malformed header")
}

/// Reads the header's fields front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EnvelopeError> {
        if self.0.len() < n {
            return Err(malformed());
        }
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(a)
    }

    fn field(&mut self) -> Result<&'a [u8], EnvelopeError> {
        let len = self.take(2)?;
        self.take(u16::from_be_bytes([len[0], len[1]]) as usize)
    }
}

fn key(data_key: &[u8]) -> Result<LessSafeKey, EnvelopeError> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .map(LessSafeKey::new)
        .map_err(|_| EnvelopeError::NotEnvelope("the data key is not 32 bytes"))
}

fn nonce(prefix: &[u8; PREFIX], index: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..PREFIX + 4].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Reads up to `buf.len()` bytes, stopping early only at the end of the stream.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Encrypts `input` to `output` under `data_key`; `progress` hears the plaintext bytes done.
pub fn encrypt(
    header: &Header,
    data_key: &[u8],
    input: &mut impl Read,
    output: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<(), EnvelopeError> {
    output.write_all(&header.encode()?)?;
    let aad = header.aad()?;
    let key = key(data_key)?;
    let size = header.chunk_size as usize;
    let mut buf = Zeroizing::new(vec![0u8; size + TAG]);
    let mut index: u32 = 0;
    let mut done = 0u64;
    loop {
        let n = read_full(input, &mut buf[..size])?;
        let last = n < size;
        let mut chunk = buf[..n].to_vec();
        key.seal_in_place_append_tag(nonce(&header.nonce_prefix, index, last), Aad::from(&aad), &mut chunk)
            .map_err(|_| EnvelopeError::Tampered("sealing failed"))?;
        output.write_all(&chunk)?;
        done += n as u64;
        progress(done);
        if last {
            break;
        }
        index = index.checked_add(1).ok_or(EnvelopeError::NotEnvelope("more than 2^32 chunks"))?;
    }
    output.flush()?;
    Ok(())
}

/// Decrypts the chunks after a header read by [`Header::read`].
pub fn decrypt(
    header: &Header,
    data_key: &[u8],
    input: &mut impl Read,
    output: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<(), EnvelopeError> {
    let key = key(data_key)?;
    let aad = header.aad()?;
    let full = header.chunk_size as usize + TAG;
    let mut buf = Zeroizing::new(vec![0u8; full]);
    let mut index: u32 = 0;
    let mut done = 0u64;
    loop {
        let n = read_full(input, &mut buf)?;
        if n < TAG {
            return Err(EnvelopeError::Tampered("the final chunk is missing"));
        }
        let last = n < full;
        let plain = key
            .open_in_place(nonce(&header.nonce_prefix, index, last), Aad::from(&aad), &mut buf[..n])
            .map_err(|_| EnvelopeError::Tampered("a chunk does not authenticate"))?;
        output.write_all(plain)?;
        done += plain.len() as u64;
        progress(done);
        if last {
            let mut extra = [0u8; 1];
            if read_full(input, &mut extra)? != 0 {
                return Err(EnvelopeError::Tampered("bytes follow the final chunk"));
            }
            break;
        }
        index = index.checked_add(1).ok_or(EnvelopeError::Tampered("more than 2^32 chunks"))?;
    }
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(chunk: u32) -> Header {
        Header {
            key_id: "key-1".into(),
            wrapped_key: vec![9; 40],
            context: r#"{"file":"a"}"#.into(),
            chunk_size: chunk,
            nonce_prefix: [1, 2, 3, 4, 5, 6, 7],
        }
    }

    fn seal(plain: &[u8], chunk: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encrypt(&header(chunk), &[7u8; 32], &mut &plain[..], &mut out, |_| {}).unwrap();
        out
    }

    fn open(sealed: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut input = sealed;
        let h = Header::read(&mut input)?;
        let mut out = Vec::new();
        decrypt(&h, &[7u8; 32], &mut input, &mut out, |_| {})?;
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_boundary() {
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = seal(&plain, 16);
            assert_eq!(open(&sealed).unwrap(), plain, "{len}");
        }
    }

    #[test]
    fn every_change_is_refused() {
        let plain: Vec<u8> = (0..100u8).collect();
        let sealed = seal(&plain, 16);
        let head = header(16).encode().unwrap().len();
        // Every single-byte change anywhere but the key id and wrapped key (a wrong wrapped key
        // gives a wrong data key, and then nothing opens).
        let (key_field, blob_field) = (11..11 + 2 + 5, 11 + 2 + 5..11 + 2 + 5 + 2 + 40);
        for i in (0..sealed.len()).filter(|i| !key_field.contains(i) && !blob_field.contains(i)) {
            let mut bent = sealed.clone();
            bent[i] ^= 0x20;
            assert!(open(&bent).is_err(), "a change at byte {i} went unnoticed");
        }
        // Truncation at every length.
        for cut in 0..sealed.len() {
            assert!(open(&sealed[..cut]).is_err(), "cut at {cut}");
        }
        // Two chunks swapped.
        let c = 16 + TAG;
        let mut swapped = sealed.clone();
        let (a, b) = (head, head + c);
        let first = swapped[a..a + c].to_vec();
        let second = swapped[b..b + c].to_vec();
        swapped[a..a + c].copy_from_slice(&second);
        swapped[b..b + c].copy_from_slice(&first);
        assert!(matches!(open(&swapped), Err(EnvelopeError::Tampered(_))));
        // Bytes appended.
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(matches!(open(&longer), Err(EnvelopeError::Tampered(_))));
        // A whole chunk dropped from the middle.
        let mut dropped = sealed[..head + c].to_vec();
        dropped.extend_from_slice(&sealed[head + 2 * c..]);
        assert!(open(&dropped).is_err());
    }

    #[test]
    fn the_data_key_can_be_rewrapped_without_touching_the_chunks() {
        let plain = b"rewrapped elsewhere".repeat(10);
        let sealed = seal(&plain, 16);
        let old = header(16).encode().unwrap();
        let moved = Header { key_id: "key-in-another-region".into(), wrapped_key: vec![3; 60], ..header(16) };
        let mut rewritten = moved.encode().unwrap();
        rewritten.extend_from_slice(&sealed[old.len()..]);
        assert_eq!(open(&rewritten).unwrap(), plain);
    }

    #[test]
    fn headers_round_trip_and_junk_is_not_a_header() {
        let h = header(CHUNK as u32);
        let bytes = h.encode().unwrap();
        let back = Header::read(&mut &bytes[..]).unwrap();
        assert_eq!(back, h);
        assert!(matches!(Header::read(&mut &b"PK\x03\x04 not ours"[..]), Err(EnvelopeError::NotEnvelope(_))));
        let mut trailing = bytes[11..].to_vec();
        trailing.push(0);
        assert!(Header::parse(&trailing).is_err());
    }
}
