//! A counting semaphore over usearch's thread slots. usearch gives every add and search one of the slots
//! reserved with `reserve_capacity_and_threads` and fails (older versions: asserts or corrupts memory, usearch
//! issues #389 and #550) when more calls run at once than there are slots; the server's blocking pool alone can
//! run hundreds. Every call into the graph holds a [`SlotPermit`], so at most `slots` run and the rest wait.

use parking_lot::{Condvar, Mutex};

pub(crate) struct ThreadSlots {
    free: Mutex<usize>,
    freed: Condvar,
    total: usize,
}

/// One slot, given back when dropped.
pub(crate) struct SlotPermit<'a> {
    slots: &'a ThreadSlots,
}

impl ThreadSlots {
    pub(crate) fn new(total: usize) -> Self {
        assert!(total > 0, "at least one thread slot");
        ThreadSlots {
            free: Mutex::new(total),
            freed: Condvar::new(),
            total,
        }
    }

    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Waits for a free slot.
    pub(crate) fn acquire(&self) -> SlotPermit<'_> {
        let mut free = self.free.lock();
        while *free == 0 {
            self.freed.wait(&mut free);
        }
        *free -= 1;
        SlotPermit { slots: self }
    }
}

impl Drop for SlotPermit<'_> {
    fn drop(&mut self) {
        *self.slots.free.lock() += 1;
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_holders_than_slots() {
        let slots = ThreadSlots::new(3);
        let (holding, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..32 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        let _permit = slots.acquire();
                        let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::hint::spin_loop();
                        holding.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert_eq!(*slots.free.lock(), 3);
    }
}
