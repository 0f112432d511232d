//! JSON Schemas for structured outputs, generated from Rust types with `schemars` and
//! reduced to the subset every server that takes a schema accepts.
//!
//! OpenAI's strict mode (`"strict": true`) requires every object to list all its
//! properties in `required` and to set `additionalProperties: false`; it rejects
//! `default`, `format` and other validation keywords, and `$ref` support differs
//! between servers (llama.cpp compiles the schema into a grammar). So the schema is
//! generated with subschemas inlined, then walked once to close every object and to
//! drop the keywords that are not part of that subset. Fields that are optional when
//! parsing stay lenient in the parser: the schema only says what the model must write.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// Keywords removed from every (sub)schema: annotations and validations outside the
/// strict subset, which some servers reject instead of ignoring.
const DROPPED_KEYWORDS: &[&str] = &[
    "$schema",
    "title",
    "default",
    "format",
    "examples",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "uniqueItems",
];

/// The strict JSON Schema of `T`: inlined, every object closed and fully required.
pub fn strict_schema_for<T: schemars::JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    strictify(&mut schema);
    schema
}

/// Closes every object schema in place and drops the keywords strict mode refuses.
pub fn strictify(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for keyword in DROPPED_KEYWORDS {
                map.remove(*keyword);
            }
            let is_object = map.get("type").is_some_and(|t| {
                t == "object"
                    || t.as_array()
                        .is_some_and(|a| a.iter().any(|v| v == "object"))
            });
            if is_object || map.contains_key("properties") {
                let names: Vec<Value> = map
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().cloned().map(Value::String).collect())
                    .unwrap_or_default();
                map.insert("required".into(), Value::Array(names));
                map.insert("additionalProperties".into(), Value::Bool(false));
                map.entry("properties")
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            for value in map.values_mut() {
                strictify(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strictify),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        name: String,
        tags: Vec<String>,
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
        #[serde(default)]
        note: Option<String>,
    }

    #[test]
    fn nested_objects_are_inlined_closed_and_fully_required() {
        let schema = strict_schema_for::<Outer>();
        let text = schema.to_string();
        assert!(
            !text.contains("$ref") && !text.contains("$defs") && !text.contains("default"),
            "{text}"
        );
        assert_eq!(schema["required"], json!(["inner", "note"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        let inner = &schema["properties"]["inner"];
        assert_eq!(inner["required"], json!(["name", "tags"]));
        assert_eq!(inner["additionalProperties"], json!(false));
        assert_eq!(
            inner["properties"]["tags"]["items"]["type"],
            json!("string")
        );
    }

    /// The prompt describes the research shape in words (the prompt-only form relies
    /// on it); every property the schema requires must appear there too.
    #[test]
    fn the_prompt_names_every_property_of_the_schemas() {
        fn names(schema: &Value, out: &mut Vec<String>) {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    out.push(name.clone());
                    names(sub, out);
                    if let Some(items) = sub.get("items") {
                        names(items, out);
                    }
                }
            }
        }
        let prompt = format!(
            "{} opener research",
            crate::research::prompt::RESEARCH_SCHEMA
        );
        for spec in [
            crate::research::prompt::research_schema(),
            crate::combined::combined_schema(),
        ] {
            let mut all = Vec::new();
            names(&spec.schema, &mut all);
            assert!(!all.is_empty());
            for name in all {
                assert!(
                    prompt.contains(&format!("\"{name}\"")) || prompt.contains(&name),
                    "{name} missing from the prompt's shape"
                );
            }
        }
    }
}
