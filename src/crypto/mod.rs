//! Cryptography milepost owns: the cipher that keeps Strava tokens encrypted at rest, the signed
//! OAuth `state` parameter, and constant-time comparison for API keys and cookies.
//!
//! Everything here is pure (no I/O, time passed in) and unit-tested in place. Secrets enter as
//! [`secrecy::SecretString`] and no type here prints key material in its `Debug` output.

mod cipher;
mod state;

pub use cipher::{CryptoError, TokenCipher};
pub use state::{IssuedState, STATE_TTL_SECS, StateError, StateSigner, VerifiedState};

use subtle::ConstantTimeEq;

/// Compares two byte strings without revealing, through timing, where they first differ.
///
/// Only the lengths may leak (comparison of differing lengths returns early), which is fine for
/// API keys and state cookies whose length is not secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Lowercase hex encoding, for key ids, nonces and MACs (none of which is secret once emitted).
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes lowercase hex; anything else (uppercase, odd length, other characters) is `None`,
/// so that every accepted value has exactly one spelling.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(digit: u8) -> Option<u8> {
        match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'a'..=b'f' => Some(digit - b'a' + 10),
            _ => None,
        }
    }
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_byte_strings_compare_equal() {
        assert!(constant_time_eq(b"an-api-key", b"an-api-key"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn different_byte_strings_compare_unequal() {
        assert!(!constant_time_eq(b"an-api-key", b"an-api-kez"));
        assert!(!constant_time_eq(b"an-api-key", b"an-api-ke"));
        assert!(!constant_time_eq(b"an-api-key", b""));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn hex_round_trips_and_rejects_other_spellings() {
        let bytes = [0x00, 0x01, 0x7f, 0x80, 0xab, 0xff];
        let hex = to_hex(&bytes);
        assert_eq!(hex, "00017f80abff");
        assert_eq!(from_hex(&hex).as_deref(), Some(&bytes[..]));
        assert_eq!(from_hex("AB"), None);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("").as_deref(), Some(&[][..]));
    }
}
