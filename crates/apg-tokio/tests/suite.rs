//! The apg integration suite on tokio.

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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let runtime: Arc<dyn apg::Runtime> =
        Arc::new(apg_tokio::TokioRuntime::new(rt.handle().clone()));
    rt.block_on(body(runtime));
}

apg_suite!(run);
