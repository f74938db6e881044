//! `rasp`: evaluate detection on corpora.
fn main() {}
