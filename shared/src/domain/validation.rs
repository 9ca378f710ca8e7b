//! Field-level validation errors and the helpers that read untyped JSON documents field by field,
//! so a bad document reports every failing field at once.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One failing field of a rejected document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { field: field.into(), problem: problem.into() }
    }
}

/// Collects field errors while a document is read.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldError::new(field, problem));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Records the error of a parse result and returns its value.
    pub fn take<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(p) => {
                self.push(field, p);
                None
            }
        }
    }
    pub fn finish<T>(self, v: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(v())
        } else {
            Err(self.0)
        }
    }
}

/// Reports every key of `obj` that is not in `allowed` (unknown fields are usually typos).
pub fn reject_unknown(obj: &Map<String, Value>, allowed: &[&str], prefix: &str, errs: &mut Errors) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            errs.push(format!("{prefix}{key}"), "unknown field");
        }
    }
}

pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn as_bool(v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| format!("must be a boolean, got {}", json_type(v)))
}

pub fn as_str(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| format!("must be a string, got {}", json_type(v)))
}

pub fn as_u64(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| "must be a non-negative whole number".to_string()),
        other => Err(format!("must be a whole number, got {}", json_type(other))),
    }
}

/// Parses one of a fixed set of string values.
pub fn one_of<T>(v: &Value, parse: impl Fn(&str) -> Option<T>, names: &[&str]) -> Result<T, String> {
    let s = as_str(v)?;
    parse(s).ok_or_else(|| {
        let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
        format!("must be one of {}", names.join(", "))
    })
}
