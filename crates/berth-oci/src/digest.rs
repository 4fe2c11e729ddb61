//! Content digests (`algorithm:hex`) and a streaming hasher for them.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// The hash algorithms the registry verifies. sha256 is what every client sends; sha512 is
/// accepted because the OCI image spec registers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated digest: a registered algorithm and lowercase hex of the right length.
///
/// Because the hex part is checked character by character, a digest can be used as a path
/// component without any risk of traversal.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest {0:?} has no algorithm prefix")]
    MissingAlgorithm(String),
    #[error("digest algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    #[error("digest {0:?} is not lowercase hex of the algorithm's length")]
    InvalidHex(String),
}

/// Keeps error messages short when hostile input is long.
pub(crate) fn truncated(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Digest {
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finish()
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingAlgorithm(truncated(s)))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(DigestError::UnsupportedAlgorithm(truncated(alg))),
        };
        let valid_hex = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid_hex {
            return Err(DigestError::InvalidHex(truncated(s)));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Hashes bytes as they stream past, for one algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            Hasher::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, ok: bool) {
        assert_eq!(input.parse::<Digest>().is_ok(), ok, "{input}");
    }

    #[test]
    fn accepts_sha256_and_sha512() {
        check(&format!("sha256:{}", "a".repeat(64)), true);
        check(&format!("sha512:{}", "0".repeat(128)), true);
    }

    #[test]
    fn refuses_wrong_lengths_case_and_algorithms() {
        check(&format!("sha256:{}", "a".repeat(63)), false);
        check(&format!("sha256:{}", "A".repeat(64)), false);
        check(&format!("md5:{}", "a".repeat(32)), false);
        check("sha256:../../etc/passwd", false);
        check("", false);
    }

    #[test]
    fn hasher_matches_known_vector() {
        assert_eq!(
            Digest::sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
