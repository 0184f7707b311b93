//! One catalog or meta request: the viewer's config, who is asking and how their playback URLs
//! are written.

use chillproxy_core::seal::Keyring;
use chillproxy_stremio::UserConfig;

use crate::client::ClientInfo;

/// One catalog or meta request.
pub(crate) struct LibraryRequest<'a> {
    pub config: &'a UserConfig,
    /// The `{config}` segment as the user sent it (plain playback URLs carry it).
    pub config_segment: &'a str,
    pub client: &'a ClientInfo,
    pub base_url: &'a str,
    /// The device binding of plain playback URLs; empty with `keyring`.
    pub binding: String,
    /// With sealing keys, playback URLs carry a sealed handle.
    pub keyring: Option<&'a Keyring>,
    pub binding_ttl_s: u64,
}
