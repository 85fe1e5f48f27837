//! The key paths of the settings, read off their defaults: which keys exist (so a file with a misspelt key is
//! refused, naming it), and the leaves that become flags.

use figment::value::{Dict, Value};
use figment::{Figment, Provider};
use serde_json::Value as Json;

use super::Settings;

/// Every key of the settings as JSON, `null` where an optional setting is unset.
pub(super) fn defaults_tree() -> Json {
    serde_json::to_value(Settings::default()).expect("the settings serialise")
}

/// Each leaf's dotted key path and default value, in field order.
pub(super) fn leaves() -> Vec<(String, Json)> {
    fn walk(prefix: &str, value: &Json, out: &mut Vec<(String, Json)>) {
        match value {
            Json::Object(fields) => {
                for (key, child) in fields {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, child, out);
                }
            }
            leaf => out.push((prefix.to_string(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", &defaults_tree(), &mut out);
    out
}

/// Refuses a layer holding a key the settings do not have.
pub(super) fn refuse_unknown(layer: &Figment) -> anyhow::Result<()> {
    fn check(
        prefix: &str,
        given: &Dict,
        known: &serde_json::Map<String, Json>,
    ) -> anyhow::Result<()> {
        for (key, value) in given {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match (known.get(key), value) {
                (None, _) => anyhow::bail!("unknown setting `{path}`"),
                (Some(Json::Object(fields)), Value::Dict(_, dict)) => check(&path, dict, fields)?,
                (Some(Json::Object(_)), _) => anyhow::bail!("`{path}` must be a table"),
                (Some(_), Value::Dict(..)) => anyhow::bail!("`{path}` is a value, not a table"),
                _ => {}
            }
        }
        Ok(())
    }
    let Json::Object(known) = defaults_tree() else {
        unreachable!("the settings are a table")
    };
    let data = layer.data().map_err(|e| anyhow::anyhow!("{e}"))?;
    for dict in data.values() {
        check("", dict, &known)?;
    }
    Ok(())
}
