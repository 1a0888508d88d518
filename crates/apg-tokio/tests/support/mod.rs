//! What every test file of this crate needs: a tokio runtime, and apg's handle to it.

use std::sync::Arc;

/// A multi-threaded tokio runtime with I/O and time, and the [`apg::Runtime`] on it.
pub(crate) fn runtime() -> (tokio::runtime::Runtime, Arc<dyn apg::Runtime>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let runtime: Arc<dyn apg::Runtime> =
        Arc::new(apg_tokio::TokioRuntime::new(rt.handle().clone()));
    (rt, runtime)
}
