//! What this node is told and finds out before it does anything: the command line
//! ([`cli`]: clap only), every setting with one precedence and its source ([`settings`]), and
//! the instance's identity from IMDSv2 and its tags ([`identity`]).

pub mod cli;
pub mod identity;
pub mod settings;
