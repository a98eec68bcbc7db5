//! Ledger names: 1–64 characters of `a-z 0-9 - _`, starting with a letter or digit.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A validated ledger name (docs/http-api.md).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerName(String);

impl LedgerName {
    /// Validates a ledger name.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the rule.
    pub fn new(s: &str) -> Result<Self, Error> {
        let b = s.as_bytes();
        let ok = (1..=64).contains(&b.len())
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_');
        if !ok {
            return Err(Error::InvalidField(
                "ledger",
                "must be 1-64 of a-z 0-9 - _, starting with a letter or digit".into(),
            ));
        }
        Ok(LedgerName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LedgerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for LedgerName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LedgerName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LedgerName::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["default", "a", "0-x_y", &"a".repeat(64)] {
            LedgerName::new(ok).unwrap();
        }
        for bad in ["", "-a", "_a", "A", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(LedgerName::new(bad).is_err(), "{bad}");
        }
    }
}
