//! Playback: player retries, status videos, clients that hang up, upstreams that misbehave.

mod failover;
mod faults;
mod hangups;
mod next_episode;
mod player_retries;
mod status_videos;
