//! The byte-range headers of the distribution API: `Range: bytes=…` on blob GETs and
//! `Content-Range: <start>-<end>` on upload chunks. Pure parsers; the callers check the
//! ranges against sizes.

/// A parsed `Range: bytes=…` header: one range, as registries serve (no multipart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=start-` or `bytes=start-end`, end inclusive and not before start.
    From { start: u64, end: Option<u64> },
    /// `bytes=-n`: the last `n` bytes, `n` at least one.
    Suffix(u64),
}

impl ByteRange {
    pub fn parse(value: &str) -> Option<ByteRange> {
        let spec = value.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (start, end) = spec.split_once('-')?;
        let (start, end) = (start.trim(), end.trim());
        if start.is_empty() {
            return end.parse().ok().filter(|&n| n > 0).map(ByteRange::Suffix);
        }
        let start = start.parse().ok()?;
        let end = if end.is_empty() {
            None
        } else {
            Some(end.parse().ok().filter(|&e| e >= start)?)
        };
        Some(ByteRange::From { start, end })
    }
}

/// A chunk's `Content-Range: <start>-<end>` (with or without a `bytes ` prefix), end
/// inclusive and not before start: `(start, end)`.
pub fn parse_content_range(text: &str) -> Option<(u64, u64)> {
    let text = text.strip_prefix("bytes ").unwrap_or(text);
    let (start, end) = text.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    (end >= start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        let from = |start, end| Some(ByteRange::From { start, end });
        assert_eq!(ByteRange::parse("bytes=0-9"), from(0, Some(9)));
        assert_eq!(ByteRange::parse("bytes=5-"), from(5, None));
        assert_eq!(ByteRange::parse("bytes=-3"), Some(ByteRange::Suffix(3)));
        for bad in [
            "bytes=9-1",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=-0",
            "bytes=x-1",
            "bytes=-",
        ] {
            assert_eq!(ByteRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19"), Some((10, 19)));
        for bad in ["9-1", "-1", "1-", "a-b", "", "18446744073709551616-1"] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
