//! Users, tokens, sessions and the audit log in the store (migration 6), on both backends.
//!
//! Every change is one transaction that also appends its audit entry, so a change is never kept
//! without its entry. Secrets arrive hashed (see [`crate::accounts::Secret`]); sessions and
//! tokens are checked here on every request, so any server on the same database accepts a session
//! made on another, and a revocation or a disabled user is refused at once.

use super::{Result, Store, StoreError};
use crate::accounts::{Caller, Role, Scope, Via};
use sqlx::Row;

/// A user to add.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Area.
    pub scope: Scope,
    /// Phone.
    pub phone: Option<String>,
    /// argon2id hash of the password.
    pub password_hash: String,
}

/// A user as listed (no hash).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Area.
    pub scope: Scope,
    /// Phone.
    pub phone: Option<String>,
    /// Whether the user may no longer log in.
    pub disabled: bool,
    /// When made.
    pub created_at: String,
}

/// A token as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// Name.
    pub name: String,
    /// Role (worker or screen).
    pub role: String,
    /// The worker's phone.
    pub phone: Option<String>,
    /// When made.
    pub created_at: String,
    /// When it stops working.
    pub expires_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// One entry of the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who (a user or token name, `-` for nobody, `cli:USER` for the command line).
    pub who: String,
    /// From which address (`cli` for the command line).
    pub address: String,
    /// What kind of write (`login`, `user add`, `POST /api/patrol/points`, …).
    pub kind: String,
    /// The objects written (names, codes, counts).
    pub objects: String,
    /// The result (`ok`, `refused: …`, an HTTP status).
    pub result: String,
}

/// Which entries to list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// From this instant on (RFC 3339 or a date `YYYY-MM-DD`).
    pub since: Option<String>,
    /// Only this caller's.
    pub who: Option<String>,
    /// At most this many, newest first (all when `None`).
    pub limit: Option<i64>,
}

/// Failed logins in a window, by name and by address: (count, oldest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Failures naming the user.
    pub by_name: (i64, Option<String>),
    /// Failures from the address.
    pub by_address: (i64, Option<String>),
}

fn db_tx(s: &Store) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| s.db(e)
}

impl Store {
    async fn append<'c>(
        &self,
        tx: &mut sqlx::Transaction<'c, sqlx::Any>,
        e: &AuditEntry,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, who, address, kind, objects, result) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&e.at)
        .bind(&e.who)
        .bind(&e.address)
        .bind(&e.kind)
        .bind(&e.objects)
        .bind(&e.result)
        .execute(&mut **tx)
        .await
        .map_err(db_tx(self))?;
        Ok(())
    }

    /// Appends one entry to the audit log (its `at` is now when empty).
    pub async fn audit(&self, mut entry: AuditEntry) -> Result<()> {
        if entry.at.is_empty() {
            entry.at = super::now();
        }
        let mut conn = self.pool.acquire().await.map_err(db_tx(self))?;
        let mut tx = self.begin_write(&mut conn).await?;
        self.append(&mut tx, &entry).await?;
        tx.commit().await.map_err(db_tx(self))
    }

    /// Runs `stmt` (bound with `args`) and `entry` in one transaction; `NotFound(what)` when it
    /// changed no row.
    async fn write_audited(
        &self,
        stmt: &'static str,
        args: &[Option<String>],
        mut entry: AuditEntry,
        what: &str,
    ) -> Result<()> {
        entry.at = super::now();
        let mut conn = self.pool.acquire().await.map_err(db_tx(self))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let mut q = sqlx::query(stmt);
        for a in args {
            q = q.bind(a.clone());
        }
        let n = q
            .execute(&mut *tx)
            .await
            .map_err(db_tx(self))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(what.to_string()));
        }
        self.append(&mut tx, &entry).await?;
        tx.commit().await.map_err(db_tx(self))
    }

    async fn name_taken(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &str,
    ) -> Result<bool> {
        let n: i64 = sqlx::query(
            "SELECT (SELECT count(*) FROM users WHERE name = $1) + \
             (SELECT count(*) FROM tokens WHERE name = $1)",
        )
        .bind(name)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_tx(self))?
        .try_get(0)
        .map_err(db_tx(self))?;
        Ok(n > 0)
    }

    /// Adds a user (names are shared with tokens: one name, one caller in the audit log).
    pub async fn user_add(&self, u: &NewUser, mut entry: AuditEntry) -> Result<()> {
        entry.at = super::now();
        let mut conn = self.pool.acquire().await.map_err(db_tx(self))?;
        let mut tx = self.begin_write(&mut conn).await?;
        if self.name_taken(&mut tx, &u.name).await? {
            return Err(StoreError::Invalid {
                what: format!("user {}", u.name),
                why: "that name is taken by a user or a token".into(),
            });
        }
        sqlx::query(
            "INSERT INTO users (name, role, towns, villages, phone, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(Scope::join(&u.scope.towns))
        .bind(Scope::join(&u.scope.villages))
        .bind(u.phone.clone())
        .bind(&u.password_hash)
        .bind(&entry.at)
        .execute(&mut *tx)
        .await
        .map_err(db_tx(self))?;
        self.append(&mut tx, &entry).await?;
        tx.commit().await.map_err(db_tx(self))
    }

    /// Every user, by name.
    pub async fn user_list(&self) -> Result<Vec<UserInfo>> {
        let rows = sqlx::query(
            "SELECT name, role, towns, villages, phone, disabled, created_at FROM users ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_tx(self))?;
        rows.iter()
            .map(|r| {
                Ok(UserInfo {
                    name: r.try_get(0)?,
                    role: r.try_get(1)?,
                    scope: Scope {
                        towns: Scope::split(&r.try_get::<String, _>(2)?),
                        villages: Scope::split(&r.try_get::<String, _>(3)?),
                    },
                    phone: r.try_get(4)?,
                    disabled: r.try_get::<i64, _>(5)? != 0,
                    created_at: r.try_get(6)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_tx(self))
    }

    /// Disables a user and ends their sessions.
    pub async fn user_disable(&self, name: &str, entry: AuditEntry) -> Result<()> {
        self.write_audited(
            "UPDATE users SET disabled = 1 WHERE name = $1",
            &[Some(name.to_string())],
            entry,
            &format!("user {name}"),
        )
        .await?;
        self.end_sessions(name).await
    }

    /// Sets a user's password hash and ends their sessions.
    pub async fn user_password(&self, name: &str, hash: &str, entry: AuditEntry) -> Result<()> {
        self.write_audited(
            "UPDATE users SET password_hash = $2 WHERE name = $1",
            &[Some(name.to_string()), Some(hash.to_string())],
            entry,
            &format!("user {name}"),
        )
        .await?;
        self.end_sessions(name).await
    }

    async fn end_sessions(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db_tx(self))?;
        Ok(())
    }

    /// A user's password hash and whether they are disabled, to log in.
    pub async fn user_login(&self, name: &str) -> Result<Option<(String, bool)>> {
        let row = sqlx::query("SELECT password_hash, disabled FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_tx(self))?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? != 0)))
            .transpose()
            .map_err(db_tx(self))
    }

    /// Adds a token (its secret's hash) valid until `expires_at`.
    #[allow(clippy::too_many_arguments)]
    pub async fn token_add(
        &self,
        name: &str,
        role: Role,
        phone: Option<&str>,
        hash: &str,
        expires_at: &str,
        mut entry: AuditEntry,
    ) -> Result<()> {
        entry.at = super::now();
        let mut conn = self.pool.acquire().await.map_err(db_tx(self))?;
        let mut tx = self.begin_write(&mut conn).await?;
        if self.name_taken(&mut tx, name).await? {
            return Err(StoreError::Invalid {
                what: format!("token {name}"),
                why: "that name is taken by a user or a token".into(),
            });
        }
        sqlx::query(
            "INSERT INTO tokens (name, role, phone, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(phone.map(str::to_string))
        .bind(hash)
        .bind(&entry.at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_tx(self))?;
        self.append(&mut tx, &entry).await?;
        tx.commit().await.map_err(db_tx(self))
    }

    /// Every token, by name.
    pub async fn token_list(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT name, role, phone, created_at, expires_at, revoked_at FROM tokens ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_tx(self))?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    name: r.try_get(0)?,
                    role: r.try_get(1)?,
                    phone: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    expires_at: r.try_get(4)?,
                    revoked_at: r.try_get(5)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_tx(self))
    }

    /// Revokes a token (it stays listed, revoked).
    pub async fn token_revoke(&self, name: &str, entry: AuditEntry) -> Result<()> {
        self.write_audited(
            "UPDATE tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
            &[Some(name.to_string()), Some(super::now())],
            entry,
            &format!("token {name} (not revoked)"),
        )
        .await
    }

    /// Starts a session (its id's hash) for `user` until `expires_at`, with the login's entry.
    pub async fn session_add(
        &self,
        user: &str,
        id_hash: &str,
        expires_at: &str,
        mut entry: AuditEntry,
    ) -> Result<()> {
        entry.at = super::now();
        let mut conn = self.pool.acquire().await.map_err(db_tx(self))?;
        let mut tx = self.begin_write(&mut conn).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(user)
        .bind(&entry.at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_tx(self))?;
        self.append(&mut tx, &entry).await?;
        tx.commit().await.map_err(db_tx(self))
    }

    /// Ends a session — a user's, or a wall screen's opened with its token — with the logout's
    /// entry, in one transaction.
    pub async fn session_end(&self, id_hash: &str, mut entry: AuditEntry) -> Result<()> {
        entry.at = super::now();
        let mut conn = self.pool.acquire().await.map_err(db_tx(self))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let mut ended = 0;
        for stmt in [
            "DELETE FROM sessions WHERE id_hash = $1",
            "DELETE FROM screen_sessions WHERE id_hash = $1",
        ] {
            ended += sqlx::query(stmt)
                .bind(id_hash)
                .execute(&mut *tx)
                .await
                .map_err(db_tx(self))?
                .rows_affected();
        }
        if ended == 0 {
            return Err(StoreError::NotFound("session".into()));
        }
        self.append(&mut tx, &entry).await?;
        tx.commit().await.map_err(db_tx(self))
    }

    /// The caller of a live session of an enabled user (`now` RFC 3339).
    pub async fn session_caller(&self, id_hash: &str, now: &str) -> Result<Option<Caller>> {
        let row = sqlx::query(
            "SELECT u.name, u.role, u.towns, u.villages, u.phone FROM sessions s \
             JOIN users u ON u.name = s.user_name \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_tx(self))?;
        row.map(|r| {
            Ok(Caller {
                name: r.try_get(0)?,
                role: r.try_get::<String, _>(1)?.parse().unwrap_or(Role::Screen),
                scope: Scope {
                    towns: Scope::split(&r.try_get::<String, _>(2)?),
                    villages: Scope::split(&r.try_get::<String, _>(3)?),
                },
                phone: r.try_get(4)?,
                via: Via::Session,
            })
        })
        .transpose()
        .map_err(db_tx(self))
    }

    /// The caller of a live, unrevoked token.
    pub async fn token_caller(&self, hash: &str, now: &str) -> Result<Option<Caller>> {
        let row = sqlx::query(
            "SELECT name, role, phone FROM tokens \
             WHERE token_hash = $1 AND expires_at > $2 AND revoked_at IS NULL",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_tx(self))?;
        row.map(|r| {
            Ok(Caller {
                name: r.try_get(0)?,
                role: r.try_get::<String, _>(1)?.parse().unwrap_or(Role::Screen),
                scope: Scope::default(),
                phone: r.try_get(2)?,
                via: Via::Token,
            })
        })
        .transpose()
        .map_err(db_tx(self))
    }

    /// Failed logins since `since` naming `name`, and from `address`.
    pub async fn login_failures(&self, name: &str, address: &str, since: &str) -> Result<Failures> {
        Ok(Failures {
            by_name: self
                .failures(
                    "SELECT count(*), min(at) FROM audit_log WHERE who = $1 AND at >= $2 \
                     AND kind = 'login' AND result = 'refused'",
                    name,
                    since,
                )
                .await?,
            by_address: self
                .failures(
                    "SELECT count(*), min(at) FROM audit_log WHERE address = $1 AND at >= $2 \
                     AND kind = 'login' AND result = 'refused'",
                    address,
                    since,
                )
                .await?,
        })
    }

    async fn failures(
        &self,
        sql: &'static str,
        key: &str,
        since: &str,
    ) -> Result<(i64, Option<String>)> {
        let r = sqlx::query(sql)
            .bind(key)
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .map_err(db_tx(self))?;
        Ok((
            r.try_get::<i64, _>(0).map_err(db_tx(self))?,
            r.try_get::<Option<String>, _>(1).map_err(db_tx(self))?,
        ))
    }

    /// Entries of the audit log, oldest first (the newest `limit` when given).
    pub async fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let since = f.since.clone().unwrap_or_default();
        let who = f.who.clone();
        let limit = f.limit.unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT at, who, address, kind, objects, result FROM audit_log \
             WHERE at >= $1 AND who = COALESCE($2, who) ORDER BY fid DESC LIMIT $3",
        )
        .bind(since)
        .bind(who)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_tx(self))?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get(0)?,
                    who: r.try_get(1)?,
                    address: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    objects: r.try_get(4)?,
                    result: r.try_get(5)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
            .map_err(db_tx(self))?;
        out.reverse();
        Ok(out)
    }
}
