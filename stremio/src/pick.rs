//! Which file of a torrent (or any multi-file release) plays for a title: the same rule for the
//! stream list (which file a stream names) and for playback (which file gets the link).

use crate::release::{episode_of, is_video};
use chillproxy_core::{MediaKind, MediaQuery, StoreFile};

/// The file to play: the episode's (`SxxEyy`), else the named one, else the one with the
/// store id `index`, else the largest video.
pub fn pick_file<'f>(
    files: &'f [StoreFile],
    media: &MediaQuery,
    name: Option<&str>,
    index: Option<u64>,
) -> Option<&'f StoreFile> {
    let videos = || files.iter().filter(|f| is_video(&f.name));
    if let (Some(season), Some(episode)) = (media.season, media.episode) {
        if let Some(file) =
            videos().find(|f| episode_of(&f.name).or_else(|| episode_of(&f.path)) == Some((season, episode)))
        {
            return Some(file);
        }
    }
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        if let Some(file) = files.iter().find(|f| f.name == name) {
            return Some(file);
        }
    }
    if let Some(index) = index {
        // Only a video: an index from a source may count the torrent's files differently.
        if let Some(file) = files.iter().find(|f| f.id == index && is_video(&f.name)) {
            return Some(file);
        }
    }
    if media.kind == MediaKind::Series && media.episode.is_some() {
        // A file that names another episode is not this one.
        return videos()
            .filter(|f| episode_of(&f.name).is_none() && !f.name.to_ascii_lowercase().contains("sample"))
            .max_by_key(|f| f.size);
    }
    videos().max_by_key(|f| f.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: u64, name: &str, size: u64) -> StoreFile {
        StoreFile { id, name: name.into(), path: format!("/{name}"), size, video_hash: None }
    }

    #[test]
    fn picks_the_episode_then_name_then_index_then_largest() {
        let files = [
            file(0, "Show.S01E01.mkv", 500),
            file(1, "Show.S01E03.mkv", 400),
            file(2, "sample.mkv", 10),
            file(3, "Show.S01E02.mkv", 900),
            file(4, "notes.txt", 9999),
        ];
        let episode = MediaQuery { kind: MediaKind::Series, imdb_id: "tt1".into(), season: Some(1), episode: Some(3) };
        assert_eq!(pick_file(&files, &episode, None, None).unwrap().id, 1);
        let movie = MediaQuery { kind: MediaKind::Movie, imdb_id: "tt1".into(), season: None, episode: None };
        assert_eq!(pick_file(&files, &movie, Some("sample.mkv"), Some(1)).unwrap().id, 2);
        assert_eq!(pick_file(&files, &movie, None, Some(1)).unwrap().id, 1);
        assert_eq!(pick_file(&files, &movie, None, None).unwrap().id, 3);
        let missing = MediaQuery { episode: Some(9), ..episode };
        assert!(pick_file(&files, &missing, None, None).is_none(), "no file of another episode, no sample");
    }
}
