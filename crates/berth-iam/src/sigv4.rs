//! Verification of AWS Signature Version 4, header form.
//!
//! Written here because the `aws-sigv4` crate signs requests but offers no verifier: a server
//! must rebuild the canonical request from exactly the headers the client chose to sign (its
//! `SignedHeaders` list), which a signer's header selection cannot reproduce. The derivation
//! itself is the documented one: canonical request, string to sign, HMAC key chain.
//!
//! Pure: the caller passes the request parts, the secret it looked up and the current time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// How far a request's `X-Amz-Date` may be from the server's clock, as AWS allows.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigV4Error {
    #[error(
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters"
    )]
    Malformed,
    #[error("Credential should be scoped to a valid region, not '{0}'.")]
    WrongRegion(String),
    #[error("Credential should be scoped to correct service: '{expected}'.")]
    WrongService { expected: String },
    #[error("the X-Amz-Date header is missing or malformed")]
    BadDate,
    #[error("Signature expired: {request} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired {
        request: String,
        earliest: String,
        now: String,
    },
    #[error("Signature not yet current: {request} is still later than {latest} ({now} + 15 min.)")]
    NotYetCurrent {
        request: String,
        latest: String,
        now: String,
    },
    /// AWS refuses a signature that leaves out `host` or an `x-amz-*` header that is present:
    /// otherwise an unsigned `X-Amz-Target` could turn a captured BatchGetImage into a
    /// BatchDeleteImage.
    #[error("'{0}' must be a 'SignedHeader' in the AWS Authorization.")]
    UnsignedHeader(String),
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch,
}

impl SigV4Authorization {
    pub fn parse(header: &str) -> Result<SigV4Authorization, SigV4Error> {
        let rest = header
            .strip_prefix("AWS4-HMAC-SHA256")
            .ok_or(SigV4Error::Malformed)?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=').ok_or(SigV4Error::Malformed)?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
        let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature)
        else {
            return Err(SigV4Error::Malformed);
        };
        let mut scope = credential.split('/');
        let (Some(key), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
        ) else {
            return Err(SigV4Error::Malformed);
        };
        let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
        if signed_headers.iter().any(String::is_empty) || signature.len() != 64 {
            return Err(SigV4Error::Malformed);
        }
        Ok(SigV4Authorization {
            access_key_id: key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: signature.to_owned(),
        })
    }
}

/// The parts of a request that a signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Every header, lowercase names, in any order; repeated names are joined with commas.
    pub headers: &'a [(String, String)],
    pub payload_sha256_hex: &'a str,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    // Works on bytes: a `%` followed by a multi-byte character must not split that character.
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_request(auth: &SigV4Authorization, req: &SignedRequest<'_>) -> String {
    let mut headers = String::new();
    for name in &auth.signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    let path = if req.path.is_empty() { "/" } else { req.path };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        uri_encode(&percent_decode(path), true),
        canonical_query(req.query),
        headers,
        auth.signed_headers.join(";"),
        req.payload_sha256_hex
    )
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'` into a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil, for the proleptic Gregorian calendar.
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Formats a time as `YYYYMMDD'T'HHMMSS'Z'`.
pub fn format_amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Checks what a signature claims before any of the body is read: the scope names this
/// region and service, the date is within [`MAX_SKEW`] of `now`, and every header that must be
/// signed is. `headers` are every header of the request, lowercase names.
pub fn check_envelope(
    auth: &SigV4Authorization,
    headers: &[(String, String)],
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    if auth.service != service {
        return Err(SigV4Error::WrongService {
            expected: service.to_owned(),
        });
    }
    if auth.region != region {
        return Err(SigV4Error::WrongRegion(auth.region.clone()));
    }
    let signed = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    if !signed("host") {
        return Err(SigV4Error::UnsignedHeader("Host".to_owned()));
    }
    if let Some((name, _)) = headers
        .iter()
        .find(|(n, _)| n.starts_with("x-amz-") && !signed(n))
    {
        return Err(SigV4Error::UnsignedHeader(name.clone()));
    }
    let amz_date = headers
        .iter()
        .find(|(n, _)| n == "x-amz-date")
        .map(|(_, v)| v.as_str())
        .ok_or(SigV4Error::BadDate)?;
    let when = parse_amz_date(amz_date).ok_or(SigV4Error::BadDate)?;
    if !amz_date.starts_with(&auth.date) {
        return Err(SigV4Error::Mismatch);
    }
    if when + MAX_SKEW < now {
        return Err(SigV4Error::Expired {
            request: amz_date.to_owned(),
            earliest: format_amz_date(now - MAX_SKEW),
            now: format_amz_date(now),
        });
    }
    if when > now + MAX_SKEW {
        return Err(SigV4Error::NotYetCurrent {
            request: amz_date.to_owned(),
            latest: format_amz_date(now + MAX_SKEW),
            now: format_amz_date(now),
        });
    }
    Ok(())
}

/// Verifies a request's signature with `secret`, for the expected region and service, at `now`:
/// [`check_envelope`], then the signature over the canonical request.
pub fn verify(
    auth: &SigV4Authorization,
    req: &SignedRequest<'_>,
    secret: &str,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    check_envelope(auth, req.headers, region, service, now)?;
    verify_signature(auth, req, secret)
}

/// The signature alone, for a request whose envelope [`check_envelope`] already accepted.
pub fn verify_signature(
    auth: &SigV4Authorization,
    req: &SignedRequest<'_>,
    secret: &str,
) -> Result<(), SigV4Error> {
    let amz_date = req
        .headers
        .iter()
        .find(|(n, _)| n == "x-amz-date")
        .map(|(_, v)| v.as_str())
        .ok_or(SigV4Error::BadDate)?;
    let canonical = canonical_request(auth, req);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex_lower(&Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex_lower(&hmac(&k_signing, string_to_sign.as_bytes()));
    use subtle::ConstantTimeEq;
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(SigV4Error::Mismatch)
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex SHA-256 of a payload, as `x-amz-content-sha256` and canonical requests carry it.
pub fn payload_hash(body: &[u8]) -> String {
    hex_lower(&Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published "get-vanilla" case from the Signature Version 4 test suite.
    #[test]
    fn aws_get_vanilla_test_vector_verifies() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let auth = SigV4Authorization::parse(header).unwrap();
        let headers = vec![
            ("host".to_owned(), "example.amazonaws.com".to_owned()),
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload_sha256_hex: &payload_hash(b""),
        };
        let now = parse_amz_date("20150830T123600Z").unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            verify(&auth, &req, secret, "us-east-1", "service", now),
            Ok(())
        );
        assert_eq!(
            verify(&auth, &req, "wrong", "us-east-1", "service", now),
            Err(SigV4Error::Mismatch)
        );
        assert!(matches!(
            verify(
                &auth,
                &req,
                secret,
                "us-east-1",
                "service",
                now + Duration::from_secs(16 * 60)
            ),
            Err(SigV4Error::Expired { .. })
        ));
        assert!(matches!(
            verify(&auth, &req, secret, "eu-west-1", "service", now),
            Err(SigV4Error::WrongRegion(_))
        ));
    }

    fn envelope(signed: &str, headers: &[(&str, &str)]) -> Result<(), SigV4Error> {
        let header = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request, SignedHeaders={signed}, Signature={}", "0".repeat(64));
        let auth = SigV4Authorization::parse(&header).unwrap();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let now = parse_amz_date("20150830T123600Z").unwrap();
        check_envelope(&auth, &headers, "us-east-1", "ecr", now)
    }

    #[test]
    fn host_and_every_amz_header_must_be_signed() {
        let date = ("x-amz-date", "20150830T123600Z");
        let host = ("host", "example.com");
        let target = (
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.BatchGetImage",
        );
        assert_eq!(envelope("host;x-amz-date", &[host, date]), Ok(()));
        assert_eq!(
            envelope("x-amz-date", &[host, date]),
            Err(SigV4Error::UnsignedHeader("Host".into()))
        );
        assert_eq!(
            envelope("host;x-amz-date", &[host, date, target]),
            Err(SigV4Error::UnsignedHeader("x-amz-target".into()))
        );
        assert_eq!(
            envelope("host;x-amz-date;x-amz-target", &[host, date, target]),
            Ok(())
        );
    }

    #[test]
    fn percent_decoding_never_splits_characters() {
        assert_eq!(percent_decode("%41%4a"), "AJ");
        assert_eq!(percent_decode("%aé"), "%aé");
        assert_eq!(percent_decode("%é%"), "%é%");
        assert_eq!(canonical_query("b=%é&a=1"), "a=1&b=%25%C3%A9");
    }

    #[test]
    fn dates_round_trip() {
        let t = parse_amz_date("20261123T013245Z").unwrap();
        assert_eq!(format_amz_date(t), "20261123T013245Z");
        assert!(parse_amz_date("2026-11-23").is_none());
        assert!(parse_amz_date("20261323T013245Z").is_none());
    }

    #[test]
    fn malformed_headers_are_refused() {
        for h in [
            "",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
            "Basic abc",
        ] {
            assert_eq!(
                SigV4Authorization::parse(h),
                Err(SigV4Error::Malformed),
                "{h}"
            );
        }
    }
}
