//! Credentials for tests whose routes need a login: users made through the library (as
//! `wangge user add` makes them), logged in, and HTTP clients that send their session cookie.

use std::sync::atomic::{AtomicUsize, Ordering};
use wangge::accounts::login::{self, UserSpec};
use wangge::accounts::{Name, Role, Scope};
use wangge::store::Store;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery";

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Adds `name` with `role` over `towns` and `villages` to `store`.
pub async fn add_user(store: &Store, name: &str, role: Role, towns: &[&str], villages: &[&str]) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let spec = UserSpec {
        name: Name::new(name).unwrap(),
        role,
        scope: Scope::new(&s(towns), &s(villages)).unwrap(),
        phone: None,
    };
    login::add_user(store, &spec, PASSWORD, "test", "test")
        .await
        .unwrap();
}

/// Logs `name` in: the session id.
pub async fn session_of(store: &Store, name: &str) -> String {
    let (secret, _) = login::login(store, name, PASSWORD, "127.0.0.9")
        .await
        .unwrap();
    secret.as_str().to_string()
}

/// A new user `name` of `role` (everywhere: no area needed for admins), logged in.
pub async fn session(store: &Store, name: &str, role: Role) -> String {
    add_user(store, name, role, &[], &[]).await;
    session_of(store, name).await
}

/// A client that sends the session cookie `id` with every request.
pub fn cookie_client(id: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::COOKIE,
        format!("wangge_session={id}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

/// A client that sends `Authorization: Bearer token` with every request.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

/// A client logged in as a new admin of `store`.
pub async fn admin_client(store: &Store) -> reqwest::Client {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    cookie_client(&session(store, &format!("admin{n}"), Role::Admin).await)
}

/// A fresh GeoPackage store for the accounts of a server of a `StaticSource` (its folder is
/// kept until the process ends).
pub async fn accounts_store() -> Store {
    let dir = tempfile::tempdir().unwrap().keep();
    Store::open(dir.join("accounts.gpkg").to_str().unwrap())
        .await
        .unwrap()
}
