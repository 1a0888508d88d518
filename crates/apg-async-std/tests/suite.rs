//! The apg integration suite on async-std.

use std::future::Future;
use std::sync::Arc;

#[macro_use]
#[path = "../../apg/tests/suite/mod.rs"]
mod suite;

/// Runs one test body on async-std, blocking the test thread on it.
fn run<F, Fut>(body: F)
where
    F: FnOnce(Arc<dyn apg::Runtime>) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime: Arc<dyn apg::Runtime> = Arc::new(apg_async_std::AsyncStdRuntime);
    async_std::task::block_on(body(runtime));
}

apg_suite!(run);
