//! Signed registry tokens: the docker login password.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{AccessKeyId, AccountId};

/// ECR's authorization tokens are valid for 12 hours; berth's are too.
pub const TOKEN_VALIDITY: Duration = Duration::from_secs(12 * 60 * 60);

/// Tokens longer than this are garbage; refusing them early bounds the work an attacker causes.
const MAX_TOKEN_LEN: usize = 1024;

/// What a token says: who it was issued to and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub account: AccountId,
    pub access_key_id: AccessKeyId,
    /// Which creation of the key the token was issued for ([`crate::SecretSealer::creation_stamp`]).
    pub key_creation: u64,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("Your authorization token has expired. Reauthenticate and try again.")]
    Expired,
}

/// Signs and verifies tokens with one server secret.
pub struct TokenSigner {
    key: Vec<u8>,
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenSigner {
    pub fn new(key: &[u8]) -> TokenSigner {
        TokenSigner { key: key.to_vec() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// `base64url(claims) "." base64url(hmac(claims))`.
    fn seal(&self, claims: &str) -> String {
        let mut mac = self.mac();
        mac.update(claims.as_bytes());
        let sig = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(claims),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// The claims of a sealed token, if its signature is genuine.
    fn open(&self, token: &str) -> Result<String, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (claims_b64, sig_b64) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let claims = URL_SAFE_NO_PAD
            .decode(claims_b64)
            .map_err(|_| TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig_b64)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&claims);
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        String::from_utf8(claims).map_err(|_| TokenError::Malformed)
    }

    /// Issues a token valid for [`TOKEN_VALIDITY`] from `now`, for one creation of the key.
    /// Tokens of the first format (`v1`), which named no creation, are no longer accepted.
    pub fn issue(
        &self,
        account: &AccountId,
        key: &AccessKeyId,
        key_creation: u64,
        now: SystemTime,
    ) -> (String, u64) {
        let expires_at = unix_seconds(now + TOKEN_VALIDITY);
        (
            self.seal(&format!(
                "v2:{account}:{key}:{key_creation:016x}:{expires_at}"
            )),
            expires_at,
        )
    }

    /// Grants a download of one resource (`what`, opaque here) until `now + validity`: the
    /// short-lived URL of GetDownloadUrlForLayer.
    pub fn grant_download(&self, what: &str, now: SystemTime, validity: Duration) -> String {
        let expires_at = unix_seconds(now + validity);
        self.seal(&format!("dl1:{expires_at}:{what}"))
    }

    /// The resource a download grant names, if it is genuine and has not expired.
    pub fn verify_download(&self, grant: &str, now: SystemTime) -> Result<String, TokenError> {
        let claims = self.open(grant)?;
        let rest = claims.strip_prefix("dl1:").ok_or(TokenError::Malformed)?;
        let (expires, what) = rest.split_once(':').ok_or(TokenError::Malformed)?;
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if unix_seconds(now) >= expires {
            return Err(TokenError::Expired);
        }
        Ok(what.to_owned())
    }

    /// Checks the signature first and the expiry second, so that only a genuine but old token
    /// is told it expired.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<TokenClaims, TokenError> {
        let claims = self.open(token)?;
        let mut parts = claims.split(':');
        let (Some("v2"), Some(account), Some(key), Some(creation), Some(exp), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let claims = TokenClaims {
            account: account.parse().map_err(|_| TokenError::Malformed)?,
            access_key_id: key.parse().map_err(|_| TokenError::Malformed)?,
            key_creation: u64::from_str_radix(creation, 16).map_err(|_| TokenError::Malformed)?,
            expires_at: exp.parse().map_err(|_| TokenError::Malformed)?,
        };
        if unix_seconds(now) >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new(b"test-key")
    }

    #[test]
    fn token_round_trips_until_it_expires() {
        let (acct, key) = (AccountId::generate(), AccessKeyId::generate());
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (token, exp) = signer().issue(&acct, &key, 0xfeed, t0);
        assert_eq!(exp, 1_000_000 + 12 * 3600);
        let claims = signer()
            .verify(&token, t0 + Duration::from_secs(3600))
            .unwrap();
        assert_eq!(claims.account, acct);
        assert_eq!(claims.key_creation, 0xfeed);
        assert_eq!(
            signer().verify(&token, t0 + TOKEN_VALIDITY),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn download_grants_expire_and_cannot_be_forged_or_confused_with_tokens() {
        let t0 = UNIX_EPOCH + Duration::from_secs(5_000);
        let grant = signer().grant_download("acct/repo@sha256:x", t0, Duration::from_secs(60));
        assert_eq!(
            signer().verify_download(&grant, t0).unwrap(),
            "acct/repo@sha256:x"
        );
        assert_eq!(
            signer().verify_download(&grant, t0 + Duration::from_secs(60)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            TokenSigner::new(b"other").verify_download(&grant, t0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(signer().verify(&grant, t0), Err(TokenError::Malformed));
        let (token, _) = signer().issue(&AccountId::generate(), &AccessKeyId::generate(), 1, t0);
        assert_eq!(
            signer().verify_download(&token, t0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let (acct, key) = (AccountId::generate(), AccessKeyId::generate());
        let (token, _) = signer().issue(&acct, &key, 1, UNIX_EPOCH);
        let other = TokenSigner::new(b"other");
        assert_eq!(
            other.verify(&token, UNIX_EPOCH),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer().verify("garbage", UNIX_EPOCH),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            signer().verify("a.b.c", UNIX_EPOCH),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            signer().verify(&"x".repeat(5000), UNIX_EPOCH),
            Err(TokenError::Malformed)
        );
        // A genuine token of the first format, which named no key creation, no longer opens.
        let v1 = signer().seal(&format!("v1:{acct}:{key}:{}", u64::MAX));
        assert_eq!(signer().verify(&v1, UNIX_EPOCH), Err(TokenError::Malformed));
    }
}
