//! The stream list's JSON body, written straight into one buffer: what is the same for every
//! viewer comes pre-rendered (see `format`), and each stream adds only its playback URL.
//!
//! The URL is written from pieces: what is the same for the whole request (the base URL, the
//! config segment, the Stremio id, the device binding) is made and JSON-escaped once; what each
//! stream adds (store code, info hash, file index, file name, or a sealed handle) is ASCII that
//! needs no escaping. The output is exactly what `serde_json` makes of the same [`Stream`]s
//! (tested below).

use chillproxy_core::seal::{Keyring, ListSeal, StreamTagger};
use chillproxy_core::{ContentKind, InfoHash, StoreEntry, StoreFile, UserIndexer};
use chillproxy_stremio::{PlaybackUrl, Stream};
use std::sync::Arc;

use super::request::StreamRequest;
use crate::handle::{stream_part_of, Handle, ListParts, StreamPart};

/// A stream as JSON without its URL: `"name":…,"description":…,"behaviorHints":{…}}` (the
/// object's closing brace included), and the file name its URL ends in.
pub(crate) struct Rendered {
    pub code: String,
    pub cached: bool,
    pub file: Option<StoreFile>,
    /// Percent-encoded for a path segment, safe inside JSON.
    pub url_name: Box<str>,
    pub tail: Box<str>,
}

/// A stream list as the response body: JSON bytes, and whether any stream plays.
#[derive(Debug)]
pub(crate) struct StreamListBody {
    json: Vec<u8>,
    real: bool,
}

impl StreamListBody {
    /// The body of `{"streams":[…]}` for these streams (warnings only, or a test's list).
    pub fn from_streams(streams: &[Stream]) -> Self {
        let mut writer = ListWriter::new(256 * streams.len().max(1));
        for stream in streams {
            writer.push_stream(stream);
        }
        writer.finish()
    }

    /// Whether any stream plays (a list of warnings only is not real).
    pub fn is_real(&self) -> bool {
        self.real
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.json
    }

    /// The streams as JSON values, for tests.
    #[cfg(test)]
    pub fn streams(&self) -> Vec<serde_json::Value> {
        let value: serde_json::Value = serde_json::from_slice(&self.json).expect("the body is JSON");
        value["streams"].as_array().cloned().unwrap_or_default()
    }
}

/// `s` as it goes between the quotes of a JSON string. Borrowed when nothing needs escaping
/// (URLs, codes, percent-encoded names): the common case costs one scan.
pub(crate) fn json_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return std::borrow::Cow::Borrowed(s);
    }
    let quoted = serde_json::to_string(s).unwrap_or_default();
    std::borrow::Cow::Owned(quoted[1..quoted.len() - 1].to_string())
}

/// `s` JSON-escaped, without a copy when nothing needs escaping.
fn escaped(s: String) -> String {
    match json_safe(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// Writes `{"streams":[…]}` one stream at a time.
pub(super) struct ListWriter {
    buf: Vec<u8>,
    count: usize,
    real: bool,
}

impl ListWriter {
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 16);
        buf.extend_from_slice(b"{\"streams\":[");
        Self { buf, count: 0, real: false }
    }

    fn separate(&mut self) {
        if self.count > 0 {
            self.buf.push(b',');
        }
        self.count += 1;
    }

    /// A stream as it is (a warning, or anything not pre-rendered).
    pub fn push_stream(&mut self, stream: &Stream) {
        self.separate();
        self.real |= stream.url.is_some();
        // Writing into a Vec cannot fail, and `Stream` has only strings, numbers and booleans.
        let _ = serde_json::to_writer(&mut self.buf, stream);
    }

    /// A pre-rendered stream behind the request's own playback URL.
    pub fn push_rendered(&mut self, url: &mut UrlShape<'_>, play: &Play<'_>, rendered: &Rendered) {
        self.separate();
        self.real = true;
        self.buf.extend_from_slice(b"{\"url\":\"");
        url.write(&mut self.buf, play, &rendered.url_name);
        self.buf.extend_from_slice(b"\",");
        self.buf.extend_from_slice(rendered.tail.as_bytes());
    }

    pub fn finish(mut self) -> StreamListBody {
        self.buf.extend_from_slice(b"]}");
        StreamListBody { json: self.buf, real: self.real }
    }
}

/// What one stream's URL plays: the store entry, the release (its key and kind) and the file.
pub(super) struct Play<'a> {
    pub entry: &'a StoreEntry,
    pub hash: &'a InfoHash,
    pub kind: ContentKind,
    pub file_idx: Option<u64>,
    /// The same release and file as a sealed handle's stream part ([`stream_part_of`]).
    pub part: StreamPart,
}

impl<'a> Play<'a> {
    pub fn new(entry: &'a StoreEntry, hash: &'a InfoHash, kind: ContentKind, file_idx: Option<u64>) -> Self {
        Self { entry, hash, kind, file_idx, part: stream_part_of(hash, kind, file_idx) }
    }
}

/// The request's playback URLs, made once: everything but the per-stream part, JSON-escaped.
pub(super) struct UrlShape<'a> {
    /// Up to where the stream's own part starts.
    head: String,
    /// After the file name (`?b=…` for a plain URL).
    tail: String,
    /// With sealing keys: each stream's handle is tagged to its list part.
    sealed: Option<Sealing<'a>>,
}

/// A request's sealed list parts: one per store entry its streams play from, sealed on first
/// use. Held by this request's [`UrlShape`] only, never shared between requests or users.
struct Sealing<'a> {
    keyring: &'a Keyring,
    request: &'a StreamRequest<'a>,
    expires_at: u64,
    /// The entry (as the config has it) and its sealed list part's handle writer (`None`:
    /// sealing failed).
    lists: Vec<(StoreEntry, Option<StreamTagger>)>,
    /// The user's own usenet indexers, sealed into the list parts when a stream needs one's key.
    usenet_indexers: &'a [UserIndexer],
}

impl Sealing<'_> {
    /// The list part for `entry`, sealed now if this request has not sealed one yet.
    fn list_for(&mut self, entry: &StoreEntry) -> Option<&mut StreamTagger> {
        let index = match self.lists.iter().position(|(e, _)| e == entry) {
            Some(index) => index,
            None => {
                let client = self.request.client;
                let parts = ListParts {
                    entry,
                    id: self.request.id,
                    device: &client.device,
                    ip: client.ip,
                    expires_at: self.expires_at,
                    usenet_indexers: self.usenet_indexers,
                };
                let seal = match self.request.lists {
                    Some(slot) => slot.get_or_seal(&parts, self.keyring, self.request.binding_ttl_s),
                    None => parts.seal(self.keyring).map(Arc::new),
                };
                self.lists.push((entry.clone(), seal.map(ListSeal::tagger)));
                self.lists.len() - 1
            }
        };
        self.lists.get_mut(index).and_then(|(_, list)| list.as_mut())
    }
}

impl<'a> UrlShape<'a> {
    /// `{base}/stremio/torz/_/play/{handle}/{name}` with sealing keys, else
    /// `{base}/stremio/torz/{config}/_/strem/{id}/{code}/{hash}/{file}/{name}?b={binding}`.
    pub fn new(request: &'a StreamRequest<'a>) -> Self {
        match request.keyring {
            Some(keyring) => Self {
                head: escaped(chillproxy_stremio::routes::play_prefix(request.base_url)),
                tail: String::new(),
                sealed: Some(Sealing {
                    keyring,
                    request,
                    expires_at: Handle::expiry(request.binding_ttl_s),
                    lists: Vec::new(),
                    usenet_indexers: &[],
                }),
            },
            None => Self {
                head: escaped(PlaybackUrl::head(request.base_url, request.config_segment, request.id)),
                tail: escaped(PlaybackUrl::tail(&request.binding)),
                sealed: None,
            },
        }
    }

    /// Seals the user's own usenet indexers into the list's handles: a stream of the list is an
    /// NZB one of them found, whose key playback needs (a sealed link carries no config).
    pub fn carry_usenet_indexers(&mut self) {
        if let Some(sealing) = &mut self.sealed {
            sealing.usenet_indexers = sealing.request.config.usenet_indexers();
        }
    }

    /// Bytes every URL of this request has besides its own part (handle or store/hash/file
    /// and name), to size the body once.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len() + if self.sealed.is_some() { 400 } else { 0 }
    }

    /// One URL as a string (not JSON-escaped: for a [`Stream`] that serde writes).
    pub fn url(&mut self, play: &Play<'_>, url_name: &str) -> String {
        let mut buf = Vec::new();
        self.write(&mut buf, play, url_name);
        let url = String::from_utf8(buf).unwrap_or_default();
        // The pieces were JSON-escaped for the list's body; a URL holds no `"` or `\` once
        // percent-encoded, so unescaping is only needed for a config segment that had them.
        serde_json::from_str::<String>(&format!("\"{url}\"")).unwrap_or(url)
    }

    /// Writes the URL (JSON-escaped, without quotes). `url_name` is already safe.
    fn write(&mut self, buf: &mut Vec<u8>, play: &Play<'_>, url_name: &str) {
        buf.extend_from_slice(self.head.as_bytes());
        match &mut self.sealed {
            Some(sealing) => {
                // A list handle is `p1.<kid>.<base64url>.<base64url>`: nothing to escape. The
                // list part is sealed once per entry; each stream costs one AES-CMAC.
                if let Some(list) = sealing.list_for(play.entry) {
                    let (part, len) = &play.part;
                    list.write_handle(buf, &part[..*len]);
                }
                buf.push(b'/');
            }
            None => PlaybackUrl::push_middle_of(buf, &json_safe(&play.entry.c), play.hash, play.kind, play.file_idx),
        }
        buf.extend_from_slice(url_name.as_bytes());
        buf.extend_from_slice(self.tail.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chillproxy_core::{Candidate, DeviceId, Found, MediaQuery, StoreFile};
    use chillproxy_stremio::{warning, UserConfig};
    use std::sync::Arc;

    use super::super::format::guessed_file_name;
    use super::super::warm::Prepared;
    use crate::client::ClientInfo;

    fn candidate(title: &str) -> Candidate {
        Candidate {
            hash: InfoHash::parse(&"ab".repeat(20)).unwrap(),
            title: title.into(),
            size: Some(9_000_000_000),
            seeders: Some(12),
            indexer: "Idx \"quoted\"".into(),
            files: Vec::new(),
            file_idx: None,
            cached_on: Vec::new(),
            nzb: None,
        }
    }

    /// The written body is byte for byte what serde_json makes of the same streams, with the URL
    /// `PlaybackUrl::build` makes, for names that need escaping and a base URL that does.
    #[test]
    fn rendered_streams_are_exactly_the_serialised_ones() {
        let found = Arc::new(Found::from(vec![
            candidate("Movie \"Quoted\" 2019 1080p BluRay x264-GRP"),
            candidate("Movie.2019.2160p.WEB-DL.DV.HEVC-FLUX\\"),
        ]));
        let prepared = Prepared::new(found.clone());
        let config = UserConfig::default();
        let media = MediaQuery::movie("tt1");
        let ip = [203, 0, 113, 7].into();
        let client = ClientInfo { ip, device: DeviceId::from_client(ip, "test") };
        let request = StreamRequest {
            config: &config,
            config_segment: "eyJ+/a==",
            id: "tt1:1:2",
            media: &media,
            meta: None,
            client: &client,
            base_url: "http://h\"x",
            binding: "bi\\nd".into(),
            keyring: None,
            binding_ttl_s: 60,
            lists: None,
        };
        let entry = StoreEntry { c: "tb".into(), t: None, auth: None };
        let file =
            StoreFile { id: 3, name: "Movie \"Q\".mkv".into(), path: String::new(), size: 8_000, video_hash: None };
        let mut shape = UrlShape::new(&request);
        let mut writer = ListWriter::new(0);
        let mut expected = Vec::new();
        for (i, (c, p)) in found.candidates.iter().zip(&prepared.candidates).enumerate() {
            let file = (i == 0).then_some(&file);
            let rendered = p.rendered("tb", c, file, i == 0);
            let play = Play::new(&entry, &c.hash, c.kind(), file.map(|f| f.id));
            writer.push_rendered(&mut shape, &play, &rendered);
            let url = PlaybackUrl {
                base_url: request.base_url,
                config_segment: request.config_segment,
                id: request.id,
                store_code: "tb",
                hash: &c.hash,
                file_idx: file.map(|f| f.id),
                file_name: Some(&file.map(|f| f.name.clone()).unwrap_or_else(|| guessed_file_name(&c.title))),
                binding: &request.binding,
            }
            .build();
            let mut stream: serde_json::Value =
                serde_json::from_str(&format!("{{{}", rendered.tail)).expect("the tail completes an object");
            let object = stream.as_object_mut().unwrap();
            let mut ordered = serde_json::Map::new();
            ordered.insert("url".into(), url.into());
            ordered.extend(object.clone());
            expected.push(serde_json::Value::Object(ordered));
        }
        let warn = warning("Trouble", "with \"quotes\"", "http://h/configure");
        writer.push_stream(&warn);
        expected.push(serde_json::to_value(&warn).unwrap());
        let body = writer.finish();
        assert!(body.is_real());
        let text = String::from_utf8(body.into_bytes()).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["streams"], serde_json::Value::Array(expected), "{text}");
        assert!(text.starts_with("{\"streams\":[{\"url\":\"http://h\\\"x/stremio/torz/eyJ+%2Fa==/"), "{text}");
    }

    #[test]
    fn a_rendered_variant_is_made_once_per_store_cached_and_file() {
        let found = Arc::new(Found::from(vec![candidate("Movie.2019.1080p.BluRay-GRP")]));
        let prepared = Prepared::new(found.clone());
        let (c, p) = (&found.candidates[0], &prepared.candidates[0]);
        let one = p.rendered("tb", c, None, true);
        assert!(Arc::ptr_eq(&one, &p.rendered("tb", c, None, true)));
        assert!(!Arc::ptr_eq(&one, &p.rendered("tb", c, None, false)));
        assert!(!Arc::ptr_eq(&one, &p.rendered("rd", c, None, true)));
        assert!(one.tail.starts_with("\"name\":\"⚡️ [TB]\\nchillproxy\\n1080p\""), "{}", one.tail);
        assert_eq!(&*one.url_name, "Movie.2019.1080p.BluRay-GRP.mkv");
    }
}
