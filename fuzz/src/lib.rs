//! The bodies of berth's fuzz targets, one function per parser that reads the wire. Each takes
//! arbitrary bytes, runs the parser, and asserts what must hold for any input (round trips,
//! bounds); a panic is a finding. The libFuzzer targets in `fuzz_targets/` call these, and
//! `tests/corpus.rs` replays the saved corpus through them in the test suite.
//!
//! Run one with `cargo fuzz run <target>` from this directory (see the README's development
//! section).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_iam::{SigV4Authorization, SignedRequest, TokenSigner};
use berth_oci::{ByteRange, Digest, Manifest, Reference, RepositoryName, Tag};

/// Splits input into `n` strings at NUL bytes, so one input drives several fields.
fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut parts: Vec<String> = data
        .splitn(n, |&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    parts.resize(n, String::new());
    parts
}

/// Manifest and index parsing, under each content type a client may send.
pub fn manifest(data: &[u8]) {
    for content_type in [
        None,
        Some("application/vnd.oci.image.manifest.v1+json"),
        Some("application/vnd.oci.image.index.v1+json"),
        Some("application/vnd.docker.distribution.manifest.v2+json"),
        Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    ] {
        if let Ok(m) = Manifest::parse(content_type, data) {
            assert!(data.len() <= berth_oci::MAX_MANIFEST_BYTES);
            for d in &m.references {
                assert!(d.size >= 0);
            }
        }
    }
}

/// Repository names, tags, references and digests: whatever parses prints back as itself.
pub fn names(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if let Ok(name) = s.parse::<RepositoryName>() {
        assert_eq!(name.to_string(), s);
        assert!(!name.to_string().contains(".."));
    }
    if let Ok(tag) = s.parse::<Tag>() {
        assert_eq!(tag.to_string(), s);
    }
    if let Ok(digest) = s.parse::<Digest>() {
        assert_eq!(digest.to_string(), s);
        assert_eq!(digest.to_string().parse::<Digest>().ok(), Some(digest.clone()));
        // A digest is safe as a path component.
        assert!(!digest.hex().contains('/') && !digest.hex().contains('.'));
    }
    if let Some(reference) = Reference::parse(&s) {
        assert_eq!(reference.to_string(), s);
    }
}

/// `Range` and `Content-Range`.
pub fn ranges(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    match ByteRange::parse(&s) {
        Some(ByteRange::From { start, end: Some(end) }) => assert!(end >= start),
        Some(ByteRange::Suffix(n)) => assert!(n > 0),
        _ => {}
    }
    if let Some((start, end)) = berth_oci::range::parse_content_range(&s) {
        assert!(end >= start);
    }
}

/// SigV4's `Authorization` header, then the canonical request and signature check over
/// arbitrary request parts: never a panic, and never a match for a made-up signature.
pub fn sigv4(data: &[u8]) {
    let f = fields(data, 6);
    let Ok(auth) = SigV4Authorization::parse(&f[0]) else {
        return;
    };
    let headers: Vec<(String, String)> = f[3]
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    let request = SignedRequest {
        method: &f[1],
        path: &f[2],
        query: &f[4],
        headers: &headers,
        payload_sha256_hex: &f[5],
    };
    // The envelope at the date of AWS's published test vectors (the seeds use it), so both of
    // its outcomes are reachable; then the signature over the canonical request on its own, so
    // the canonicalization runs whatever the envelope said.
    let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let _ = berth_iam::sigv4::check_envelope(&auth, &headers, &auth.region, &auth.service, now);
    let verdict = berth_iam::sigv4::verify_signature(&auth, &request, "secret");
    // The signature is 64 characters the input chose; matching HMAC-SHA256 by chance is not a
    // thing a fuzzer finds, so a match means the check is broken.
    assert!(verdict.is_err());
}

/// Registry tokens (the docker password) and layer download grants.
pub fn tokens(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let signer = TokenSigner::new(b"fuzzing key");
    let now = SystemTime::now();
    assert!(signer.verify(&s, now).is_err());
    assert!(signer.verify_download(&s, now).is_err());
}

/// The ECR JSON request validation against botocore's model, for any operation name.
pub fn ecr_json(data: &[u8]) {
    let f = fields(data, 2);
    if let Ok(input) = serde_json::from_str::<serde_json::Value>(&f[1]) {
        let _ = berth_server::ecr::validate_request(&f[0], &input);
    }
}
