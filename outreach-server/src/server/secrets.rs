//! Secrets at rest: destination API keys and webhook signing secrets are sealed with
//! ChaCha20-Poly1305 under the server key `OUTREACH_SECRETS_KEY` (32 bytes as 64 hex
//! characters, e.g. `openssl rand -hex 32`) before they reach the database, and opened
//! only to call the destination or sign a delivery. The associated data binds each
//! sealed value to its account and purpose, so a value copied to another row does not
//! open. Sealed form: `v1:<hex nonce><hex ciphertext+tag>`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

pub const KEY_ENV: &str = "OUTREACH_SECRETS_KEY";
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

/// The server key. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{KEY_ENV} must be 64 hex characters (32 bytes), e.g. `openssl rand -hex 32`")]
    BadKey,
    #[error("a stored secret does not open with {KEY_ENV} (was the key changed?)")]
    Unreadable,
}

impl SecretBox {
    /// From 64 hex characters.
    pub fn from_hex(hex: &str) -> Result<Self, SecretError> {
        let bytes = decode_hex(hex.trim()).ok_or(SecretError::BadKey)?;
        let cipher = ChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SecretError::BadKey);
        }
        Ok(Self { cipher })
    }

    /// From `OUTREACH_SECRETS_KEY`; `Ok(None)` when it is not set.
    pub fn from_env() -> Result<Option<Self>, SecretError> {
        match std::env::var(KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::from_hex(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// Seals `plain`, bound to `context` (e.g. `destination:<user>:<kind>`).
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        format!(
            "{PREFIX}{}{}",
            encode_hex(&nonce_bytes),
            encode_hex(&sealed)
        )
    }

    /// Opens what [`SecretBox::seal`] sealed with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, SecretError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(decode_hex)
            .ok_or(SecretError::Unreadable)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Unreadable);
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::Unreadable)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Unreadable)
    }
}

pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn seal_open_and_tamper() {
        let secrets = SecretBox::from_hex(KEY).unwrap();
        let sealed = secrets.seal("destination:u1:instantly", "sk-live-123");
        assert!(!sealed.contains("sk-live-123"));
        assert_ne!(
            sealed,
            secrets.seal("destination:u1:instantly", "sk-live-123"),
            "fresh nonce"
        );
        assert_eq!(
            secrets.open("destination:u1:instantly", &sealed).unwrap(),
            "sk-live-123"
        );
        // Another account's row, a flipped bit, another key: none opens.
        assert!(secrets.open("destination:u2:instantly", &sealed).is_err());
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert!(secrets
            .open(
                "destination:u1:instantly",
                &String::from_utf8(flipped).unwrap()
            )
            .is_err());
        let other = SecretBox::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open("destination:u1:instantly", &sealed).is_err());
        assert!(SecretBox::from_hex("abcd").is_err());
        assert!(!format!("{secrets:?}").contains("0001"));
    }
}
