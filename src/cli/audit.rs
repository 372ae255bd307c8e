//! `wangge audit`: the audit log (who wrote what, when, from where, with what result).

use super::{runtime, StoreArgs};
use anyhow::{bail, Result};
use wangge::store::accounts::AuditFilter;

/// Flags of `wangge audit`.
#[derive(clap::Args)]
pub struct Args {
    /// From this date (YYYY-MM-DD, UTC) or instant (RFC 3339) on.
    #[arg(long)]
    since: Option<String>,
    /// Only this user's or token's entries.
    #[arg(long)]
    who: Option<String>,
    /// Print JSON (an array of entries).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `wangge audit`.
pub fn run(a: Args) -> Result<()> {
    if let Some(s) = &a.since {
        let ok = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            || chrono::DateTime::parse_from_rfc3339(s).is_ok();
        if !ok {
            bail!("--since `{s}`: want a date YYYY-MM-DD or an RFC 3339 instant");
        }
    }
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let f = AuditFilter {
        since: a.since,
        who: a.who,
        limit: None,
    };
    let entries = rt.block_on(store.audit_list(&f))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    println!("at\twho\taddress\tkind\tobjects\tresult");
    for e in entries {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.at, e.who, e.address, e.kind, e.objects, e.result
        );
    }
    Ok(())
}
