//! The config's JSON checked field by field before it is decoded, so a value of the wrong type
//! names its field and what the field takes (`max_size_gb: must be a number of GB, like 10`),
//! never a decoder's message. Only the shape is checked here; ranges and known values are the
//! rules of `UserConfig::validate` and `ListPreferences::validate`.

use serde_json::Value;

use crate::config::ConfigProblem;

/// What a field takes.
#[derive(Clone, Copy)]
enum Expect {
    Text,
    Bool,
    Number,
    Count,
    TextList,
}

impl Expect {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Expect::Text => value.is_string(),
            Expect::Bool => value.is_boolean(),
            Expect::Number => value.is_number(),
            Expect::Count => value.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)),
            Expect::TextList => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
        }
    }

    fn wording(self) -> &'static str {
        match self {
            Expect::Text => "must be text (a string in quotes)",
            Expect::Bool => "must be true or false",
            Expect::Number => "must be a number, like 10 or 2.5",
            Expect::Count => "must be a whole number, like 3",
            Expect::TextList => "must be a list of words in quotes, like [\"a\", \"b\"]",
        }
    }
}

/// The top-level fields besides `stores`, `indexers` and `newznab`, with what each takes. `null` counts as
/// absent for the optional ones.
const FIELDS: &[(&str, Expect, bool)] = &[
    ("cached", Expect::Bool, false),
    ("resolutions", Expect::TextList, false),
    ("max_size_gb", Expect::Number, true),
    ("min_size_gb", Expect::Number, true),
    ("exclude", Expect::TextList, false),
    ("languages", Expect::TextList, false),
    ("per_resolution", Expect::Count, true),
    ("sort", Expect::Text, true),
];

/// Each list entry's fields: `stores[i]`, `indexers[i]` and `newznab[i]`.
const STORE_FIELDS: &[(&str, Expect)] = &[("c", Expect::Text), ("t", Expect::Text), ("auth", Expect::Text)];
const INDEXER_FIELDS: &[(&str, Expect)] = &[("n", Expect::Text), ("u", Expect::Text), ("ak", Expect::Text)];

/// The first field whose value has the wrong type, named as the config writes it.
pub fn check(config: &Value) -> Result<(), ConfigProblem> {
    let Some(object) = config.as_object() else {
        return Err(ConfigProblem::whole("the config must be a JSON object, like {\"stores\":[…]}"));
    };
    let lists = [
        ("stores", STORE_FIELDS, "a store"),
        ("indexers", INDEXER_FIELDS, "an indexer"),
        ("newznab", INDEXER_FIELDS, "an indexer"),
    ];
    for (list, fields, what) in lists {
        let Some(value) = object.get(list) else { continue };
        let Some(entries) = value.as_array() else {
            return Err(ConfigProblem::field(list, format!("must be a list of entries, each {what} like {{\"c\":…}}")));
        };
        for (i, entry) in entries.iter().enumerate() {
            let Some(entry) = entry.as_object() else {
                return Err(ConfigProblem::field(
                    format!("{list}[{i}]"),
                    format!("must be {what}: an object with its fields"),
                ));
            };
            for (name, expect) in fields {
                match entry.get(*name) {
                    None | Some(Value::Null) => {}
                    Some(value) if expect.accepts(value) => {}
                    Some(_) => return Err(ConfigProblem::field(format!("{list}[{i}].{name}"), expect.wording())),
                }
            }
        }
    }
    for (name, expect, optional) in FIELDS {
        match object.get(*name) {
            None => {}
            Some(Value::Null) if *optional => {}
            Some(value) if expect.accepts(value) => {}
            Some(value) => {
                let position = matches!(expect, Expect::TextList)
                    .then(|| value.as_array().and_then(|items| items.iter().position(|v| !v.is_string())))
                    .flatten();
                let field = match position {
                    Some(i) => format!("{name}[{i}]"),
                    None => name.to_string(),
                };
                return Err(ConfigProblem::field(field, expect.wording()));
            }
        }
    }
    Ok(())
}
