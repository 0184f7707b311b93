//! Each store plugin against its fake, and the conformance suite over all of them.

mod conformance;
mod debrid;
mod identity;
mod torbox;
mod torbox_limits;
mod torbox_usenet;
