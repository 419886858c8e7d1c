//! ZooKeeper's `/zookeeper/config` text and dynamic config files: `parse_config` never
//! panics, and every voter it reads, written as a `server.N=` line, reads back the same.
#![no_main]

use exhibitor_config::dynamic::{parse_config, server_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = parse_config(text) else {
        return;
    };
    assert!(
        cfg.members.windows(2).all(|w| w[0].id <= w[1].id),
        "sorted by id"
    );
    for m in cfg.voters() {
        let line = server_line(m.id, &m.host, (2888, 3888, 2181));
        let back = parse_config(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(back.members, vec![m.clone()], "{line}");
    }
});
