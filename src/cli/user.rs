//! `wangge user`: add, list, disable users and set their passwords (the password is read from
//! standard input, never from the command line, where other users of the machine could see it).

use super::{runtime, StoreArgs};
use anyhow::{bail, Context, Result};
use wangge::accounts::login::{self, UserSpec};
use wangge::accounts::{Name, Role, Scope};

/// The subcommands of `wangge user`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a user with a role and an area (planners and leaders): towns and villages by code.
    Add(AddArgs),
    /// List users (name, role, area, phone, disabled).
    List(ListArgs),
    /// Disable a user: they can no longer log in, and their sessions end.
    Disable(NameArgs),
    /// Set a user's password (from standard input); their sessions end.
    Password(PasswordArgs),
}

/// Flags of `wangge user add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// The login name.
    name: String,
    /// admin, planner, leader, worker or screen.
    #[arg(long)]
    role: String,
    /// A town (9-digit code) the user is given; repeat for more.
    #[arg(long = "town")]
    towns: Vec<String>,
    /// A village (12-digit code) the user is given; repeat for more.
    #[arg(long = "village")]
    villages: Vec<String>,
    /// Phone (a worker's key in the roster).
    #[arg(long)]
    phone: Option<String>,
    /// Read the password from standard input (its first line).
    #[arg(long, required = true)]
    password_stdin: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Flags of `wangge user list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// A user's name and the store.
#[derive(clap::Args)]
pub struct NameArgs {
    /// The login name.
    name: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Flags of `wangge user password`.
#[derive(clap::Args)]
pub struct PasswordArgs {
    /// The login name.
    name: String,
    /// Read the password from standard input (its first line).
    #[arg(long, required = true)]
    password_stdin: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Who the command line writes as in the audit log.
pub fn cli_who() -> String {
    format!("cli:{}", super::default_author())
}

/// The first line of standard input, without its line end.
pub fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password on standard input (--password-stdin reads its first line)");
    }
    Ok(pw)
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Add(a) => add(a),
            Command::List(a) => list(a),
            Command::Disable(a) => disable(a),
            Command::Password(a) => password(a),
        }
    }
}

fn add(a: AddArgs) -> Result<()> {
    let spec = UserSpec {
        name: Name::new(&a.name)?,
        role: a.role.parse::<Role>().context("--role")?,
        scope: Scope::new(&a.towns, &a.villages)?,
        phone: a.phone.clone(),
    };
    let pw = read_password()?;
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    rt.block_on(login::add_user(&store, &spec, &pw, &cli_who(), "cli"))?;
    println!("user {} ({}) added", spec.name, spec.role);
    Ok(())
}

fn list(a: ListArgs) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let users = rt.block_on(store.user_list())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&users)?);
        return Ok(());
    }
    println!("name\trole\ttowns\tvillages\tphone\tdisabled\tcreated_at");
    for u in users {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            u.name,
            u.role,
            u.scope.towns.join(","),
            u.scope.villages.join(","),
            u.phone.unwrap_or_default(),
            if u.disabled { "yes" } else { "no" },
            u.created_at
        );
    }
    Ok(())
}

fn disable(a: NameArgs) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let entry = login::entry(
        &cli_who(),
        "cli",
        "user disable",
        &format!("user {}", a.name),
        "ok",
    );
    rt.block_on(store.user_disable(&a.name, entry))?;
    println!("user {} disabled", a.name);
    Ok(())
}

fn password(a: PasswordArgs) -> Result<()> {
    let pw = read_password()?;
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    rt.block_on(login::set_password(&store, &a.name, &pw, &cli_who(), "cli"))?;
    println!("user {}: password set", a.name);
    Ok(())
}
