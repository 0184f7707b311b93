//! The Stremio addon protocol end to end: manifest, stream lists, preferences, caching.

mod anime;
mod caching;
mod preferences;
mod protocol;
mod streams;
