//! Per-evaluation memory limits (SPEC section 9, `out of memory`): a global
//! allocator that counts each thread's net allocated bytes, and trips the
//! running evaluation's interrupt when it goes past its limit. The
//! evaluation then fails at its next poll (function entry or loop
//! back-edge) with `out of memory`, and its memory is released as it
//! unwinds — other evaluations and the session go on.

use crate::eval::{Interrupt, StopReason};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The `#[global_allocator]` the `strata` binary installs.
pub struct CountingAlloc;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread.
    static NET: Cell<i64> = const { Cell::new(0) };
    /// While an evaluation runs here: the NET value at which it is stopped,
    /// and its interrupt switch.
    static WATCH: Cell<Option<(i64, *const Interrupt)>> = const { Cell::new(None) };
}

fn note(delta: i64) {
    let _ = NET.try_with(|n| {
        let now = n.get().wrapping_add(delta);
        n.set(now);
        if delta > 0 {
            let _ = WATCH.try_with(|w| {
                if let Some((limit, interrupt)) = w.get()
                    && now > limit
                {
                    w.set(None);
                    // SAFETY: the watch is removed (by `Watch::drop`)
                    // before the evaluation's interrupt is dropped.
                    // `trip` does not allocate.
                    unsafe { (*interrupt).trip(StopReason::OutOfMemory) };
                }
            });
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// bookkeeping only touches thread-local cells and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Holds an evaluation to `limit` bytes of new allocations on this thread
/// until dropped (restoring any enclosing evaluation's watch).
pub struct Watch {
    previous: Option<(i64, *const Interrupt)>,
}

impl Watch {
    pub fn start(limit: u64, interrupt: &Interrupt) -> Watch {
        let base = NET.try_with(Cell::get).unwrap_or(0);
        let stop_at = base.saturating_add(limit.min(i64::MAX as u64) as i64);
        let previous = WATCH.try_with(|w| w.replace(Some((stop_at, interrupt as *const Interrupt)))).unwrap_or(None);
        Watch { previous }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = WATCH.try_with(|w| w.set(self.previous));
    }
}

/// Whether an allocation of `bytes` more would break the current limit
/// (helpers that build a value of a known size check this first, so one
/// huge request fails cleanly instead of exhausting the machine).
pub fn would_exceed(bytes: u64) -> bool {
    let now = NET.try_with(Cell::get).unwrap_or(0);
    WATCH
        .try_with(|w| w.get().is_some_and(|(limit, _)| now.saturating_add(bytes.min(i64::MAX as u64) as i64) > limit))
        .unwrap_or(false)
}
