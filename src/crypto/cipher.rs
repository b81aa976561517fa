//! The token cipher: Strava OAuth tokens are stored encrypted with XChaCha20-Poly1305.
//!
//! A stored value is one ASCII string, `v1.k<key id>.<base64url(nonce ‖ ciphertext)>`, e.g.
//! `v1.k3f9a12bc.q0Rk…`. The key id is a short public fingerprint of the key that encrypted it,
//! so values written under an older key (`ENCRYPTION_KEYS_PREVIOUS`) still decrypt and
//! `milepost keys rotate` can tell which rows still need re-encrypting. The header, athlete id and
//! field name are authenticated as associated data, so a value copied into another row or column
//! fails to decrypt instead of being handed to Strava as somebody else's token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore as _;
use secrecy::zeroize::Zeroize as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use super::hex::{from_hex, to_hex};

/// Format version written in front of every stored value.
const VERSION: &str = "v1";
/// HKDF salt and info for the encryption key. Changing either makes every stored token unreadable.
const HKDF_SALT: &[u8] = b"milepost/token-cipher/v1/salt";
const HKDF_INFO: &[u8] = b"milepost/token-cipher/v1/xchacha20poly1305-key for Strava OAuth tokens";
/// Domain separation for the key fingerprint, so it is unrelated to any other hash of the key.
const KEY_ID_DOMAIN: &[u8] = b"milepost/token-cipher/v1/key-id\0";
/// Bytes of the fingerprint shown as the key id (8 hex characters).
const KEY_ID_BYTES: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Why a stored token could not be decrypted. The messages never include the stored value.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Not something this cipher wrote: wrong shape, version, key id syntax or base64.
    #[error("the encrypted value is malformed")]
    Malformed,
    /// Written under a key that is neither `ENCRYPTION_KEY` nor in `ENCRYPTION_KEYS_PREVIOUS`.
    #[error(
        "the encrypted value was written under a key that is not configured \
         (neither ENCRYPTION_KEY nor ENCRYPTION_KEYS_PREVIOUS)"
    )]
    UnknownKey,
    /// The key id matched but authentication failed: tampered with, or bound to another
    /// athlete or field.
    #[error(
        "the encrypted value failed to decrypt (tampered with, or stored for another athlete or field)"
    )]
    Decrypt,
}

/// One derived key and its public fingerprint.
struct CipherKey {
    /// `k` followed by 8 hex characters.
    id: String,
    aead: XChaCha20Poly1305,
}

impl CipherKey {
    fn derive(secret: &SecretString) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.expose_secret().as_bytes());
        let mut key = [0u8; 32];
        hkdf.expand(HKDF_INFO, &mut key)
            // 32 bytes is far below HKDF-SHA256's 8160-byte output limit.
            .expect("32 bytes is a valid HKDF-SHA256 output length");

        let fingerprint = Sha256::new()
            .chain_update(KEY_ID_DOMAIN)
            .chain_update(key)
            .finalize();
        let id = format!("k{}", to_hex(&fingerprint[..KEY_ID_BYTES]));

        let aead = XChaCha20Poly1305::new(&key.into());
        key.zeroize();
        Self { id, aead }
    }
}

/// Encrypts and decrypts OAuth tokens for storage. Cheap to share behind an `Arc`.
pub struct TokenCipher {
    current: CipherKey,
    previous: Vec<CipherKey>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids are public fingerprints; the keys themselves never leave this module.
        f.debug_struct("TokenCipher")
            .field("current_key_id", &self.current.id)
            .field(
                "previous_key_ids",
                &self
                    .previous
                    .iter()
                    .map(|key| key.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The parts of a stored value, borrowed from it.
struct Parsed<'a> {
    /// `v1.k…`, authenticated as part of the associated data.
    header: &'a str,
    key_id: &'a str,
    sealed: Vec<u8>,
}

impl TokenCipher {
    /// Derives the current key from `ENCRYPTION_KEY` and the decrypt-only keys from
    /// `ENCRYPTION_KEYS_PREVIOUS`. Empty previous keys and repeats of another key are ignored.
    pub fn new(current: &SecretString, previous: &[SecretString]) -> Self {
        let current = CipherKey::derive(current);
        let mut kept: Vec<CipherKey> = Vec::with_capacity(previous.len());
        for secret in previous {
            if secret.expose_secret().is_empty() {
                continue;
            }
            let key = CipherKey::derive(secret);
            if key.id != current.id && kept.iter().all(|other| other.id != key.id) {
                kept.push(key);
            }
        }
        Self {
            current,
            previous: kept,
        }
    }

    /// The id written into new values, e.g. `k3f9a12bc`.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plaintext` for the `field` column ("access_token" / "refresh_token") of the
    /// athlete `athlete_id`, under the current key with a fresh random nonce.
    pub fn encrypt(&self, plaintext: &str, athlete_id: i64, field: &str) -> String {
        let header = format!("{VERSION}.{}", self.current.id);
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(&header, athlete_id, field);
        let ciphertext = self
            .current
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // XChaCha20-Poly1305 only refuses messages longer than 256 GiB.
            .expect("XChaCha20-Poly1305 encrypts any token-sized message");

        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        format!("{header}.{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Decrypts a value written by [`encrypt`](Self::encrypt) under the current or a previous
    /// key, for the same athlete and field. A value that fails is an error, never a token.
    pub fn decrypt(
        &self,
        stored: &str,
        athlete_id: i64,
        field: &str,
    ) -> Result<SecretString, CryptoError> {
        let parsed = parse(stored).ok_or(CryptoError::Malformed)?;
        let (nonce, ciphertext) = parsed.sealed.split_at(NONCE_LEN);
        let aad = associated_data(parsed.header, athlete_id, field);

        // Fingerprints are short, so two configured keys could share one: try each match.
        let mut candidates = std::iter::once(&self.current)
            .chain(&self.previous)
            .filter(|key| key.id == parsed.key_id)
            .peekable();
        if candidates.peek().is_none() {
            return Err(CryptoError::UnknownKey);
        }
        for key in candidates {
            let payload = Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            };
            if let Ok(plaintext) = key.aead.decrypt(XNonce::from_slice(nonce), payload) {
                return String::from_utf8(plaintext)
                    .map(SecretString::from)
                    // Only `encrypt` (which takes a `&str`) can produce an authentic value.
                    .map_err(|_| CryptoError::Decrypt);
            }
        }
        Err(CryptoError::Decrypt)
    }

    /// Whether `stored` was written under the current key, i.e. `milepost keys rotate` can
    /// leave it alone. Looks at the header only; [`decrypt`](Self::decrypt) still authenticates.
    pub fn is_current(&self, stored: &str) -> bool {
        parse(stored).is_some_and(|parsed| parsed.key_id == self.current.id)
    }
}

/// What the ciphertext is bound to. The athlete id cannot contain `:`, so the field (last) cannot
/// be confused with it.
fn associated_data(header: &str, athlete_id: i64, field: &str) -> String {
    format!("milepost-token:{header}:{athlete_id}:{field}")
}

/// Splits `v1.k<8 hex>.<base64url>` into its parts, or `None` if it is not of that shape.
fn parse(stored: &str) -> Option<Parsed<'_>> {
    let mut parts = stored.splitn(3, '.');
    let version = parts.next()?;
    let key_id = parts.next()?;
    let body = parts.next()?;
    if version != VERSION {
        return None;
    }
    let fingerprint = key_id.strip_prefix('k')?;
    if fingerprint.len() != KEY_ID_BYTES * 2 || from_hex(fingerprint).is_none() {
        return None;
    }
    let sealed = URL_SAFE_NO_PAD.decode(body).ok()?;
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let header = &stored[..version.len() + 1 + key_id.len()];
    Some(Parsed {
        header,
        key_id,
        sealed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATHLETE: i64 = 12_345_678;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    fn cipher() -> TokenCipher {
        TokenCipher::new(&secret("Zr4xC1s0b2N9yQ8wV7uT6sR5qP4oN3mL2kJ1iH0gF9e"), &[])
    }

    /// Decodes the body of a stored value, applies `edit` to the bytes and re-encodes it.
    fn edit_body(stored: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
        let (header, body) = stored.rsplit_once('.').expect("stored values contain dots");
        let mut bytes = URL_SAFE_NO_PAD.decode(body).expect("body is base64url");
        edit(&mut bytes);
        format!("{header}.{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    fn decrypts_to(cipher: &TokenCipher, stored: &str, expected: &str) {
        let plaintext = cipher
            .decrypt(stored, ATHLETE, "access_token")
            .expect("value decrypts");
        assert_eq!(plaintext.expose_secret(), expected);
    }

    #[test]
    fn a_token_round_trips() {
        let cipher = cipher();
        let stored = cipher.encrypt("a1b2c3-access", ATHLETE, "access_token");
        decrypts_to(&cipher, &stored, "a1b2c3-access");
    }

    #[test]
    fn the_stored_value_names_version_and_key_and_is_url_safe_ascii() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        let id = cipher.current_key_id();
        assert_eq!(id.len(), 9);
        assert!(id.starts_with('k'));
        assert!(stored.starts_with(&format!("v1.{id}.")));
        assert!(
            stored
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        );
        assert!(!stored.contains("token"));
    }

    #[test]
    fn an_empty_token_round_trips() {
        let cipher = cipher();
        let stored = cipher.encrypt("", ATHLETE, "access_token");
        decrypts_to(&cipher, &stored, "");
    }

    #[test]
    fn the_same_key_gives_the_same_key_id_and_other_keys_do_not() {
        let a = TokenCipher::new(&secret("key one"), &[]);
        let b = TokenCipher::new(&secret("key one"), &[]);
        let c = TokenCipher::new(&secret("key two"), &[]);
        assert_eq!(a.current_key_id(), b.current_key_id());
        assert_ne!(a.current_key_id(), c.current_key_id());
    }

    #[test]
    fn two_encryptions_of_the_same_token_differ() {
        let cipher = cipher();
        let first = cipher.encrypt("same", ATHLETE, "access_token");
        let second = cipher.encrypt("same", ATHLETE, "access_token");
        assert_ne!(first, second);
        decrypts_to(&cipher, &first, "same");
        decrypts_to(&cipher, &second, "same");
    }

    #[test]
    fn a_flipped_ciphertext_byte_is_rejected() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        for index in [NONCE_LEN, NONCE_LEN + 2] {
            let tampered = edit_body(&stored, |bytes| bytes[index] ^= 0x01);
            let error = cipher.decrypt(&tampered, ATHLETE, "access_token");
            assert!(matches!(error, Err(CryptoError::Decrypt)), "{error:?}");
        }
        let tag_flipped = edit_body(&stored, |bytes| {
            let last = bytes.len() - 1;
            bytes[last] ^= 0x80;
        });
        assert!(matches!(
            cipher.decrypt(&tag_flipped, ATHLETE, "access_token"),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn a_flipped_nonce_byte_is_rejected() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        for index in [0, NONCE_LEN - 1] {
            let tampered = edit_body(&stored, |bytes| bytes[index] ^= 0x01);
            assert!(matches!(
                cipher.decrypt(&tampered, ATHLETE, "access_token"),
                Err(CryptoError::Decrypt)
            ));
        }
    }

    #[test]
    fn a_changed_key_id_is_rejected() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        let id = cipher.current_key_id();
        let last = id.chars().last().expect("key id is not empty");
        let other = if last == '0' { '1' } else { '0' };
        let tampered = stored.replacen(id, &format!("{}{other}", &id[..id.len() - 1]), 1);
        assert!(matches!(
            cipher.decrypt(&tampered, ATHLETE, "access_token"),
            Err(CryptoError::UnknownKey)
        ));
        let non_hex = stored.replacen(id, "kzzzzzzzz", 1);
        assert!(matches!(
            cipher.decrypt(&non_hex, ATHLETE, "access_token"),
            Err(CryptoError::Malformed)
        ));
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let stored = cipher().encrypt("token", ATHLETE, "access_token");
        let other = TokenCipher::new(&secret("a different ENCRYPTION_KEY"), &[]);
        assert!(matches!(
            other.decrypt(&stored, ATHLETE, "access_token"),
            Err(CryptoError::UnknownKey)
        ));
    }

    #[test]
    fn another_key_with_the_same_key_id_still_cannot_decrypt() {
        let real = cipher();
        let stored = real.encrypt("token", ATHLETE, "access_token");
        // Forge a cipher whose fingerprint collides with the real one.
        let mut impostor = TokenCipher::new(&secret("impostor"), &[]);
        impostor.current.id = real.current_key_id().to_owned();
        assert!(matches!(
            impostor.decrypt(&stored, ATHLETE, "access_token"),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn a_value_moved_to_another_athlete_is_rejected() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        assert!(matches!(
            cipher.decrypt(&stored, ATHLETE + 1, "access_token"),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn a_value_moved_to_another_field_is_rejected() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        assert!(matches!(
            cipher.decrypt(&stored, ATHLETE, "refresh_token"),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn a_previous_key_still_decrypts_and_is_not_current() {
        let old_key = secret("the key we used last year");
        let old = TokenCipher::new(&old_key, &[]);
        let stored_under_old = old.encrypt("old-token", ATHLETE, "access_token");

        let rotated = TokenCipher::new(&secret("this year's key"), &[secret(""), old_key]);
        decrypts_to(&rotated, &stored_under_old, "old-token");
        assert!(!rotated.is_current(&stored_under_old));

        let stored_under_new = rotated.encrypt("new-token", ATHLETE, "access_token");
        assert!(rotated.is_current(&stored_under_new));
        assert!(!old.is_current(&stored_under_new));
        assert!(matches!(
            old.decrypt(&stored_under_new, ATHLETE, "access_token"),
            Err(CryptoError::UnknownKey)
        ));
    }

    #[test]
    fn debug_output_shows_key_ids_and_no_key_material() {
        let current = "Zr4xC1s0b2N9yQ8wV7uT6sR5qP4oN3mL2kJ1iH0gF9e";
        let previous = "previous-secret-key-material-0123456789";
        let cipher = TokenCipher::new(&secret(current), &[secret(previous)]);
        let debug = format!("{cipher:?}");
        assert!(debug.contains(cipher.current_key_id()), "{debug}");
        assert!(
            !debug.contains(current) && !debug.contains(previous),
            "{debug}"
        );
        assert!(!debug.contains("aead"), "{debug}");
    }

    #[test]
    fn garbage_is_malformed_and_never_panics() {
        let cipher = cipher();
        let long = "A".repeat(100_000);
        let garbage = [
            "",
            ".",
            "..",
            "v1",
            "v1.",
            "v1..",
            "v1.k.",
            "v2.k00000000.AAAA",
            "v1.k0000000.AAAA",
            "v1.k00000000",
            "v1.k00000000.",
            "v1.k00000000.!!!!",
            "v1.k00000000.AAAA",
            "v1.K00000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "v1.kABCDEF01.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "v1.k00000000.AAAA=",
            "plain-text-access-token",
            "v1.é€漢字.AAAA",
            long.as_str(),
        ];
        for value in garbage {
            assert!(
                matches!(
                    cipher.decrypt(value, ATHLETE, "access_token"),
                    Err(CryptoError::Malformed)
                ),
                "{value:?}"
            );
            assert!(!cipher.is_current(value));
        }
    }

    #[test]
    fn a_truncated_value_is_an_error() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        for cut in 0..stored.len() {
            assert!(
                cipher
                    .decrypt(&stored[..cut], ATHLETE, "access_token")
                    .is_err()
            );
        }
    }

    #[test]
    fn error_messages_do_not_include_the_value() {
        let cipher = cipher();
        let stored = cipher.encrypt("token", ATHLETE, "access_token");
        for error in [
            CryptoError::Malformed,
            CryptoError::UnknownKey,
            CryptoError::Decrypt,
        ] {
            assert!(!error.to_string().contains(&stored));
        }
    }
}
