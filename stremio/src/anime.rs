//! Anime release names, as fansub groups and anime trackers (Nyaa, AnimeTosho) write them:
//! `[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv`, `Spy x Family S2 - 03`,
//! `Title - S2 - 03`, batches (`(01-28)`, `01 ~ 12`, `01 & 02 - Batch`, `Complete`), versions
//! (`08v2`), `E08`, and the underscore form `[Group]_Title_07_(1280x720)`. Episodes here are
//! numbered from the start of the show (or of the Kitsu entry), not per IMDb season.

use crate::ids::parse_number;

/// What an anime-style name says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnimeName {
    /// The group in the leading brackets (`SubsPlease`).
    pub group: Option<String>,
    /// The title part, as written (`Sousou no Frieren`).
    pub title: String,
    /// A season the name gives (`S2 - 03`, `Season 2`, `2nd Season`).
    pub season: Option<u32>,
    /// The episodes held: `(8, 8)` for one, `(1, 28)` for a batch.
    pub episodes: Option<(u32, u32)>,
    /// `08v2` → 2.
    pub version: Option<u32>,
    /// A batch: a range, or `Batch` / `Complete`.
    pub batch: bool,
    pub dual_audio: bool,
    pub multi_subs: bool,
}

/// Reads an anime-style name; `None` when it has neither a leading group tag nor anime-style
/// episode numbering.
pub fn parse_anime(name: &str) -> Option<AnimeName> {
    let mut text = name.trim();
    if crate::release::is_video(text) {
        text = text.rsplit_once('.').map_or(text, |(stem, _)| stem);
    }
    let owned;
    if text.contains('_') && !text.contains(' ') {
        owned = text.replace('_', " ");
        text = &owned;
    }
    let mut parsed = AnimeName::default();
    if let Some(rest) = text.strip_prefix('[') {
        if let Some((group, rest)) = rest.split_once(']') {
            let group = group.trim();
            if !group.is_empty() && group.len() <= 40 {
                parsed.group = Some(group.to_string());
            }
            text = rest;
        }
    }
    // The text outside brackets, and what is inside them.
    let (main, tags) = split_brackets(text);
    for tag in std::iter::once(main.as_str()).chain(tags.iter().map(String::as_str)) {
        let words = lower_words(tag);
        let joined = format!(" {} ", words.join(" "));
        parsed.batch |= joined.contains(" batch ") || joined.contains(" complete ");
        parsed.dual_audio |= joined.contains(" dual audio ") || joined.contains(" dual ");
        parsed.multi_subs |= joined.contains(" multi sub")
            || joined.contains(" multiple subtitle")
            || joined.contains(" multisub")
            || joined.contains(" multi subs ");
    }
    // A range in brackets: `(01-28)`, `[01~12]`.
    let bracket_range =
        tags.iter().find_map(|tag| episode_expr(tag.trim()).filter(|(r, rest)| r.0 < r.1 && rest.is_empty()));

    let segments: Vec<&str> = main.split(" - ").map(str::trim).collect();
    let mut title_parts: Vec<&str> = Vec::new();
    let mut found = false;
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            if let Some(((first, last), version)) =
                episode_expr(segment).map(|(range, _)| range).map(|r| (r, version_of(segment)))
            {
                parsed.episodes = Some((first, last));
                parsed.version = version;
                parsed.batch |= first < last;
                found = true;
                break;
            }
            if let Some(season) = season_segment(segment) {
                parsed.season = Some(season);
                continue;
            }
            if segment.eq_ignore_ascii_case("batch") || segment.eq_ignore_ascii_case("complete") {
                continue;
            }
        }
        title_parts.push(segment);
    }
    let mut title = title_parts.join(" - ");
    // `Spy x Family S2`, `Title Season 2`, `Title 2nd Season`: the season ends the title.
    if let Some((head, season)) = trailing_season(&title) {
        parsed.season = parsed.season.or(Some(season));
        title = head;
    }
    if !found {
        // `Title E08`, `Title EP08`, `Title Episode 8`, or (with a group tag) `Title 07`.
        if let Some((head, episode)) = trailing_episode(&title, parsed.group.is_some()) {
            parsed.episodes = Some((episode, episode));
            title = head;
            found = true;
        }
    }
    if !found {
        if let Some(((first, last), _)) = bracket_range {
            parsed.episodes = Some((first, last));
            parsed.batch = true;
            found = true;
        }
    }
    parsed.title = title.trim().trim_end_matches(['-', '|', ':']).trim().to_string();
    (parsed.group.is_some() || found).then_some(parsed)
}

impl AnimeName {
    /// Whether the name holds absolute episode `episode`.
    pub fn holds(&self, episode: u32) -> bool {
        self.episodes.is_some_and(|(first, last)| (first..=last).contains(&episode))
    }
}

/// The text outside `[]` and `()`, and each bracket's content.
fn split_brackets(text: &str) -> (String, Vec<String>) {
    let (mut main, mut tags, mut current, mut depth) = (String::new(), Vec::new(), String::new(), 0usize);
    for c in text.chars() {
        match c {
            '[' | '(' | '{' => {
                depth += 1;
                if depth == 1 {
                    main.push(' ');
                    continue;
                }
            }
            ']' | ')' | '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    tags.push(std::mem::take(&mut current));
                    continue;
                }
            }
            _ => {}
        }
        if depth > 0 {
            current.push(c);
        } else {
            main.push(c);
        }
    }
    let main = main.split_whitespace().collect::<Vec<_>>().join(" ");
    (main, tags)
}

/// `08`, `08v2`, `01-12`, `01 ~ 28`, `01 & 02` at the start of `text` (1 to 4 digits each), and
/// what follows. A resolution (`1080p`) or a year-like 4 digits with more after is no episode.
fn episode_expr(text: &str) -> Option<((u32, u32), &str)> {
    let (first, rest) = number_at(text)?;
    let rest = skip_version(rest);
    let after = rest.trim_start();
    for sep in ['-', '~', '&'] {
        if let Some(more) = after.strip_prefix(sep) {
            if let Some((last, tail)) = number_at(more.trim_start()) {
                if last >= first {
                    return Some(((first, last), skip_version(tail).trim()));
                }
            }
        }
    }
    let next = rest.chars().next();
    if next.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '\'') {
        return None;
    }
    Some(((first, first), rest.trim()))
}

fn number_at(text: &str) -> Option<(u32, &str)> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 4 {
        return None;
    }
    let number = parse_number(&text[..digits], 9999)?;
    // A year (`Movie - 2019 - 1080p`) is no episode.
    if digits == 4 && (1900..=2100).contains(&number) {
        return None;
    }
    Some((number, &text[digits..]))
}

/// `v2` after an episode number.
fn skip_version(text: &str) -> &str {
    match text.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
            rest.trim_start_matches(|c: char| c.is_ascii_digit())
        }
        _ => text,
    }
}

fn version_of(segment: &str) -> Option<u32> {
    let (_, rest) = number_at(segment)?;
    let digits = rest.strip_prefix(['v', 'V'])?;
    let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
    parse_number(&digits, 99)
}

/// `S2`, `S02`, `Season 2`, `2nd Season` as a whole segment.
fn season_segment(segment: &str) -> Option<u32> {
    let words = lower_words(segment);
    match words.as_slice() {
        [one] => season_word(one),
        [season, n] if season == "season" => parse_number(n, 100),
        [nth, season] if season == "season" => ordinal(nth),
        _ => None,
    }
}

/// The season at the end of a title part, and the title before it.
fn trailing_season(title: &str) -> Option<(String, u32)> {
    let words: Vec<&str> = title.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let n = words.len();
    if n >= 2 {
        if let Some(season) = season_word(&lower[n - 1]) {
            return Some((words[..n - 1].join(" "), season));
        }
    }
    if n >= 3 && lower[n - 2] == "season" {
        if let Some(season) = parse_number(&lower[n - 1], 100) {
            return Some((words[..n - 2].join(" "), season));
        }
    }
    if n >= 3 && lower[n - 1] == "season" {
        if let Some(season) = ordinal(&lower[n - 2]) {
            return Some((words[..n - 2].join(" "), season));
        }
    }
    None
}

/// `E08`, `EP08`, `Episode 8` at the end of a title part; with `bare`, a plain `07` too.
fn trailing_episode(title: &str, bare: bool) -> Option<(String, u32)> {
    let words: Vec<&str> = title.split_whitespace().collect();
    let n = words.len();
    if n < 2 {
        return None;
    }
    let last = words[n - 1].to_lowercase();
    if n >= 3 && words[n - 2].eq_ignore_ascii_case("episode") {
        return parse_number(&last, 9999).map(|e| (words[..n - 2].join(" "), e));
    }
    for prefix in ["ep", "e"] {
        if let Some(digits) = last.strip_prefix(prefix) {
            let digits = digits.split('v').next().unwrap_or_default();
            if (1..=4).contains(&digits.len()) {
                if let Some(e) = parse_number(digits, 9999) {
                    return Some((words[..n - 1].join(" "), e));
                }
            }
        }
    }
    if bare {
        let digits = last.split('v').next().unwrap_or_default();
        if (2..=4).contains(&digits.len()) && !(digits.len() == 4 && digits.starts_with(['1', '2'])) {
            return parse_number(digits, 9999).map(|e| (words[..n - 1].join(" "), e));
        }
    }
    None
}

/// `s2`, `s02` → 2.
fn season_word(word: &str) -> Option<u32> {
    let digits = word.strip_prefix('s')?;
    (!digits.is_empty() && digits.len() <= 2).then(|| parse_number(digits, 100)).flatten()
}

/// `2nd` → 2.
fn ordinal(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    matches!(suffix, "st" | "nd" | "rd" | "th").then(|| parse_number(digits, 100)).flatten()
}

fn lower_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> AnimeName {
        parse_anime(name).unwrap_or_else(|| panic!("{name} is anime"))
    }

    /// Names from `tests/fixtures/torznab/` (Nyaa, AnimeTosho feeds) and from public anime
    /// trackers.
    #[test]
    fn real_names() {
        /// (name, group, title, season, episodes, batch)
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Option<u32>, Option<(u32, u32)>, bool);
        let cases: &[Case] = &[
            ("[Foxy-Subs] Mahouka Koukou no Yuutousei - 08 [720p] [3194D881].mkv", Some("Foxy-Subs"), "Mahouka Koukou no Yuutousei", None, Some((8, 8)), false),
            ("[HorribleSubs] Frame Arms Girl - 07 [720p].mkv", Some("HorribleSubs"), "Frame Arms Girl", None, Some((7, 7)), false),
            ("[finFAGs]_Frame_Arms_Girl_07_(1280x720_TV_AAC)_[1262B6F7].mkv", Some("finFAGs"), "Frame Arms Girl", None, Some((7, 7)), false),
            ("[BakedFish] Achoo Senkan Yoghurt - 01 & 02 - Batch [720p][MP4][AAC]", Some("BakedFish"), "Achoo Senkan Yoghurt", None, Some((1, 2)), true),
            ("[Golumpa] Enter Peaceship Yoghurt - 01 (Achoo Senkan Yoghurt) [English Dub] [FuniDub 1080p x264 AAC] [MKV] [A7E170FF]", Some("Golumpa"), "Enter Peaceship Yoghurt", None, Some((1, 1)), false),
            ("DAYS - 05 (1280x720 HEVC2 AAC).mkv", None, "DAYS", None, Some((5, 5)), false),
            ("Fumetsu no Anata e - 19 [WEBDL 1080p] Ukr DVO", None, "Fumetsu no Anata e", None, Some((19, 19)), false),
            ("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv", Some("SubsPlease"), "Sousou no Frieren", None, Some((8, 8)), false),
            ("[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]", Some("SubsPlease"), "Sousou no Frieren", None, Some((1, 28)), true),
            ("[Erai-raws] Sousou no Frieren - 01 ~ 28 [1080p][Multiple Subtitle]", Some("Erai-raws"), "Sousou no Frieren", None, Some((1, 28)), true),
            ("[SubsPlease] Spy x Family S2 - 03 (1080p) [5D6B8E21].mkv", Some("SubsPlease"), "Spy x Family", Some(2), Some((3, 3)), false),
            ("[Judas] Spy x Family - S2 - 03 [1080p][HEVC x265 10bit][Multi-Subs]", Some("Judas"), "Spy x Family", Some(2), Some((3, 3)), false),
            ("[Erai-raws] Shingeki no Kyojin - The Final Season - 28 [1080p][Multiple Subtitle][E0C6D8A3].mkv", Some("Erai-raws"), "Shingeki no Kyojin - The Final Season", None, Some((28, 28)), false),
            ("[SubsPlease] One Piece - 1085 (1080p) [0B2F7A5E].mkv", Some("SubsPlease"), "One Piece", None, Some((1085, 1085)), false),
            ("[Commie] Steins;Gate - 08v2 [BD 720p AAC] [4E1A0C3B].mkv", Some("Commie"), "Steins;Gate", None, Some((8, 8)), false),
            ("[Judas] Sousou no Frieren (Season 1) [1080p][HEVC x265 10bit][Dual-Audio][Multi-Subs] (Batch)", Some("Judas"), "Sousou no Frieren", None, None, true),
            ("[ASW] Mushoku Tensei S2 - 01 [1080p HEVC x265 10Bit][AAC]", Some("ASW"), "Mushoku Tensei", Some(2), Some((1, 1)), false),
            ("[SubsPlease] Kusuriya no Hitorigoto E08 (1080p)", Some("SubsPlease"), "Kusuriya no Hitorigoto", None, Some((8, 8)), false),
        ];
        for (name, group, title, season, episodes, batch) in cases {
            let anime = parse(name);
            assert_eq!(anime.group.as_deref(), *group, "{name}");
            assert_eq!(anime.title, *title, "{name}");
            assert_eq!(anime.season, *season, "{name}");
            assert_eq!(anime.episodes, *episodes, "{name}");
            assert_eq!(anime.batch, *batch, "{name}");
        }
        assert_eq!(parse("[Commie] Steins;Gate - 08v2 [BD 720p AAC].mkv").version, Some(2));
        let judas =
            parse("[Judas] Sousou no Frieren (Season 1) [1080p][HEVC x265 10bit][Dual-Audio][Multi-Subs] (Batch)");
        assert!(judas.dual_audio && judas.multi_subs);
        assert!(!parse("[HorribleSubs] Frame Arms Girl - 07 [720p].mkv").dual_audio);
    }

    #[test]
    fn scene_names_are_not_anime() {
        for name in [
            "The.Shawshank.Redemption.1994.1080p.BluRay.x264-AMIABLE",
            "Breaking Bad S01E02 720p HDTV",
            "Movie - 2019 - 1080p",
            "Macross Zero (BDRip 1920x1080p x265 HEVC TrueHD, FLAC 5.1+2.0)[sxales]",
        ] {
            assert!(parse_anime(name).and_then(|a| a.episodes).is_none(), "{name}");
        }
        assert!(parse("[FFF] Ore Monogatari!! - Vol.01 [BD][720p-AAC]").episodes.is_none());
    }

    #[test]
    fn holds() {
        let batch = parse("[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]");
        assert!(batch.holds(8) && batch.holds(28) && !batch.holds(29));
        assert!(!parse("[SubsPlease] Sousou no Frieren - 07 (1080p)").holds(8));
    }
}
