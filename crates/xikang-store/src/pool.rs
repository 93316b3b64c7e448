//! A tiny connection pool for readers: idle connections wait in a `Vec`; a caller takes
//! one (or opens a new one when none is idle) and the guard puts it back on drop. Readers
//! never wait for each other or for the writer, which is the point of WAL on SQLite and of
//! MVCC on PostgreSQL. A full pool crate would bring threads and timeouts we do not need.

use crate::error::Result;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Idle connections of one kind.
pub(crate) struct Pool<C> {
    idle: Mutex<Vec<C>>,
    max_idle: usize,
    /// Connections lent out now, and opened since start (for the metrics).
    in_use: AtomicUsize,
    opened: AtomicU64,
}

impl<C> Pool<C> {
    pub(crate) fn new(max_idle: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle,
            in_use: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
        }
    }

    /// Idle, lent-out and ever-opened connections.
    pub(crate) fn stats(&self) -> crate::PoolStats {
        crate::PoolStats {
            idle: self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            in_use: self.in_use.load(Ordering::Relaxed),
            opened: self.opened.load(Ordering::Relaxed),
        }
    }

    /// An idle connection that passes `usable`, or a new one from `open`.
    pub(crate) fn get(
        &self,
        usable: impl Fn(&C) -> bool,
        open: impl FnOnce() -> Result<C>,
    ) -> Result<Pooled<'_, C>> {
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let mut found = None;
            while let Some(c) = idle.pop() {
                if usable(&c) {
                    found = Some(c);
                    break;
                }
            }
            found
        };
        let conn = match reused {
            Some(c) => c,
            None => {
                let c = open()?;
                self.opened.fetch_add(1, Ordering::Relaxed);
                c
            }
        };
        self.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(Pooled {
            pool: self,
            conn: Some(conn),
        })
    }
}

/// A connection borrowed from a [`Pool`].
pub(crate) struct Pooled<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
}

impl<C> Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        // `conn` is only taken in `drop`.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl<C> DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        self.pool.in_use.fetch_sub(1, Ordering::Relaxed);
        // A connection that was in use during a panic may hold an open transaction: let it go.
        if std::thread::panicking() {
            return;
        }
        if let Some(c) = self.conn.take() {
            let mut idle = self
                .pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.pool.max_idle {
                idle.push(c);
            }
        }
    }
}
