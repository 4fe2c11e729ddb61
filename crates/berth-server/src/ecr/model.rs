//! Request validation from botocore's ECR model, so that every constraint the model states
//! (required members, types, lengths, ranges, enums, patterns) is enforced exactly as written,
//! with AWS's message naming the offending field.
//!
//! The model is embedded as data (`model/ecr-2015-09-21.json`) and parsed once.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::error::EcrError;

struct Model {
    operations: Map<String, Value>,
    shapes: Map<String, Value>,
    /// Each pattern of the model, anchored, compiled once.
    patterns: HashMap<String, Regex>,
}

const MODEL_JSON: &str = include_str!("../../model/ecr-2015-09-21.json");

fn model() -> Option<&'static Model> {
    static MODEL: OnceLock<Option<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let mut root: Value = serde_json::from_str(MODEL_JSON).ok()?;
            let operations = root
                .get_mut("operations")?
                .as_object_mut()
                .map(std::mem::take)?;
            let shapes = root
                .get_mut("shapes")?
                .as_object_mut()
                .map(std::mem::take)?;
            let patterns = shapes
                .values()
                .filter_map(|s| s.get("pattern").and_then(Value::as_str))
                .filter_map(|p| Some((p.to_owned(), Regex::new(&format!("^(?:{p})$")).ok()?)))
                .collect();
            Some(Model {
                operations,
                shapes,
                patterns,
            })
        })
        .as_ref()
}

/// Validates `input` against the input shape of `operation`.
pub fn validate(operation: &str, input: &Value) -> Result<(), EcrError> {
    let Some(model) = model() else {
        return Err(EcrError::new(
            "ServerException",
            "the embedded ECR model could not be read",
        ));
    };
    let Some(op) = model.operations.get(operation) else {
        return Ok(());
    };
    let kind = op["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["shape"].as_str())
        .find(|e| *e == "InvalidParameterException" || *e == "ValidationException")
        .map_or("InvalidParameterException", |e| {
            if e == "ValidationException" {
                "ValidationException"
            } else {
                "InvalidParameterException"
            }
        });
    let Some(shape) = op["input"]["shape"].as_str() else {
        return Ok(());
    };
    check(model, shape, input, "").map_err(|constraint| {
        let (path, why) = constraint;
        EcrError::new(
            kind,
            format!("Invalid parameter at '{path}' failed to satisfy constraint: '{why}'"),
        )
    })
}

type Violation = (String, String);

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

fn check(model: &Model, shape_name: &str, value: &Value, path: &str) -> Result<(), Violation> {
    let Some(shape) = model.shapes.get(shape_name) else {
        return Ok(());
    };
    let fail = |why: String| Err((path.to_owned(), why));
    let bound = |key: &str| shape.get(key).and_then(Value::as_f64);
    match shape["type"].as_str().unwrap_or("") {
        "structure" => {
            let Some(object) = value.as_object() else {
                return fail("Member must be a structure".into());
            };
            for required in shape["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if object.get(required).is_none_or(Value::is_null) {
                    return Err((join(path, required), "Member must not be null".into()));
                }
            }
            let members = shape["members"].as_object();
            for (name, member_value) in object {
                let Some(member) = members.and_then(|m| m.get(name)) else {
                    continue;
                };
                if member_value.is_null() {
                    continue;
                }
                if let Some(target) = member["shape"].as_str() {
                    check(model, target, member_value, &join(path, name))?;
                }
            }
            Ok(())
        }
        "string" => {
            let Some(s) = value.as_str() else {
                return fail("Member must be a string".into());
            };
            let len = s.chars().count() as f64;
            if let Some(min) = bound("min") {
                if len < min {
                    return fail(format!(
                        "Member must have length greater than or equal to {min}"
                    ));
                }
            }
            if let Some(max) = bound("max") {
                if len > max {
                    return fail(format!(
                        "Member must have length less than or equal to {max}"
                    ));
                }
            }
            if let Some(values) = shape["enum"].as_array() {
                if !values.iter().any(|v| v.as_str() == Some(s)) {
                    let set: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                    return fail(format!(
                        "Member must satisfy enum value set: [{}]",
                        set.join(", ")
                    ));
                }
            }
            if let Some(pattern) = shape["pattern"].as_str() {
                if model
                    .patterns
                    .get(pattern)
                    .is_some_and(|re| !re.is_match(s))
                {
                    return fail(format!(
                        "Member must satisfy regular expression pattern: {pattern}"
                    ));
                }
            }
            Ok(())
        }
        "integer" | "long" => {
            let Some(n) = value.as_f64().filter(|_| value.is_i64() || value.is_u64()) else {
                return fail("Member must be an integer".into());
            };
            if let Some(min) = bound("min") {
                if n < min {
                    return fail(format!(
                        "Member must have value greater than or equal to {min}"
                    ));
                }
            }
            if let Some(max) = bound("max") {
                if n > max {
                    return fail(format!(
                        "Member must have value less than or equal to {max}"
                    ));
                }
            }
            Ok(())
        }
        "boolean" => match value.is_boolean() {
            true => Ok(()),
            false => fail("Member must be a boolean".into()),
        },
        "list" => {
            let Some(items) = value.as_array() else {
                return fail("Member must be a list".into());
            };
            let n = items.len() as f64;
            if let Some(min) = bound("min") {
                if n < min {
                    return fail(format!(
                        "Member must have length greater than or equal to {min}"
                    ));
                }
            }
            if let Some(max) = bound("max") {
                if n > max {
                    return fail(format!(
                        "Member must have length less than or equal to {max}"
                    ));
                }
            }
            if let Some(target) = shape["member"]["shape"].as_str() {
                for (i, item) in items.iter().enumerate() {
                    check(model, target, item, &format!("{path}.{}", i + 1))?;
                }
            }
            Ok(())
        }
        "map" => match value.as_object() {
            Some(_) => Ok(()),
            None => fail("Member must be a map".into()),
        },
        "blob" => match value.is_string() {
            true => Ok(()),
            false => fail("Member must be base64 data".into()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(op: &str, input: Value) -> Option<String> {
        validate(op, &input)
            .err()
            .map(|e| format!("{}: {}", e.kind, e.message))
    }

    #[test]
    fn the_embedded_model_loads_with_every_pattern() {
        let m = model().unwrap();
        assert_eq!(m.operations.len(), 58);
        let declared = m
            .shapes
            .values()
            .filter(|s| s.get("pattern").is_some())
            .count();
        assert!(declared > 0);
        for s in m.shapes.values() {
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                assert!(m.patterns.contains_key(p), "pattern {p} did not compile");
            }
        }
    }

    #[test]
    fn constraints_name_the_field() {
        assert_eq!(
            check("CreateRepository", json!({"repositoryName": "web-app"})),
            None
        );
        let e = check("CreateRepository", json!({})).unwrap();
        assert!(
            e.contains("'repositoryName'") && e.contains("not be null"),
            "{e}"
        );
        let e = check("CreateRepository", json!({"repositoryName": "Web"})).unwrap();
        assert!(e.contains("regular expression"), "{e}");
        let e = check("CreateRepository", json!({"repositoryName": "a"})).unwrap();
        assert!(e.contains("length greater than or equal to 2"), "{e}");
        let e = check(
            "CreateRepository",
            json!({"repositoryName": "ab", "imageTagMutability": "X"}),
        )
        .unwrap();
        assert!(
            e.contains("imageTagMutability") && e.contains("enum"),
            "{e}"
        );
        let e = check("DescribeRepositories", json!({"maxResults": 5000})).unwrap();
        assert!(e.contains("'maxResults'"), "{e}");
        let e = check(
            "BatchGetImage",
            json!({"repositoryName": "ab", "imageIds": []}),
        )
        .unwrap();
        assert!(e.contains("'imageIds'"), "{e}");
        let e = check(
            "CreateRepository",
            json!({"repositoryName": "ab", "tags": [{"Key": "k"}]}),
        )
        .unwrap();
        assert!(e.contains("tags.1.Value"), "{e}");
    }
}
