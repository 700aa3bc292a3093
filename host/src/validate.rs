//! Request body validation: the JSON Schema (draft 2020-12) a resource declares for a
//! method, compiled once when the plugin loads and checked before the guest is called.
//!
//! django-piston's `@validate` answered with Django's HTML error list and could not
//! read JSON bodies; here any body format is checked (it has been decoded to JSON
//! already), and the 400 lists every violation, each with a JSON Pointer into the
//! body — the same shape a guest's own checks produce.
//!
//! Schemas are the plugin author's, yet they run on the host: `pattern`s use a
//! linear-time regex engine, and nothing is fetched (a `$ref` to another document
//! fails the load). `format` is asserted, not just annotated: a body that claims to be
//! an `email` and is not is refused.

use crate::problem::{FieldError, Problem};
use crate::vocab::Method;
use http::StatusCode;

/// At most this many violations are listed; the detail says how many there were.
const MAX_LISTED: usize = 100;

/// Why a body was refused by its schema.
#[derive(Debug)]
pub enum Invalid {
    /// The body does not match (400): what the request did wrong, and the violations
    /// listed.
    Violations {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// What the decoder produced is not JSON (500: the host's fault).
    NotJson(String),
}

impl From<Invalid> for Problem {
    fn from(invalid: Invalid) -> Problem {
        match invalid {
            Invalid::Violations { detail, errors } => Problem::new(StatusCode::BAD_REQUEST)
                .detail(detail)
                .errors(errors),
            Invalid::NotJson(error) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .cause(format!("a decoded body is not JSON: {error}")),
        }
    }
}

/// A compiled body schema.
#[derive(Debug)]
pub struct BodyValidator {
    validator: jsonschema::Validator,
}

impl BodyValidator {
    /// Compiles `schema`; the error says what in the schema is wrong.
    pub fn compile(schema: &serde_json::Value) -> Result<BodyValidator, String> {
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(schema)
            .map_err(|error| error.to_string())?;
        Ok(BodyValidator { validator })
    }

    /// Checks the decoded body (`None`: the request had none, checked as `null`).
    pub fn check(&self, method: Method, data: Option<&str>) -> Result<(), Invalid> {
        let body = match data {
            Some(text) => {
                serde_json::from_str(text).map_err(|error| Invalid::NotJson(error.to_string()))?
            }
            None => serde_json::Value::Null,
        };
        let mut found = 0;
        let mut errors = Vec::new();
        for error in self.validator.iter_errors(&body) {
            found += 1;
            if errors.len() < MAX_LISTED {
                errors.push(FieldError {
                    pointer: error.instance_path().to_string(),
                    detail: error.to_string(),
                });
            }
        }
        if found == 0 {
            return Ok(());
        }
        let listed = if found > MAX_LISTED {
            format!("; the first {MAX_LISTED} are listed")
        } else {
            String::new()
        };
        let violations = if found == 1 {
            "violation"
        } else {
            "violations"
        };
        let detail = match data {
            None => format!("this {method} request needs a body matching its schema; it has none"),
            Some(_) => format!(
                "the request body does not match the {method} schema: {found} {violations}{listed}"
            ),
        };
        Err(Invalid::Violations { detail, errors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::Negotiated;
    use serde_json::{Value, json};

    async fn document(invalid: Invalid) -> Value {
        let response = Problem::from(invalid).into_response("r-1", Negotiated::json());
        assert_eq!(response.status(), 400);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn post_schema() -> BodyValidator {
        BodyValidator::compile(&json!({
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 10},
                "email": {"type": "string", "format": "email"},
                "tags": {"type": "array", "items": {"type": "string"}}
            }
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn every_violation_is_listed_with_its_pointer() {
        let body = r#"{"title": "far too long a title", "email": "nope", "tags": ["a", 2]}"#;
        let problem = document(post_schema().check(Method::Post, Some(body)).unwrap_err()).await;
        let pointers: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["pointer"].as_str().unwrap())
            .collect();
        assert_eq!(pointers.len(), 3, "{problem}");
        for pointer in ["/title", "/email", "/tags/1"] {
            assert!(pointers.contains(&pointer), "{pointer} in {problem}");
        }
        assert!(problem["detail"].as_str().unwrap().contains("3 violations"));
    }

    #[tokio::test]
    async fn a_missing_body_is_checked_as_null() {
        let problem = document(post_schema().check(Method::Post, None).unwrap_err()).await;
        assert_eq!(problem["errors"][0]["pointer"], "");
        assert!(
            post_schema()
                .check(Method::Post, Some(r#"{"title": "ok"}"#))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn long_lists_are_cut_but_counted() {
        let validator =
            BodyValidator::compile(&json!({"type": "array", "items": {"type": "string"}})).unwrap();
        let body = serde_json::to_string(&vec![1; 500]).unwrap();
        let problem = document(validator.check(Method::Put, Some(&body)).unwrap_err()).await;
        assert_eq!(problem["errors"].as_array().unwrap().len(), MAX_LISTED);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("500 violations")
        );
    }

    #[test]
    fn bad_schemas_do_not_compile() {
        for schema in [
            json!({"type": 12}),
            json!({"$ref": "https://example.com/schema.json"}),
            json!({"properties": {"a": {"pattern": "(?=lookahead)"}}}),
        ] {
            assert!(BodyValidator::compile(&schema).is_err(), "{schema}");
        }
    }
}
