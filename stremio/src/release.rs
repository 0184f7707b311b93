//! Release names as the torrent world writes them: resolution, quality and codec from a title,
//! the episode a file name carries, video file detection and human sizes. Shared by ranking,
//! file picking, the fuzz targets and the property tests.

use chillproxy_core::MediaQuery;

use crate::anime::{parse_anime, AnimeName};
use crate::ids::parse_number;

/// What a release title says about the video.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// `2160p`, `1080p`, … when known.
    pub resolution: Option<&'static str>,
    /// `BluRay REMUX`, `BluRay`, `WEB-DL`, … when known.
    pub quality: Option<&'static str>,
    pub codec: Option<&'static str>,
    /// `DV`, `HDR10+`, `HDR10`, `HDR`, when the title says so.
    pub hdr: Option<&'static str>,
    /// The release group (`FGT` in `Movie.2019.1080p.BluRay.x264-FGT`), when there is one.
    pub group: Option<String>,
}

impl Release {
    pub fn parse(title: &str) -> Self {
        let tokens = tokens(title);
        let has = |t: &str| tokens.iter().any(|x| x == t);
        // `1920x1080`, `1280x720p`: the height.
        let height = tokens.iter().find_map(|t| {
            let (w, h) = t.trim_end_matches('p').split_once('x')?;
            (w.len() >= 3 && w.bytes().all(|b| b.is_ascii_digit())).then(|| h.parse::<u32>().ok()).flatten()
        });
        let has_height = |min: u32| height.is_some_and(|h| h >= min);
        let resolution = if has("2160p") || has("4k") || has("uhd") || has_height(2000) {
            Some("2160p")
        } else if has("1440p") || has_height(1400) {
            Some("1440p")
        } else if has("1080p") || has("1080i") || has_height(1000) {
            Some("1080p")
        } else if has("720p") || has_height(700) {
            Some("720p")
        } else if has("576p") || has_height(570) {
            Some("576p")
        } else if has("480p") || has_height(470) {
            Some("480p")
        } else if has("360p") {
            Some("360p")
        } else {
            None
        };
        let joined = tokens.join(" ");
        let quality = if has("remux") {
            Some("BluRay REMUX")
        } else if has("bluray") || has("blu ray") || has("bdrip") || has("brrip") || joined.contains("blu ray") {
            Some("BluRay")
        } else if has("webdl") || joined.contains("web dl") {
            Some("WEB-DL")
        } else if has("webrip") || joined.contains("web rip") {
            Some("WEBRip")
        } else if has("web") {
            Some("WEB")
        } else if has("hdtv") {
            Some("HDTV")
        } else if has("dvdrip") || has("dvd") {
            Some("DVD")
        } else if has("hdcam") || has("cam") || has("camrip") {
            Some("CAM")
        } else if has("telesync") || has("ts") || has("hdts") {
            Some("TELESYNC")
        } else {
            None
        };
        let codec = if has("x265") || has("h265") || has("hevc") || joined.contains("h 265") {
            Some("HEVC")
        } else if has("av1") {
            Some("AV1")
        } else if has("x264") || has("h264") || has("avc") || joined.contains("h 264") {
            Some("AVC")
        } else {
            None
        };
        let hdr = if has("dv") || has("dovi") || joined.contains("dolby vision") {
            Some("DV")
        } else if title.to_ascii_uppercase().contains("HDR10+") {
            Some("HDR10+")
        } else if has("hdr10") {
            Some("HDR10")
        } else if has("hdr") {
            Some("HDR")
        } else {
            None
        };
        Self { resolution, quality, codec, hdr, group: release_group(title) }
    }

    /// Higher is better.
    pub fn resolution_rank(&self) -> u32 {
        self.resolution.and_then(|r| r.trim_end_matches('p').parse().ok()).unwrap_or(0)
    }

    /// Higher is better.
    pub fn quality_rank(&self) -> u32 {
        match self.quality {
            Some("BluRay REMUX") => 100,
            Some("BluRay") => 98,
            Some("WEB-DL") => 89,
            Some("WEBRip") => 85,
            Some("WEB") => 80,
            Some("HDTV") => 75,
            Some("DVD") => 60,
            Some("TELESYNC") => 30,
            Some("CAM") => 20,
            _ => 0,
        }
    }
}

/// The group after the last `-` of a scene name (`…x264-FGT`, `…-FLUX.mkv`): 2 to 20 letters
/// and digits, not a known tag (`WEB-DL` ends in `DL`).
fn release_group(title: &str) -> Option<String> {
    let title = title.trim();
    let stem = match title.rsplit_once('.') {
        Some((stem, ext)) if ext.len() <= 4 && is_video(title) => stem,
        _ => title,
    };
    let (_, group) = stem.rsplit_once('-')?;
    let group = group.trim().trim_matches(|c: char| c == '[' || c == ']');
    let tag = matches!(group.to_ascii_lowercase().as_str(), "dl" | "rip" | "ray" | "hd" | "sd");
    (group.len() >= 2 && group.len() <= 20 && group.bytes().all(|b| b.is_ascii_alphanumeric()) && !tag)
        .then(|| group.to_string())
}

/// What a release name says about its content, for matching it to a title: the title words
/// before the first marker (a year after the title, a season or episode, a resolution or source
/// tag), the year, and the season and episode it holds (a season pack has seasons and no episode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseName {
    /// [`normalise_title`] of the title part.
    pub title: String,
    pub year: Option<u32>,
    /// Every season named (`S01`, `S01-S03` gives 1 and 3, `Season 2`).
    pub seasons: Vec<u32>,
    pub episode: Option<u32>,
    /// What an anime-style name says (group, episodes numbered from the show's start,
    /// batches), when the name is one.
    pub anime: Option<AnimeName>,
}

/// Tokens that end a release's title part: release tags, not title words.
const TAGS: &[&str] = &[
    "2160p", "1440p", "1080p", "1080i", "720p", "576p", "480p", "360p", "4k", "uhd", "hdr", "bluray", "bdrip", "brrip",
    "remux", "webdl", "webrip", "web", "hdtv", "dvdrip", "dvd", "x264", "x265", "h264", "h265", "hevc", "avc",
    "complete", "season", "seasons", "proper", "repack", "extended", "multi", "dual", "internal", "limited", "imax",
];

impl ReleaseName {
    pub fn parse(name: &str) -> Self {
        let words = title_words(name);
        let mut parsed = ReleaseName::default();
        let mut title: Vec<&str> = Vec::new();
        let mut title_done = false;
        for (i, word) in words.iter().enumerate() {
            let next = words.get(i + 1).map(String::as_str);
            if let Some((season, episode)) = episode_of(word) {
                parsed.seasons.push(season);
                parsed.episode = parsed.episode.or(Some(episode));
                title_done = true;
                continue;
            }
            if let Some(season) = season_token(word) {
                parsed.seasons.push(season);
                title_done = true;
                continue;
            }
            if word == "season" {
                if let Some(season) = next.and_then(|n| parse_number(n, 1000)) {
                    parsed.seasons.push(season);
                }
                title_done = true;
                continue;
            }
            // A year ends the title, unless it is the title's first word (`1917`, `2012`).
            if let Some(year) = year_token(word).filter(|_| !title.is_empty()) {
                parsed.year = parsed.year.or(Some(year));
                title_done = true;
                continue;
            }
            if TAGS.contains(&word.as_str()) {
                title_done = true;
            }
            if !title_done {
                title.push(word);
            }
        }
        parsed.title = title.join(" ");
        if let Some(anime) = parse_anime(name) {
            if anime.group.is_some() || anime.episodes.is_some() {
                let anime_title = normalise_title(&anime.title);
                if !anime_title.is_empty() {
                    parsed.title = anime_title;
                }
            }
            if parsed.seasons.is_empty() {
                parsed.seasons.extend(anime.season);
            }
            parsed.anime = Some(anime);
        }
        parsed
    }

    /// Whether the release holds the wanted episode: its `SxxEyy`, its absolute number (`- 08`,
    /// a batch `01-28` covering it), its season pack, or an anime `Batch` / `Complete`.
    pub fn holds(&self, wanted: &WantedEpisode) -> bool {
        if let Some(episode) = self.episode {
            // `S01E08`: only with the season and episode the metadata maps the title to.
            return wanted.season_episode.is_some_and(|(s, e)| self.seasons.contains(&s) && e == episode);
        }
        if let Some(anime) = self.anime.as_ref().filter(|a| a.episodes.is_some()) {
            return anime_holds(anime, wanted);
        }
        if !self.seasons.is_empty() {
            return match wanted.season_episode {
                Some((season, _)) => self.seasons.contains(&season),
                // A Kitsu entry without a mapping is one season.
                None => self.seasons == [1],
            };
        }
        self.anime.as_ref().is_some_and(|a| a.batch)
    }
}

/// The episode a request wants, in either numbering: the (season, episode) of its IMDb id
/// (given, or mapped from a Kitsu id) and the episode counted from the start of the show (the
/// `EP` of `kitsu:ID:EP`, or what the metadata gives for `tt…:S:E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WantedEpisode {
    pub season_episode: Option<(u32, u32)>,
    pub absolute: Option<u32>,
}

impl WantedEpisode {
    /// The episode `media` asks for; `None` for a movie or a show as a whole.
    pub fn of(media: &MediaQuery) -> Option<Self> {
        let season_episode = media.season.zip(media.episode);
        (season_episode.is_some() || media.absolute_episode.is_some())
            .then_some(Self { season_episode, absolute: media.absolute_episode })
    }
}

/// Anime numbering: the absolute number in range, or the season the name gives with the
/// episode in range; without an absolute number, season 1's episodes are the show's.
fn anime_holds(anime: &AnimeName, wanted: &WantedEpisode) -> bool {
    let Some((first, last)) = anime.episodes else { return false };
    let in_range = |n: u32| (first..=last).contains(&n);
    if wanted.absolute.is_some_and(in_range) {
        return true;
    }
    match (wanted.season_episode, anime.season) {
        (Some((season, episode)), Some(named)) => season == named && in_range(episode),
        (Some((season, episode)), None) => wanted.absolute.is_none() && season == 1 && in_range(episode),
        _ => false,
    }
}

/// Which episode a file holds, by its name (else its path): `Some(true)` when it is the wanted
/// one, `Some(false)` when it names another, `None` when it names none.
pub fn file_holds(name: &str, path: &str, wanted: &WantedEpisode) -> Option<bool> {
    for text in [name, path.rsplit('/').next().unwrap_or(path)] {
        if let Some((season, episode)) = episode_of(text) {
            let same = wanted.season_episode == Some((season, episode))
                || (wanted.season_episode.is_none() && season == 1 && wanted.absolute == Some(episode));
            return Some(same);
        }
        if let Some(anime) = parse_anime(text).filter(|a| a.episodes.is_some_and(|(f, l)| f == l)) {
            return Some(anime_holds(&anime, wanted));
        }
    }
    None
}

/// A title as compared: lowercase, accents folded, `&` as `and`, punctuation gone, words joined
/// by one space (`Amélie & Co.` → `amelie and co`).
pub fn normalise_title(title: &str) -> String {
    title_words(title).join(" ")
}

fn title_words(text: &str) -> Vec<String> {
    let folded: String = text
        .chars()
        .flat_map(|c| match c {
            '&' => " and ".chars().collect::<Vec<_>>(),
            '\'' | '’' => Vec::new(),
            c => vec![fold_accent(c)],
        })
        .collect();
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        c => c,
    }
}

/// `s01` → 1 (a season alone, no episode).
fn season_token(word: &str) -> Option<u32> {
    let digits = word.strip_prefix('s')?;
    (!digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| parse_number(digits, 1000))
        .flatten()
}

/// A plausible release year.
fn year_token(word: &str) -> Option<u32> {
    (word.len() == 4 && word.bytes().all(|b| b.is_ascii_digit()))
        .then(|| word.parse::<u32>().ok())
        .flatten()
        .filter(|y| (1888..=2100).contains(y))
}

/// Lowercase alphanumeric runs: `The.Movie.2019.1080p.WEB-DL` → `the movie 2019 1080p web dl`.
fn tokens(title: &str) -> Vec<String> {
    title.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_ascii_lowercase).collect()
}

/// The (season, episode) a file or release name carries: `S01E03`, `s1e3`, `1x03`.
pub fn episode_of(name: &str) -> Option<(u32, u32)> {
    for token in tokens(name) {
        let bytes = token.as_bytes();
        if bytes.first() == Some(&b's') {
            if let Some(e_pos) = token[1..].find('e').map(|p| p + 1) {
                let (season, episode) = (&token[1..e_pos], &token[e_pos + 1..]);
                let episode: String = episode.chars().take_while(|c| c.is_ascii_digit()).collect();
                if let (Some(s), Some(e)) = (parse_number(season, 1000), parse_number(&episode, 100_000)) {
                    return Some((s, e));
                }
            }
        }
        if let Some((season, episode)) = token.split_once('x') {
            if let (Some(s), Some(e)) = (parse_number(season, 100), parse_number(episode, 1000)) {
                if !season.is_empty() && season.len() <= 2 && episode.len() >= 2 {
                    return Some((s, e));
                }
            }
        }
    }
    None
}

const VIDEO_EXTENSIONS: &[&str] = &[
    "3g2", "3gp", "amv", "asf", "avi", "drc", "f4v", "flv", "m2ts", "m2v", "m4p", "m4v", "mk3d", "mkv", "mov", "mp2",
    "mp4", "mpe", "mpeg", "mpg", "mpv", "mxf", "nsv", "ogg", "ogm", "ogv", "qt", "rm", "rmvb", "svi", "ts", "webm",
    "wmv", "yuv",
];

pub fn is_video(name: &str) -> bool {
    name.rsplit_once('.').map(|(_, ext)| VIDEO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())).unwrap_or(false)
}

/// Human size: `1.4 GB`, `700 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdr_and_groups() {
        let r = Release::parse("The.Movie.2019.2160p.WEB-DL.DV.HDR10.HEVC-FLUX.mkv");
        assert_eq!((r.hdr, r.group.as_deref()), (Some("DV"), Some("FLUX")));
        let r = Release::parse("The Movie 2019 2160p UHD BluRay HDR10+ x265-GRP");
        assert_eq!((r.hdr, r.group.as_deref()), (Some("HDR10+"), Some("GRP")));
        let r = Release::parse("Show.S01E01.1080p.WEB-DL");
        assert_eq!((r.hdr, r.group), (None, None), "WEB-DL is not a group");
        assert_eq!(Release::parse("Movie 720p HDR").hdr, Some("HDR"));
    }

    #[test]
    fn release_titles() {
        let r = Release::parse("The.Shawshank.Redemption.1994.2160p.UHD.BluRay.REMUX.HEVC-GRP");
        assert_eq!((r.resolution, r.quality, r.codec), (Some("2160p"), Some("BluRay REMUX"), Some("HEVC")));
        let r = Release::parse("Breaking Bad S01E01 720p WEB-DL x264");
        assert_eq!((r.resolution, r.quality, r.codec), (Some("720p"), Some("WEB-DL"), Some("AVC")));
        assert!(Release::parse("x 1080p").resolution_rank() > Release::parse("x 720p").resolution_rank());
        assert_eq!(Release::parse("Something").resolution_rank(), 0);
    }

    #[test]
    fn release_names() {
        let name = ReleaseName::parse("The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE");
        assert_eq!((name.title.as_str(), name.year, name.episode), ("the shawshank redemption", Some(1994), None));
        let name = ReleaseName::parse("Breaking Bad S01E02 720p HDTV");
        assert_eq!((name.title.as_str(), name.seasons.as_slice(), name.episode), ("breaking bad", &[1][..], Some(2)));
        let name = ReleaseName::parse("Breaking Bad Season 1 Complete 1080p");
        assert_eq!((name.title.as_str(), name.seasons.as_slice(), name.episode), ("breaking bad", &[1][..], None));
        let name = ReleaseName::parse("Breaking.Bad.S01-S03.1080p");
        assert_eq!(name.seasons, vec![1, 3]);
        let name = ReleaseName::parse("1917 (2019) 2160p");
        assert_eq!((name.title.as_str(), name.year), ("1917", Some(2019)));
        assert_eq!(ReleaseName::parse("Amélie [2001] DVDRip").title, "amelie");
        assert_eq!(normalise_title("Tom & Jerry’s Movie"), "tom and jerrys movie");
    }

    #[test]
    fn episodes() {
        assert_eq!(episode_of("Breaking.Bad.S01E03.720p.mkv"), Some((1, 3)));
        assert_eq!(episode_of("show s2e10 x264.mkv"), Some((2, 10)));
        assert_eq!(episode_of("Show 1x03.mkv"), Some((1, 3)));
        assert_eq!(episode_of("Movie 1920x1080.mkv"), None);
        assert_eq!(episode_of("Movie.2019.1080p.mkv"), None);
        assert_eq!(episode_of("Show.S01.Complete"), None);
    }

    #[test]
    fn anime_names_and_resolutions() {
        let name = ReleaseName::parse("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv");
        assert_eq!(name.title, "sousou no frieren");
        assert_eq!(
            Release::parse("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv").resolution,
            Some("1080p")
        );
        assert_eq!(Release::parse("DAYS - 05 (1280x720 HEVC2 AAC).mkv").resolution, Some("720p"));
        assert_eq!(Release::parse("Macross Zero (BDRip 1920x1080p x265 HEVC TrueHD)").resolution, Some("1080p"));
        assert_eq!(ReleaseName::parse("[SubsPlease] Spy x Family S2 - 03 (1080p)").seasons, vec![2]);
    }

    #[test]
    fn absolute_episodes_both_ways() {
        let kitsu = |absolute, mapped| WantedEpisode { season_episode: mapped, absolute: Some(absolute) };
        let holds = |name: &str, wanted: WantedEpisode| ReleaseName::parse(name).holds(&wanted);
        let frieren_8 = kitsu(8, None);
        assert!(holds("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv", frieren_8));
        assert!(holds("[SubsPlease] Sousou no Frieren E08 (1080p)", frieren_8));
        assert!(holds("[Commie] Sousou no Frieren - 08v2 [720p]", frieren_8));
        assert!(holds("[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]", frieren_8));
        assert!(holds("[Erai-raws] Sousou no Frieren - 01 ~ 28 [1080p]", frieren_8));
        assert!(holds("[Judas] Sousou no Frieren (Season 1) [1080p][Dual-Audio] (Batch)", frieren_8));
        assert!(!holds("[SubsPlease] Sousou no Frieren - 07 (1080p) [A1B2C3D4].mkv", frieren_8));
        assert!(!holds("[SubsPlease] Sousou no Frieren - 18 (1080p)", frieren_8));
        assert!(!holds("[Erai-raws] Sousou no Frieren - 09 ~ 28 [1080p]", frieren_8));
        assert!(!holds("Sousou.no.Frieren.S01E08.1080p.WEB", frieren_8), "S01E08 only with a mapping");
        assert!(holds("Sousou.no.Frieren.S01E08.1080p.WEB", kitsu(8, Some((1, 8)))));
        assert!(!holds("Sousou.no.Frieren.S01E07.1080p.WEB", kitsu(8, Some((1, 8)))));
        let spy_2_3 = kitsu(3, Some((2, 3)));
        assert!(holds("[SubsPlease] Spy x Family S2 - 03 (1080p)", spy_2_3));
        assert!(holds("Spy.x.Family.S02E03.1080p", spy_2_3));
        assert!(!holds("Spy.x.Family.S01E03.1080p", spy_2_3));
        // `tt0388629:21:15` of One Piece, whose metadata numbers it 1085.
        let one_piece = WantedEpisode { season_episode: Some((21, 15)), absolute: Some(1085) };
        assert!(holds("[SubsPlease] One Piece - 1085 (1080p) [0B2F7A5E].mkv", one_piece));
        assert!(holds("One.Piece.S21E15.1080p.WEB", one_piece));
        assert!(!holds("[SubsPlease] One Piece - 1084 (1080p)", one_piece));
        assert!(!holds("[SubsPlease] One Piece - 15 (1080p)", one_piece));
        // A plain `tt…:1:5` of a show released with anime names.
        assert!(holds(
            "DAYS - 05 (1280x720 HEVC2 AAC).mkv",
            WantedEpisode { season_episode: Some((1, 5)), absolute: None }
        ));
    }

    #[test]
    fn files_by_either_numbering() {
        let wanted = WantedEpisode { season_episode: Some((1, 8)), absolute: Some(8) };
        assert_eq!(file_holds("[SubsPlease] Sousou no Frieren - 08 (1080p).mkv", "", &wanted), Some(true));
        assert_eq!(file_holds("Sousou no Frieren - 09.mkv", "", &wanted), Some(false));
        assert_eq!(file_holds("Frieren.S01E08.mkv", "", &wanted), Some(true));
        assert_eq!(file_holds("Frieren.S01E09.mkv", "", &wanted), Some(false));
        assert_eq!(file_holds("NCOP.mkv", "", &wanted), None);
        let unmapped = WantedEpisode { season_episode: None, absolute: Some(8) };
        assert_eq!(file_holds("Frieren.S01E08.mkv", "", &unmapped), Some(true));
    }

    #[test]
    fn sizes_and_videos() {
        assert_eq!(human_size(1_503_238_553), "1.4 GB");
        assert_eq!(human_size(512), "512 B");
        assert!(is_video("a/b/Movie.MKV") && !is_video("sample.nfo") && !is_video("noext"));
    }
}
