//! Strict parsing of model output into JSON, tolerant only of the wrapping models add:
//! a ```json fence, a sentence of preface, trailing commentary.

use serde::de::DeserializeOwned;

/// Find the JSON object in `text` and deserialize it as `T`.
pub fn parse_json_object<T: DeserializeOwned>(text: &str) -> Option<T> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str(trimmed) {
        return Some(v);
    }
    let body = strip_fence(trimmed).unwrap_or(trimmed);
    if let Ok(v) = serde_json::from_str(body.trim()) {
        return Some(v);
    }
    // A preface or trailer around the object: take the first balanced `{…}`.
    let candidate = first_balanced_object(body)?;
    serde_json::from_str(candidate).ok()
}

fn strip_fence(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let after = after
        .strip_prefix("json")
        .or_else(|| after.strip_prefix("JSON"))
        .unwrap_or(after);
    let end = after.find("```")?;
    Some(&after[..end])
}

/// The first `{ … }` whose braces balance, honouring JSON strings and escapes.
fn first_balanced_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&text[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(s: &str) -> Option<Value> {
        parse_json_object::<Value>(s)
    }

    #[test]
    fn plain_fenced_and_prefaced_objects_parse() {
        let want: Value = serde_json::json!({"a": {"b": "}"}});
        assert_eq!(parse(r#"{"a":{"b":"}"}}"#), Some(want.clone()));
        assert_eq!(
            parse("```json\n{\"a\":{\"b\":\"}\"}}\n```"),
            Some(want.clone())
        );
        assert_eq!(
            parse("Here is the JSON:\n```\n{\"a\":{\"b\":\"}\"}}\n```\nHope it helps"),
            Some(want.clone())
        );
        assert_eq!(parse("Sure! {\"a\":{\"b\":\"}\"}} -- done"), Some(want));
    }

    #[test]
    fn broken_json_is_rejected() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("no json here"), None);
        assert_eq!(parse("{\"a\": "), None);
        assert_eq!(parse("```json\n{\"a\": [1,}\n```"), None);
    }
}
