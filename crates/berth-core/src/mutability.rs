//! Tag mutability: ECR's four settings and their wildcard exclusion filters.

use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagMutability {
    Mutable,
    Immutable,
    ImmutableWithExclusion,
    MutableWithExclusion,
}

impl TagMutability {
    pub fn as_str(self) -> &'static str {
        match self {
            TagMutability::Mutable => "MUTABLE",
            TagMutability::Immutable => "IMMUTABLE",
            TagMutability::ImmutableWithExclusion => "IMMUTABLE_WITH_EXCLUSION",
            TagMutability::MutableWithExclusion => "MUTABLE_WITH_EXCLUSION",
        }
    }
}

impl FromStr for TagMutability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "MUTABLE" => Ok(TagMutability::Mutable),
            "IMMUTABLE" => Ok(TagMutability::Immutable),
            "IMMUTABLE_WITH_EXCLUSION" => Ok(TagMutability::ImmutableWithExclusion),
            "MUTABLE_WITH_EXCLUSION" => Ok(TagMutability::MutableWithExclusion),
            _ => Err(format!(
                "tag mutability {s:?} is not one of MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION"
            )),
        }
    }
}

/// ECR allows at most five exclusion filters, each 1 to 128 characters of tag characters and `*`.
const MAX_FILTERS: usize = 5;
const MAX_FILTER_LEN: usize = 128;

/// A repository's mutability setting with its exclusion filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagMutabilityRule {
    mutability: TagMutability,
    filters: Vec<String>,
}

impl TagMutabilityRule {
    /// The rule a request asks for, as both front doors take it: a setting by ECR's name
    /// (MUTABLE when none is given) and its exclusion filters.
    pub fn from_request(mutability: Option<&str>, filters: Vec<String>) -> Result<Self, String> {
        let mutability: TagMutability = mutability.unwrap_or("MUTABLE").parse().map_err(|e| {
            format!("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: {e}")
        })?;
        TagMutabilityRule::new(mutability, filters)
    }

    /// Validates the combination: the `*_WITH_EXCLUSION` settings need filters, the others take none.
    pub fn new(mutability: TagMutability, filters: Vec<String>) -> Result<Self, String> {
        let needs_filters = matches!(
            mutability,
            TagMutability::ImmutableWithExclusion | TagMutability::MutableWithExclusion
        );
        if needs_filters && filters.is_empty() {
            return Err(format!(
                "{} requires at least one exclusion filter",
                mutability.as_str()
            ));
        }
        if !needs_filters && !filters.is_empty() {
            return Err(format!(
                "exclusion filters are only allowed with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not {}",
                mutability.as_str()
            ));
        }
        if filters.len() > MAX_FILTERS {
            return Err(format!(
                "at most {MAX_FILTERS} exclusion filters are allowed"
            ));
        }
        for f in &filters {
            let ok = !f.is_empty()
                && f.len() <= MAX_FILTER_LEN
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'*'));
            if !ok {
                return Err(format!(
                    "exclusion filter {f:?} must be 1 to 128 of [A-Za-z0-9._-*]"
                ));
            }
        }
        Ok(TagMutabilityRule {
            mutability,
            filters,
        })
    }

    pub fn mutable() -> Self {
        TagMutabilityRule {
            mutability: TagMutability::Mutable,
            filters: Vec::new(),
        }
    }

    pub fn mutability(&self) -> TagMutability {
        self.mutability
    }

    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// Whether `tag`, once it exists, may not be moved to another image.
    pub fn is_immutable(&self, tag: &str) -> bool {
        let excluded = || self.filters.iter().any(|f| wildcard_match(f, tag));
        match self.mutability {
            TagMutability::Mutable => false,
            TagMutability::Immutable => true,
            TagMutability::ImmutableWithExclusion => !excluded(),
            TagMutability::MutableWithExclusion => excluded(),
        }
    }
}

/// Matches `*` as any run of characters, as ECR's filters do.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(m: TagMutability, filters: &[&str]) -> TagMutabilityRule {
        TagMutabilityRule::new(m, filters.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn wildcards_match_like_ecr_filters() {
        assert!(wildcard_match("latest", "latest"));
        assert!(wildcard_match("dev-*", "dev-123"));
        assert!(wildcard_match("*-rc*", "v1-rc2"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("dev-*", "prod-1"));
        assert!(!wildcard_match("a*a", "a"));
    }

    #[test]
    fn exclusions_invert_the_default() {
        let r = rule(TagMutability::ImmutableWithExclusion, &["latest", "dev-*"]);
        assert!(r.is_immutable("v1"));
        assert!(!r.is_immutable("latest"));
        assert!(!r.is_immutable("dev-7"));
        let r = rule(TagMutability::MutableWithExclusion, &["release-*"]);
        assert!(r.is_immutable("release-1"));
        assert!(!r.is_immutable("latest"));
        assert!(rule(TagMutability::Immutable, &[]).is_immutable("x"));
        assert!(!TagMutabilityRule::mutable().is_immutable("x"));
    }

    #[test]
    fn filters_are_validated() {
        assert!(TagMutabilityRule::new(TagMutability::ImmutableWithExclusion, vec![]).is_err());
        assert!(TagMutabilityRule::new(TagMutability::Immutable, vec!["a".into()]).is_err());
        assert!(
            TagMutabilityRule::new(TagMutability::MutableWithExclusion, vec!["a/b".into()])
                .is_err()
        );
    }
}
