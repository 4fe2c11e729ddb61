//! Secret access keys at rest: sealed with ChaCha20-Poly1305 under a master key.
//!
//! SigV4 verification needs the secret itself (the signing key is derived from it per day,
//! region and service), so a one-way hash cannot be stored. Instead each secret is encrypted
//! with a random nonce; a dump of the database shows only `enc1:<base64>`, and the master key
//! lives outside the database (a 0600 file in the data directory, or `BERTH_MASTER_KEY`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use crate::SecretAccessKey;

const PREFIX: &str = "enc1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the stored secret is not sealed in a known format")]
    Format,
    #[error("the stored secret does not open with this master key")]
    WrongKey,
}

pub struct SecretSealer {
    cipher: ChaCha20Poly1305,
}

impl SecretSealer {
    pub fn new(master_key: &[u8; 32]) -> SecretSealer {
        SecretSealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(master_key)),
        }
    }

    pub fn seal(&self, secret: &SecretAccessKey) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encrypting an in-memory buffer with a valid key and nonce cannot fail.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), secret.expose().as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Names one creation of a key: the first eight bytes of the SHA-256 of its sealed secret.
    /// Each seal draws a fresh nonce, so a key deleted and created again under the same id and
    /// secret (an operator's `BERTH_ROOT_ACCESS_KEY_ID`) gets a new stamp, and the tokens issued
    /// for the old one stay dead.
    pub fn creation_stamp(stored: &str) -> u64 {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(stored.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        u64::from_be_bytes(first)
    }

    pub fn open(&self, stored: &str) -> Result<SecretAccessKey, SealError> {
        let raw = stored
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > NONCE_LEN)
            .ok_or(SealError::Format)?;
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plain)
            .map(SecretAccessKey::new)
            .map_err(|_| SealError::Format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_are_not_plain() {
        let secret = SecretAccessKey::generate();
        let sealer = SecretSealer::new(&[7; 32]);
        let stored = sealer.seal(&secret);
        assert!(!stored.contains(secret.expose()));
        assert_ne!(stored, sealer.seal(&secret), "nonces must differ");
        assert_eq!(sealer.open(&stored).unwrap(), secret);
        assert_eq!(
            SecretSealer::new(&[8; 32]).open(&stored),
            Err(SealError::WrongKey)
        );
        assert_eq!(sealer.open("plain-secret"), Err(SealError::Format));
    }
}
