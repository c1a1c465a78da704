//! Params schemas: compile once, validate at scan creation, read defaults.
//!
//! Params are checked against the scanner's JSON schema when a scan is created (the API answers
//! 422 with the failing path), never at run time. `null` params mean "none given" and are
//! validated as `{}`. Schemas are compiled without any remote or file resolution.

use argus_core::CoreError;
use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Compiles a params schema, which must describe an object.
pub fn compile(schema: &Value) -> Result<Validator, String> {
    let obj = schema
        .as_object()
        .ok_or("params schema must be a table/object")?;
    match obj.get("type") {
        Some(Value::String(t)) if t == "object" => {}
        _ => return Err("params schema must have type = \"object\"".into()),
    }
    jsonschema::validator_for(schema)
        .map_err(|e| format!("params schema is not a valid JSON schema: {e}"))
}

/// Validates `params` against `schema`. On failure, `Invalid.path` is the JSON pointer of the
/// failing value inside the params object (`/rate`; for a missing required or an unexpected
/// property, the pointer of that property), or `""` for the object as a whole.
pub fn validate_params(schema: &Value, params: &Value) -> Result<(), CoreError> {
    let v = compile(schema).map_err(|m| CoreError::invalid("", m))?;
    validate_with(&v, params)
}

/// Like [`validate_params`] with an already compiled schema.
pub fn validate_with(validator: &Validator, params: &Value) -> Result<(), CoreError> {
    let empty = Value::Object(Map::new());
    let params = if params.is_null() { &empty } else { params };
    let Some(err) = validator.iter_errors(params).next() else {
        return Ok(());
    };
    let mut path = err.instance_path.as_str().to_owned();
    match &err.kind {
        ValidationErrorKind::Required { property } => {
            path.push('/');
            path.push_str(&escape_pointer(property.as_str().unwrap_or_default()));
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            if let Some(first) = unexpected.first() {
                path.push('/');
                path.push_str(&escape_pointer(first));
            }
        }
        _ => {}
    }
    Err(CoreError::invalid(path, err.to_string()))
}

/// The top-level `properties.*.default` values of a schema.
pub fn defaults(schema: &Value) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter_map(|(k, p)| p.get("default").map(|d| (k.clone(), d.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// `params` (an object or `null`) over the schema's defaults.
pub fn with_defaults(
    defaults: &Map<String, Value>,
    params: &Value,
) -> Result<Map<String, Value>, String> {
    let mut out = defaults.clone();
    match params {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                if !v.is_null() {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        _ => return Err("params must be an object".into()),
    }
    Ok(out)
}

/// A native scanner's params: a typed struct (what the run path reads) and the JSON schema it is
/// checked against at scan creation (what `GET /api/v1/scanners` shows). Lives in the
/// scanner's `params.rs`.
pub trait Params: DeserializeOwned {
    /// The params' JSON schema; must have `type = "object"`.
    fn schema() -> Value;
}

/// A [`Params`] schema compiled once: validates at scan creation and reads params at run time.
#[derive(Debug)]
pub struct ParamsSchema {
    schema: Value,
    /// `Err` when the schema does not compile: a programming error that every scanner's unit
    /// tests and the conformance suite show; validation then refuses everything.
    validator: Result<Validator, String>,
}

impl ParamsSchema {
    /// Compiles `P`'s schema.
    pub fn of<P: Params>() -> Self {
        let schema = P::schema();
        let validator = compile(&schema);
        ParamsSchema { schema, validator }
    }

    /// Compiles a schema assembled at run time (a scanner family whose members add their own
    /// properties to common ones).
    pub fn from_value(schema: Value) -> Self {
        let validator = compile(&schema);
        ParamsSchema { schema, validator }
    }

    /// The schema (for [`ScannerInfo::params_schema`](argus_core::scanner::ScannerInfo)).
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Checks params (`null` counts as `{}`); `Invalid.path` is the failing JSON pointer.
    pub fn validate(&self, params: &Value) -> Result<(), CoreError> {
        match &self.validator {
            Ok(v) => validate_with(v, params),
            Err(e) => Err(CoreError::Backend(format!(
                "params schema does not compile: {e}"
            ))),
        }
    }

    /// Reads already validated params into `P` (`null` counts as `{}`; absent fields take the
    /// struct's serde defaults, which must agree with the schema's `default`s).
    pub fn read<P: Params>(params: &Value) -> Result<P, String> {
        let read = match params {
            Value::Null => <P as serde::Deserialize>::deserialize(&Value::Object(Map::new())),
            p => <P as serde::Deserialize>::deserialize(p),
        };
        read.map_err(|e| format!("params: {e}"))
    }
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path_of(r: Result<(), CoreError>) -> String {
        match r {
            Err(CoreError::Invalid { path, .. }) => path,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn reports_failing_paths() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["mode"],
            "properties": {
                "mode": {"type": "string", "enum": ["a", "b"]},
                "rate": {"type": "integer", "minimum": 1, "default": 10},
                "nested": {"type": "object", "properties": {"x/y": {"type": "boolean"}}}
            }
        });
        assert!(validate_params(&schema, &json!({"mode": "a", "rate": 5})).is_ok());
        assert_eq!(
            path_of(validate_params(&schema, &json!({"mode": "a", "rate": 0}))),
            "/rate"
        );
        assert_eq!(
            path_of(validate_params(
                &schema,
                &json!({"mode": "a", "rate": "fast"})
            )),
            "/rate"
        );
        assert_eq!(path_of(validate_params(&schema, &json!({}))), "/mode");
        assert_eq!(path_of(validate_params(&schema, &Value::Null)), "/mode");
        assert_eq!(
            path_of(validate_params(&schema, &json!({"mode": "a", "bogus": 1}))),
            "/bogus"
        );
        assert_eq!(
            path_of(validate_params(
                &schema,
                &json!({"mode": "a", "nested": {"x/y": 3}})
            )),
            "/nested/x~1y"
        );
        assert_eq!(path_of(validate_params(&schema, &json!([1]))), "");
        assert_eq!(defaults(&schema).get("rate"), Some(&json!(10)));
        assert!(compile(&json!({"type": "string"})).is_err());
        assert!(
            compile(&json!({"type": "object", "properties": {"a": {"type": "nonsense"}}})).is_err()
        );
    }
}
