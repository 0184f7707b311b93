//! The Stremio addon protocol end to end: manifest, stream lists, preferences, caching.

mod caching;
mod preferences;
mod protocol;
mod streams;
