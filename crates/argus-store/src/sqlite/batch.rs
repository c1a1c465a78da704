//! [`Pow2Sql`]: multi-row statements in power-of-two sizes, built once.
//!
//! A batch statement with one bound row per item (`VALUES (…), (…)`, `IN (?, ?, …)`) has a
//! different text for every batch size, and each new text is parsed and prepared again. Callers
//! pad a batch up to the next power of two instead (with rows their conflict clause drops, or
//! repeated ids), so a dozen shapes, built here once and kept in sqlx's prepared-statement
//! cache, serve every size, and a 1,000-row batch is one statement — one round trip to the
//! connection's thread — rather than one per power of two it decomposes into.

use std::sync::OnceLock;

/// The texts of one batch statement for 1, 2, 4, … `max` rows, built on first use by `make`.
pub(crate) struct Pow2Sql {
    max: usize,
    make: fn(usize) -> String,
    texts: OnceLock<Vec<String>>,
}

impl Pow2Sql {
    /// `make(n)` returns the statement for `n` rows; `max` is the largest batch (a power of two).
    pub(crate) const fn new(max: usize, make: fn(usize) -> String) -> Self {
        Pow2Sql {
            max,
            make,
            texts: OnceLock::new(),
        }
    }

    /// The largest batch one statement takes.
    pub(crate) const fn max(&self) -> usize {
        self.max
    }

    /// The statement for `rows` rows rounded up to a power of two (at most [`Pow2Sql::max`]),
    /// and that padded size.
    pub(crate) fn get(&self, rows: usize) -> (&str, usize) {
        let n = rows.clamp(1, self.max).next_power_of_two();
        let texts = self.texts.get_or_init(|| {
            std::iter::successors(Some(1usize), |n| n.checked_mul(2))
                .take_while(|n| *n <= self.max)
                .map(self.make)
                .collect()
        });
        let text = texts.get(n.ilog2() as usize).map_or("", String::as_str);
        (text, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static IN: Pow2Sql = Pow2Sql::new(8, |n| vec!["?"; n].join(","));

    #[test]
    fn sizes_round_up_to_a_power_of_two_within_max() {
        assert_eq!(IN.get(0), ("?", 1));
        assert_eq!(IN.get(1), ("?", 1));
        assert_eq!(IN.get(3), ("?,?,?,?", 4));
        assert_eq!(IN.get(8), ("?,?,?,?,?,?,?,?", 8));
        assert_eq!(IN.max(), 8);
    }
}
