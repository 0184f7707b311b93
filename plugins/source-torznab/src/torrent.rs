//! `.torrent`-only items: the info hash is the SHA-1 of the bencoded `info` dictionary, exactly
//! as the file holds it (never re-encoded: a non-canonical file would hash differently). The
//! file is read with `bendy`, whose decoder hands out the raw bytes of a dictionary and bounds
//! nesting depth, so a hostile file cannot make us recurse.

use bendy::decoding::{Decoder, Object};
use chillproxy_core::InfoHash;
use sha1::{Digest, Sha1};

/// Deepest nesting accepted in a `.torrent` (real files use 4 or 5).
const MAX_DEPTH: usize = 32;

/// One file the torrent holds: its path (joined with `/`) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentFile {
    pub path: String,
    pub size: u64,
}

/// What a `.torrent` file says: its info hash and files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentInfo {
    pub hash: InfoHash,
    pub name: String,
    pub files: Vec<TorrentFile>,
}

/// Reads a `.torrent` file. The error says what is wrong, never quoting the file.
pub fn parse_torrent(bytes: &[u8]) -> Result<TorrentInfo, String> {
    let broken = |e: bendy::decoding::Error| format!("not a valid .torrent file ({e})");
    let mut decoder = Decoder::new(bytes).with_max_depth(MAX_DEPTH);
    let root = decoder.next_object().map_err(broken)?.ok_or("the .torrent file is empty")?;
    let mut root = root.try_into_dictionary().map_err(broken)?;
    while let Some((key, value)) = root.next_pair().map_err(broken)? {
        if key == b"info" {
            let info = value.try_into_dictionary().map_err(broken)?;
            let raw = info.into_raw().map_err(broken)?;
            let digest = Sha1::digest(raw);
            let hex = hex::encode(digest);
            let hash = InfoHash::parse(&hex).ok_or("the info hash is not 40 hex digits")?;
            let (name, files) = files_of(raw).map_err(broken)?;
            return Ok(TorrentInfo { hash, name, files });
        }
    }
    Err("the .torrent file has no info dictionary".to_string())
}

/// The torrent's name and files from its `info` dictionary: `length` for a single file,
/// `files[{length, path[]}]` for several.
fn files_of(info: &[u8]) -> Result<(String, Vec<TorrentFile>), bendy::decoding::Error> {
    let mut decoder = Decoder::new(info).with_max_depth(MAX_DEPTH);
    let Some(object) = decoder.next_object()? else { return Ok((String::new(), Vec::new())) };
    let mut dict = object.try_into_dictionary()?;
    let (mut name, mut length, mut files) = (String::new(), None, Vec::new());
    while let Some((key, value)) = dict.next_pair()? {
        match (key, value) {
            (b"name", Object::Bytes(bytes)) => name = String::from_utf8_lossy(bytes).into_owned(),
            (b"length", Object::Integer(n)) => length = n.parse::<u64>().ok(),
            (b"files", Object::List(mut list)) => {
                while let Some(entry) = list.next_object()? {
                    let Object::Dict(mut entry) = entry else { continue };
                    let (mut size, mut parts) = (0, Vec::new());
                    while let Some((key, value)) = entry.next_pair()? {
                        match (key, value) {
                            (b"length", Object::Integer(n)) => size = n.parse::<u64>().unwrap_or(0),
                            (b"path", Object::List(mut path)) => {
                                while let Some(part) = path.next_object()? {
                                    if let Object::Bytes(part) = part {
                                        parts.push(String::from_utf8_lossy(part).into_owned());
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    files.push(TorrentFile { path: parts.join("/"), size });
                }
            }
            _ => {}
        }
    }
    if files.is_empty() {
        if let Some(size) = length {
            files.push(TorrentFile { path: name.clone(), size });
        }
    }
    Ok((name, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_file_torrents() {
        let info = b"d6:lengthi1000e4:name9:Movie.mkv12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
        let file = [&b"d8:announce9:udp://t/x4:info"[..], &info[..], b"e"].concat();
        let parsed = parse_torrent(&file).unwrap();
        let want = hex::encode(Sha1::digest(info));
        assert_eq!(parsed.hash.as_str(), want);
        assert_eq!(parsed.files, vec![TorrentFile { path: "Movie.mkv".into(), size: 1000 }]);

        let info = b"d5:filesld6:lengthi5e4:pathl1:a5:b.mkveed6:lengthi7e4:pathl5:c.srteee4:name4:Packe";
        let file = [&b"d4:info"[..], &info[..], b"e"].concat();
        let parsed = parse_torrent(&file).unwrap();
        assert_eq!(parsed.name, "Pack");
        assert_eq!(
            parsed.files,
            vec![TorrentFile { path: "a/b.mkv".into(), size: 5 }, TorrentFile { path: "c.srt".into(), size: 7 }]
        );
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"garbage",
            b"d4:infoi3ee",
            b"d8:announce3:abce",
            b"d4:infod",
            b"lllllllllllllllllllllllllllllllllllllllllllllllllllllllll",
        ] {
            assert!(parse_torrent(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
