//! The playback URL, built and parsed here only:
//! `{base}/stremio/torz/{config}/_/strem/{id}/{store}/{hash}/{file_idx}/{file_name}?b={binding}`.
//!
//! `file_idx` is the store's file id, or `-1` when unknown; `file_name` is the file's name
//! (so players see its extension), or empty.
//!
//! `{hash}` carries the release's kind: a torrent's 40-digit info hash, or `usenet-` and an NZB's
//! 32-digit usenet hash (the md5 identity; never the NZB link, which carries an indexer key).

use chillproxy_core::{ContentKind, InfoHash, MediaQuery, UsenetHash};

use crate::config::UserConfig;
use crate::ids::parse_media;
use crate::stream::encode_segment;

/// Longest file name accepted in a playback URL.
pub const MAX_FILE_NAME_BYTES: usize = 1024;

/// What a playback URL points at, for [`PlaybackUrl::build`].
#[derive(Debug, Clone, Copy)]
pub struct PlaybackUrl<'a> {
    /// The public base URL (`https://addon.example`).
    pub base_url: &'a str,
    /// The `{config}` segment, as the user's install URL carries it.
    pub config_segment: &'a str,
    /// The Stremio id as requested (`tt…` or `tt…:S:E`).
    pub id: &'a str,
    pub store_code: &'a str,
    pub hash: &'a InfoHash,
    pub file_idx: Option<u64>,
    pub file_name: Option<&'a str>,
    /// The device binding (`?b=`), already URL-safe.
    pub binding: &'a str,
}

impl PlaybackUrl<'_> {
    pub fn build(&self) -> String {
        let mut url = Self::head(self.base_url, self.config_segment, self.id).into_bytes();
        Self::push_middle(&mut url, self.store_code, self.hash, self.file_idx);
        if let Some(name) = self.file_name {
            url.extend_from_slice(encode_segment(name).as_bytes());
        }
        url.extend_from_slice(Self::tail(self.binding).as_bytes());
        // Built from `&str` pieces and ASCII: always UTF-8.
        String::from_utf8(url).unwrap_or_default()
    }

    /// What every playback URL of one list shares up to the store code:
    /// `{base}/stremio/torz/{config}/_/strem/{id}/`.
    pub fn head(base_url: &str, config_segment: &str, id: &str) -> String {
        let mut head = String::with_capacity(base_url.len() + config_segment.len() + id.len() + 32);
        head.push_str(base_url);
        head.push_str(crate::routes::PREFIX);
        head.push('/');
        head.push_str(&encode_segment(config_segment));
        head.push_str("/_/strem/");
        head.push_str(&encode_segment(id));
        head.push('/');
        head
    }

    /// One stream's part after the head: `{store}/{hash}/{file_idx or -1}/`; the (encoded) file
    /// name follows.
    pub fn push_middle(out: &mut Vec<u8>, store_code: &str, hash: &InfoHash, file_idx: Option<u64>) {
        Self::push_middle_of(out, store_code, hash, ContentKind::Torrent, file_idx);
    }

    /// [`PlaybackUrl::push_middle`] for a release of `kind` (`hash` is its key: for usenet,
    /// [`UsenetHash::key`]).
    pub fn push_middle_of(
        out: &mut Vec<u8>,
        store_code: &str,
        hash: &InfoHash,
        kind: ContentKind,
        file_idx: Option<u64>,
    ) {
        out.extend_from_slice(store_code.as_bytes());
        out.push(b'/');
        // Written in place (this runs for every stream of every list): no string per part.
        match (kind, UsenetHash::from_key(hash)) {
            (ContentKind::Usenet, Some(usenet)) => {
                out.extend_from_slice(USENET_SEGMENT.as_bytes());
                out.extend_from_slice(usenet.as_str().as_bytes());
            }
            _ => out.extend_from_slice(hash.as_str().as_bytes()),
        }
        out.push(b'/');
        match file_idx {
            Some(idx) => push_decimal(out, idx),
            None => out.extend_from_slice(b"-1"),
        }
        out.push(b'/');
    }

    /// What every playback URL of one list ends with: `?b={binding}`.
    pub fn tail(binding: &str) -> String {
        format!("?b={binding}")
    }
}

/// `n` in decimal digits, appended.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// What a playback URL's `{hash}` segment holds for a release of `kind` filed under `hash`:
/// the info hash, or `usenet-<md5>`.
pub fn release_segment(hash: &InfoHash, kind: ContentKind) -> String {
    match (kind, UsenetHash::from_key(hash)) {
        (ContentKind::Usenet, Some(usenet)) => format!("{USENET_SEGMENT}{usenet}"),
        _ => hash.as_str().to_string(),
    }
}

/// What starts the `{hash}` segment of a usenet release.
const USENET_SEGMENT: &str = "usenet-";

/// A `{hash}` segment read back: the release's kind and its key.
pub fn parse_release_segment(segment: &str) -> Option<(ContentKind, InfoHash)> {
    match segment.strip_prefix(USENET_SEGMENT) {
        Some(md5) => UsenetHash::parse(md5).map(|usenet| (ContentKind::Usenet, usenet.key())),
        None => InfoHash::parse(segment).map(|hash| (ContentKind::Torrent, hash)),
    }
}

/// The raw path segments of a playback URL, as the router extracted them.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaybackSegments<'a> {
    pub config: &'a str,
    pub id: &'a str,
    pub store: &'a str,
    pub hash: &'a str,
    pub file_idx: &'a str,
    pub file_name: Option<&'a str>,
}

/// A playback URL's path, parsed and validated.
#[derive(Debug, Clone)]
pub struct PlaybackPath {
    pub config: UserConfig,
    pub media: MediaQuery,
    pub store_code: String,
    /// The release's key (for usenet, [`UsenetHash::key`]).
    pub hash: InfoHash,
    /// What the release is.
    pub kind: ContentKind,
    pub file_idx: Option<u64>,
    pub file_name: Option<String>,
}

impl PlaybackPath {
    /// Parses the segments against the stores this server has enabled. The error says which
    /// part is wrong, for a 400.
    pub fn parse(segments: &PlaybackSegments<'_>, enabled_codes: &[&str]) -> Result<Self, String> {
        let config =
            UserConfig::decode(segments.config, enabled_codes).map_err(|p| format!("invalid configuration: {p}"))?;
        Self::parse_with(config, segments, enabled_codes)
    }

    /// As [`PlaybackPath::parse`], with the config already decoded (a sealed config opened, or
    /// the store entry of a playback handle); `segments.config` is not read.
    pub fn parse_with(
        config: UserConfig,
        segments: &PlaybackSegments<'_>,
        enabled_codes: &[&str],
    ) -> Result<Self, String> {
        let bad = |what: &str| what.to_string();
        let kind = match segments.id.strip_prefix("kitsu:") {
            Some(rest) if !rest.contains(':') => "movie",
            _ if segments.id.contains(':') => "series",
            _ => "movie",
        };
        let media = parse_media(kind, segments.id).ok_or_else(|| bad("invalid id"))?;
        if !enabled_codes.contains(&segments.store) {
            return Err(bad("unknown store code"));
        }
        let (kind, hash) = parse_release_segment(segments.hash).ok_or_else(|| bad("invalid info hash"))?;
        let file_idx = match segments.file_idx {
            "-1" => None,
            raw if raw.len() <= 9 => Some(raw.parse::<u64>().map_err(|_| bad("invalid file index"))?),
            _ => return Err(bad("invalid file index")),
        };
        let file_name = match segments.file_name.filter(|n| !n.is_empty()) {
            // A file name is one path segment: no separators, no dot segments, no controls.
            Some(name)
                if name.len() > MAX_FILE_NAME_BYTES
                    || name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
                    || name == "."
                    || name == ".." =>
            {
                return Err(bad("invalid file name"))
            }
            other => other.map(str::to_string),
        };
        Ok(Self { config, media, store_code: segments.store.to_string(), hash, kind, file_idx, file_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    #[test]
    fn a_built_url_parses_back() {
        let config = URL_SAFE_NO_PAD.encode(r#"{"stores":[{"c":"tb","t":"tok"}]}"#);
        let hash = InfoHash::parse(&"ab".repeat(20)).unwrap();
        let url = PlaybackUrl {
            base_url: "http://h",
            config_segment: &config,
            id: "tt0903747:1:3",
            store_code: "tb",
            hash: &hash,
            file_idx: Some(7),
            file_name: Some("Show S01E03 [1080p].mkv"),
            binding: "bind",
        }
        .build();
        assert!(url.ends_with("/tb/abababababababababababababababababababab/7/Show%20S01E03%20%5B1080p%5D.mkv?b=bind"));
        let path = url.strip_prefix("http://h/stremio/torz/").unwrap().split('?').next().unwrap();
        let parts: Vec<&str> = path.split('/').collect();
        let name = "Show S01E03 [1080p].mkv";
        let segments = PlaybackSegments {
            config: parts[0],
            id: parts[3],
            store: parts[4],
            hash: parts[5],
            file_idx: parts[6],
            file_name: Some(name),
        };
        let parsed = PlaybackPath::parse(&segments, &["tb"]).unwrap();
        assert_eq!((parsed.media.season, parsed.media.episode, parsed.file_idx), (Some(1), Some(3), Some(7)));
        assert_eq!(parsed.hash, hash);
        assert_eq!(parsed.file_name.as_deref(), Some(name));
        let unknown = PlaybackSegments { file_idx: "-1", file_name: None, ..segments };
        assert_eq!(PlaybackPath::parse(&unknown, &["tb"]).unwrap().file_idx, None);
        assert_eq!(parsed.kind, ContentKind::Torrent);
        let usenet = UsenetHash::parse(&"c4".repeat(16)).unwrap();
        let mut middle = Vec::new();
        PlaybackUrl::push_middle_of(&mut middle, "tb", &usenet.key(), ContentKind::Usenet, None);
        let middle = String::from_utf8(middle).unwrap();
        assert_eq!(middle, format!("tb/usenet-{usenet}/-1/"));
        for (idx, digits) in [(0, "0"), (7, "7"), (10, "10"), (u64::MAX, "18446744073709551615")] {
            let mut torrent = Vec::new();
            PlaybackUrl::push_middle_of(&mut torrent, "rd", &hash, ContentKind::Torrent, Some(idx));
            assert_eq!(String::from_utf8(torrent).unwrap(), format!("rd/{}/{digits}/", hash.as_str()));
        }
        let nzb = PlaybackSegments { hash: middle.split('/').nth(1).unwrap(), ..segments };
        let parsed = PlaybackPath::parse(&nzb, &["tb"]).unwrap();
        assert_eq!((parsed.kind, parsed.hash), (ContentKind::Usenet, usenet.key()));
        for bad in ["usenet-xyz", "usenet-", &format!("usenet-{}", "ab".repeat(20))] {
            let bad = PlaybackSegments { hash: bad, ..segments };
            assert_eq!(PlaybackPath::parse(&bad, &["tb"]).unwrap_err(), "invalid info hash");
        }
        assert_eq!(
            PlaybackPath::parse(&segments, &["rd"]).unwrap_err(),
            "invalid configuration: stores[0].c: unknown store code \"tb\"; this server offers: rd"
        );
    }
}
