//! Any bytes as a stored task key: decoding never panics, and a key that
//! decodes is the one key of its id (encoding the id gives the same bytes),
//! as text in URLs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paas_core::TaskId;
use paas_fuzz::Id;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(id) = Id::from_key(bytes) {
        assert_eq!(id.to_key(), bytes, "a key that decodes is its id's one key");
        let _ = id.to_string();
    }
    let text = String::from_utf8_lossy(bytes);
    if let Ok(id) = paas_api::parse_key_hex::<Id>(&text) {
        assert_eq!(
            paas_api::key_hex(&id),
            text,
            "a hex key that parses is its id's one name"
        );
    }
});
