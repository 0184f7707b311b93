//! Languages a viewer can put first: ISO 639-1 codes and English names (`fr`, `french`,
//! `French`, case-insensitive), matched against the words release names use for them
//! (`FRENCH`, `TRUEFRENCH`, `VFF`, `VOSTFR`, `GERMAN`, `ITA`, …). `MULTI`, `DUAL` (`Dual Audio`)
//! and a German scene `DL` hold every language; an anime fansub release (`[Group] Title - 08`)
//! is Japanese audio with English subtitles.

/// A language: its ISO 639-1 code, its English name, and the release-name words (lowercase,
/// whole words) that name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language {
    pub code: &'static str,
    pub name: &'static str,
    tokens: &'static [&'static str],
}

const fn lang(code: &'static str, name: &'static str, tokens: &'static [&'static str]) -> Language {
    Language { code, name, tokens }
}

/// The languages a config may name, in the order the configure page offers them.
pub const LANGUAGES: &[Language] = &[
    lang("en", "English", &["english", "eng"]),
    lang("fr", "French", &["french", "truefrench", "vff", "vfq", "vf2", "vfi", "vf", "vostfr", "fra", "fre"]),
    lang("de", "German", &["german", "deutsch", "ger", "deu"]),
    lang("es", "Spanish", &["spanish", "spa", "esp", "castellano", "latino", "espanol"]),
    lang("it", "Italian", &["italian", "ita"]),
    lang("pt", "Portuguese", &["portuguese", "por", "dublado", "brazilian", "ptbr"]),
    lang("ru", "Russian", &["russian", "rus"]),
    lang("ja", "Japanese", &["japanese", "jpn", "jap"]),
    lang("ko", "Korean", &["korean", "kor"]),
    lang("zh", "Chinese", &["chinese", "chi", "chs", "cht", "mandarin", "cantonese"]),
    lang("hi", "Hindi", &["hindi", "hin"]),
    lang("ar", "Arabic", &["arabic", "ara"]),
    lang("nl", "Dutch", &["dutch", "nld", "flemish"]),
    lang("pl", "Polish", &["polish", "pol", "lektor"]),
    lang("tr", "Turkish", &["turkish", "tur"]),
    lang("sv", "Swedish", &["swedish", "swe"]),
    lang("no", "Norwegian", &["norwegian"]),
    lang("da", "Danish", &["danish"]),
    lang("fi", "Finnish", &["finnish"]),
    lang("cs", "Czech", &["czech", "cze"]),
    lang("hu", "Hungarian", &["hungarian", "hun"]),
    lang("el", "Greek", &["greek", "gre"]),
    lang("he", "Hebrew", &["hebrew", "heb"]),
    lang("th", "Thai", &["thai"]),
    lang("vi", "Vietnamese", &["vietnamese"]),
    lang("id", "Indonesian", &["indonesian"]),
    lang("uk", "Ukrainian", &["ukrainian", "ukr"]),
    lang("ro", "Romanian", &["romanian", "rum"]),
    lang("ta", "Tamil", &["tamil"]),
    lang("te", "Telugu", &["telugu"]),
];

/// Words that say a release holds several audio languages, so every language.
const EVERY_LANGUAGE: &[&str] = &["multi", "dual", "multilang", "multilanguage"];

impl Language {
    /// The language a config value names (`fr`, `french`, `French`), if any.
    pub fn find(value: &str) -> Option<&'static Language> {
        let value = value.trim();
        LANGUAGES.iter().find(|l| l.code.eq_ignore_ascii_case(value) || l.name.eq_ignore_ascii_case(value))
    }

    /// Whether the release name says it holds this language.
    pub fn in_release(&self, title: &str) -> bool {
        let words = words(title);
        let has = |t: &str| words.iter().any(|w| w == t);
        if self.tokens.iter().any(|t| has(t)) || EVERY_LANGUAGE.iter().any(|t| has(t)) {
            return true;
        }
        // A German scene `DL` (dual language: German and the original), not `WEB-DL`.
        let scene_dl = words.iter().enumerate().any(|(i, w)| w == "dl" && (i == 0 || words[i - 1] != "web"));
        if scene_dl && matches!(self.code, "de" | "en") {
            return true;
        }
        // An anime fansub (`[SubsPlease] Title - 08 (1080p)`, a `[Group] … Batch`): Japanese
        // audio with English subtitles, so Japanese (an English dub says `English`).
        self.code == "ja" && is_fansub(title)
    }
}

/// The rank of a release for the viewer's languages: the position of the first language it
/// holds (0 is the first choice), `None` when it holds none of them. Unknown names are skipped
/// (the config's check refuses them).
pub fn preference(title: &str, languages: &[String]) -> Option<usize> {
    languages.iter().position(|value| Language::find(value).is_some_and(|l| l.in_release(title)))
}

/// `[Group] Title - 08 …` or a group's batch: anime as fansub groups release it.
fn is_fansub(title: &str) -> bool {
    crate::anime::parse_anime(title).is_some_and(|a| a.group.is_some() && (a.episodes.is_some() || a.batch))
}

/// Lowercase alphanumeric runs.
fn words(title: &str) -> Vec<String> {
    title.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_case_insensitive() {
        for value in ["fr", "FR", "french", "French", " FRENCH "] {
            assert_eq!(Language::find(value).map(|l| l.code), Some("fr"), "{value}");
        }
        assert_eq!(Language::find("ja").unwrap().name, "Japanese");
        assert!(Language::find("xx").is_none() && Language::find("klingon").is_none());
    }

    #[test]
    fn release_words() {
        let fr = Language::find("fr").unwrap();
        for title in [
            "Le.Film.2019.FRENCH.1080p.WEB.x264",
            "Film 2019 TRUEFRENCH 720p",
            "Film.2019.VFF.1080p",
            "Film.2019.VFQ.1080p",
            "Film.2019.VF2.2160p",
            "Show.S01E01.VOSTFR.1080p",
            "Film.2019.MULTi.1080p.BluRay",
            "Film 2019 Dual Audio 1080p",
        ] {
            assert!(fr.in_release(title), "{title}");
        }
        assert!(!fr.in_release("Film.2019.1080p.WEB-DL.x264-GRP"));
        assert!(!fr.in_release("Frenchman.2019.1080p"));
        let de = Language::find("german").unwrap();
        assert!(de.in_release("Film.2019.German.DL.1080p.BluRay.x264-GRP"));
        assert!(de.in_release("Film.2019.DL.1080p.BluRay.x264-GRP"));
        assert!(!de.in_release("Film.2019.1080p.WEB-DL.x264-GRP"), "WEB-DL is no dual language");
        let ja = Language::find("japanese").unwrap();
        assert!(ja.in_release("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv"));
        assert!(ja.in_release("[SubsPlease] Sousou no Frieren (01-28) (1080p) [Batch]"));
        let en = Language::find("en").unwrap();
        assert!(!en.in_release("[SubsPlease] Sousou no Frieren - 08 (1080p) [A1B2C3D4].mkv"), "subtitles only");
        assert!(en.in_release("[Golumpa] Enter Peaceship Yoghurt - 01 [English Dub] [FuniDub 1080p x264 AAC]"));
        assert!(ja.in_release("Film.2019.JPN.1080p"));
        assert!(!ja.in_release("Film.2019.1080p"));
    }

    #[test]
    fn preference_is_the_first_language_held() {
        let langs = vec!["de".to_string(), "french".to_string()];
        assert_eq!(preference("Film.2019.FRENCH.1080p", &langs), Some(1));
        assert_eq!(preference("Film.2019.GERMAN.1080p", &langs), Some(0));
        assert_eq!(preference("Film.2019.MULTI.1080p", &langs), Some(0));
        assert_eq!(preference("Film.2019.1080p", &langs), None);
    }
}
