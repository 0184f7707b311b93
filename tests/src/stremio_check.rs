//! Checks a stream object against the Stremio addon protocol (stream resource): exactly one
//! source field, field types, and the `behaviorHints` shape.

use serde_json::Value;

const SOURCES: [&str; 4] = ["url", "ytId", "infoHash", "externalUrl"];
const KNOWN: [&str; 11] = [
    "url",
    "ytId",
    "infoHash",
    "fileIdx",
    "externalUrl",
    "name",
    "title",
    "description",
    "subtitles",
    "sources",
    "behaviorHints",
];

/// `Ok` when `stream` is a valid Stremio stream object; the error says what is wrong.
pub fn check_stream(stream: &Value) -> Result<(), String> {
    let object = stream.as_object().ok_or("a stream must be an object")?;
    let sources: Vec<&str> = SOURCES.iter().copied().filter(|k| object.contains_key(*k)).collect();
    if sources.len() != 1 {
        return Err(format!("exactly one of url/ytId/infoHash/externalUrl must be set, found {sources:?}"));
    }
    for key in object.keys() {
        if !KNOWN.contains(&key.as_str()) {
            return Err(format!("unknown field {key:?}"));
        }
    }
    for key in ["url", "externalUrl"] {
        if let Some(value) = object.get(key) {
            let url = value.as_str().ok_or(format!("{key} must be a string"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("{key} must be an absolute http(s) URL: {url}"));
            }
            if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("{key} has unescaped characters: {url:?}"));
            }
        }
    }
    for key in ["name", "title", "description"] {
        if object.get(key).is_some_and(|v| !v.is_string()) {
            return Err(format!("{key} must be a string"));
        }
    }
    if object.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err("name must be a non-empty string".into());
    }
    if let Some(index) = object.get("fileIdx") {
        if !index.is_u64() {
            return Err("fileIdx must be a non-negative integer".into());
        }
    }
    if let Some(hints) = object.get("behaviorHints") {
        let hints = hints.as_object().ok_or("behaviorHints must be an object")?;
        for (key, value) in hints {
            let ok = match key.as_str() {
                "bingeGroup" | "filename" | "videoHash" => value.is_string(),
                "videoSize" => value.is_u64(),
                "notWebReady" => value.is_boolean(),
                "countryWhitelist" => value.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                "proxyHeaders" => value.is_object(),
                _ => return Err(format!("unknown behaviorHints field {key:?}")),
            };
            if !ok {
                return Err(format!("behaviorHints.{key} has the wrong type: {value}"));
            }
        }
    }
    Ok(())
}

/// Checks every stream of a `{"streams":[…]}` body.
pub fn check_stream_list(body: &Value) -> Result<(), String> {
    let streams = body.get("streams").and_then(Value::as_array).ok_or("the body must be {\"streams\":[…]}")?;
    for (i, stream) in streams.iter().enumerate() {
        check_stream(stream).map_err(|e| format!("streams[{i}]: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catches_protocol_mistakes() {
        assert!(check_stream(&json!({"url": "https://x/y", "name": "n"})).is_ok());
        assert!(check_stream(&json!({"name": "n"})).is_err(), "no source");
        assert!(check_stream(&json!({"url": "https://x", "externalUrl": "https://y", "name": "n"})).is_err());
        assert!(check_stream(&json!({"url": "/relative", "name": "n"})).is_err());
        assert!(check_stream(&json!({"url": "https://x", "name": 5})).is_err());
        assert!(check_stream(&json!({"url": "https://x", "name": "n", "behaviorHints": {"videoSize": "big"}})).is_err());
        assert!(check_stream(
            &json!({"url": "https://x", "name": "n", "behaviorHints": {"bingeGroup": "g", "videoSize": 5}})
        )
        .is_ok());
    }
}
