//! The send-path benchmark: API → Postgres → RabbitMQ → worker → provider simulator.
//!
//!   cargo run --release -p openclaw-e2e --bin bench -- [--messages 20000] [--concurrency 64] [--receipts 0] [--hard-cap 1] [--webhooks 1] [--webhook-delay-ms 2000] [--event-trigger 0]
//!
//! Starts a fresh database, `provider-sim`, `openclaw-server` and `openclaw-worker` (release
//! builds of this checkout) on this machine's Postgres and RabbitMQ, then measures:
//! 1. single sends (`POST /v1/messages`) as fast as `--concurrency` clients go: accepted/s, p50/p99;
//! 2. single sends paced at `--paced-rate` (default 2,000/s): p50/p99 accept latency;
//! 3. the batch endpoint (1,000 per request): accepted/s;
//! 4. end to end: how fast accepted messages become `sent` (committed after the provider
//!    accepted them), over everything the phases above accepted;
//! 5. receipts: the simulator posts Twilio's signed status callbacks (`sent`, then
//!    `delivered`) for every message, as a real gateway does, so the server takes two
//!    callbacks per message throughout; how long until every message is `delivered`.
//! 6. webhooks (`--webhooks 1`): the tenant has an endpoint listening for `message.status`, a
//!    receiver in this process that checks every signature and answers after
//!    `--webhook-delay-ms` (0 by default; 2000 to see that a slow receiver does not slow
//!    sending); how many events were delivered, and how fast.
//!
//! It also prints the worker's and the server's peak memory (VmHWM).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use openclaw_e2e::procs::{Process, Relay, Simulator};
use openclaw_e2e::services::query_i64;
use serde_json::{Value, json};

/// How often the waits for the end-to-end, receipt and webhook phases count rows. Each count
/// scans `messages` or `webhook_deliveries` (about 57 ms of a core at 100,000 messages,
/// measured with pg_stat_statements): polled every 200 ms, the bench's own counting took a
/// quarter of a core from the very phases it measures. A phase's end is then known to within a
/// second, 2–3% of a 40 s phase.
const POLL: Duration = Duration::from_secs(1);

struct Args {
    messages: usize,
    concurrency: usize,
    paced_rate: u64,
    paced_secs: u64,
    batch_messages: usize,
    /// Whether the simulator posts delivery receipts (1, the default) or none (0).
    receipts: bool,
    /// Whether the tenant has a hard-capped budget (1; high enough that nothing is refused),
    /// so every message holds its cost and every group commit takes the budget lock, or none
    /// (0, the default).
    hard_cap: bool,
    /// Whether the tenant has a webhook endpoint listening for `message.status` (1) or not
    /// (0, the default).
    webhooks: bool,
    /// How long the webhook receiver takes to answer.
    webhook_delay_ms: u64,
    /// Whether the trigger that writes webhook events runs (1, the default) or is disabled for
    /// the run (0), to measure what it costs a tenant without webhooks.
    event_trigger: bool,
}

fn args() -> Args {
    let mut a = Args {
        messages: 20_000,
        concurrency: 64,
        paced_rate: 2_000,
        paced_secs: 15,
        batch_messages: 100_000,
        receipts: true,
        hard_cap: false,
        webhooks: false,
        webhook_delay_ms: 0,
        event_trigger: true,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (argv[i].as_str(), value) {
            ("--messages", Some(v)) => a.messages = v as usize,
            ("--concurrency", Some(v)) => a.concurrency = v as usize,
            ("--paced-rate", Some(v)) => a.paced_rate = v,
            ("--paced-secs", Some(v)) => a.paced_secs = v,
            ("--batch-messages", Some(v)) => a.batch_messages = v as usize,
            ("--receipts", Some(v)) => a.receipts = v != 0,
            ("--hard-cap", Some(v)) => a.hard_cap = v != 0,
            ("--webhooks", Some(v)) => a.webhooks = v != 0,
            ("--webhook-delay-ms", Some(v)) => a.webhook_delay_ms = v,
            ("--event-trigger", Some(v)) => a.event_trigger = v != 0,
            (flag, _) => {
                eprintln!("unknown or incomplete argument {flag}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// CPU seconds used so far, per command name, over every process on the machine.
fn cpu_by_command() -> std::collections::HashMap<String, f64> {
    let ticks = 100.0; // USER_HZ on Linux
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid … utime(14) stime(15)
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let (Some(u), Some(s)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        let secs = (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / ticks;
        *out.entry(comm).or_insert(0.0) += secs;
    }
    out
}

/// Prints where the CPU went since `before`, biggest first.
fn cpu_report(before: &std::collections::HashMap<String, f64>, elapsed: Duration) {
    let after = cpu_by_command();
    let mut used: Vec<(String, f64)> = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.05)
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let line: Vec<String> = used
        .iter()
        .take(7)
        .map(|(k, v)| format!("{k} {:.0}%", 100.0 * v / elapsed.as_secs_f64()))
        .collect();
    println!("  cpu (100% = one core): {}", line.join(", "));
}

fn report(name: &str, n: usize, elapsed: Duration, hist: Option<&Histogram<u64>>) {
    let rate = n as f64 / elapsed.as_secs_f64();
    match hist {
        Some(h) => println!(
            "{name:<34} {n:>8} msgs in {:>6.2}s = {rate:>9.0}/s   p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
            elapsed.as_secs_f64(),
            h.value_at_quantile(0.50) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.max() as f64 / 1000.0,
        ),
        None => println!(
            "{name:<34} {n:>8} msgs in {:>6.2}s = {rate:>9.0}/s",
            elapsed.as_secs_f64()
        ),
    }
}

async fn send_one(http: &reqwest::Client, url: &str, key: &str, phase: &str, i: u64) -> Duration {
    let started = Instant::now();
    let res = http
        .post(url)
        .bearer_auth(key)
        .json(&json!({"to": "+14155552671", "body": format!("benchmark {phase} {i}")}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let _ = res.bytes().await;
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let args = args();
    println!("starting provider-sim, openclaw-server and openclaw-worker (release builds)…");
    let sim = Simulator::start();
    let relay = Relay::start(&[
        ("RUST_LOG", "warn"),
        ("OPENCLAW_ALLOW_HTTP_WEBHOOKS", "1"),
        ("OPENCLAW_ALLOW_PRIVATE_WEBHOOKS", "1"),
    ])
    .await;
    let owner = relay.signup().await;
    let provider = relay
        .provider(
            &owner,
            "twilio",
            json!({"account_sid": "AC00000000000000000000000000000001", "auth_token": "bench-auth-token-000000000000000001"}),
            Some(&sim.base_url),
            &[("*", "0.0040")],
        )
        .await;
    let res = relay
        .http
        .patch(relay.url(&format!("/v1/providers/{provider}")))
        .bearer_auth(&owner.access_token)
        .json(&json!({"sender_ids": ["+14155550100"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let key = relay.api_key(&owner, "live").await;
    if args.hard_cap {
        let res = relay
            .http
            .put(relay.url("/v1/budget"))
            .bearer_auth(&owner.access_token)
            .json(
                &json!({"monthly_limit": {"amount": "1000000", "currency": "USD"},
                          "alert_thresholds": [50, 80, 100], "hard_cap": true}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        println!("the tenant's budget is a hard cap: every message holds its cost");
    }
    if !args.event_trigger {
        openclaw_e2e::services::execute(
            &relay.db.url,
            "ALTER TABLE messages DISABLE TRIGGER message_status_events",
        )
        .await;
        println!("the trigger that writes webhook events is disabled for this run");
    }
    let receiver = if args.webhooks {
        let rx = openclaw_e2e::receiver::Receiver::spawn().await;
        if args.webhook_delay_ms > 0 {
            rx.set_mode(openclaw_e2e::receiver::Mode::Slow(Duration::from_millis(
                args.webhook_delay_ms,
            )));
        }
        let res = relay
            .post(
                "/v1/webhooks",
                &owner.access_token,
                &json!({"url": rx.url("/events"), "events": ["message.status"]}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let hook: Value = res.json().await.unwrap();
        rx.set_secrets(&[hook["secret"].as_str().unwrap()]);
        println!(
            "webhooks on: every status change is posted to a receiver answering after {} ms",
            args.webhook_delay_ms
        );
        Some(rx)
    } else {
        None
    };
    // Receipts flow as in production: two signed callbacks per message.
    let res = reqwest::Client::new()
        .put(format!(
            "{}/_sim/accounts/AC00000000000000000000000000000001/behaviour",
            sim.base_url
        ))
        .json(&json!({
            "mode": "accept",
            "receipt": if args.receipts { "delivered" } else { "none" },
            "receipt_delay_ms": 200,
        }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()
        .unwrap();
    let url = relay.url("/v1/messages");
    // Warm up connections and caches.
    for i in 0..200 {
        send_one(&http, &url, &key, "warm-up", i).await;
    }
    let first_accept = Instant::now();
    let mut accepted_total = 200usize;

    // 1. Single sends, flat out.
    let next = Arc::new(AtomicU64::new(0));
    let cpu = cpu_by_command();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (http, url, key, next) = (http.clone(), url.clone(), key.clone(), next.clone());
        let total = args.messages as u64;
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return hist;
                }
                let took = send_one(&http, &url, &key, "flat", i).await;
                hist.record(took.as_micros() as u64).unwrap();
            }
        }));
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for t in tasks {
        hist.add(t.await.unwrap()).unwrap();
    }
    report(
        "POST /v1/messages (flat out)",
        args.messages,
        started.elapsed(),
        Some(&hist),
    );
    cpu_report(&cpu, started.elapsed());
    accepted_total += args.messages;

    // 2. Single sends at a steady rate.
    let paced = (args.paced_rate * args.paced_secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / args.paced_rate as f64);
    let cpu = cpu_by_command();
    let started = Instant::now();
    let mut handles = Vec::with_capacity(paced);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..paced {
        tick.tick().await;
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        handles.push(tokio::spawn(async move {
            send_one(&http, &url, &key, "paced", i as u64).await
        }));
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for h in handles {
        hist.record(h.await.unwrap().as_micros() as u64).unwrap();
    }
    report(
        &format!("POST /v1/messages (paced {}/s)", args.paced_rate),
        paced,
        started.elapsed(),
        Some(&hist),
    );
    cpu_report(&cpu, started.elapsed());
    accepted_total += paced;

    // 3. The batch endpoint.
    let batch_url = relay.url("/v1/messages/batch");
    let batches = args.batch_messages.div_ceil(1000);
    let cpu = cpu_by_command();
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (http, url, key, next) = (http.clone(), batch_url.clone(), key.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches as u64 {
                    return hist;
                }
                let messages: Vec<Value> = (0..1000)
                    .map(|i| json!({"to": "+14155552671", "body": format!("batch {b}-{i}")}))
                    .collect();
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({ "messages": messages }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 202);
                let _ = res.bytes().await;
                hist.record(t.elapsed().as_micros() as u64).unwrap();
            }
        }));
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for t in tasks {
        hist.add(t.await.unwrap()).unwrap();
    }
    report(
        "POST /v1/messages/batch (1000/req)",
        batches * 1000,
        started.elapsed(),
        Some(&hist),
    );
    println!("  (latency above is per 1,000-message request)");
    cpu_report(&cpu, started.elapsed());
    accepted_total += batches * 1000;

    // 4. End to end: wait until everything accepted is sent.
    let mut last = 0;
    let mut stalled = Instant::now();
    loop {
        let sent = query_i64(
            &relay.db.url,
            "SELECT count(*) FROM messages WHERE status IN ('sent', 'delivered')",
        )
        .await as usize;
        if sent >= accepted_total {
            break;
        }
        if sent != last {
            last = sent;
            stalled = Instant::now();
        } else if stalled.elapsed() > Duration::from_secs(30) {
            println!("end to end stalled at {sent}/{accepted_total}");
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    report(
        "end to end (accepted → sent)",
        last.max(accepted_total),
        first_accept.elapsed(),
        None,
    );
    // 5. Every receipt applied.
    let mut delivered = 0;
    let accepted_total = if args.receipts { accepted_total } else { 0 };
    let mut stalled = Instant::now();
    loop {
        let now = query_i64(
            &relay.db.url,
            "SELECT count(*) FROM messages WHERE status = 'delivered'",
        )
        .await as usize;
        if now >= accepted_total {
            delivered = now;
            break;
        }
        if now != delivered {
            delivered = now;
            stalled = Instant::now();
        } else if stalled.elapsed() > Duration::from_secs(30) {
            println!("receipts stalled at {delivered}/{accepted_total} delivered");
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    report(
        "receipts applied (→ delivered)",
        delivered,
        first_accept.elapsed(),
        None,
    );
    // 6. Webhooks: every event delivered (or, with a slow receiver, how far they got).
    if let Some(rx) = &receiver {
        // A slow receiver is there to show that sending does not wait for it; its backlog
        // is reported, not waited out.
        let phase = Instant::now();
        let patience = if args.webhook_delay_ms > 0 {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(600)
        };
        let mut stalled = Instant::now();
        let mut last = 0;
        let events = loop {
            let open = query_i64(
                &relay.db.url,
                "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'",
            )
            .await;
            let done = query_i64(
                &relay.db.url,
                "SELECT count(*) FROM webhook_deliveries WHERE state = 'succeeded'",
            )
            .await as usize;
            if open == 0 {
                break done;
            }
            if phase.elapsed() > patience {
                println!("webhooks: {open} deliveries still pending, {done} succeeded");
                break done;
            }
            if done != last {
                last = done;
                stalled = Instant::now();
            } else if stalled.elapsed() > Duration::from_secs(30) {
                println!("webhooks: {open} deliveries still pending, {done} succeeded");
                break done;
            }
            tokio::time::sleep(POLL).await;
        };
        report(
            "webhook events delivered",
            events,
            first_accept.elapsed(),
            None,
        );
        let got = rx.received();
        let bad = got.iter().filter(|r| !r.verified()).count();
        println!(
            "  the receiver took {} posts, {bad} not signed with the endpoint's secret",
            got.len()
        );
    }
    let worker = relay.worker.as_ref().map(Process::pid).unwrap_or_default();
    println!(
        "worker peak memory (VmHWM)         {:>8} KiB",
        peak_memory_kib(worker).unwrap_or(0)
    );
    println!(
        "server peak memory (VmHWM)         {:>8} KiB",
        peak_memory_kib(relay.server.pid()).unwrap_or(0)
    );
    let stats: Value = reqwest::get(format!("{}/_sim/stats", sim.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!("simulator stats: {stats}");
    relay.cleanup().await;
}
