//! The Rust side of benches/python/bench_payload.py: the same
//! `Store::registration_payload(vaults, None)` on the same SQLite file, so the
//! binding's overhead is measured on identical work (data, format, file).
//!
//! cargo run --release -p runqy-vault-py --example payload_same_file -- DB VAULT...
//!
//! Protocol on standard input/output, so the Python bench can alternate
//! rounds with it (this process waits on a read while Python runs):
//!
//! - first line in: the master key (base64), kept off the command line;
//! - out: `ready N`, N the number of values in the payload (checked by the bench);
//! - then each line in: a count n; out: the wall-clock ns of n calls in a row;
//! - end of input: exit.
//!
//! Each call's result is dropped inside the timed loop, as the binding drops
//! (and so wipes) its copy once the dict is built.

use std::hint::black_box;
use std::io::{self, BufRead, Write};
use std::time::Instant;

use runqy_vault::{SecretString, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: payload_same_file DB VAULT...")?;
    let vaults: Vec<String> = args.collect();
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let key = SecretString::from(lines.next().ok_or("no master key on standard input")??);
    let store = Store::open(&path, Some(key.expose()))?;
    drop(key);
    let values = store.registration_payload(&vaults, None)?.vaults.len();
    let mut out = io::stdout().lock();
    writeln!(out, "ready {values}")?;
    out.flush()?;
    for line in lines {
        let n: u32 = line?.trim().parse()?;
        let start = Instant::now();
        for _ in 0..n {
            black_box(store.registration_payload(black_box(&vaults), None)?);
        }
        writeln!(out, "{}", start.elapsed().as_nanos())?;
        out.flush()?;
    }
    Ok(())
}
