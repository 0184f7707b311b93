//! Where the addon lives. Every route the host serves and every link it writes starts with
//! [`PREFIX`], the path of StremThru's Torz addon, so install URLs made for it keep working.
//! This is the one place that says so.

/// The addon's path prefix (no trailing slash).
pub const PREFIX: &str = "/stremio/torz";

/// A route or link path under the addon: `at("/manifest.json")` → `/stremio/torz/manifest.json`.
pub fn at(path: &str) -> String {
    format!("{PREFIX}{path}")
}

/// The empty configure page.
pub fn configure_url(base_url: &str) -> String {
    format!("{base_url}{PREFIX}/configure")
}

/// The configure page filled from a config; `segment` is already URL-safe.
pub fn configure_url_for(base_url: &str, segment: &str) -> String {
    format!("{base_url}{PREFIX}/{segment}/configure")
}

/// A status clip (`clip` is its file stem, e.g. `store_limit`).
pub fn status_clip_url(base_url: &str, clip: &str) -> String {
    format!("{base_url}{PREFIX}/_/status/{clip}.mp4")
}

/// The start of every sealed playback URL; the handle and file name follow.
pub fn play_prefix(base_url: &str) -> String {
    format!("{base_url}{PREFIX}/_/play/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_under_the_prefix() {
        assert_eq!(at("/manifest.json"), "/stremio/torz/manifest.json");
        assert_eq!(configure_url("http://h"), "http://h/stremio/torz/configure");
        assert_eq!(configure_url_for("http://h", "eyJ"), "http://h/stremio/torz/eyJ/configure");
        assert_eq!(status_clip_url("http://h", "limit"), "http://h/stremio/torz/_/status/limit.mp4");
        assert_eq!(play_prefix("http://h"), "http://h/stremio/torz/_/play/");
    }
}
