//! Every value decoder of apg-proto (`FromSql` for each Rust and PostgreSQL type
//! pair, both formats, and the composite reader) on arbitrary bytes: errors only,
//! never a panic, and no allocation beyond what the input justifies (libFuzzer's
//! `-malloc_limit_mb`). The first bytes pick the case from the table shared with
//! `crates/apg-proto/tests/decoders.rs`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/apg-proto/tests/value_decoders/mod.rs"]
mod value_decoders;

use value_decoders::{cases, run, Case};

fuzz_target!(|data: &[u8]| {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    run(CASES.get_or_init(cases), data);
});
