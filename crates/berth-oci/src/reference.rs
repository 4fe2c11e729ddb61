//! A manifest reference: a tag or a digest.

use std::fmt;

use crate::{Digest, Tag};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    /// Parses the `<reference>` of `/v2/<name>/manifests/<reference>`: anything with a `:` must
    /// be a digest, anything else a tag.
    pub fn parse(s: &str) -> Option<Reference> {
        if s.contains(':') {
            s.parse().ok().map(Reference::Digest)
        } else {
            s.parse().ok().map(Reference::Tag)
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}
