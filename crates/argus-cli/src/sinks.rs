//! `[[sinks]]`: result forwarding destinations, from the config file and the environment.
//!
//! Each entry is one table: the settings every sink has ([`SinkSettings`]: `name`, `type`,
//! filters, masking, buffering, retries) and its destination's own keys, which go untouched
//! to the factory of its `type` (`argus_sinks::catalog`), as scanner tables do. The split is
//! by key: a key [`SinkSettings`] knows is the forwarder's, any other the destination's, so
//! a typo is refused by one side or the other, naming the entry.
//!
//! Environment overrides work per entry name: `ARGUS_SINKS__<NAME>__<KEY>=value` sets `<key>`
//! of the entry named `<name>` (compared ignoring case, `-` and `_` alike), or of the entry at
//! that position when `<NAME>` is a number; an entry named in the environment that the file
//! does not have is created (so a sink can be configured from the environment alone). Values
//! are read as TOML values (`true`, `5`, `["a","b"]`), else as strings. Credentials are never
//! config values: destinations take the *names* of the variables that hold them.

use std::sync::Arc;

use anyhow::Context;
use serde_json::{Map, Value};

use argus_core::component::Doors;
use argus_core::sink::SinkSettings;
use argus_engine::forward::SinkSpec;

/// An entry's position and name, for messages.
fn label(i: usize, entry: &Map<String, Value>) -> String {
    match entry.get("name").and_then(Value::as_str) {
        Some(n) => format!("sinks[{i}] ({n})"),
        None => format!("sinks[{i}]"),
    }
}

/// Splits an entry into its forwarder settings and its destination table.
fn split(i: usize, entry: &Value) -> anyhow::Result<(SinkSettings, Value)> {
    let Value::Object(map) = entry else {
        anyhow::bail!("invalid configuration: sinks[{i}] must be a table ([[sinks]])");
    };
    let keys = SinkSettings::keys();
    let (common, dest): (Map<String, Value>, Map<String, Value>) =
        map.clone().into_iter().partition(|(k, _)| keys.contains(k));
    let what = label(i, map);
    let settings: SinkSettings = serde_json::from_value(Value::Object(common))
        .map_err(|e| anyhow::anyhow!("invalid configuration: {what}: {e}"))?;
    if settings.kind.is_empty() {
        anyhow::bail!(
            "invalid configuration: {what}: set `type` (one of: {})",
            known_types()
        );
    }
    settings
        .check()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {what}: {e}"))?;
    Ok((settings, Value::Object(dest)))
}

fn known_types() -> String {
    argus_sinks::catalog()
        .names()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks every entry at load time (settings, a known `type`, the destination's keys), without
/// reading any credential; unique names.
pub fn check(entries: &[Value]) -> anyhow::Result<()> {
    let catalog = argus_sinks::catalog();
    let mut names = std::collections::HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let (settings, dest) = split(i, entry)?;
        let what = format!("sinks[{i}] ({})", settings.name);
        let Some(factory) = catalog.get(&settings.kind) else {
            anyhow::bail!(
                "invalid configuration: {what}: unknown type {:?} (known: {})",
                settings.kind,
                known_types()
            );
        };
        factory
            .effective(&what, Some(&dest), std::path::Path::new("/"))
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        if !names.insert(settings.name.clone()) {
            anyhow::bail!(
                "invalid configuration: two [[sinks]] are named {:?}; names must be unique",
                settings.name
            );
        }
    }
    Ok(())
}

/// Builds every entry's destination with `doors` (credentials are read from the environment
/// now, by the names the entries give).
pub fn build(entries: &[Value], doors: &Doors) -> anyhow::Result<Vec<SinkSpec>> {
    let catalog = argus_sinks::catalog();
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let (settings, dest) = split(i, entry)?;
        let what = format!("sinks[{i}] ({})", settings.name);
        let factory = catalog
            .get(&settings.kind)
            .with_context(|| format!("{what}: unknown type {:?}", settings.kind))?;
        let mut built = factory
            .build_raw(&what, Some(&dest), doors)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let sink: Arc<dyn argus_core::sink::Sink> = match (built.pop(), built.is_empty()) {
            (Some(s), true) => s,
            _ => anyhow::bail!("{what}: the {} factory must build one sink", settings.kind),
        };
        out.push(SinkSpec { settings, sink });
    }
    Ok(out)
}

/// Applies `ARGUS_SINKS__<NAME>__<KEY>` variables (see the module docs) to `entries`.
pub fn apply_env(
    entries: &mut Vec<Value>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<()> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix("ARGUS_SINKS__") else {
            continue;
        };
        let Some((who, key)) = rest.split_once("__") else {
            anyhow::bail!(
                "invalid configuration: {var}: write ARGUS_SINKS__<NAME>__<KEY> (the sink's name, then the key)"
            );
        };
        if who.is_empty() || key.is_empty() || key.contains("__") {
            anyhow::bail!("invalid configuration: {var}: write ARGUS_SINKS__<NAME>__<KEY>");
        }
        let key = key.to_ascii_lowercase();
        let index = match who.parse::<usize>() {
            Ok(i) if i < entries.len() => i,
            Ok(i) => anyhow::bail!(
                "invalid configuration: {var}: there is no sinks[{i}] (the file has {})",
                entries.len()
            ),
            Err(_) => match entries.iter().position(|e| {
                e.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| norm(n) == norm(who))
            }) {
                Some(i) => i,
                None => {
                    let mut m = Map::new();
                    m.insert("name".into(), Value::String(norm(who).replace('_', "-")));
                    entries.push(Value::Object(m));
                    entries.len() - 1
                }
            },
        };
        let Some(entry) = entries[index].as_object_mut() else {
            anyhow::bail!("invalid configuration: sinks[{index}] must be a table");
        };
        entry.insert(key, parse_value(&value));
    }
    Ok(())
}

/// A variable's value as a TOML value when it reads as one, else the string.
fn parse_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(t) => t
            .get("v")
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or_else(|| Value::String(raw.to_owned())),
        Err(_) => Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_sets_keys_by_name_index_or_creates_an_entry() {
        let mut entries = vec![
            json!({"name": "siem", "type": "syslog", "url": "udp://127.0.0.1:514"}),
            json!({"name": "hooks-a", "type": "webhook", "url": "http://x"}),
        ];
        apply_env(
            &mut entries,
            [
                ("ARGUS_SINKS__SIEM__URL".into(), "tcp://10.0.0.1:601".into()),
                ("ARGUS_SINKS__HOOKS_A__MAX_ATTEMPTS".into(), "3".into()),
                ("ARGUS_SINKS__1__EVENTS".into(), "[\"scan_result\"]".into()),
                ("ARGUS_SINKS__SPLUNK__TYPE".into(), "splunk_hec".into()),
                ("ARGUS_OTHER__X".into(), "ignored".into()),
            ],
        )
        .unwrap();
        assert_eq!(entries[0]["url"], "tcp://10.0.0.1:601");
        assert_eq!(entries[1]["max_attempts"], 3);
        assert_eq!(entries[1]["events"], json!(["scan_result"]));
        assert_eq!(entries[2], json!({"name": "splunk", "type": "splunk_hec"}));
    }

    #[test]
    fn bad_variables_and_entries_are_refused_with_the_entry_named() {
        let mut entries = vec![];
        let err = apply_env(&mut entries, [("ARGUS_SINKS__URL".into(), "x".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ARGUS_SINKS__<NAME>__<KEY>"), "{err}");
        let err = apply_env(&mut entries, [("ARGUS_SINKS__3__URL".into(), "x".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no sinks[3]"), "{err}");

        let err = check(&[json!({"name": "a", "type": "carrier-pigeon"})])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sinks[0] (a)") && err.contains("syslog"),
            "{err}"
        );
        let err = check(&[json!({"name": "a", "type": "syslog", "buffr": 3})])
            .unwrap_err()
            .to_string();
        assert!(err.contains("buffr"), "{err}");
        let err = check(&[json!({"type": "syslog"})]).unwrap_err().to_string();
        assert!(err.contains("name"), "{err}");
        let err = check(&[json!({"name": "a"})]).unwrap_err().to_string();
        assert!(err.contains("set `type`"), "{err}");
    }
}
