//! Java properties text: `parse` never panics, and what it reads, `store` writes back so that
//! `parse` reads the same pairs again.
#![no_main]

use exhibitor_config::properties::{parse, store};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(entries) = parse(text) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str()))
        .collect();
    let written = store(&["fuzz".to_string()], pairs.iter().copied());
    let back = parse(&written).unwrap_or_else(|e| panic!("store wrote what parse refuses: {e}"));
    let back: Vec<(&str, &str)> = back
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str()))
        .collect();
    assert_eq!(back, pairs, "store then parse is not the identity");
});
