//! Example servers for `rasp-stepup`. `bank` is the reference app: its
//! routes, users and JSON shapes are a documented contract (README).

pub mod bank;
pub mod cli;
pub mod demo;
pub mod metrics;
pub mod serve;
