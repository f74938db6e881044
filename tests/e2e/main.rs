//! End-to-end tests over real HTTP against the example bank on 127.0.0.1:0.

mod adapters;
mod bodies;
mod cluster;
mod demo;
mod entry;
mod fault;
mod flow;
mod idp;
mod lockout;
mod metrics;
mod proxies;
mod reload;
mod replicas;
mod risk;
mod slow;
mod tokens;
