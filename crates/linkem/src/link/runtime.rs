//! A tokio runtime whose threads live inside one of the link's namespaces.

use std::fs::File;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::netns::{self, Namespace};

/// A multi-thread tokio runtime whose every thread (workers and blocking
/// pool) entered one namespace when it started. Futures given to
/// [`NsRuntime::block_on`] run on a worker, never on the caller's thread,
/// so they too open their sockets inside the namespace.
pub struct NsRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    namespace: String,
}

impl std::fmt::Debug for NsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsRuntime")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl NsRuntime {
    pub(super) fn new(ns: &Namespace) -> Result<NsRuntime> {
        let file: Arc<File> = Arc::new(ns.handle()?);
        let name = ns.name().to_string();
        let thread_name = format!("ns {name}");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name(thread_name)
            .on_thread_start(move || {
                // The namespace file is held open, so this cannot fail short
                // of a broken kernel; a task in the wrong namespace would be
                // a silent lie, so stop loudly instead.
                if let Err(e) = netns::enter(&file) {
                    panic!("cannot enter the link's network namespace: {e}");
                }
            })
            .build()
            .map_err(|e| Error::io(format!("building a tokio runtime for namespace {name}"), e))?;
        Ok(NsRuntime {
            runtime: Some(runtime),
            namespace: ns.name().to_string(),
        })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.rt().handle()
    }

    /// Spawns a task on the namespace's workers.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt().spawn(future)
    }

    /// Runs a future to completion on the namespace's workers and returns
    /// its output; a panic in it is resumed here. For synchronous code: in
    /// async code (a `#[tokio::test]`), `spawn` and await the handle.
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.rt().spawn(future);
        match self.rt().block_on(task) {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("task in namespace {} was cancelled: {e}", self.namespace),
        }
    }
}

impl Drop for NsRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime's
        // async context; shutting down in the background never does.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
