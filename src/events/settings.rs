//! A deployment's event settings: its category tree ([`CategoryTree`]) and time limits
//! ([`Limits`]), kept in the store and set by an admin (`PUT /api/events/categories`,
//! `PUT /api/events/limits`, `wangge events categories|limits --set`); the defaults until then.

use super::category::CategoryTree;
use super::deadline::Limits;

/// The categories and limits events are reported and timed by.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The category tree.
    pub categories: CategoryTree,
    /// The time limits' overrides of the defaults.
    pub limits: Limits,
}

/// Which setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// The category tree.
    Categories,
    /// The time limits.
    Limits,
}

impl Key {
    /// Its name in the store and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Key::Categories => "categories",
            Key::Limits => "limits",
        }
    }
}
