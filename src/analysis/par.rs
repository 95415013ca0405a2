//! Work split across threads: the same results, in the same order, as the sequential loop
//! they replace (each item is computed alone, so the split cannot change a result). The
//! helper itself does no I/O; a caller's closure may (the PHR batch writes its files).

/// `f` of every item, in item order, computed on up to `threads` threads in contiguous
/// chunks. Short inputs (or one thread) run on the calling thread. A panic in `f` is
/// passed on.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.max(1);
    if threads == 1 || items.len() < 2 * threads {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// The threads to use for pure work: the machine's cores.
#[must_use]
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order_for_any_split() {
        let items: Vec<u64> = (0..1000).collect();
        let seq: Vec<u64> = items.iter().map(|x| x * x + 1).collect();
        for threads in [1, 2, 3, 7, 64, 5000] {
            assert_eq!(map(&items, threads, |x| x * x + 1), seq, "{threads} threads");
        }
        assert!(map(&[] as &[u64], 4, |x| *x).is_empty());
    }

    #[test]
    #[should_panic(expected = "item 500")]
    fn a_panic_is_passed_on() {
        let items: Vec<u64> = (0..1000).collect();
        let _ = map(&items, 4, |x| assert!(*x != 500, "item 500"));
    }
}
