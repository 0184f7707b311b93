//! One stream-list request: the viewer's config, the title, who is asking and how their
//! playback URLs are written.

use chillproxy_core::seal::{Keyring, Purpose};
use chillproxy_core::{MediaMeta, MediaQuery};
use chillproxy_stremio::{encode_segment, routes, UserConfig};

use crate::client::ClientInfo;

/// Everything one stream-list request is about.
pub(crate) struct StreamRequest<'a> {
    pub config: &'a UserConfig,
    /// The `{config}` segment as the user sent it, re-used in playback URLs.
    pub config_segment: &'a str,
    /// The Stremio id as requested (`tt…`, `tt…:S:E`, `kitsu:ID`, `kitsu:ID:EP`).
    pub id: &'a str,
    /// The media, with what its metadata adds (a Kitsu id's IMDb mapping, an absolute episode).
    pub media: &'a MediaQuery,
    /// A Kitsu id's titles, for sources that search by text.
    pub meta: Option<&'a MediaMeta>,
    pub client: &'a ClientInfo,
    pub base_url: &'a str,
    /// The device binding appended to every plain playback URL (see `binding`); empty when
    /// `keyring` is set.
    pub binding: String,
    /// With sealing keys: playback URLs carry a sealed handle (see `handle`) instead of the
    /// config, and links back to the configure page carry the config sealed.
    pub keyring: Option<&'a Keyring>,
    /// How long a handle's device binding holds.
    pub binding_ttl_s: u64,
    /// Where this config segment keeps its recently sealed list parts (see `handle::ListSlot`);
    /// `None` seals every list anew.
    pub lists: Option<&'a crate::handle::ListSlot>,
}

impl StreamRequest<'_> {
    pub fn configure_url(&self) -> String {
        let segment = match self.keyring {
            Some(keyring) if !Keyring::looks_sealed(Purpose::Config, self.config_segment) => {
                match UserConfig::plain_json(self.config_segment).and_then(|json| keyring.seal(Purpose::Config, &json))
                {
                    Some(sealed) => sealed,
                    None => return routes::configure_url(self.base_url),
                }
            }
            _ => self.config_segment.to_string(),
        };
        routes::configure_url_for(self.base_url, &encode_segment(&segment))
    }
}
