//! `servers-spec` and `zoo-cfg-extra` values: parsing never panics, and formatting what was
//! parsed reads back as the same servers (pairs).
#![no_main]

use exhibitor_config::exhibitor::{
    format_extra, format_servers_spec, parse_extra, parse_servers_spec,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(servers) = parse_servers_spec(text) {
        let spec = format_servers_spec(&servers);
        assert_eq!(parse_servers_spec(&spec), Ok(servers), "{spec}");
    }
    if let Ok(pairs) = parse_extra(text) {
        let extra = format_extra(&pairs);
        assert_eq!(parse_extra(&extra), Ok(pairs), "{extra}");
    }
});
