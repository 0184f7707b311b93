//! Fake Chillstreams internal API (being written).
