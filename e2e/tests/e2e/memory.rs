use openclaw_e2e::procs::Relay;
use serde_json::json;

/// Peak resident memory of a process, in MiB (`VmHWM` of /proc/<pid>/status).
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status");
    kib / 1024
}

/// Each password hash holds ~19 MiB; unbounded, 112 sign-ups at once took the server to 2 GB.
/// Hashing runs one per core, so the peak stays flat however many arrive together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sign_ups_eight_at_a_time_keep_the_server_under_300_mib() {
    let relay = Relay::start(&[("OPENCLAW_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let before = peak_rss_mib(relay.server.pid());
    let statuses = futures::future::join_all((0..8).map(|client| {
        let relay = &relay;
        async move {
            let mut statuses = Vec::new();
            for i in 0..25 {
                // Sign-ups are throttled per address: each comes from its own (through the
                // trusted proxy), as 200 different people would.
                let res = relay
                    .http
                    .post(relay.url("/v1/auth/signup"))
                    .header("X-Forwarded-For", format!("10.9.{client}.{i}"))
                    .json(&json!({
                        "tenant_name": format!("Tenant {client}-{i}"),
                        "email": format!("owner-{client}-{i}@example.test"),
                        "password": "correct horse battery",
                    }))
                    .send()
                    .await
                    .expect("sign-up sent");
                statuses.push(res.status().as_u16());
            }
            statuses
        }
    }))
    .await;
    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    assert_eq!(statuses.len(), 200);
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let peak = peak_rss_mib(relay.server.pid());
    println!("openclaw-server peak RSS: {before} MiB before, {peak} MiB after 200 sign-ups");
    assert!(peak < 300, "peak RSS {peak} MiB");
    relay.cleanup().await;
}
