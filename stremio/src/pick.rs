//! Which file of a torrent (or any multi-file release) plays for a title: the same rule for the
//! stream list (which file a stream names) and for playback (which file gets the link).

use crate::release::{file_holds, is_video, WantedEpisode};
use chillproxy_core::{MediaQuery, StoreFile};

/// The file to play: the episode's (`SxxEyy`, or its number from the show's start: `- 08`),
/// else the named one, else the one with the store id `index`, else the largest video. For an
/// episode, a file that names another episode is never the answer.
pub fn pick_file<'f>(
    files: &'f [StoreFile],
    media: &MediaQuery,
    name: Option<&str>,
    index: Option<u64>,
) -> Option<&'f StoreFile> {
    let videos = || files.iter().filter(|f| is_video(&f.name));
    let wanted = WantedEpisode::of(media);
    if let Some(wanted) = &wanted {
        if let Some(file) = videos().find(|f| file_holds(&f.name, &f.path, wanted) == Some(true)) {
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
    if let Some(wanted) = &wanted {
        // A file that names another episode is not this one.
        return videos()
            .filter(|f| {
                file_holds(&f.name, &f.path, wanted).is_none() && !f.name.to_ascii_lowercase().contains("sample")
            })
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
        let episode = MediaQuery::episode("tt1", 1, 3);
        assert_eq!(pick_file(&files, &episode, None, None).unwrap().id, 1);
        let movie = MediaQuery::movie("tt1");
        assert_eq!(pick_file(&files, &movie, Some("sample.mkv"), Some(1)).unwrap().id, 2);
        assert_eq!(pick_file(&files, &movie, None, Some(1)).unwrap().id, 1);
        assert_eq!(pick_file(&files, &movie, None, None).unwrap().id, 3);
        let missing = MediaQuery { episode: Some(9), ..episode };
        assert!(pick_file(&files, &missing, None, None).is_none(), "no file of another episode, no sample");
    }

    #[test]
    fn batches_by_either_numbering() {
        let batch: Vec<StoreFile> = (1..=12)
            .map(|n| {
                let name = format!("[SubsPlease] Sousou no Frieren - {n:02} (1080p) [ABCD{n:04}].mkv");
                StoreFile {
                    id: n,
                    path: format!("/Sousou no Frieren (01-12)/{name}"),
                    name,
                    size: 1000 + n,
                    video_hash: None,
                }
            })
            .collect();
        let kitsu = crate::parse_media("series", "kitsu:46474:8").unwrap();
        assert_eq!(pick_file(&batch, &kitsu, None, None).unwrap().id, 8);
        let mapped = MediaQuery { imdb_id: "tt22248376".into(), season: Some(1), episode: Some(8), ..kitsu.clone() };
        assert_eq!(pick_file(&batch, &mapped, None, None).unwrap().id, 8);
        let tt = crate::parse_media("series", "tt22248376:1:8").unwrap();
        assert_eq!(pick_file(&batch, &tt, None, None).unwrap().id, 8, "season 1 of an anime batch");
        let absent = crate::parse_media("series", "kitsu:46474:20").unwrap();
        assert!(pick_file(&batch, &absent, None, None).is_none(), "never another episode");
        let scene: Vec<StoreFile> = (1..=3).map(|n| file(n, &format!("Frieren.S01E{n:02}.1080p.mkv"), 100)).collect();
        let second = crate::parse_media("series", "kitsu:46474:2").unwrap();
        assert_eq!(pick_file(&scene, &second, None, None).unwrap().id, 2);
    }
}
