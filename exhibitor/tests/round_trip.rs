//! Property tests: what mesos-boot writes, it reads back unchanged. Writing a parsed Exhibitor
//! config and reading it back is the identity; so are the Java properties escapes (any key and
//! value, characters beyond U+FFFF included), servers-spec, zoo-cfg-extra and the `server.N=`
//! line of a reconfig.

use std::collections::BTreeMap;

use exhibitor_config::dynamic::{parse_config, server_line};
use exhibitor_config::exhibitor::{
    format_extra, format_servers_spec, parse_extra, parse_servers_spec, Server, ServerKind,
    SharedConfig, ROLLING_HOSTNAMES, ROLLING_HOSTNAMES_INDEX, SETTINGS,
};
use exhibitor_config::properties;
use proptest::prelude::*;

/// Any text, weighted towards what properties files find hard: separators, escapes, comment
/// marks, whitespace, line ends, controls, non-ASCII and astral characters.
fn text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        '=',
        ':',
        '\\',
        '#',
        '!',
        ' ',
        '\t',
        '\n',
        '\r',
        '\x0c',
        '\0',
        '&',
        '%',
        '+',
        'u',
        'é',
        '\u{7f}',
        '\u{ffff}',
        '😀',
        '\u{10ffff}',
        'a',
        'Z',
        '0',
        '.',
        '-',
    ]);
    prop::collection::vec(prop_oneof![3 => tricky, 1 => any::<char>()], 0..24)
        .prop_map(|cs| cs.into_iter().collect())
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..255, 0u8..255, 0u8..255, 1u8..255)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        "[a-z][a-z0-9-]{0,20}(\\.[a-z0-9-]{1,10}){0,3}",
    ]
}

/// Valid servers: distinct ids from 1 to 255, distinct hosts.
fn servers() -> impl Strategy<Value = Vec<Server>> {
    prop::collection::btree_map(1u32..=255, (host(), any::<bool>()), 0..8).prop_map(|m| {
        let mut seen = std::collections::BTreeSet::new();
        m.into_iter()
            .filter(|(_, (h, _))| seen.insert(h.to_ascii_lowercase()))
            .map(|(id, (host, observer))| Server {
                id,
                host,
                kind: if observer {
                    ServerKind::Observer
                } else {
                    ServerKind::Standard
                },
            })
            .collect()
    })
}

/// zoo-cfg-extra pairs as parse_extra returns them: trimmed, non-empty keys that zoo-cfg-extra
/// may set.
fn extra_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((text(), text()), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| (format!("k{}", k.trim()), v.trim().to_string()))
            .map(|(k, v)| (k.trim().to_string(), v))
            .collect()
    })
}

/// zoo-cfg-extra pairs a shared config may hold: plain keys (letters, digits, `.`, `_`, `-`, as
/// ZooKeeper reads them) and values without a backslash (check_zoo_cfg_key, zoo_cfg_extra).
fn allowed_extra_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[A-Za-z0-9._-]{0,12}", text()), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| (format!("k{k}"), v.replace('\\', "").trim().to_string()))
            .collect()
    })
}

/// A config in Exhibitor's full layout (every setting under both prefixes, both rolling keys),
/// with valid values where mesos-boot checks them and anything elsewhere, plus unknown keys.
fn full_config() -> impl Strategy<Value = SharedConfig> {
    (
        prop::collection::vec(text(), SETTINGS.len()),
        prop::collection::vec(text(), SETTINGS.len()),
        servers(),
        (1u16.., 1u16.., 1u16..),
        allowed_extra_pairs(),
        (text(), text()),
        prop::collection::btree_map(text(), text(), 0..4),
    )
        .prop_map(
            |(live, rolling, servers, ports, extra, hostnames, unknown)| {
                let mut root: BTreeMap<String, String> = SETTINGS
                    .iter()
                    .zip(live)
                    .map(|((name, _), v)| (name.to_string(), v))
                    .collect();
                root.insert("servers-spec".into(), format_servers_spec(&servers));
                root.insert("client-port".into(), ports.0.to_string());
                root.insert("connect-port".into(), ports.1.to_string());
                root.insert("election-port".into(), ports.2.to_string());
                root.insert("zoo-cfg-extra".into(), format_extra(&extra));
                let rolling = SETTINGS
                    .iter()
                    .zip(rolling)
                    .map(|((name, _), v)| (name.to_string(), v))
                    .collect();
                let unknown = unknown
                    .into_iter()
                    .map(|(k, v)| (format!("x{k}"), v))
                    .filter(|(k, _)| !k.starts_with("com.netflix.exhibitor"))
                    .filter(|(k, _)| k != ROLLING_HOSTNAMES && k != ROLLING_HOSTNAMES_INDEX)
                    .collect();
                SharedConfig {
                    root,
                    rolling,
                    rolling_hostnames: Some(hostnames.0),
                    rolling_hostnames_index: Some(hostnames.1),
                    unknown,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn properties_store_then_parse_is_the_identity(
        pairs in prop::collection::vec((text(), text()), 0..8),
    ) {
        let pairs: Vec<(String, String)> =
            pairs.into_iter().filter(|(k, _)| !k.is_empty()).collect();
        let text = properties::store(
            &["comment".to_string()],
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let back = properties::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        let back: Vec<(String, String)> = back.into_iter().map(|e| (e.key, e.value)).collect();
        prop_assert_eq!(back, pairs, "{:?}", text);
    }

    #[test]
    fn writing_a_parsed_exhibitor_config_and_reading_it_back_is_the_identity(
        cfg in full_config(),
        comment in "[ -~]{0,40}",
    ) {
        prop_assert!(cfg.validate().is_ok(), "{:?}", cfg.validate());
        let text = cfg.to_properties(&[comment]);
        let back = SharedConfig::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(&back, &cfg);
        // And again from what was read: the same bytes.
        prop_assert_eq!(back.to_properties(&[]), cfg.to_properties(&[]));
        prop_assert_eq!(back.servers().unwrap(), cfg.servers().unwrap());
    }

    #[test]
    fn servers_spec_format_then_parse_is_the_identity(servers in servers()) {
        let spec = format_servers_spec(&servers);
        prop_assert_eq!(parse_servers_spec(&spec), Ok(servers));
    }

    #[test]
    fn extra_format_then_parse_is_the_identity(pairs in extra_pairs()) {
        let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| !k.is_empty()).collect();
        let value = format_extra(&pairs);
        prop_assert_eq!(parse_extra(&value), Ok(pairs), "{}", value);
    }

    #[test]
    fn a_server_line_parses_back_to_its_member(
        id in 1u32..=255,
        host in host(),
        ports in (1u16.., 1u16.., 1u16..),
    ) {
        let line = server_line(id, &host, ports);
        let cfg = parse_config(&format!("{line}\nversion=100000000\n")).unwrap();
        prop_assert_eq!(cfg.version, "100000000");
        prop_assert_eq!(cfg.members.len(), 1);
        let m = &cfg.members[0];
        prop_assert_eq!((m.id, m.host.as_str(), m.participant), (id, host.as_str(), true));
    }

    /// Whatever the text, the parsers answer (a value or an error), never panic.
    #[test]
    fn parsers_never_panic(t in text()) {
        let _ = properties::parse(&t);
        let _ = SharedConfig::parse(&t);
        let _ = parse_servers_spec(&t);
        let _ = parse_extra(&t);
        let _ = parse_config(&t);
    }
}
