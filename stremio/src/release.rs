//! Release names as the torrent world writes them: resolution, quality and codec from a title,
//! the episode a file name carries, video file detection and human sizes. Shared by ranking,
//! file picking, the fuzz targets and the property tests.

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
        let resolution = if has("2160p") || has("4k") || has("uhd") {
            Some("2160p")
        } else if has("1440p") {
            Some("1440p")
        } else if has("1080p") || has("1080i") {
            Some("1080p")
        } else if has("720p") {
            Some("720p")
        } else if has("576p") {
            Some("576p")
        } else if has("480p") {
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
    fn episodes() {
        assert_eq!(episode_of("Breaking.Bad.S01E03.720p.mkv"), Some((1, 3)));
        assert_eq!(episode_of("show s2e10 x264.mkv"), Some((2, 10)));
        assert_eq!(episode_of("Show 1x03.mkv"), Some((1, 3)));
        assert_eq!(episode_of("Movie 1920x1080.mkv"), None);
        assert_eq!(episode_of("Movie.2019.1080p.mkv"), None);
        assert_eq!(episode_of("Show.S01.Complete"), None);
    }

    #[test]
    fn sizes_and_videos() {
        assert_eq!(human_size(1_503_238_553), "1.4 GB");
        assert_eq!(human_size(512), "512 B");
        assert!(is_video("a/b/Movie.MKV") && !is_video("sample.nfo") && !is_video("noext"));
    }
}
