//! Remembered results of the big-number operations, in fuzzing builds only.
//!
//! The deep fuzz targets replay the same protocol states thousands of times per second with
//! deterministic keys and RNGs, so almost every exponentiation they ask for was already
//! computed for an earlier input. In an instrumented build one 1536-bit exponentiation costs
//! milliseconds (every limb comparison is traced), which kept those targets near a hundred
//! inputs per second. With the `fuzzing` feature, [`cached`] keeps results keyed by the exact
//! operands, so only new operands pay; the answer is the same either way, so the protocol code
//! the fuzzer explores is unchanged. Without the feature it is a plain call, and no operand is
//! ever kept (the memo holds secret exponents: it must never exist in the plugin).

#[cfg(feature = "fuzzing")]
mod imp {
    use std::any::Any;
    use std::collections::HashMap;
    use std::hash::{BuildHasherDefault, Hasher};
    use std::sync::Mutex;

    /// Bounded: cleared when either limit is reached. Entries run from a few hundred bytes
    /// (a 1536-bit result) to several kilobytes (an ML-KEM key pair), hence the byte count.
    const MAX_ENTRIES: usize = 1 << 18;
    const MAX_BYTES: usize = 256 << 20;

    /// A word-at-a-time multiplicative hash: keys run to kilobytes (ML-KEM keys) and SipHash
    /// over them showed in profiles. Flooding resistance is not needed here (the keys come
    /// from our own deterministic harness, and a collision only costs a comparison).
    #[derive(Default)]
    struct WordHasher(u64);

    impl Hasher for WordHasher {
        fn write(&mut self, bytes: &[u8]) {
            let mut chunks = bytes.chunks_exact(8);
            for c in &mut chunks {
                let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
                self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
            }
            for &b in chunks.remainder() {
                self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
            }
        }

        fn finish(&self) -> u64 {
            self.0
        }
    }

    #[derive(Default)]
    struct Memo {
        map: HashMap<Vec<u8>, Box<dyn Any + Send>, BuildHasherDefault<WordHasher>>,
        /// Keys plus values, as `size_of` counts them (every value cached here is inline).
        bytes: usize,
    }
    static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

    pub(crate) fn cached<T: Clone + Send + 'static>(
        key: impl FnOnce() -> Vec<u8>,
        f: impl FnOnce() -> T,
    ) -> T {
        let key = key();
        {
            let guard = MEMO
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(hit) = guard.as_ref().and_then(|m| m.map.get(&key)) {
                if let Some(v) = hit.downcast_ref::<T>() {
                    return v.clone();
                }
            }
        }
        // Computed outside the lock: a panic here must not poison later inputs' lookups.
        let value = f();
        let mut guard = MEMO
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let memo = guard.get_or_insert_with(Memo::default);
        let size = key.len() + std::mem::size_of::<T>();
        if memo.map.len() >= MAX_ENTRIES || memo.bytes + size > MAX_BYTES {
            *memo = Memo::default();
        }
        memo.bytes += size;
        memo.map.insert(key, Box::new(value.clone()));
        value
    }
}

#[cfg(feature = "fuzzing")]
pub(crate) use imp::cached;

/// Without the `fuzzing` feature: computes `f()`; the key is never built.
#[cfg(not(feature = "fuzzing"))]
#[inline(always)]
pub(crate) fn cached<T>(_key: impl FnOnce() -> Vec<u8>, f: impl FnOnce() -> T) -> T {
    f()
}

/// A memo key: an operation's name and its operands' bytes, each length-prefixed.
pub(crate) fn key(op: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(op.len() + 1 + parts.iter().map(|p| p.len() + 8).sum::<usize>());
    out.extend_from_slice(op.as_bytes());
    out.push(0);
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

#[cfg(all(test, feature = "fuzzing"))]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_result_is_computed_once_per_key_and_keys_do_not_mix() {
        let calls = Cell::new(0);
        let f = |v: u64| {
            calls.set(calls.get() + 1);
            v
        };
        let a = cached(|| key("memo-test", &[b"a"]), || f(1));
        let again = cached(|| key("memo-test", &[b"a"]), || f(99));
        let b = cached(|| key("memo-test", &[b"b"]), || f(2));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(key("x", &[b"ab", b"c"]), key("x", &[b"a", b"bc"]));
        assert_eq!((a, again, b, calls.get()), (1, 1, 2, 2));
    }
}
