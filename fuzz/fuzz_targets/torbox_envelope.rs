//! TorBox's reply interpreter. Input: 2 bytes of status (big-endian, any u16), 1 byte picking
//! the content type, then the body. No panic; success only on a 2xx status; the API key never
//! appears in an error message, which stays short.

#![no_main]

use chillproxy_store_torbox::fuzz_interpret_reply;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "tb-secret-key-0123456789";
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "text/html",
    "text/plain",
    "text/plain; charset=utf-8",
    "",
];

fuzz_target!(|data: &[u8]| {
    let (status, content_type, body) = match data {
        [hi, lo, ct, body @ ..] => {
            let status = u16::from_be_bytes([*hi, *lo]);
            // Mostly 0..600 (`00 c8` is 200), sometimes any u16.
            let status = if hi & 0x80 == 0 { status % 600 } else { status };
            (status, CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()], body)
        }
        _ => (200, "application/json", data),
    };
    match fuzz_interpret_reply(status, content_type, body, KEY) {
        Ok(_) => assert!((200..300).contains(&status), "success on HTTP {status}"),
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains(KEY), "the key leaked: {message}");
            assert!(message.len() < 4096, "a message of {} bytes", message.len());
        }
    }
});
