//! Accounts (账号): who may do what, and the secrets that say who someone is.
//!
//! - [`Role`]: `admin`, `planner`, `leader` (网格长), `worker` (网格员), `screen` (a wall display);
//! - [`Name`], [`Scope`] (the towns and villages a planner or leader is given), [`Caller`] (who
//!   is asking, as the store found them);
//! - passwords are hashed with argon2id ([`hash_password`], [`verify_password`]); session ids
//!   and bearer tokens are random 256-bit [`Secret`]s, kept in the store only as SHA-256 hashes;
//! - [`policy`]: the rule of every HTTP route, per role, and the finer rules (a planner's area, a
//!   worker posting only as themselves, who sees people);
//! - [`login`]: logging in, throttled, and the store calls that check a session or a token.
//!
//! ```
//! use wangge::accounts::{Role, Secret};
//! assert_eq!("planner".parse::<Role>().unwrap(), Role::Planner);
//! let s = Secret::generate();
//! assert_eq!(s.as_str().len(), 64);
//! assert_ne!(s.hash(), s.as_str());
//! ```

pub mod login;
pub mod policy;

use sha2::Digest;
use std::fmt;
use std::str::FromStr;

/// Something about an account was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    /// Not one of the roles.
    #[error("unknown role `{0}` (one of admin, planner, leader, worker, screen)")]
    UnknownRole(String),
    /// A user or token name that cannot be used.
    #[error("name `{name}`: {why}")]
    BadName {
        /// The name given.
        name: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// A town or village code of the wrong shape.
    #[error("{what} code `{code}`: must be {digits} digits")]
    BadCode {
        /// `town` or `village`.
        what: &'static str,
        /// The code given.
        code: String,
        /// How many digits it needs.
        digits: usize,
    },
    /// A password too short to keep.
    #[error("password: at least {min} characters are needed")]
    WeakPassword {
        /// The minimum length.
        min: usize,
    },
    /// A token may only be a worker's or a screen's.
    #[error("a token's role must be worker or screen, not {0}")]
    TokenRole(Role),
    /// A worker token needs the worker's phone (the roster's key).
    #[error("a worker token needs --phone (the worker's phone, the roster's key)")]
    WorkerWithoutPhone,
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// What someone may do (see the table in [`policy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, tokens and the audit trail.
    Admin,
    /// Reads all; saves, activates and rolls back plans of their towns or villages.
    Planner,
    /// A grid leader (网格长) or village: reads all; people, patrols of their villages.
    Leader,
    /// A grid worker (网格员): the map; posts patrol points as themselves.
    Worker,
    /// A big screen: what the screen shows.
    Screen,
}

/// Each role and its name: the one table both ways.
const ROLE_NAMES: &[(Role, &str)] = &[
    (Role::Admin, "admin"),
    (Role::Planner, "planner"),
    (Role::Leader, "leader"),
    (Role::Worker, "worker"),
    (Role::Screen, "screen"),
];

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Planner,
        Role::Leader,
        Role::Worker,
        Role::Screen,
    ];

    /// The role's name (`admin`, …).
    pub fn as_str(self) -> &'static str {
        ROLE_NAMES
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, n)| *n)
            .unwrap_or("admin")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Role, AccountError> {
        ROLE_NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(r, _)| *r)
            .ok_or_else(|| AccountError::UnknownRole(s.to_string()))
    }
}

/// A user's or token's name: 1–64 characters, no spaces or control characters, not starting
/// with `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Name(String);

impl Name {
    /// Checks a name.
    pub fn new(name: &str) -> Result<Name, AccountError> {
        let bad = |why| AccountError::BadName {
            name: name.to_string(),
            why,
        };
        if name.is_empty() || name.chars().count() > 64 {
            return Err(bad("1 to 64 characters"));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("no spaces or control characters"));
        }
        if name.starts_with('-') {
            return Err(bad("must not start with `-`"));
        }
        Ok(Name(name.to_string()))
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The area given to a planner or leader: whole towns (9-digit codes) and villages (12-digit).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Scope {
    /// Town codes.
    pub towns: Vec<String>,
    /// Village codes.
    pub villages: Vec<String>,
}

fn code(what: &'static str, c: &str, digits: usize) -> Result<String, AccountError> {
    if c.len() == digits && c.bytes().all(|b| b.is_ascii_digit()) {
        Ok(c.to_string())
    } else {
        Err(AccountError::BadCode {
            what,
            code: c.to_string(),
            digits,
        })
    }
}

impl Scope {
    /// Checks the codes (towns 9 digits, villages 12).
    pub fn new(towns: &[String], villages: &[String]) -> Result<Scope, AccountError> {
        Ok(Scope {
            towns: towns
                .iter()
                .map(|t| code("town", t, 9))
                .collect::<Result<_, _>>()?,
            villages: villages
                .iter()
                .map(|v| code("village", v, 12))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether the village `code` (12 digits) is in this area.
    ///
    /// ```
    /// use wangge::accounts::Scope;
    /// let s = Scope::new(&["110101001".into()], &["110101002003".into()]).unwrap();
    /// assert!(s.covers("110101001200"));
    /// assert!(s.covers("110101002003"));
    /// assert!(!s.covers("110101002004"));
    /// ```
    pub fn covers(&self, village: &str) -> bool {
        self.villages.iter().any(|v| v == village)
            || self.towns.iter().any(|t| village.starts_with(t.as_str()))
    }

    /// The codes as stored: comma-separated.
    pub fn join(codes: &[String]) -> String {
        codes.join(",")
    }

    /// Codes stored comma-separated.
    pub fn split(text: &str) -> Vec<String> {
        text.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// How a caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// A session cookie (a browser; its writes must be same-origin).
    Session,
    /// An `Authorization: Bearer` token.
    Token,
}

/// Who is asking, as the store knows them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Caller {
    /// The user's or token's name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Their area (planners and leaders).
    pub scope: Scope,
    /// Their phone: a worker's key in the roster and in patrol points.
    pub phone: Option<String>,
    /// Session or token.
    pub via: Via,
}

/// A random secret (a session id or a bearer token): 256 bits, as 64 hex digits. Only its
/// [`Secret::hash`] is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A new secret from the operating system's random source.
    pub fn generate() -> Secret {
        let bytes: [u8; 32] = rand::random();
        Secret(hex(&bytes))
    }
    /// A secret the caller sent.
    pub fn from_text(text: &str) -> Secret {
        Secret(text.trim().to_string())
    }
    /// The secret itself (shown once, set in the cookie).
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Its SHA-256, in hex: what the store keeps.
    pub fn hash(&self) -> String {
        hex(&sha2::Sha256::digest(self.0.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The shortest password kept.
pub const MIN_PASSWORD: usize = 8;

/// The argon2id hash of a password (PHC string, with its own random salt).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccountError::WeakPassword { min: MIN_PASSWORD });
    }
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| AccountError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches a hash made by [`hash_password`] (false for a damaged hash).
///
/// ```
/// let h = wangge::accounts::hash_password("correct horse").unwrap();
/// assert!(h.starts_with("$argon2id$"));
/// assert!(wangge::accounts::verify_password(&h, "correct horse"));
/// assert!(!wangge::accounts::verify_password(&h, "wrong horse"));
/// ```
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert_eq!(
            "boss".parse::<Role>(),
            Err(AccountError::UnknownRole("boss".into()))
        );
    }

    #[test]
    fn names_and_codes_are_checked() {
        assert!(Name::new("张伟").is_ok());
        assert!(Name::new("a b").is_err());
        assert!(Name::new("").is_err());
        assert!(Name::new("-x").is_err());
        assert!(Scope::new(&["11010".into()], &[]).is_err());
        assert!(Scope::new(&[], &["110101001x00".into()]).is_err());
    }

    #[test]
    fn secrets_differ_and_hash_stably() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert_eq!(a.hash(), Secret::from_text(a.as_str()).hash());
        assert_eq!(a.hash().len(), 64);
        assert!(hash_password("short").is_err());
    }
}
