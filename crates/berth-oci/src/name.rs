//! Repository names and tags, with ECR's and the OCI spec's rules.

use std::fmt;
use std::str::FromStr;

use crate::digest::truncated;

/// A repository name as ECR accepts it: 2 to 256 characters, lowercase components separated by
/// `/`, and inside a component `.`, `_`, `__` or a run of `-` as separators: exactly the botocore
/// model's pattern `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/…)*`, which is also distribution's. No empty component, no `..`, no leading or trailing separator.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid repository name {name:?}: {reason}")]
pub struct NameError {
    pub name: String,
    pub reason: &'static str,
}

const MIN_NAME: usize = 2;
const MAX_NAME: usize = 256;

fn valid_component(c: &str) -> Result<(), &'static str> {
    if c.is_empty() {
        return Err("empty path component");
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err("a component must start and end with a lowercase letter or digit");
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`, as the OCI name grammar allows.
        let run_end = bytes[i..]
            .iter()
            .position(|&x| alnum(x))
            .map_or(bytes.len(), |p| i + p);
        let run = &c[i..run_end];
        let ok = matches!(run, "." | "_" | "__") || run.bytes().all(|x| x == b'-');
        if !ok {
            return Err("only '.', '_', '__' or dashes may separate characters");
        }
        i = run_end;
    }
    Ok(())
}

impl FromStr for RepositoryName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| NameError {
            name: truncated(s),
            reason,
        };
        if s.len() < MIN_NAME || s.len() > MAX_NAME {
            return Err(err("must be 2 to 256 characters"));
        }
        for component in s.split('/') {
            valid_component(component).map_err(err)?;
        }
        Ok(RepositoryName(s.to_owned()))
    }
}

impl RepositoryName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, the OCI pattern, which also caps it at ECR's 128.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid tag {0:?}: a tag is 1 to 128 of [A-Za-z0-9_.-] and cannot start with '.' or '-'")]
pub struct TagError(pub String);

const MAX_TAG: usize = 128;

impl FromStr for Tag {
    type Err = TagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= MAX_TAG
            && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
            && bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok {
            Ok(Tag(s.to_owned()))
        } else {
            Err(TagError(truncated(s)))
        }
    }
}

impl Tag {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(input: &str, ok: bool) {
        assert_eq!(input.parse::<RepositoryName>().is_ok(), ok, "{input}");
    }

    #[test]
    fn names_follow_ecr_rules() {
        name("web-app", true);
        name("team/web.app_1", true);
        name("a/b/c", true);
        name("a__b", true);
        name("a", false);
        name("Web", false);
        name("a//b", false);
        name("../etc", false);
        name("a/../b", false);
        name("a..b", false);
        name("-a", false);
        name("a/", false);
        name("/a", false);
        name("a_-b", false);
        name(&"a".repeat(257), false);
        name(&"a".repeat(256), true);
    }

    #[test]
    fn tags_follow_the_oci_pattern() {
        assert!("v1.0-rc_1".parse::<Tag>().is_ok());
        assert!("_x".parse::<Tag>().is_ok());
        assert!(".x".parse::<Tag>().is_err());
        assert!("-x".parse::<Tag>().is_err());
        assert!("a/b".parse::<Tag>().is_err());
        assert!("".parse::<Tag>().is_err());
        assert!("a".repeat(128).parse::<Tag>().is_ok());
        assert!("a".repeat(129).parse::<Tag>().is_err());
    }
}
