//! Bad input and unreachable dependencies: one clear line naming the input, the documented
//! exit code, and nothing half-written. Also --dry-run, --help, file:// configs and
//! templates overrides. moto and the IMDS emulator are real servers; ZooKeeper is not needed.

mod common;

use common::cluster::{object, put_object};
use common::*;
use mesos_boot_tests::imds::{ImdsEmulator, Instance};
use mesos_boot_tests::{block_on, moto::Moto, net};

/// Runs a boot expected to fail with `code`, whose stderr names `needle`, leaving no
/// rendered file behind.
fn fails(node: &Node, args: &[&str], code: i32, needle: &str) -> String {
    let out = node.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{}", show(&out));
    assert!(
        stderr.contains(needle),
        "stderr should name `{needle}`: {}",
        show(&out)
    );
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(error_lines.len(), 1, "one error line: {stderr}");
    let rendered: Vec<String> = node
        .files()
        .into_iter()
        .filter(|f| f.starts_with("etc/") || f.contains("zookeeper/myid"))
        .collect();
    assert!(
        rendered.is_empty(),
        "nothing rendered on failure: {rendered:?}"
    );
    stderr
}

fn agent_with(url: &str, extra: &[(&str, &str)]) -> Node {
    let mut t = tags("agent", url);
    t.extend_from_slice(extra);
    Node::new(net::alloc_ip(), &t)
}

#[test]
fn missing_and_malformed_tags_are_named() {
    let url = s3_config(&shared_config(&[net::alloc_ip()]));
    let node = Node::new(
        net::alloc_ip(),
        &[("mesos:role", "agent"), ("mesos:shared-config", &url)],
    );
    fails(&node, &["--no-wait"], 2, "mesos:cluster");

    let node = agent_with(&url, &[("mesos:role", "ringmaster")]);
    fails(
        &node,
        &["--no-wait"],
        2,
        "tag mesos:role: unknown role `ringmaster`",
    );

    let node = agent_with("s3:/no-bucket", &[]);
    fails(
        &node,
        &["--no-wait"],
        2,
        "tag mesos:shared-config: `s3:/no-bucket`",
    );

    let node = agent_with(&url, &[("mesos:attributes", "rack")]);
    fails(
        &node,
        &["--no-wait"],
        2,
        "tag mesos:attributes: attribute `rack` is not `key:value`",
    );

    let mut t = tags("master", &url);
    t.push(("mesos:masters", "three"));
    let node = Node::new(net::alloc_ip(), &t);
    fails(&node, &["--no-wait"], 2, "tag mesos:masters: `three`");
}

/// What Mesos itself refuses, refused at boot (exit 2, naming the tag) instead of an agent
/// or master that aborts under `Restart=always`: a containerizer list Mesos' agent does not
/// take as it is (it splits on `,` and trims nothing: src/slave/containerizer/
/// containerizer.cpp), attribute values `Attributes::parse` aborts on (src/common/
/// attributes.cpp, src/common/values.cpp: sets, mismatched brackets, NaN, infinite, negative
/// or subnormal scalars, ranges that are not integers), and an even master count (a quorum
/// of half plus one: no more fault tolerance than one master fewer).
#[test]
fn what_mesos_refuses_is_refused_at_boot_naming_the_tag() {
    let url = s3_config(&shared_config(&[net::alloc_ip()]));
    for (value, needle) in [
        ("mesos, docker", "tag mesos:containerizers: `mesos, docker`"),
        ("mesos,mesos", "tag mesos:containerizers: `mesos,mesos`"),
        ("mesos,", "tag mesos:containerizers: `mesos,`"),
    ] {
        let node = agent_with(&url, &[("mesos:containerizers", value)]);
        fails(&node, &["--no-wait"], 2, needle);
    }
    for value in [
        "zone:{a}",
        "zone:a{b}",
        "ports:[1-x]",
        "ports:[1-5",
        "weight:nan",
        "weight:inf",
        "weight:-2.5",
        "weight:1e-310",
    ] {
        let node = agent_with(&url, &[("mesos:attributes", value)]);
        let (key, v) = value.split_once(':').unwrap();
        fails(
            &node,
            &["--no-wait"],
            2,
            &format!("tag mesos:attributes: attribute `{key}`: `{v}`"),
        );
    }
    for masters in ["2", "4"] {
        let mut t = tags("master", &url);
        t.push(("mesos:masters", masters));
        let node = Node::new(net::alloc_ip(), &t);
        fails(
            &node,
            &["--no-wait"],
            2,
            &format!("tag mesos:masters: {masters} masters"),
        );
    }
}

#[test]
fn missing_bucket_is_bad_input_and_missing_key_is_waited_for() {
    let node = agent_with("s3://no-such-bucket-mesos-boot/exhibitor.properties", &[]);
    fails(
        &node,
        &["--no-wait", "--timeout", "20s"],
        2,
        "s3://no-such-bucket-mesos-boot/exhibitor.properties: bucket does not exist",
    );

    let bucket = block_on(Moto::shared().unique_bucket("empty"));
    let url = format!("s3://{bucket}/nothing/here.properties");
    let node = agent_with(&url, &[]);
    fails(
        &node,
        &["--no-wait", "--timeout", "2s"],
        3,
        &format!("{url} does not exist"),
    );
}

#[test]
fn garbage_in_the_shared_config_is_named_by_url_and_line() {
    let url = s3_config("com.netflix.exhibitor.client-port=2181\nthis line is garbage\n");
    fails(
        &agent_with(&url, &[]),
        &["--no-wait"],
        2,
        &format!("{url}: line 2: expected `key=value`"),
    );

    let url =
        s3_config("com.netflix.exhibitor.servers-spec=1:10.0.0.1,1:10.0.0.2,3:10.0.0.1,junk\n");
    let stderr = fails(
        &agent_with(&url, &[]),
        &["--no-wait"],
        2,
        "key com.netflix.exhibitor.servers-spec",
    );
    for item in [
        "id 1 is already used",
        "host 10.0.0.1 is already listed",
        "`junk`",
    ] {
        assert!(stderr.contains(item), "{item}: {stderr}");
    }
}

#[test]
fn a_zookeeper_node_writes_nothing_over_a_bad_servers_spec() {
    for spec in [
        "1:10.0.0.1,1:10.0.0.2",
        "1:10.0.0.1,2:10.0.0.1",
        "1:10.0.0.1,junk",
    ] {
        let text = format!("com.netflix.exhibitor.servers-spec={spec}\n");
        let url = s3_config(&text);
        let mut t = tags("zookeeper", &url);
        t.push(("mesos:ensemble-size", "3"));
        let node = Node::new(net::alloc_ip(), &t);
        fails(
            &node,
            &["--no-start"],
            2,
            "key com.netflix.exhibitor.servers-spec",
        );
        let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
        let moto = Moto::shared();
        let (now, _) = block_on(moto.get_object(bucket, key)).unwrap();
        assert_eq!(String::from_utf8(now).unwrap(), text, "{spec}: no write");
        let secret = block_on(moto.get_object(bucket, &format!("{key}.zk-super")));
        assert!(secret.is_none(), "{spec}: no secret created");
    }
}

#[test]
fn imds_that_fails_or_is_absent_exits_3_naming_imds() {
    let node = agent_with("s3://b/k", &[]);
    node.imds.set_fail(Some(500));
    fails(
        &node,
        &["--no-wait", "--timeout", "3s"],
        3,
        "IMDS at http://127.0.0.1",
    );

    // Nothing listens: the emulator's address once it is gone.
    let gone = ImdsEmulator::start(Instance::at(net::alloc_ip()));
    let endpoint = gone.endpoint();
    drop(gone);
    let node = agent_with("s3://b/k", &[]);
    let out = node
        .command(&["--no-wait", "--timeout", "3s"])
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("IMDS at {endpoint}")),
        "{}",
        show(&out)
    );
}

#[test]
fn imdsv1_requests_are_refused_and_mesos_boot_uses_tokens() {
    // The emulator answers 401 without a token; a successful boot proves the token flow.
    let url = s3_config(&shared_config(&[net::alloc_ip()]));
    create_credentials(&url);
    let node = agent_with(&url, &[]);
    let out = node.run(&["--no-start", "--no-wait"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(node.imds.requests_for("/latest/api/token") >= 1);
    let v1 = mesos_boot_tests::http::get(
        &format!("{}/latest/meta-data/instance-id", node.imds.endpoint()),
        &[],
    )
    .unwrap();
    assert_eq!(v1.status, 401);
}

#[test]
fn dry_run_prints_everything_and_writes_nothing() {
    let ips = net::alloc_ips(3);
    let url = s3_config(&shared_config(&ips));
    let node = Node::new(ips[1], &tags("zookeeper", &url));
    let out = node.run(&["--dry-run"]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let root = node.root.display();
    assert!(
        stdout.contains(&format!("--- {root}/etc/zookeeper/conf/zoo.cfg (mode 600)")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "server.2={}:2888:3888:participant;{}:2181",
            ips[1], ips[1]
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "--- {root}/var/lib/zookeeper/myid (mode 644)\n2\n"
        )),
        "{stdout}"
    );
    assert!(node.files().is_empty(), "dry run wrote {:?}", node.files());
}

#[test]
fn zookeeper_node_not_in_servers_spec_is_refused() {
    let url = s3_config(&shared_config(&net::alloc_ips(3)));
    let node = Node::new(net::alloc_ip(), &tags("zookeeper", &url));
    fails(
        &node,
        &["--no-start"],
        2,
        "is not listed and the ensemble already has 3 voters",
    );
}

#[test]
fn file_shared_config_off_aws_with_template_override_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("exhibitor.properties");
    let ips = net::alloc_ips(3);
    std::fs::write(&cfg, shared_config(&ips)).unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("mesos-zk.tera"),
        "# site template\n{{ zk_url }}\n",
    )
    .unwrap();
    let node = Node::new(net::alloc_ip(), &[]);
    let url = format!("file://{}", cfg.display());
    let ip = node.ip.to_string();
    let args = [
        "--no-imds",
        "--ip",
        &ip,
        "--role",
        "master",
        "--cluster",
        "onprem",
        "--masters",
        "5",
        "--shared-config",
        &url,
        "--templates",
        templates.to_str().unwrap(),
        "--no-start",
        "--no-wait",
    ];
    let out = node.run(&args);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(node.imds.requests(), 0, "--no-imds makes no IMDS request");
    let zk = node.file("/etc/mesos/zk");
    assert!(zk.starts_with("# site template\nzk://"), "{zk}");
    assert!(node
        .file("/etc/mesos-boot/mesos-master.env")
        .contains("MESOS_QUORUM=\"3\""));
    let first = node.file("/etc/mesos-boot/mesos-master.env");
    let out = node.run(&args);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(node.file("/etc/mesos-boot/mesos-master.env"), first);
    let rec = node.boot_record();
    assert!(
        rec["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["changed"] == false),
        "{rec}"
    );
    assert_eq!(rec["result"], "rendered");
}

/// zoo-cfg-extra keys that would weaken the ensemble (no ACLs, another superuser, the keys
/// mesos-boot owns in zoo.cfg, membership lines) are refused before anything is registered or
/// written, naming the object and the key.
#[test]
fn zoo_cfg_extra_that_weakens_the_ensemble_is_refused_naming_the_key() {
    for (pair, key) in [
        ("skipACL\\=yes", "skipACL"),
        (
            "DigestAuthenticationProvider.superDigest\\=super:x",
            "DigestAuthenticationProvider.superDigest",
        ),
        ("dataDir\\=/tmp/elsewhere", "dataDir"),
        ("4lw.commands.whitelist\\=*", "4lw.commands.whitelist"),
        ("reconfigEnabled\\=false", "reconfigEnabled"),
        ("server.9\\=10.9.9.9:2888:3888", "server.9"),
    ] {
        let text = format!(
            "com.netflix.exhibitor.servers-spec=\n\
             com.netflix.exhibitor.zoo-cfg-extra=tickTime\\=2000&{pair}\n"
        );
        let url = s3_config(&text);
        let mut t = tags("zookeeper", &url);
        t.push(("mesos:ensemble-size", "1"));
        let node = Node::new(net::alloc_ip(), &t);
        fails(
            &node,
            &["--no-start"],
            2,
            &format!("{url}: key com.netflix.exhibitor.zoo-cfg-extra: `{key}`"),
        );
        let (bucket, k) = url.trim_start_matches("s3://").split_once('/').unwrap();
        let moto = Moto::shared();
        let (now, _) = block_on(moto.get_object(bucket, k)).unwrap();
        assert_eq!(
            String::from_utf8(now).unwrap(),
            text,
            "{key}: no registration"
        );
        // Masters and agents read the same object: refused there too.
        fails(
            &agent_with(&url, &[]),
            &["--no-wait"],
            2,
            &format!("`{key}`"),
        );
    }
}

/// A shared config object larger than 1 MiB is refused with its size and URL, whatever it
/// contains (here: a valid config padded with comments).
#[test]
fn a_shared_config_over_1_mib_is_refused() {
    let mut text = shared_config(&[net::alloc_ip()]);
    let pad = format!("#{}\n", "x".repeat(1023));
    while text.len() <= 1024 * 1024 {
        text.push_str(&pad);
    }
    let url = s3_config(&text);
    let stderr = fails(
        &agent_with(&url, &[]),
        &["--no-wait"],
        2,
        &format!("{url}: object is {} bytes", text.len()),
    );
    assert!(stderr.contains("1 MiB"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exhibitor.properties");
    std::fs::write(&path, &text).unwrap();
    let url = format!("file://{}", path.display());
    fails(
        &agent_with(&url, &[]),
        &["--no-wait"],
        2,
        &format!("{url}: object is {} bytes", text.len()),
    );
}

/// An agent before the masters' first boot waits for its credentials, naming the object; a
/// malformed one is bad input naming the object and the line, and nothing is rendered.
#[test]
fn an_agent_names_the_credential_it_waits_for_and_a_malformed_one() {
    let url = s3_config(&shared_config(&[net::alloc_ip()]));
    let node = agent_with(&url, &[]);
    let out = node.run(&["--no-start", "--no-wait", "--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{url}.zk-mesos-agent does not exist yet")),
        "{}",
        show(&out)
    );
    let (bucket, key) = url["s3://".len()..].split_once('/').unwrap();
    block_on(Moto::shared().put_object(
        bucket,
        &format!("{key}.zk-mesos-agent"),
        "mesos-agent tooshort\n",
    ));
    let out = node.run(&["--no-start", "--no-wait", "--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{url}.zk-mesos-agent line 1")),
        "{}",
        show(&out)
    );
    assert!(!node.root.join("etc/mesos-boot/mesos-agent.env").exists());
}

/// Issue 26: `credentials`, `zk-tls` and `restore` take the region as the AWS CLI would
/// (`--region`, else `AWS_REGION` or the profile, else the instance's) and say which; with none
/// anywhere they stop with exit 2 naming what to give, instead of sending an operator's
/// requests to us-east-1.
#[test]
fn operator_commands_take_the_sdks_region_and_never_a_silent_default() {
    let url = s3_config(&shared_config(&[net::alloc_ip()]));
    create_credentials(&url);
    let run = |args: &[&str], region: Option<&str>| {
        let mut cmd = std::process::Command::new(mesos_boot_tests::bin::mesos_boot_bin());
        cmd.envs(Moto::shared().env())
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            // No profile, no instance: nothing else may supply a region (and no request
            // leaves for a metadata address the test did not make).
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(args);
        if let Some(r) = region {
            cmd.env("AWS_REGION", r);
        }
        cmd.output().unwrap()
    };
    for args in [
        vec!["credentials", "list", url.as_str()],
        vec!["zk-tls", "list", url.as_str()],
        vec!["restore", "--list", url.as_str()],
    ] {
        let out = run(&args, Some("eu-west-1"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("region=eu-west-1"),
            "{args:?} with AWS_REGION=eu-west-1: {}",
            show(&out)
        );
        let out = run(&args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} with no region: {}",
            show(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no AWS region: give --region"),
            "{}",
            show(&out)
        );
        let mut with_flag = args.clone();
        with_flag.extend(["--region", "eu-central-1"]);
        let out = run(&with_flag, None);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("region=eu-central-1"),
            "{with_flag:?}: {}",
            show(&out)
        );
    }
    // A shared config in a file needs no region at all.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exhibitor.properties");
    std::fs::write(&file, shared_config(&[net::alloc_ip()])).unwrap();
    let file = format!("file://{}", file.display());
    for args in [
        vec!["credentials", "list", file.as_str()],
        vec!["restore", "--list", file.as_str()],
    ] {
        let out = run(&args, None);
        assert!(
            out.status.success(),
            "{args:?} with no region: {}",
            show(&out)
        );
    }
}

/// Issue 26, item 4: `mesos-boot config` changes the shared config as an operator would in
/// Exhibitor's Config tab, safely beside `serve` (which rewrites the object): what it writes is
/// checked first (exit 2 naming the key, nothing written), shown by key, and conditional on the
/// version it was made from: a write by someone else in between is a conflict, never a lost
/// update; the keys mesos-boot keeps are not changed without --force; `edit` runs $EDITOR.
#[test]
fn config_changes_the_shared_config_only_from_the_version_read() {
    let original = format!(
        "{}mesos-boot.ensemble-size=3\n",
        shared_config(&[
            std::net::Ipv4Addr::new(10, 0, 0, 1),
            std::net::Ipv4Addr::new(10, 0, 0, 2)
        ])
    );
    let url = s3_config(&original);
    let dir = tempfile::tempdir().unwrap();
    let mb = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(mesos_boot_tests::bin::mesos_boot_bin());
        cmd.envs(Moto::shared().env()).arg("config").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let err = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    // get: the object, and its version on stderr.
    let got = mb(&["get", &url], &[]);
    assert!(got.status.success(), "{}", show(&got));
    assert_eq!(text(&got), original);
    let version = err(&got)
        .lines()
        .find_map(|l| l.strip_prefix("version "))
        .unwrap_or_else(|| panic!("{}", show(&got)))
        .to_string();

    // validate: what the boot would refuse, naming the file and the key.
    let file = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let bad = file(
        "bad",
        &format!("{original}com.netflix.exhibitor.zookeeper-data-directory=/etc\n"),
    );
    let out = mb(&["validate", &bad], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        err(&out).contains(&format!(
            "{bad}: key com.netflix.exhibitor.zookeeper-data-directory"
        )),
        "{}",
        show(&out)
    );
    let extra = file(
        "extra",
        &format!("{original}com.netflix.exhibitor.zoo-cfg-extra=skip\\\\ACL\\=yes\n"),
    );
    let out = mb(&["set", &url, &extra], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(object(&url), original, "nothing written");

    // diff and set: one setting changed, from the version read.
    let good = file(
        "good",
        &format!("{original}com.netflix.exhibitor.cleanup-max-files=7\n"),
    );
    let out = mb(&["diff", &url, &good], &[]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out).contains("com.netflix.exhibitor.cleanup-max-files"),
        "{}",
        show(&out)
    );
    assert_eq!(object(&url), original, "diff writes nothing");

    // A write in between (serve's, another operator's): the set from the old version is a
    // conflict, and the other write stays.
    let theirs = format!("{original}mesos-boot.formed=2026-12-08T00:00:00Z\n");
    put_object(&url, &theirs);
    let out = mb(&["set", &url, &good, "--if-version", &version], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        err(&out).contains("changed since version"),
        "{}",
        show(&out)
    );
    assert_eq!(object(&url), theirs, "their write is not lost");

    // From the current version: written. A change to a key mesos-boot keeps is refused
    // without --force.
    let got = mb(&["get", &url], &[]);
    let now = text(&got);
    let owned = file(
        "owned",
        &now.replace("mesos-boot.ensemble-size=3", "mesos-boot.ensemble-size=5"),
    );
    let out = mb(&["set", &url, &owned], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        err(&out).contains("mesos-boot.ensemble-size"),
        "{}",
        show(&out)
    );
    assert_eq!(object(&url), theirs);

    // edit: $EDITOR changes one setting; the rest (their marker) is kept.
    let out = mb(
        &["edit", &url],
        &[
            ("VISUAL", ""),
            (
                "EDITOR",
                "sed -i '$a com.netflix.exhibitor.election-port=3999'",
            ),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out).contains("+ com.netflix.exhibitor.election-port=3999"),
        "{}",
        show(&out)
    );
    let after = object(&url);
    assert!(
        after.contains("com.netflix.exhibitor.election-port=3999"),
        "{after}"
    );
    assert!(
        after.contains("mesos-boot.formed=2026-12-08T00:00:00Z"),
        "{after}"
    );
}

/// Issue 24, finding 15: a conditional write that S3 applied but whose response was lost is
/// retried by the SDK, and the retry meets its own write (412). That is the write done, not a
/// conflict: `config set` says written, and the object holds the change.
#[test]
fn a_write_that_landed_but_lost_its_answer_is_not_a_conflict() {
    let original = shared_config(&[std::net::Ipv4Addr::new(10, 0, 0, 1)]);
    let url = s3_config(&original);
    let proxy = mesos_boot_tests::fault::FaultProxy::start(&Moto::shared().host_port());
    proxy.add(mesos_boot_tests::fault::Fault {
        pattern: "cleanup-max-files=9".into(),
        action: mesos_boot_tests::fault::Action::ApplyThenDrop,
        times: 1,
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(
        &file,
        format!("{original}com.netflix.exhibitor.cleanup-max-files=9\n"),
    )
    .unwrap();
    let out = std::process::Command::new(mesos_boot_tests::bin::mesos_boot_bin())
        .envs(Moto::shared().env())
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .args(["config", "set", &url, &file.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(proxy.faulted(), 1, "{}", show(&out));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(object(&url).contains("cleanup-max-files=9"));
}
