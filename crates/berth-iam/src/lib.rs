//! Identity: account ids, access keys and the registry tokens docker logs in with.
//!
//! A registry token is what ECR's GetAuthorizationToken hands out and `docker login` sends as
//! the password of user `AWS`. berth's token is `base64url(claims) "." base64url(hmac)`, signed
//! with a server secret, so checking it needs no database round trip: the manifest-by-tag hot
//! path stays one indexed lookup.
//!
//! [`sigv4`] verifies AWS Signature Version 4 for the ECR and STS front doors.
//!
//! **Invariant:** pure code. Time is a parameter (`now`), never read here, so token expiry is
//! tested by passing a time.

mod ids;
mod sealing;
pub mod sigv4;
mod token;

pub use ids::{user_id, AccessKeyId, AccountId, IdError, SecretAccessKey};
pub use sealing::{SealError, SecretSealer};
pub use sigv4::{SigV4Authorization, SigV4Error, SignedRequest};
pub use token::{TokenClaims, TokenError, TokenSigner, TOKEN_VALIDITY};
