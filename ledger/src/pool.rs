//! A bounded pool of read connections. At most `max` exist; when all are busy a reader waits
//! for one rather than opening a cold connection whose page cache would be thrown away after
//! one query.

use std::sync::{Condvar, Mutex};

use crate::store::{Backend, Reader};
use crate::Error;

pub(crate) struct ReaderPool {
    state: Mutex<Idle>,
    free: Condvar,
    max: usize,
}

#[derive(Default)]
struct Idle {
    idle: Vec<Box<dyn Reader>>,
    open: usize,
}

impl ReaderPool {
    pub(crate) fn new(max: usize) -> Self {
        ReaderPool {
            state: Mutex::new(Idle::default()),
            free: Condvar::new(),
            max: max.max(1),
        }
    }

    /// Runs `f` with a pooled read connection of `backend`.
    pub(crate) fn with<T>(
        &self,
        backend: &dyn Backend,
        f: impl FnOnce(&dyn Reader) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let conn = {
            let mut pool = self.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(c) = pool.idle.pop() {
                    break c;
                }
                if pool.open < self.max {
                    pool.open += 1;
                    drop(pool);
                    match backend.reader() {
                        Ok(c) => break c,
                        Err(e) => {
                            self.state.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
                            self.free.notify_one();
                            return Err(e);
                        }
                    }
                }
                pool = self.free.wait(pool).unwrap_or_else(|e| e.into_inner());
            }
        };
        let out = f(conn.as_ref());
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .idle
            .push(conn);
        self.free.notify_one();
        out
    }
}
