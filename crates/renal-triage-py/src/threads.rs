//! Long work runs with the GIL released, on `threads` threads (None: rayon's global pool,
//! one thread per core, as the command line's default). Results do not depend on it.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Runs `f` without the GIL on a pool of `threads` threads.
pub fn run<T, F>(py: Python<'_>, threads: Option<usize>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    match threads {
        None => Ok(py.detach(f)),
        Some(0) => Err(PyValueError::new_err(
            "threads: at least one thread is needed (None: one per core)",
        )),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| PyValueError::new_err(format!("threads: cannot start {n}: {e}")))?;
            Ok(py.detach(|| pool.install(f)))
        }
    }
}
