//! How sensitive a route is: the one scale every stage reads.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How sensitive a route is. Ordered: a stricter level compares greater.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Sensitivity {
    /// No authentication needed.
    Public,
    /// A valid base token (or app session) is enough.
    Authenticated,
    /// A fresh second factor is needed (money movement, payee changes).
    High,
    /// A fresher second factor is needed (administration).
    Critical,
}

impl Sensitivity {
    /// Every level, least strict first.
    pub const ALL: [Sensitivity; 4] = [
        Sensitivity::Public,
        Sensitivity::Authenticated,
        Sensitivity::High,
        Sensitivity::Critical,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            Self::Public => 0,
            Self::Authenticated => 1,
            Self::High => 2,
            Self::Critical => 3,
        }
    }

    /// The level of a name as used in TOML and logs (`"high"`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// The level's name as used in TOML and logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Authenticated => "authenticated",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per sensitivity level, read and written by level (not by a
/// number that could name the wrong one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PerLevel<T>([T; 4]);

impl<T> PerLevel<T> {
    /// Values for public, authenticated, high and critical, in that order.
    pub(crate) const fn new(values: [T; 4]) -> Self {
        Self(values)
    }

    /// Each level's value from `f`.
    pub(crate) fn from_fn(f: impl FnMut(Sensitivity) -> T) -> Self {
        Self(Sensitivity::ALL.map(f))
    }

    /// The levels with their values, least strict first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Sensitivity, &T)> {
        Sensitivity::ALL.into_iter().zip(&self.0)
    }
}

impl<T> std::ops::Index<Sensitivity> for PerLevel<T> {
    type Output = T;

    fn index(&self, level: Sensitivity) -> &T {
        &self.0[level.index()]
    }
}

impl<T> std::ops::IndexMut<Sensitivity> for PerLevel<T> {
    fn index_mut(&mut self, level: Sensitivity) -> &mut T {
        &mut self.0[level.index()]
    }
}
