//! Logging in, throttled; issuing tokens; finding the caller of a session or token. The secrets
//! and the audit entries of these writes are made here, so the HTTP routes and the command line
//! only pass them on.

use super::{hash_password, verify_password, AccountError, Caller, Name, Role, Scope, Secret};
use crate::store::accounts::{AuditEntry, NewUser};
use crate::store::{Store, StoreError};
use chrono::{Duration, SecondsFormat, Utc};

/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;
/// How long a token lasts unless told otherwise.
pub const TOKEN_DAYS: i64 = 365;
/// Wrong passwords (per name, or per address) allowed within [`THROTTLE_MINUTES`].
pub const MAX_FAILURES: i64 = 5;
/// The window of [`MAX_FAILURES`].
pub const THROTTLE_MINUTES: i64 = 15;

/// Why a login or an account change failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many wrong passwords lately: try again after this many seconds.
    #[error(
        "too many failed logins for this name or from this address; try again in {retry_after_s} s"
    )]
    Throttled {
        /// Seconds to wait.
        retry_after_s: i64,
    },
    /// Wrong name or password, or a disabled user (not told apart).
    #[error("wrong name or password")]
    Refused,
    /// The account data was refused.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The time now, as the store writes it.
pub fn now() -> String {
    stamp(Utc::now())
}

/// A hash no password is checked against successfully, verified for unknown names.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        hash_password(Secret::generate().as_str()).unwrap_or_else(|_| "$argon2id$".into())
    })
}

/// An audit entry of `who` from `address` (its time is set by the store).
pub fn entry(who: &str, address: &str, kind: &str, objects: &str, result: &str) -> AuditEntry {
    AuditEntry {
        at: String::new(),
        who: who.to_string(),
        address: address.to_string(),
        kind: kind.to_string(),
        objects: objects.to_string(),
        result: result.to_string(),
    }
}

/// Logs `name` in from `address`: a new session's secret and the caller. Every attempt is in the
/// audit log (`login`: `ok`, `refused` or `throttled`); after [`MAX_FAILURES`] refusals for the
/// name or from the address within [`THROTTLE_MINUTES`], attempts are throttled.
pub async fn login(
    store: &Store,
    name: &str,
    password: &str,
    address: &str,
) -> Result<(Secret, Caller), LoginError> {
    let now_t = Utc::now();
    let since = stamp(now_t - Duration::minutes(THROTTLE_MINUTES));
    let f = store.login_failures(name, address, &since).await?;
    let oldest = [&f.by_name, &f.by_address]
        .into_iter()
        .filter(|(n, _)| *n >= MAX_FAILURES)
        .filter_map(|(_, t)| t.as_deref())
        .max()
        .map(str::to_string);
    if let Some(oldest) = oldest {
        let until = chrono::DateTime::parse_from_rfc3339(&oldest)
            .map(|t| t.with_timezone(&Utc) + Duration::minutes(THROTTLE_MINUTES))
            .unwrap_or(now_t + Duration::minutes(THROTTLE_MINUTES));
        let retry_after_s = (until - now_t).num_seconds().max(1);
        store
            .audit(entry(name, address, "login", "session", "throttled"))
            .await?;
        return Err(LoginError::Throttled { retry_after_s });
    }
    let user = store.user_login(name).await?;
    let pw = password.to_string();
    // An unknown name costs one argon2 verification too, so the answer's time does not tell
    // which names exist.
    let (hash, usable) = match user {
        Some((hash, disabled)) => (hash, !disabled),
        None => (unknown_user_hash().to_string(), false),
    };
    let good = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
        .await
        .unwrap_or(false);
    let ok = good && usable;
    if !ok {
        store
            .audit(entry(name, address, "login", "session", "refused"))
            .await?;
        return Err(LoginError::Refused);
    }
    let secret = Secret::generate();
    let expires = stamp(now_t + Duration::hours(SESSION_HOURS));
    store
        .session_add(
            name,
            &secret.hash(),
            &expires,
            entry(name, address, "login", "session", "ok"),
        )
        .await?;
    let caller = store
        .session_caller(&secret.hash(), &now())
        .await?
        .ok_or(LoginError::Refused)?;
    Ok((secret, caller))
}

/// The caller of a session id or a bearer token (the token wins when both are sent); `None`
/// when neither is live.
pub async fn caller(
    store: &Store,
    session: Option<&str>,
    bearer: Option<&str>,
) -> Result<Option<Caller>, StoreError> {
    let now = now();
    if let Some(t) = bearer {
        return store.token_caller(&Secret::from_text(t).hash(), &now).await;
    }
    match session {
        Some(s) => {
            let hash = Secret::from_text(s).hash();
            match store.session_caller(&hash, &now).await? {
                Some(c) => Ok(Some(c)),
                // a wall screen's session (`/screen?token=…`), alive while its token is
                None => store.screen_session_caller(&hash, &now).await,
            }
        }
        None => Ok(None),
    }
}

/// Opens a wall screen with its `screen` token (`/screen?token=…`, from `address`): a new
/// session's secret, the caller and when the session ends (when the token does, RFC 3339).
/// `None` when the token is unknown, expired, revoked or not a screen's; every attempt is in the
/// audit log (`screen login`: `ok` or `refused`).
pub async fn open_screen(
    store: &Store,
    token: &str,
    address: &str,
) -> Result<Option<(Secret, Caller, String)>, StoreError> {
    let found = store
        .token_caller(&Secret::from_text(token).hash(), &now())
        .await?
        .filter(|c| c.role == Role::Screen);
    let Some(caller) = found else {
        store
            .audit(entry("-", address, "screen login", "token", "refused"))
            .await?;
        return Ok(None);
    };
    let secret = Secret::generate();
    let objects = format!("token {}", caller.name);
    let expires = store
        .screen_session_add(
            &caller.name,
            &secret.hash(),
            entry(&caller.name, address, "screen login", &objects, "ok"),
        )
        .await?;
    let caller = Caller {
        via: super::Via::Session,
        ..caller
    };
    Ok(Some((secret, caller, expires)))
}

/// A user to add, checked.
#[derive(Clone, Debug)]
pub struct UserSpec {
    /// Name.
    pub name: Name,
    /// Role.
    pub role: Role,
    /// Area.
    pub scope: Scope,
    /// Phone.
    pub phone: Option<String>,
}

/// Adds a user with `password` (hashed here), audited as `by` from `address`.
pub async fn add_user(
    store: &Store,
    u: &UserSpec,
    password: &str,
    by: &str,
    address: &str,
) -> Result<(), LoginError> {
    let hash = hash_password(password)?;
    let new = NewUser {
        name: u.name.to_string(),
        role: u.role,
        scope: u.scope.clone(),
        phone: u.phone.clone(),
        password_hash: hash,
    };
    let objects = format!("user {} role {}", u.name, u.role);
    store
        .user_add(&new, entry(by, address, "user add", &objects, "ok"))
        .await?;
    Ok(())
}

/// Sets a user's password (their sessions end).
pub async fn set_password(
    store: &Store,
    name: &str,
    password: &str,
    by: &str,
    address: &str,
) -> Result<(), LoginError> {
    let hash = hash_password(password)?;
    store
        .user_password(
            name,
            &hash,
            entry(by, address, "user password", &format!("user {name}"), "ok"),
        )
        .await?;
    Ok(())
}

/// Issues a bearer token for a worker (whose key is their `phone`) or a screen, valid `days`;
/// the secret is returned once and only its hash is kept.
pub async fn issue_token(
    store: &Store,
    name: &Name,
    role: Role,
    phone: Option<&str>,
    days: i64,
    by: &str,
    address: &str,
) -> Result<Secret, LoginError> {
    if !matches!(role, Role::Worker | Role::Screen) {
        return Err(AccountError::TokenRole(role).into());
    }
    if role == Role::Worker && phone.is_none() {
        return Err(AccountError::WorkerWithoutPhone.into());
    }
    let secret = Secret::generate();
    let expires = stamp(Utc::now() + Duration::days(days.max(1)));
    let objects = format!("token {name} role {role}");
    store
        .token_add(
            name.as_str(),
            role,
            phone,
            &secret.hash(),
            &expires,
            entry(by, address, "token add", &objects, "ok"),
        )
        .await?;
    Ok(secret)
}
