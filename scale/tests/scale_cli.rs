//! The autoscaler run by hand (outside Lambda): `--version` is the package's, `--asg` is
//! required, and a flag it does not know is refused with exit 2, naming it.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mesos-scale"))
        .args(args)
        .env_clear()
        .output()
        .expect("run mesos-scale")
}

#[test]
fn a_run_by_hand_names_what_is_missing_or_unknown() {
    let version = run(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("mesos-scale {}", env!("CARGO_PKG_VERSION"))
    );
    let missing = run(&[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--asg <ASG>"));
    let bad = run(&["--asg", "agents", "--drain-typo"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--drain-typo"));
}
