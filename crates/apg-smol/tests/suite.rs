//! The apg integration suite on smol.

use std::future::Future;
use std::sync::Arc;

#[macro_use]
#[path = "../../apg/tests/suite/mod.rs"]
mod suite;

/// Runs one test body on smol's global executor (the connection driver is spawned
/// there), blocking the test thread on it.
fn run<F, Fut>(body: F)
where
    F: FnOnce(Arc<dyn apg::Runtime>) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime: Arc<dyn apg::Runtime> = Arc::new(apg_smol::SmolRuntime::new());
    smol::block_on(body(runtime));
}

apg_suite!(run);
