//! `wangge token`: bearer tokens for grid workers' phones and wall screens. The token is printed
//! once; the store keeps only its hash.

use super::user::cli_who;
use super::{runtime, StoreArgs};
use anyhow::{Context, Result};
use wangge::accounts::login;
use wangge::accounts::{Name, Role};

/// The subcommands of `wangge token`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Make a token and print it once (a worker's token needs their phone, the roster's key).
    Add(AddArgs),
    /// List tokens (never their secrets).
    List(ListArgs),
    /// Revoke a token: every server refuses it from the next request on.
    Revoke(RevokeArgs),
}

/// Flags of `wangge token add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// The token's name.
    #[arg(long)]
    name: String,
    /// worker or screen.
    #[arg(long)]
    role: String,
    /// The worker's phone (their key in the roster and in patrol points).
    #[arg(long)]
    phone: Option<String>,
    /// Days the token works.
    #[arg(long, default_value_t = login::TOKEN_DAYS)]
    days: i64,
    #[command(flatten)]
    store: StoreArgs,
}

/// Flags of `wangge token list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Flags of `wangge token revoke`.
#[derive(clap::Args)]
pub struct RevokeArgs {
    /// The token's name.
    name: String,
    #[command(flatten)]
    store: StoreArgs,
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Add(a) => add(a),
            Command::List(a) => list(a),
            Command::Revoke(a) => revoke(a),
        }
    }
}

fn add(a: AddArgs) -> Result<()> {
    let name = Name::new(&a.name)?;
    let role: Role = a.role.parse().context("--role")?;
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let secret = rt.block_on(login::issue_token(
        &store,
        &name,
        role,
        a.phone.as_deref(),
        a.days,
        &cli_who(),
        "cli",
    ))?;
    eprintln!("token {name} ({role}) made; it is shown only this once:");
    println!("{}", secret.as_str());
    Ok(())
}

fn list(a: ListArgs) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let tokens = rt.block_on(store.token_list())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&tokens)?);
        return Ok(());
    }
    println!("name\trole\tphone\tcreated_at\texpires_at\trevoked_at");
    for t in tokens {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            t.name,
            t.role,
            t.phone.unwrap_or_default(),
            t.created_at,
            t.expires_at,
            t.revoked_at.unwrap_or_default()
        );
    }
    Ok(())
}

fn revoke(a: RevokeArgs) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let entry = login::entry(
        &cli_who(),
        "cli",
        "token revoke",
        &format!("token {}", a.name),
        "ok",
    );
    rt.block_on(store.token_revoke(&a.name, entry))?;
    println!("token {} revoked", a.name);
    Ok(())
}
