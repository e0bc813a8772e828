//! Criterion benches of the redactor (SPEC §11): 100 MB of log-like text
//! with 50 secrets of 20–60 characters, every form on (issue 12: at least
//! 300 MB/s one-shot), and `runqy-vault run` moving the same text from a
//! task that writes it in 64 KiB writes (`dd bs=64k`) to /dev/null, redacted
//! (issue 12: at least 80% of the redactor's own throughput, measured here in
//! the same run).
//!
//! Run: `cargo bench -p runqy-vault --bench redact`

use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runqy_vault::Redactor;

const TEXT_BYTES: usize = 100 * 1000 * 1000;
const SECRETS: usize = 50;

/// A small deterministic generator, so every run redacts the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// 50 API-key-like secrets of 20 to 60 characters.
fn secrets(rng: &mut Rng) -> Vec<(String, String)> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./+=";
    const PREFIXES: &[&str] = &["sk-", "ghp_", "xoxb-", "AKIA", "pk_live_", ""];
    (0..SECRETS)
        .map(|i| {
            let prefix = rng.pick(PREFIXES);
            let len = 20 + rng.below(41);
            let mut value = (*prefix).to_owned();
            while value.len() < len {
                value.push(*rng.pick(ALPHABET) as char);
            }
            (format!("SECRET_{i}"), value)
        })
        .collect()
}

/// Log lines as a worker's task prints them; about one line in 200 carries
/// a secret, raw, base64-encoded, URL-encoded or inside JSON.
fn log_text(rng: &mut Rng, secrets: &[(String, String)]) -> Vec<u8> {
    const LEVELS: &[&str] = &["INFO", "DEBUG", "WARN", "INFO", "ERROR"];
    const WORDS: &[&str] = &[
        "processing",
        "task",
        "queue",
        "default",
        "retry",
        "download",
        "model",
        "batch",
        "completed",
        "request",
        "response",
        "status=200",
        "elapsed",
        "tokens",
        "worker",
        "connected",
        "redis://localhost:6379/0",
        "payload",
        "user_id=4821",
        "chunk",
    ];
    let mut out = Vec::with_capacity(TEXT_BYTES + 256);
    let mut line = 0u64;
    while out.len() < TEXT_BYTES {
        line += 1;
        out.extend_from_slice(
            format!(
                "2025-06-01T12:{:02}:{:02}.{:03}Z {} worker[{}]: ",
                (line / 60) % 60,
                line % 60,
                line % 1000,
                rng.pick(LEVELS),
                1000 + rng.below(64)
            )
            .as_bytes(),
        );
        for _ in 0..6 + rng.below(10) {
            out.extend_from_slice(rng.pick(WORDS).as_bytes());
            out.push(b' ');
        }
        if rng.below(200) == 0 {
            let (_, value) = rng.pick(secrets);
            let form = match rng.below(4) {
                0 => value.clone(),
                1 => base64::engine::general_purpose::STANDARD
                    .encode(format!("user:{value}"))
                    .to_string(),
                2 => value
                    .replace('/', "%2F")
                    .replace('+', "%2B")
                    .replace('=', "%3D"),
                _ => serde_json::json!({ "api_key": value }).to_string(),
            };
            out.extend_from_slice(b"auth=");
            out.extend_from_slice(form.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

fn redact(c: &mut Criterion) {
    let mut rng = Rng(0x005e_ed0f_1065);
    let secrets = secrets(&mut rng);
    let text = log_text(&mut rng, &secrets);
    let redactor = Redactor::new(secrets.iter().map(|(n, v)| (n, v))).expect("redactor");
    // Once, outside the timing: the output must hold no secret.
    let out = redactor.redact_bytes(&text);
    for (name, value) in &secrets {
        assert!(
            !out.windows(value.len()).any(|w| w == value.as_bytes()),
            "{name} survived"
        );
    }
    drop(out);

    let mut g = c.benchmark_group("redact");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("oneshot_100MB_50_secrets", |b| {
        b.iter(|| redactor.redact_bytes(&text))
    });
    g.bench_function("stream_64KiB_writes_100MB_50_secrets", |b| {
        let mut out = Vec::with_capacity(text.len() + 1024);
        b.iter(|| {
            out.clear();
            let mut stream = redactor.stream();
            for chunk in text.chunks(64 * 1024) {
                stream.feed_into(chunk, &mut out);
            }
            stream.finish_into(&mut out);
            out.len()
        })
    });
    // run: the same text and secrets, the secrets as a payload file.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text_file = dir.path().join("task-output.log");
    std::fs::write(&text_file, &text).expect("write the text");
    let payload_file = dir.path().join("payload.json");
    let vaults: serde_json::Map<String, serde_json::Value> = secrets
        .iter()
        .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
        .collect();
    std::fs::write(
        &payload_file,
        serde_json::json!({ "vaults": vaults }).to_string(),
    )
    .expect("write the payload");
    let run = || {
        let status = Command::new(env!("CARGO_BIN_EXE_runqy-vault"))
            .arg("run")
            .arg("--payload")
            .arg(&payload_file)
            .args(["--", "dd", "bs=65536", "status=none"])
            .arg(format!("if={}", text_file.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create("/dev/null").expect("/dev/null"),
            ))
            .status()
            .expect("run runqy-vault run");
        assert!(status.success(), "runqy-vault run: {status}");
    };
    // Once, outside the timing: run's output is the redactor's.
    let piped = Command::new(env!("CARGO_BIN_EXE_runqy-vault"))
        .arg("run")
        .arg("--payload")
        .arg(&payload_file)
        .args(["--", "dd", "bs=65536", "status=none"])
        .arg(format!("if={}", text_file.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run runqy-vault run");
    assert!(
        piped.stdout == redactor.redact_bytes(&text),
        "run's output differs from the redactor's"
    );
    drop(piped);
    g.bench_function("run_cli_64KiB_writes_100MB_50_secrets", |b| b.iter(run));
    g.finish();
}

criterion_group!(benches, redact);
criterion_main!(benches);
