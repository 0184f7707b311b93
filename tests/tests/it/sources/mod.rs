//! Each source plugin against its fake: Torznab, StremThru, other Stremio addons, TorBox search.

mod stremio_addon;
mod stremthru;
mod torbox_search;
mod torznab;
