//! Who may use which key: the auth chain, the Chillstreams pool key, Chillstreams outages.

mod chain;
mod chillstreams_outage;
mod pool_key;
