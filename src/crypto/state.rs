//! The OAuth `state` parameter: a signed, timestamped nonce that ties Strava's callback to an
//! authorize redirect this service issued.
//!
//! The value is `base64url_nopad("{unix_ts}:{nonce}:{mac}")`, where the nonce is 16 random bytes
//! in hex and the MAC is HMAC-SHA256 under `STATE_SECRET` over `"{unix_ts}:{nonce}"`, truncated to
//! 128 bits (32 hex characters). A state issued for the first connection's setup code carries
//! that code's binding (32 hex characters, see `crypto::setup`) as a fourth field,
//! `"{unix_ts}:{nonce}:{binding}:{mac}"`, and the MAC covers it: `"{unix_ts}:{nonce}:{binding}"`. It is valid for [`STATE_TTL_SECS`]. Verification here is pure
//! (the caller passes the time); single use is enforced by the caller, which remembers consumed
//! nonces in Postgres until [`VerifiedState::expires_at`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

use super::hex::{from_hex, to_hex};

/// How long an issued state stays valid, in seconds.
pub const STATE_TTL_SECS: i64 = 600;
/// How far in the future a timestamp may be (clock skew between replicas) before it is refused.
const MAX_CLOCK_SKEW_SECS: i64 = 60;
const NONCE_BYTES: usize = 16;
/// 128 bits of HMAC-SHA256.
const MAC_BYTES: usize = 16;
/// A setup code's binding: 128 bits in hex.
const BINDING_HEX_LEN: usize = 32;
/// Longer than any value [`StateSigner::issue`] produces (about 160 characters with a binding);
/// anything longer is refused before decoding.
const MAX_ENCODED_LEN: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// Why a state parameter was refused. The messages never include the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// Not of the shape this signer produces.
    #[error("the state parameter is malformed")]
    Malformed,
    /// Well formed, but not signed with this `STATE_SECRET` (or altered).
    #[error("the state parameter has an invalid signature")]
    BadSignature,
    /// Authentic, but older than the time to live or dated too far in the future.
    #[error("the state parameter has expired")]
    Expired,
}

/// A freshly issued state: the value for the authorize URL (and the browser cookie), plus what
/// the caller may want to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedState {
    pub value: String,
    pub nonce: String,
    pub expires_at: i64,
}

/// An authentic, unexpired state. The caller must still check that `nonce` was not used before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedState {
    pub nonce: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The setup code's binding the state was issued for, if any.
    pub setup: Option<String>,
}

/// Issues and verifies OAuth state parameters under `STATE_SECRET`.
#[derive(Clone)]
pub struct StateSigner {
    /// Keyed once; cloned for every MAC.
    mac: HmacSha256,
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSigner")
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl StateSigner {
    pub fn new(secret: &SecretString) -> Self {
        let mac = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
            // HMAC takes keys of any length (long ones are hashed first).
            .expect("HMAC-SHA256 accepts a key of any length");
        Self { mac }
    }

    /// Issues a state valid from `now_unix` for [`STATE_TTL_SECS`].
    pub fn issue(&self, now_unix: i64) -> IssuedState {
        self.issue_for(now_unix, None)
    }

    /// Issues a state like [`issue`](Self::issue), bound to a setup code's `binding` (32
    /// lowercase hex characters) when one is given.
    pub fn issue_for(&self, now_unix: i64, binding: Option<&str>) -> IssuedState {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let nonce = to_hex(&nonce);
        let signed = match binding {
            Some(binding) => format!("{now_unix}:{nonce}:{binding}"),
            None => format!("{now_unix}:{nonce}"),
        };
        let mac = to_hex(&self.tag(&signed)[..MAC_BYTES]);
        IssuedState {
            value: URL_SAFE_NO_PAD.encode(format!("{signed}:{mac}")),
            nonce,
            expires_at: now_unix.saturating_add(STATE_TTL_SECS),
        }
    }

    /// Checks shape, then signature (in constant time), then age: at most [`STATE_TTL_SECS`]
    /// old and at most a minute in the future.
    pub fn verify(&self, value: &str, now_unix: i64) -> Result<VerifiedState, StateError> {
        if value.len() > MAX_ENCODED_LEN {
            return Err(StateError::Malformed);
        }
        let decoded = URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| StateError::Malformed)?;
        let decoded = String::from_utf8(decoded).map_err(|_| StateError::Malformed)?;
        let (signed, mac_hex) = decoded.rsplit_once(':').ok_or(StateError::Malformed)?;
        let (timestamp, rest) = signed.split_once(':').ok_or(StateError::Malformed)?;
        let (nonce, binding) = match rest.split_once(':') {
            Some((nonce, binding)) => (nonce, Some(binding)),
            None => (rest, None),
        };
        let well_formed_binding = binding.is_none_or(|b| {
            b.len() == BINDING_HEX_LEN && b.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        });

        // One spelling per value: the MAC covers the exact text, but strictness keeps surprises
        // (signs, leading `+`, uppercase hex) out of what the caller stores.
        let well_formed_timestamp = !timestamp.is_empty()
            && timestamp.len() <= 19
            && timestamp.bytes().all(|b| b.is_ascii_digit());
        let well_formed_nonce = nonce.len() == NONCE_BYTES * 2 && from_hex(nonce).is_some();
        if !well_formed_timestamp
            || !well_formed_nonce
            || !well_formed_binding
            || mac_hex.len() != MAC_BYTES * 2
        {
            return Err(StateError::Malformed);
        }
        let issued_at: i64 = timestamp.parse().map_err(|_| StateError::Malformed)?;
        let mac = from_hex(mac_hex).ok_or(StateError::Malformed)?;

        let mut expected = self.mac.clone();
        expected.update(signed.as_bytes());
        expected
            .verify_truncated_left(&mac)
            .map_err(|_| StateError::BadSignature)?;

        let expires_at = issued_at.saturating_add(STATE_TTL_SECS);
        let too_old = now_unix > expires_at;
        let from_the_future = issued_at > now_unix.saturating_add(MAX_CLOCK_SKEW_SECS);
        if too_old || from_the_future {
            return Err(StateError::Expired);
        }
        Ok(VerifiedState {
            nonce: nonce.to_owned(),
            issued_at,
            expires_at,
            setup: binding.map(str::to_owned),
        })
    }

    fn tag(&self, message: &str) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_766_664_000; // 2025-12-25T12:00:00Z

    fn signer() -> StateSigner {
        StateSigner::new(&SecretString::from(
            "a-state-secret-of-at-least-32-characters",
        ))
    }

    fn decode(value: &str) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode(value).expect("base64url")).expect("utf-8")
    }

    fn encode(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    /// The three decoded parts of an issued value.
    fn parts(value: &str) -> (String, String, String) {
        let decoded = decode(value);
        let fields: Vec<&str> = decoded.split(':').collect();
        assert_eq!(fields.len(), 3, "{decoded}");
        (fields[0].into(), fields[1].into(), fields[2].into())
    }

    #[test]
    fn an_issued_state_verifies() {
        let signer = signer();
        let issued = signer.issue(NOW);
        let verified = signer
            .verify(&issued.value, NOW + 5)
            .expect("state verifies");
        assert_eq!(verified.nonce, issued.nonce);
        assert_eq!(verified.issued_at, NOW);
        assert_eq!(verified.expires_at, NOW + STATE_TTL_SECS);
        assert_eq!(issued.expires_at, NOW + STATE_TTL_SECS);
    }

    #[test]
    fn an_issued_state_has_the_documented_shape() {
        let issued = signer().issue(NOW);
        assert!(!issued.value.contains('='));
        let (timestamp, nonce, mac) = parts(&issued.value);
        assert_eq!(timestamp, NOW.to_string());
        assert_eq!(nonce, issued.nonce);
        assert_eq!(nonce.len(), 32);
        assert_eq!(mac.len(), 32);
        assert!(from_hex(&nonce).is_some() && from_hex(&mac).is_some());
    }

    #[test]
    fn the_mac_is_truncated_hmac_sha256_over_timestamp_and_nonce() {
        let secret = "a-state-secret-of-at-least-32-characters";
        let issued = signer().issue(NOW);
        let (timestamp, nonce, mac) = parts(&issued.value);
        let mut full = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
        full.update(format!("{timestamp}:{nonce}").as_bytes());
        let full = to_hex(&full.finalize().into_bytes());
        assert_eq!(mac, full[..32]);
    }

    #[test]
    fn a_bound_state_carries_its_binding_under_the_mac() {
        let signer = signer();
        let binding = "0123456789abcdef0123456789abcdef";
        let issued = signer.issue_for(NOW, Some(binding));
        let verified = signer
            .verify(&issued.value, NOW)
            .expect("a bound state verifies");
        assert_eq!(verified.setup.as_deref(), Some(binding));
        assert_eq!(
            signer
                .verify(&signer.issue(NOW).value, NOW)
                .map(|v| v.setup),
            Ok(None)
        );

        // Another binding, or none, under the same MAC is a forgery.
        let decoded = decode(&issued.value);
        let fields: Vec<&str> = decoded.split(':').collect();
        assert_eq!(fields.len(), 4, "{decoded}");
        let (timestamp, nonce, mac) = (fields[0], fields[1], fields[3]);
        let other = "fedcba9876543210fedcba9876543210";
        for forged in [
            encode(&format!("{timestamp}:{nonce}:{other}:{mac}")),
            encode(&format!("{timestamp}:{nonce}:{mac}")),
        ] {
            assert_eq!(signer.verify(&forged, NOW), Err(StateError::BadSignature));
        }
        // An unbound state cannot be given a binding either.
        let (timestamp, nonce, mac) = parts(&signer.issue(NOW).value);
        let forged = encode(&format!("{timestamp}:{nonce}:{other}:{mac}"));
        assert_eq!(signer.verify(&forged, NOW), Err(StateError::BadSignature));
        let malformed = encode(&format!("{timestamp}:{nonce}:XYZ:{mac}"));
        assert_eq!(signer.verify(&malformed, NOW), Err(StateError::Malformed));
    }

    #[test]
    fn two_issued_states_differ() {
        let signer = signer();
        assert_ne!(signer.issue(NOW).nonce, signer.issue(NOW).nonce);
    }

    #[test]
    fn a_state_exactly_ten_minutes_old_is_valid_and_one_second_more_is_expired() {
        let signer = signer();
        let issued = signer.issue(NOW);
        assert!(signer.verify(&issued.value, NOW + 600).is_ok());
        assert_eq!(
            signer.verify(&issued.value, NOW + 601),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn a_state_from_the_far_future_is_refused() {
        let signer = signer();
        let issued = signer.issue(NOW + 3_600);
        assert_eq!(signer.verify(&issued.value, NOW), Err(StateError::Expired));
        let slightly_ahead = signer.issue(NOW + 60);
        assert!(signer.verify(&slightly_ahead.value, NOW).is_ok());
        let too_far_ahead = signer.issue(NOW + 61);
        assert_eq!(
            signer.verify(&too_far_ahead.value, NOW),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let signer = signer();
        let issued = signer.issue(i64::MAX);
        assert_eq!(signer.verify(&issued.value, NOW), Err(StateError::Expired));
        assert!(signer.verify(&issued.value, i64::MAX).is_ok());
        let ancient = signer.issue(0);
        assert_eq!(
            signer.verify(&ancient.value, i64::MAX),
            Err(StateError::Expired)
        );
        assert_eq!(
            signer.verify(&ancient.value, i64::MIN),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn a_tampered_timestamp_is_refused() {
        let signer = signer();
        let (_, nonce, mac) = parts(&signer.issue(NOW).value);
        let forged = encode(&format!("{}:{nonce}:{mac}", NOW + 1));
        assert_eq!(signer.verify(&forged, NOW), Err(StateError::BadSignature));
    }

    #[test]
    fn a_tampered_nonce_is_refused() {
        let signer = signer();
        let (timestamp, nonce, mac) = parts(&signer.issue(NOW).value);
        let other = if nonce.starts_with('0') { "1" } else { "0" };
        let forged = encode(&format!("{timestamp}:{other}{}:{mac}", &nonce[1..]));
        assert_eq!(signer.verify(&forged, NOW), Err(StateError::BadSignature));
    }

    #[test]
    fn a_tampered_mac_is_refused() {
        let signer = signer();
        let (timestamp, nonce, mac) = parts(&signer.issue(NOW).value);
        let other = if mac.ends_with('0') { "1" } else { "0" };
        let forged = encode(&format!("{timestamp}:{nonce}:{}{other}", &mac[..31]));
        assert_eq!(signer.verify(&forged, NOW), Err(StateError::BadSignature));
        let uppercase = encode(&format!("{timestamp}:{nonce}:{}", mac.to_uppercase()));
        assert!(signer.verify(&uppercase, NOW).is_err());
        let full_length = encode(&format!("{timestamp}:{nonce}:{mac}{mac}"));
        assert!(signer.verify(&full_length, NOW).is_err());
    }

    #[test]
    fn tampered_base64_is_refused() {
        let signer = signer();
        let value = signer.issue(NOW).value;
        let mut bytes = value.into_bytes();
        for index in [0, 10, bytes.len() - 1] {
            bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
        }
        let tampered = String::from_utf8(bytes).expect("ascii");
        assert!(signer.verify(&tampered, NOW).is_err());
        let padded = format!("{}=", signer.issue(NOW).value);
        assert_eq!(signer.verify(&padded, NOW), Err(StateError::Malformed));
    }

    #[test]
    fn a_state_from_another_secret_has_a_bad_signature() {
        let other = StateSigner::new(&SecretString::from("another-secret-entirely-0123456789"));
        let issued = other.issue(NOW);
        assert_eq!(
            signer().verify(&issued.value, NOW),
            Err(StateError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed_and_never_panics() {
        let signer = signer();
        let huge = "A".repeat(1_000_000);
        let huge_decoded = encode(&"9".repeat(10_000));
        let inputs = [
            String::new(),
            "not base64 at all!".into(),
            "====".into(),
            huge,
            huge_decoded,
            encode(""),
            encode("::"),
            encode("1:2"),
            encode("1766664000:00112233445566778899aabbccddeeff"),
            encode("1766664000:00112233445566778899aabbccddeeff:"),
            encode(":00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff"),
            encode("-1:00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff"),
            encode("+1:00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff"),
            encode(
                "99999999999999999999:00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff",
            ),
            encode(
                "9999999999999999999:00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff",
            ),
            encode("1766664000:0011:00112233445566778899aabbccddeeff"),
            encode("1766664000:00112233445566778899AABBCCDDEEFF:00112233445566778899aabbccddeeff"),
            encode("1766664000:00112233445566778899aabbccddeeff:zz112233445566778899aabbccddeeff"),
            encode("1766664000:00112233445566778899aabbccddeeff:00112233445566778899aabbccddee:ff"),
            encode("1766664000:00112233445566778899aabbccddeeé:00112233445566778899aabbccddeeff"),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, b':', 0x80, b':', 0xc3]),
            "é€漢字".into(),
        ];
        for input in &inputs {
            assert_eq!(
                signer.verify(input, NOW),
                Err(StateError::Malformed),
                "{input:.80?}"
            );
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = "a-state-secret-of-at-least-32-characters";
        let debug = format!("{:?}", StateSigner::new(&SecretString::from(secret)));
        assert!(!debug.contains(secret), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }
}
