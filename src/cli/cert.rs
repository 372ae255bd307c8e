//! `wangge cert --host NAME-OR-IP… --out DIR`: an intranet CA and a server certificate for
//! `wangge serve --tls-cert DIR/cert.pem --tls-key DIR/key.pem`, for a network without a CA.
//! Run again with the same `--out` to renew: the folder's CA is kept, so phones that trust it
//! need nothing new.

use anyhow::Result;
use std::path::PathBuf;

/// Flags of `wangge cert`.
#[derive(clap::Args)]
pub struct Args {
    /// A name or IP address the server is reached by (repeat for each: `--host 10.1.2.3
    /// --host wangge.town.gov`); the first is also the certificate's common name.
    #[arg(long = "host", value_name = "NAME-OR-IP", required = true)]
    hosts: Vec<String>,
    /// The folder for ca.pem, ca-key.pem, cert.pem and key.pem.
    #[arg(long)]
    out: PathBuf,
    /// Days the server certificate is valid (825 at most: longer ones are refused by Apple's
    /// devices even from a private CA).
    #[arg(long, default_value_t = 825, value_parser = clap::value_parser!(u32).range(1..=825))]
    days: u32,
}

/// Runs `wangge cert`.
pub fn run(a: Args) -> Result<()> {
    let f = wangge::ops::tls::make_certificate(&a.hosts, &a.out, a.days)?;
    if f.new_ca {
        println!("made a new CA: {}", f.ca.display());
    } else {
        println!("kept the CA already in {}", a.out.display());
    }
    println!(
        "server certificate for {} valid until {}: {} (key {})",
        a.hosts.join(", "),
        f.not_after.format("%Y-%m-%d"),
        f.cert.display(),
        f.key.display()
    );
    println!(
        "serve with: wangge serve --tls-cert {} --tls-key {}\n\
         install {} as a trusted CA on each phone and PC once (the server also offers it at \
         /ca.pem); keep {} private, it makes the next certificate",
        f.cert.display(),
        f.key.display(),
        f.ca.display(),
        f.ca_key.display()
    );
    Ok(())
}
