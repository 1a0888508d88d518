//! The apg integration suite on tokio.

mod support;

use std::future::Future;
use std::sync::Arc;

#[macro_use]
#[path = "../../apg/tests/suite/mod.rs"]
mod suite;

/// Builds a multi-threaded tokio runtime and runs one test body on it.
fn run<F, Fut>(body: F)
where
    F: FnOnce(Arc<dyn apg::Runtime>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (rt, runtime) = support::runtime();
    rt.block_on(body(runtime));
}

apg_suite!(run);
