//! Each source plugin against its fake: Torznab, Newznab, StremThru, other Stremio addons, TorBox search.

mod newznab;
mod newznab_anime;
mod newznab_fixtures;
mod stremio_addon;
mod stremthru;
mod torbox_search;
mod torbox_search_anime;
mod torznab;
