//! Field paths and string templates used by tool definitions.
//!
//! A field path reads a value out of an output record: `host`, `info.severity`, `tags.0` (array
//! index), and `^Target` / `^^ArtifactName` to read from the enclosing element of a `json`
//! records path (one `^` per level up). Field names containing `.` cannot be addressed.
//!
//! A template is text with `{field.path}` placeholders (`{{` and `}}` for literal braces). A
//! missing or `null` field renders as the empty string; arrays render as their items joined with
//! `, `; objects as compact JSON.

use serde_json::Value;

/// One output record plus the elements enclosing it (outermost first; see the module docs).
#[derive(Clone, Debug)]
pub struct Record<'a> {
    pub value: &'a Value,
    pub parents: Vec<&'a Value>,
}

impl<'a> Record<'a> {
    /// A record with no enclosing elements (one JSONL line, one text line).
    pub fn top(value: &'a Value) -> Self {
        Record {
            value,
            parents: Vec::new(),
        }
    }
}

/// A parsed field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    up: usize,
    segments: Vec<String>,
    raw: String,
}

impl FieldPath {
    /// Parses `a.b.0`, `^a`, `^^a.b`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let raw = s.trim();
        let rest = raw.trim_start_matches('^');
        let up = raw.len() - rest.len();
        if rest.is_empty() {
            return Err(format!("empty field path '{s}'"));
        }
        let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
        if segments
            .iter()
            .any(|seg| seg.is_empty() || seg.contains(['{', '}', '^']))
        {
            return Err(format!("malformed field path '{s}'"));
        }
        Ok(FieldPath {
            up,
            segments,
            raw: raw.to_owned(),
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// How many levels up (`^`) the path starts.
    pub fn up(&self) -> usize {
        self.up
    }

    /// The dot-separated segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The value at this path, if present.
    pub fn resolve<'a>(&self, rec: &Record<'a>) -> Option<&'a Value> {
        let base = if self.up == 0 {
            rec.value
        } else {
            let i = rec.parents.len().checked_sub(self.up)?;
            rec.parents.get(i).copied()?
        };
        lookup(base, &self.segments)
    }

    /// Removes the field from `v` (a record's own field; `^` paths are ignored).
    pub fn remove_from(&self, v: &mut Value) {
        if self.up != 0 {
            return;
        }
        let Some((last, init)) = self.segments.split_last() else {
            return;
        };
        let mut cur = v;
        for seg in init {
            cur = match cur {
                Value::Object(m) => match m.get_mut(seg) {
                    Some(x) => x,
                    None => return,
                },
                Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                    Some(x) => x,
                    None => return,
                },
                _ => return,
            };
        }
        match cur {
            Value::Object(m) => {
                m.remove(last);
            }
            Value::Array(a) => {
                if let Some(x) = last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                    *x = Value::Null;
                }
            }
            _ => {}
        }
    }
}

/// Walks `segments` down from `v` (object keys, or array indices).
pub fn lookup<'a>(v: &'a Value, segments: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in segments {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!cur.is_null()).then_some(cur)
}

/// Renders a value as text: strings as is, scalars in their JSON spelling, `null` as empty,
/// arrays joined with `sep`, objects as compact JSON.
pub fn value_text(v: &Value, sep: &str) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a
            .iter()
            .filter(|x| !x.is_null())
            .map(|x| match x {
                Value::Array(_) | Value::Object(_) => x.to_string(),
                _ => value_text(x, sep),
            })
            .collect::<Vec<_>>()
            .join(sep),
        Value::Object(_) => v.to_string(),
    }
}

/// Whether a value counts as "set" for `when` conditions: present and not `null`, `false`, `""`,
/// `0`, `[]` or `{}`.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Field(FieldPath),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `"{template-id} on {host}"`; `{{`/`}}` are literal braces.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return Err(format!("unclosed '{{' in template '{s}'"));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Field(FieldPath::parse(&name)?));
                }
                '}' => {
                    return Err(format!(
                        "unmatched '}}' in template '{s}' (write '}}}}' for a brace)"
                    ))
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Every field the template reads.
    pub fn fields(&self) -> impl Iterator<Item = &FieldPath> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(f) => Some(f),
            Part::Lit(_) => None,
        })
    }

    /// The field, when the template is exactly one placeholder and nothing else.
    pub fn single_field(&self) -> Option<&FieldPath> {
        match self.parts.as_slice() {
            [Part::Field(f)] => Some(f),
            _ => None,
        }
    }

    /// Renders against a record.
    pub fn render(&self, rec: &Record<'_>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Field(f) => {
                    if let Some(v) = f.resolve(rec) {
                        out.push_str(&value_text(v, ", "));
                    }
                }
            }
        }
        out
    }
}

/// Compact JSON with object keys sorted at every level, so equal values hash equally whatever
/// order a tool printed them in.
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    if let Some(x) = m.get(k) {
                        write(x, out);
                    }
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_paths_parents_and_escapes() {
        let doc = json!({"A": "root", "R": [{"T": "file", "V": [{"id": "CVE-1", "info": {"sev": "HIGH"}, "tags": ["a", "b"]}]}]});
        let result = &doc["R"][0];
        let vuln = &result["V"][0];
        let rec = Record {
            value: vuln,
            parents: vec![&doc, result],
        };
        let t =
            Template::parse("{id} in {^T} of {^^A} [{info.sev}] {tags} {tags.1} {missing}{{x}}")
                .unwrap();
        assert_eq!(t.render(&rec), "CVE-1 in file of root [HIGH] a, b b {x}");
        assert!(Template::parse("{open").is_err());
        assert!(Template::parse("close}").is_err());
        assert!(Template::parse("{}").is_err());
        assert_eq!(
            Template::parse("{host}")
                .unwrap()
                .single_field()
                .unwrap()
                .as_str(),
            "host"
        );
    }

    #[test]
    fn removes_nested_fields_and_canonicalises() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "s": "x"});
        FieldPath::parse("a.b").unwrap().remove_from(&mut v);
        FieldPath::parse("s").unwrap().remove_from(&mut v);
        assert_eq!(v, json!({"a": {"c": 2}}));
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": [true, null]})),
            r#"{"a":[true,null],"b":1}"#
        );
        assert!(truthy(Some(&json!(5))) && !truthy(Some(&json!(""))) && !truthy(None));
    }
}
