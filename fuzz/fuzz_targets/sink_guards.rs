//! Hunts panics (and slow inputs) in the sink guards of `rasp-guard`. The
//! first byte picks the dialect and platform; the rest is the sink's
//! argument, then inputs, separated by 0xFF bytes (read as lossy UTF-8).
//!
//! `cargo +nightly fuzz run sink_guards -- -max_len=4096 -timeout=2`

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasp_guard::{Dialect, Platform};

const DIALECTS: [Dialect; 4] = [
    Dialect::PostgreSql,
    Dialect::MySql,
    Dialect::Sqlite,
    Dialect::Generic,
];

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let parts: Vec<String> = rest
        .split(|b| *b == 0xff)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let Some((arg, inputs)) = parts.split_first() else {
        return;
    };
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let dialect = DIALECTS[usize::from(k) % 4];
    let platform = if k & 4 == 0 { Platform::Unix } else { Platform::Windows };
    let _ = rasp_guard::sql(arg, dialect, &inputs);
    let _ = rasp_guard::path(arg, platform, &inputs);
    let _ = rasp_guard::url(arg, &inputs);
    let _ = rasp_guard::shell(arg, &inputs);
    let argv: Vec<&str> = arg.split(' ').collect();
    let _ = rasp_guard::exec(&argv, &inputs);
    // an input taken from the argument itself: the guards judge real hits
    if arg.len() > 4 {
        let mid = arg.len() / 2;
        let (a, b) = (arg.floor_char_boundary(mid / 2), arg.floor_char_boundary(mid + mid / 2));
        let own = [&arg[a..b]];
        let _ = rasp_guard::sql(arg, dialect, &own);
        let _ = rasp_guard::path(arg, platform, &own);
        let _ = rasp_guard::url(arg, &own);
        let _ = rasp_guard::shell(arg, &own);
        let _ = rasp_guard::exec(&argv, &own);
    }
});
