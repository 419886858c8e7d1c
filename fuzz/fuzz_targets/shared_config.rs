//! A whole shared config object: `SharedConfig::parse` never panics, and writing a parsed
//! config then reading it back is the identity (`parse(write(parse(x)))` writes the same bytes
//! and equals `parse(write(...))` again). Every zoo-cfg-extra line it accepts is read by
//! ZooKeeper (Java properties) as the key and value that were checked.
#![no_main]

use exhibitor_config::exhibitor::SharedConfig;
use exhibitor_config::properties;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = SharedConfig::parse(text) else {
        return;
    };
    for (key, value) in cfg.zoo_cfg_extra().unwrap_or_default() {
        // Values with a line break are refused when zoo.cfg is rendered (node::render).
        if value.contains(['\n', '\r']) {
            continue;
        }
        let line = format!("{key}={value}\n");
        let read = properties::parse(&line)
            .unwrap_or_else(|e| panic!("accepted zoo-cfg-extra line {line:?}: {e}"));
        assert_eq!(read.len(), 1, "{line:?}");
        assert_eq!((&read[0].key, &read[0].value), (&key, &value), "{line:?}");
        assert!(!key.contains(char::is_whitespace), "{key:?}");
    }
    let written = cfg.to_properties(&["fuzz".to_string()]);
    let back = SharedConfig::parse(&written)
        .unwrap_or_else(|e| panic!("to_properties wrote what parse refuses: {e}"));
    assert_eq!(back.to_properties(&[]), cfg.to_properties(&[]));
    assert_eq!(back.servers(), cfg.servers());
    assert_eq!(back.zoo_cfg_extra(), cfg.zoo_cfg_extra());
    assert_eq!(back.unknown, cfg.unknown);
    let again = SharedConfig::parse(&back.to_properties(&[])).unwrap();
    assert_eq!(again, back, "parse after write is not the identity");
});
