//! Cryptography milepost owns: the cipher that keeps Strava tokens encrypted at rest, the signed
//! OAuth `state` parameter (bound to the first connection's setup code where one is asked for),
//! and constant-time comparison for API keys and cookies.
//!
//! Everything here is pure (no I/O, time passed in) and unit-tested in place. Secrets enter as
//! [`secrecy::SecretString`] and no type here prints key material in its `Debug` output.

mod cipher;
mod hex;
mod setup;
mod state;

pub use cipher::{CryptoError, TokenCipher};
pub use setup::{setup_binding, setup_code_hash, setup_code_matches};
pub use state::{IssuedState, STATE_TTL_SECS, StateError, StateSigner, VerifiedState};

use subtle::ConstantTimeEq;

/// Compares two byte strings without revealing, through timing, where they first differ.
///
/// Only the lengths may leak (comparison of differing lengths returns early), which is fine for
/// API keys and state cookies whose length is not secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
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
}
