//! Property tests: whatever parses as a name, tag, reference or digest prints back exactly as
//! it was sent (the core stores and compares the printed form), and well-formed values from
//! the grammars always parse.

use berth_oci::{Digest, Reference, RepositoryName, Tag};
use proptest::prelude::*;

/// A repository name from the OCI grammar: components of lowercase alphanumerics joined by
/// `.`, `_`, `__` or dashes, separated by `/`.
fn name() -> impl Strategy<Value = String> {
    let component = "[a-z0-9]{1,8}([._]|__|-{1,3})[a-z0-9]{1,8}|[a-z0-9]{1,12}";
    prop::collection::vec(component, 1..4)
        .prop_map(|c| c.join("/"))
        .prop_filter("ECR names are 2 to 256 characters", |s| {
            (2..=256).contains(&s.len())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn names_from_the_grammar_round_trip(s in name()) {
        let parsed: RepositoryName = s.parse().expect("a name from the grammar");
        prop_assert_eq!(parsed.to_string(), s);
    }

    #[test]
    fn any_string_that_parses_as_a_name_prints_as_itself(s in "[a-z0-9._/-]{0,40}") {
        if let Ok(parsed) = s.parse::<RepositoryName>() {
            prop_assert_eq!(parsed.to_string(), s);
        }
    }

    #[test]
    fn tags_round_trip(s in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}") {
        let parsed: Tag = s.parse().expect("a tag from the grammar");
        prop_assert_eq!(parsed.to_string(), s.clone());
        prop_assert_eq!(Reference::parse(&s).map(|r| r.to_string()), Some(s));
    }

    #[test]
    fn digests_round_trip(hex in "[0-9a-f]{64}") {
        let s = format!("sha256:{hex}");
        let parsed: Digest = s.parse().expect("a sha256 digest");
        prop_assert_eq!(parsed.to_string(), s.clone());
        prop_assert_eq!(Reference::parse(&s).map(|r| r.to_string()), Some(s));
    }

    #[test]
    fn anything_that_parses_as_a_reference_prints_as_itself(s in "\\PC{0,80}") {
        if let Some(r) = Reference::parse(&s) {
            prop_assert_eq!(r.to_string(), s);
        }
    }
}
