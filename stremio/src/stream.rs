//! Stremio's stream objects, the warning stream used to show problems, and URL path encoding.

use serde::Serialize;

/// One entry of `{"streams":[…]}`. Exactly one of `url`/`external_url` is set.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Stream {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior_hints: Option<BehaviorHints>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BehaviorHints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binge_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_size: Option<u64>,
    /// The file's OpenSubtitles hash, for subtitle addons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_hash: Option<String>,
    /// The link is not playable in a web player as it is (Stremio's web app then uses its
    /// streaming server): anything but an MP4 or WebM file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_web_ready: bool,
}

#[derive(Debug, Serialize)]
pub struct StreamList {
    pub streams: Vec<Stream>,
}

/// Stremio has no error channel, so a problem is shown as a stream whose name starts with ⚠️
/// and whose description says what happened and what to do; it links to the configure page.
pub fn warning(title: &str, description: impl Into<String>, configure_url: &str) -> Stream {
    Stream {
        url: None,
        external_url: Some(configure_url.to_string()),
        name: format!("⚠️ chillproxy\n{title}"),
        description: description.into(),
        behavior_hints: None,
    }
}

/// Percent-encodes one path segment: everything but unreserved characters.
pub fn encode_segment(segment: &str) -> String {
    if segment == "." || segment == ".." {
        return segment.replace('.', "%2E");
    }
    let kept =
        |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'=' | b'+' | b':');
    // A config segment (base64url, or sealed) needs no escaping: one copy, no per-byte work.
    if segment.bytes().all(kept) {
        return segment.to_string();
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(segment.len() + 16);
    for byte in segment.bytes() {
        if kept(byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("eyJ+/a=="), "eyJ+%2Fa==");
        assert_eq!(encode_segment("Movie (2019) [1080p].mkv"), "Movie%20%282019%29%20%5B1080p%5D.mkv");
        assert_eq!(encode_segment("../x"), "..%2Fx");
        assert_eq!(encode_segment(".."), "%2E%2E");
    }

    #[test]
    fn warning_has_only_an_external_url() {
        let json = serde_json::to_value(warning("Device limit", "too many", "http://h/configure")).unwrap();
        assert_eq!(json["externalUrl"], "http://h/configure");
        assert!(json.get("url").is_none());
        assert!(json["name"].as_str().unwrap().starts_with("⚠️"));
    }
}
