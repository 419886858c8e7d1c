//! What can go wrong at the edge, classified into the exit codes operators script against.
//!
//! Modules return their own `thiserror` errors; the pipeline turns each into a [`Failure`]
//! with the one line an operator needs (naming the tag, URL, file and line, or znode).

use std::fmt;

/// The exit-code classes, documented in `--help` and README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// 1: anything else (a start command that failed, a file that could not be written).
    Internal,
    /// 2: bad input or configuration.
    BadInput,
    /// 3: a dependency (IMDS, S3, EC2, ZooKeeper) unreachable before the deadline.
    Unreachable,
    /// 4: quorum (or a leading master) not reached before the deadline.
    NoQuorum,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Internal => 1,
            Kind::BadInput => 2,
            Kind::Unreachable => 3,
            Kind::NoQuorum => 4,
        }
    }
}

/// A classified failure with its one-line message.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Kind::BadInput, message)
    }
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unreachable, message)
    }
    pub fn no_quorum(message: impl Into<String>) -> Self {
        Self::new(Kind::NoQuorum, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub type Result<T> = std::result::Result<T, Failure>;

/// A malformed shared config is bad input; its message already names the key or line.
impl From<exhibitor_config::exhibitor::ConfigError> for Failure {
    fn from(e: exhibitor_config::exhibitor::ConfigError) -> Self {
        Failure::bad_input(e.to_string())
    }
}

/// An agent the leading master never listed as active did not join: like a quorum not reached.
/// Flattens an error and its sources into one line: `outer: inner: root cause`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
