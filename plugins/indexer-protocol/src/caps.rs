//! `t=caps`: which search functions an indexer offers and with which parameters. Most public
//! trackers behind Jackett or Prowlarr take `q` only; asking them by `imdbid` gets an error 203
//! (one Jackett indexer) or silently nothing (Jackett's `all`, Prowlarr).

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::rss::FeedError;

/// One search function (`movie-search`, `tv-search`, `search`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFunction {
    pub available: bool,
    /// `supportedParams`, lowercased.
    pub params: Vec<String>,
}

impl SearchFunction {
    pub fn supports(&self, param: &str) -> bool {
        self.available && self.params.iter().any(|p| p == param)
    }
}

/// What an indexer's caps say about searching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    pub search: SearchFunction,
    pub movie: SearchFunction,
    pub tv: SearchFunction,
}

/// Parses a caps document. A Torznab error document is [`FeedError::Api`].
pub fn parse_caps(xml: &str) -> Result<Caps, FeedError> {
    let mut reader = Reader::from_str(xml);
    let mut caps = Caps::default();
    let mut saw_caps = false;
    loop {
        match reader.read_event().map_err(|e| FeedError::Xml(e.to_string()))? {
            Event::Start(element) | Event::Empty(element) => {
                let name = element.local_name();
                let slot = match name.as_ref() {
                    b"caps" => {
                        saw_caps = true;
                        continue;
                    }
                    b"error" if !saw_caps => {
                        let attr = |key: &[u8]| {
                            element
                                .attributes()
                                .flatten()
                                .find(|a| a.key.local_name().as_ref() == key)
                                .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                                .unwrap_or_default()
                        };
                        return Err(FeedError::Api { code: attr(b"code"), description: attr(b"description") });
                    }
                    b"search" => &mut caps.search,
                    b"movie-search" => &mut caps.movie,
                    b"tv-search" => &mut caps.tv,
                    _ => continue,
                };
                // Without `supportedParams`, the defaults clients assume (Sonarr's; `q` only for
                // movies, as Prowlarr does, so no id goes where it was not announced).
                slot.params = match name.as_ref() {
                    b"tv-search" => vec!["q".into(), "season".into(), "ep".into()],
                    _ => vec!["q".into()],
                };
                for attr in element.attributes().flatten() {
                    let value = attr.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
                    match attr.key.local_name().as_ref() {
                        b"available" => slot.available = value.trim().eq_ignore_ascii_case("yes"),
                        b"supportedParams" => {
                            slot.params = value
                                .split(',')
                                .map(|p| p.trim().to_ascii_lowercase())
                                .filter(|p| !p.is_empty())
                                .collect();
                        }
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if saw_caps {
        Ok(caps)
    } else {
        Err(FeedError::NotAFeed("not a caps document".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jackett_public_tracker_caps_are_q_only() {
        let caps = parse_caps(
            r#"<?xml version="1.0" encoding="UTF-8"?><caps><server title="Jackett" />
<searching><search available="yes" supportedParams="q" />
<tv-search available="yes" supportedParams="q,season,ep" />
<movie-search available="yes" supportedParams="q" /></searching></caps>"#,
        )
        .unwrap();
        assert!(caps.movie.supports("q") && !caps.movie.supports("imdbid"));
        assert!(caps.tv.supports("season") && !caps.tv.supports("imdbid"));
        let caps = parse_caps(
            r#"<caps><searching><movie-search available="no" supportedParams="q,imdbid"/></searching></caps>"#,
        )
        .unwrap();
        assert!(!caps.movie.supports("imdbid"), "not available");
        assert!(matches!(
            parse_caps(r#"<error code="100" description="Invalid API Key"/>"#),
            Err(FeedError::Api { code, .. }) if code == "100"
        ));
        assert!(parse_caps("<rss/>").is_err());
    }

    #[test]
    fn missing_supported_params_take_the_defaults() {
        let caps = parse_caps(
            r#"<caps><searching><search available="yes"/><tv-search available="yes"/><movie-search available="yes"/></searching></caps>"#,
        )
        .unwrap();
        assert!(caps.search.supports("q") && caps.movie.supports("q") && !caps.movie.supports("imdbid"));
        assert!(caps.tv.supports("season") && caps.tv.supports("ep") && !caps.tv.supports("imdbid"));
    }
}
