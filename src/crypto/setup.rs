//! The first connection's setup code (production without OWNER_ATHLETE_ID): what Postgres keeps
//! of it (its SHA-256, never the code), and the binding an OAuth state issued for it carries.
//!
//! The binding is derived from the stored hash, not the hash itself, so a state seen on Strava's
//! consent page or in a browser's history tells nothing that checks a guess at the code.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::hex::to_hex;

/// What Postgres stores of a setup code.
pub fn setup_code_hash(code: &str) -> Vec<u8> {
    Sha256::digest(code.as_bytes()).to_vec()
}

/// Whether `given` is the code whose hash is `stored` (compared in constant time).
pub fn setup_code_matches(given: &str, stored: &[u8]) -> bool {
    setup_code_hash(given).ct_eq(stored).into()
}

/// The binding of the code whose hash is `stored`: 128 bits in hex, what a state issued for it
/// carries under its MAC.
pub fn setup_binding(stored: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(b"milepost setup state binding:");
    digest.update(stored);
    to_hex(&digest.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_code_matches_its_hash() {
        let stored = setup_code_hash("a-setup-code");
        assert!(setup_code_matches("a-setup-code", &stored));
        assert!(!setup_code_matches("a-setup-cod", &stored));
        assert!(!setup_code_matches("", &stored));
        assert!(!setup_code_matches("a-setup-code", &[]));
    }

    #[test]
    fn a_binding_is_32_hex_characters_and_differs_per_code() {
        let one = setup_binding(&setup_code_hash("one"));
        let two = setup_binding(&setup_code_hash("two"));
        assert_eq!(one.len(), 32);
        assert!(
            one.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(one, two);
        assert!(!to_hex(&setup_code_hash("one")).contains(&one));
    }
}
