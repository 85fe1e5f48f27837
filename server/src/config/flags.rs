//! Every setting as a flag and an environment variable, generated from its key path: `detector.max_batch` is
//! `--detector-max-batch` and `FACESERVE_DETECTOR_MAX_BATCH`, with the field's doc comment as its help. A few
//! sections drop their prefix, as the flags always have (`estimators.age.model` is `--age-model`, `limits.*`,
//! `runtime.*`), and a switch that defaults to on is spelt `--no-...`.

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use figment::value::Value;
use serde_json::Value as Json;

use super::{Settings, keys};

/// Key path prefixes that flags leave out or shorten, first match wins.
const PREFIXES: &[(&str, &str)] = &[
    ("estimators.", ""),
    ("runtime.", ""),
    ("limits.", ""),
    ("matching.", ""),
    ("streams.", "stream."),
    ("index.hnsw_", "hnsw."),
];
/// Flags named otherwise, by key path.
const RENAMED: &[(&str, &str)] = &[
    ("matching.threshold", "match-threshold"),
    ("estimators.preload", "preload-estimators"),
    ("auth.enabled", "auth"),
    ("auth.insecure", "insecure"),
    ("store.url", "store"),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A switch setting the value to true.
    Switch,
    /// A `--no-...` switch setting a default-on value to false.
    Negated,
    Integer,
    Number,
    Text,
}

#[derive(Debug, Clone)]
struct Flag {
    key: String,
    name: String,
    kind: Kind,
    help: String,
}

fn flag_name(key: &str) -> String {
    if let Some((_, name)) = RENAMED.iter().find(|(k, _)| *k == key) {
        return name.to_string();
    }
    let short = PREFIXES
        .iter()
        .find_map(|(prefix, with)| key.strip_prefix(prefix).map(|rest| format!("{with}{rest}")))
        .unwrap_or_else(|| key.to_string());
    short.replace(['.', '_'], "-")
}

fn env_name(flag: &str) -> String {
    format!("FACESERVE_{}", flag.to_uppercase().replace('-', "_"))
}

/// Every flag, built once.
fn flags() -> &'static [Flag] {
    static FLAGS: OnceLock<Vec<Flag>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        let schema = serde_json::to_value(schemars::schema_for!(Settings)).expect("a schema");
        keys::leaves()
            .into_iter()
            .map(|(key, default)| {
                let kind = match &default {
                    Json::Bool(true) => Kind::Negated,
                    Json::Bool(false) => Kind::Switch,
                    Json::Number(n) if n.is_f64() => Kind::Number,
                    Json::Number(_) => Kind::Integer,
                    _ => Kind::Text,
                };
                let name = match kind {
                    Kind::Negated => format!("no-{}", flag_name(&key)),
                    _ => flag_name(&key),
                };
                let doc = description(&schema, &key).unwrap_or_default();
                let help = match (&kind, &default) {
                    (Kind::Switch | Kind::Negated, _) | (_, Json::Null) => doc,
                    (_, Json::String(s)) => format!("{doc} [default: {s}]"),
                    (_, other) => format!("{doc} [default: {other}]"),
                };
                Flag {
                    key,
                    name,
                    kind,
                    help: help.trim().to_string(),
                }
            })
            .collect()
    })
}

/// The doc comment of the field at `key`, read from the settings' JSON schema.
fn description(schema: &Json, key: &str) -> Option<String> {
    let mut node = schema;
    let mut found = None;
    for segment in key.split('.') {
        let property = property(schema, node, segment)?;
        found = property.get("description").and_then(Json::as_str);
        node = property;
    }
    found.map(|d| d.replace('\n', " "))
}

/// The schema of property `name` of `node`, looking through references and combined schemas.
fn property<'a>(root: &'a Json, node: &'a Json, name: &str) -> Option<&'a Json> {
    let node = resolve(root, node);
    if let Some(found) = node.get("properties").and_then(|p| p.get(name)) {
        return Some(found);
    }
    ["allOf", "anyOf", "oneOf"]
        .iter()
        .filter_map(|k| node.get(*k).and_then(Json::as_array))
        .flatten()
        .find_map(|sub| property(root, sub, name))
}

fn resolve<'a>(root: &'a Json, node: &'a Json) -> &'a Json {
    match node.get("$ref").and_then(Json::as_str) {
        Some(reference) => reference
            .strip_prefix("#/")
            .and_then(|path| root.pointer(&format!("/{path}")))
            .map_or(node, |target| resolve(root, target)),
        None => node,
    }
}

/// The flags and variables given on one command line: the settings file and every value, by key path.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    given: Vec<(String, Value)>,
}

impl Overrides {
    /// The settings: defaults, then the file, then these flags and variables.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        Settings::layered(self.config.as_deref(), &self.given)
    }
}

fn parse(flag: &Flag, raw: &str) -> Result<Value, clap::Error> {
    let fail = |what: &str| {
        clap::Error::raw(
            clap::error::ErrorKind::InvalidValue,
            format!("--{}: {raw:?} is not {what}\n", flag.name),
        )
    };
    Ok(match flag.kind {
        Kind::Integer => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| fail("a whole number"))?,
        Kind::Number => raw
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| fail("a number"))?,
        _ => Value::from(raw.to_string()),
    })
}

impl FromArgMatches for Overrides {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut overrides = Overrides {
            config: matches.get_one::<PathBuf>("config").cloned(),
            given: Vec::new(),
        };
        for flag in flags() {
            let value = match flag.kind {
                Kind::Switch if matches.get_flag(&flag.name) => Value::from(true),
                Kind::Negated if matches.get_flag(&flag.name) => Value::from(false),
                Kind::Switch | Kind::Negated => continue,
                _ => match matches.get_one::<String>(&flag.name) {
                    Some(raw) => parse(flag, raw)?,
                    None => continue,
                },
            };
            overrides.given.push((flag.key.clone(), value));
        }
        Ok(overrides)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for Overrides {
    fn augment_args(command: Command) -> Command {
        let config = Arg::new("config")
            .long("config")
            .env("FACESERVE_CONFIG")
            .value_parser(clap::value_parser!(PathBuf))
            .help("TOML settings file (keys as in `faceserve config`)");
        command.arg(config).args(flags().iter().map(|flag| {
            let arg = Arg::new(flag.name.clone())
                .long(flag.name.clone())
                .env(env_name(&flag.name))
                .help(flag.help.clone());
            match flag.kind {
                Kind::Switch | Kind::Negated => arg.action(ArgAction::SetTrue),
                _ => arg.num_args(1).allow_hyphen_values(true),
            }
        }))
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

#[cfg(test)]
pub(super) fn flag_names() -> Vec<String> {
    flags().iter().map(|f| f.name.clone()).collect()
}
