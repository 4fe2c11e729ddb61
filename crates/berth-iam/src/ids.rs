//! Account ids and access keys, in AWS's shapes.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("an account id is 12 digits")]
    AccountId,
    #[error("an access key id is 16 to 128 uppercase letters and digits")]
    AccessKeyId,
}

/// A 12-digit AWS-style account id; an account is a registry.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn generate() -> AccountId {
        let mut rng = rand::thread_rng();
        // A leading non-zero digit keeps the id 12 digits in every tool that parses it as a number.
        let first = rng.gen_range(1..=9u8);
        let rest: String = (0..11)
            .map(|_| char::from(b'0' + rng.gen_range(0..=9u8)))
            .collect();
        AccountId(format!("{first}{rest}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_owned()))
        } else {
            Err(IdError::AccountId)
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// An access key id such as `AKIA…`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AccessKeyId(String);

const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl AccessKeyId {
    pub fn generate() -> AccessKeyId {
        let mut rng = rand::thread_rng();
        let tail: String = (0..16)
            .map(|_| char::from(KEY_ALPHABET[rng.gen_range(0..KEY_ALPHABET.len())]))
            .collect();
        AccessKeyId(format!("AKIA{tail}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccessKeyId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (16..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(AccessKeyId(s.to_owned()))
        } else {
            Err(IdError::AccessKeyId)
        }
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret access key. `Debug` never prints it, so it cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    pub fn generate() -> SecretAccessKey {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut rng = rand::thread_rng();
        SecretAccessKey(
            (0..40)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect(),
        )
    }

    pub fn new(secret: String) -> SecretAccessKey {
        SecretAccessKey(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so a timing probe learns nothing about the stored secret.
    pub fn matches(&self, other: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(..)")
    }
}

/// An IAM user's unique id (`AIDA` and 17 more of `[A-Z2-7]`), as STS GetCallerIdentity and
/// IAM's user calls report it. AWS draws it at random when the user is created; berth derives
/// it from the account, the name and the creation time instead, which has the same properties
/// (stable for the user's life, different for a user re-created under the same name) with
/// nothing more to store.
pub fn user_id(account: &str, name: &str, created_at_millis: i64) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{account}/{name}/{created_at_millis}"));
    // 256 is a multiple of 32, so taking each byte modulo 32 is unbiased.
    let tail: String = digest
        .iter()
        .take(17)
        .map(|b| char::from(KEY_ALPHABET[usize::from(*b) % KEY_ALPHABET.len()]))
        .collect();
    format!("AIDA{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_stable_and_change_with_creation() {
        let a = user_id("123456789012", "alice", 1);
        assert_eq!(a, user_id("123456789012", "alice", 1));
        assert_ne!(a, user_id("123456789012", "alice", 2));
        assert_eq!(a.len(), 21);
        assert!(a.starts_with("AIDA") && a.bytes().all(|b| KEY_ALPHABET.contains(&b)));
    }

    #[test]
    fn generated_ids_parse() {
        let a = AccountId::generate();
        assert_eq!(a.as_str().parse::<AccountId>().unwrap(), a);
        let k = AccessKeyId::generate();
        assert_eq!(k.as_str().parse::<AccessKeyId>().unwrap(), k);
        assert!("12345".parse::<AccountId>().is_err());
        assert!("akia-lower".parse::<AccessKeyId>().is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretAccessKey::generate();
        assert!(!format!("{s:?}").contains(s.expose()));
        assert!(s.matches(&s.expose().to_owned()));
        assert!(!s.matches("nope"));
    }
}
