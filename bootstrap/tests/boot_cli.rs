//! The binary as an operator first meets it: `--help` documents the exit codes and the
//! precedence of settings that README documents, `--version` is the package's, and a flag it
//! does not know is refused with exit 2, naming it.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mesos-boot"))
        .args(args)
        .env_clear()
        .output()
        .expect("run mesos-boot")
}

#[test]
fn help_documents_the_exit_codes_and_an_unknown_flag_exits_2() {
    let help = run(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for line in [
        "2  bad input or configuration",
        "3  a dependency (IMDS, S3, EC2, ZooKeeper) unreachable",
        "4  quorum (or a leading master) not reached",
        "flag > environment (MESOS_BOOT_*) > instance tag > default",
    ] {
        assert!(text.contains(line), "--help lacks `{line}`:\n{text}");
    }
    let version = run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("mesos-boot {}", env!("CARGO_PKG_VERSION"))
    );
    let bad = run(&["--role-typo", "agent"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--role-typo"));
}
