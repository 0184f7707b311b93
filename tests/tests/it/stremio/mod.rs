//! The Stremio addon protocol end to end: manifest, stream lists, preferences, caching.

mod acquire;
mod anime;
mod caching;
mod library;
mod preferences;
mod protocol;
mod streams;
