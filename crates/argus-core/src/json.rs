//! One key order for JSON that people read and golden files pin, whatever serde_json's
//! features: a dependency of the binary (yara-x) turns on `preserve_order`, which makes
//! `serde_json::Map` keep insertion order in every crate built with it, so a map built from
//! parsed input (a tool's record) or from `to_value` would print in another order depending on
//! what else is compiled in. Writers pass such values through [`sorted`].

use serde_json::Value;

/// `v` with every object's keys in ascending order, recursively.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_sorted_at_every_depth() {
        let mut inner = serde_json::Map::new();
        inner.insert("z".into(), Value::from(1));
        inner.insert("a".into(), Value::from(2));
        let mut outer = serde_json::Map::new();
        outer.insert("y".into(), Value::Array(vec![Value::Object(inner.clone())]));
        outer.insert("b".into(), Value::Object(inner));
        let s = serde_json::to_string(&sorted(Value::Object(outer))).unwrap();
        assert_eq!(s, r#"{"b":{"a":2,"z":1},"y":[{"a":2,"z":1}]}"#);
    }
}
