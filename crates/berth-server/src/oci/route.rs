//! Parses `/v2/...` paths into endpoints. Repository names contain slashes, so the path is
//! split from its right end, where the fixed suffixes are.

/// One endpoint of the distribution API, with its raw path parameters. Names and references
/// are validated by the dispatcher so that each failure gets its own OCI code.
#[derive(Debug, PartialEq, Eq)]
pub enum OciEndpoint<'a> {
    Base,
    Catalog,
    Manifest { name: &'a str, reference: &'a str },
    Blob { name: &'a str, digest: &'a str },
    UploadStart { name: &'a str },
    Upload { name: &'a str, id: &'a str },
    Tags { name: &'a str },
    Referrers { name: &'a str, digest: &'a str },
}

impl OciEndpoint<'_> {
    /// The endpoint's name in the spec's terms, for logs: one word, so a log line splits.
    pub fn kind(&self) -> &'static str {
        match self {
            OciEndpoint::Base => "base",
            OciEndpoint::Catalog => "catalog",
            OciEndpoint::Manifest { .. } => "manifest",
            OciEndpoint::Blob { .. } => "blob",
            OciEndpoint::UploadStart { .. } => "upload-start",
            OciEndpoint::Upload { .. } => "upload",
            OciEndpoint::Tags { .. } => "tags",
            OciEndpoint::Referrers { .. } => "referrers",
        }
    }
}

/// Splits `rest` at the last `/{marker}/` whose tail is one path segment.
fn split_last<'a>(rest: &'a str, marker: &str) -> Option<(&'a str, &'a str)> {
    let (name, tail) = rest.rsplit_once(marker)?;
    (!tail.contains('/')).then_some((name, tail))
}

pub fn parse(path: &str) -> Option<OciEndpoint<'_>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(OciEndpoint::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(OciEndpoint::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(OciEndpoint::Tags { name });
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(OciEndpoint::UploadStart { name });
    }
    if let Some((name, id)) = split_last(rest, "/blobs/uploads/") {
        return Some(OciEndpoint::Upload { name, id });
    }
    if let Some((name, reference)) = split_last(rest, "/manifests/") {
        return Some(OciEndpoint::Manifest { name, reference });
    }
    if let Some((name, digest)) = split_last(rest, "/blobs/") {
        return Some(OciEndpoint::Blob { name, digest });
    }
    if let Some((name, digest)) = split_last(rest, "/referrers/") {
        return Some(OciEndpoint::Referrers { name, digest });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Option<OciEndpoint<'_>>) {
        assert_eq!(parse(path), expected, "{path}");
    }

    #[test]
    fn spec_paths_parse() {
        check("/v2/", Some(OciEndpoint::Base));
        check("/v2", Some(OciEndpoint::Base));
        check("/v2/_catalog", Some(OciEndpoint::Catalog));
        check(
            "/v2/a/b/manifests/latest",
            Some(OciEndpoint::Manifest {
                name: "a/b",
                reference: "latest",
            }),
        );
        check(
            "/v2/manifests/manifests/v1",
            Some(OciEndpoint::Manifest {
                name: "manifests",
                reference: "v1",
            }),
        );
        check(
            "/v2/web/blobs/sha256:ab",
            Some(OciEndpoint::Blob {
                name: "web",
                digest: "sha256:ab",
            }),
        );
        check(
            "/v2/web/blobs/uploads/",
            Some(OciEndpoint::UploadStart { name: "web" }),
        );
        check(
            "/v2/web/blobs/uploads/123",
            Some(OciEndpoint::Upload {
                name: "web",
                id: "123",
            }),
        );
        check("/v2/x/y/tags/list", Some(OciEndpoint::Tags { name: "x/y" }));
        check(
            "/v2/x/referrers/sha256:1",
            Some(OciEndpoint::Referrers {
                name: "x",
                digest: "sha256:1",
            }),
        );
    }

    #[test]
    fn other_paths_do_not_parse() {
        check("/v2/web", None);
        check("/v2/web/manifests/a/b", None);
        check("/v3/", None);
        check("/v2x", None);
    }
}
