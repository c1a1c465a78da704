//! `Redacted<T>`: a value whose `Debug` and `Display` never reveal it.
//!
//! Used for configured credentials and in-memory secret values so that a stray `{:?}` in a log
//! line or an error message cannot leak them. Serialization is deliberately not implemented.

use std::fmt;

/// Wraps a sensitive value; read it with [`Redacted::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a value.
    pub fn new(v: T) -> Self {
        Redacted(v)
    }

    /// The wrapped value; call sites are easy to audit with grep.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let r = Redacted::new("hunter2".to_string());
        assert_eq!(format!("{r:?} {r}"), "[redacted] [redacted]");
        assert_eq!(r.expose(), "hunter2");
    }
}
