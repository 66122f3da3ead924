//! Schemathesis against the built `openclaw-server`: property-based requests generated from
//! the served `/openapi.json`, every response checked against that same document (no 5xx, only
//! documented status codes, content types, headers and bodies, valid input accepted, invalid
//! input refused, 405 for undeclared methods, authentication enforced). Settings, and the few
//! refusals JSON Schema cannot describe, are in `e2e/schemathesis.toml`.
//!
//! Why a Rust test and not a shell script beside `scripts/test`: it stands on what every other
//! end-to-end test here uses — a fresh database copied from the migrated template and dropped
//! afterwards, a queue prefix of its own deleted afterwards, the binaries built before they
//! run, processes killed even when the test fails — and `cargo test` reports it like any other
//! test. A script would have to do all of that again in bash. The one thing it needs from
//! outside, schemathesis itself, is installed by `scripts/test` into a virtualenv
//! (`ensure_schemathesis` in `scripts/services.sh`, pinned by
//! `e2e/schemathesis-requirements.txt`), as Chromium is for the browser tests; without it this
//! test fails and says so.
//!
//! One run per credential, each signed in before any run starts (fuzzing the sign-in gets the
//! client address throttled): a tenant API key for what keys may call, the owner's token for
//! everything else, a platform admin for the staff routes, and a separate session for the two
//! operations that end sessions (sign-out, password change), so they cannot cut the others off.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use openclaw_e2e::procs::{Relay, binary};
use serde_json::{Value, json};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis.toml");

/// `OPENCLAW_SCHEMATHESIS`, or the virtualenv `scripts/test` makes under target/.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("OPENCLAW_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/schemathesis/bin/schemathesis"
            ))
        });
    assert!(
        path.is_file(),
        "schemathesis is not installed at {}: run scripts/test, or \
         `bash -c 'source scripts/services.sh && ensure_schemathesis'` from the repository root",
        path.display()
    );
    path
}

/// A platform admin made with the operator's command, signed in; returns the access token.
async fn platform_admin(relay: &Relay) -> String {
    let email = "fuzz-staff@example.test";
    let password = "staff password for fuzzing";
    let out = std::process::Command::new(binary("openclaw-server"))
        .args([
            "staff",
            "create",
            "--email",
            email,
            "--role",
            "platform_admin",
        ])
        .envs(relay.env.iter().map(|(k, v)| (k, v)))
        .env("OPENCLAW_STAFF_PASSWORD", password)
        .output()
        .expect("running openclaw-server staff create");
    assert!(
        out.status.success(),
        "staff create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    relay.login(email, password).await
}

struct Run {
    name: &'static str,
    token: String,
    filters: &'static [&'static str],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_nothing_the_document_does_not_say() {
    let schemathesis = schemathesis();
    // With a Stripe webhook secret, so `/hooks/stripe` checks signatures instead of answering
    // that it takes no events.
    let relay = Relay::start(&[("OPENCLAW_STRIPE_WEBHOOK_SECRET", "whsec_fuzz")]).await;
    let owner = relay.signup().await;
    // Priced for every country, so a valid send is accepted and its links can be followed.
    relay
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0100")])
        .await;
    let res = relay
        .post(
            "/v1/api-keys",
            &owner.access_token,
            &json!({"name": "fuzz", "scopes": ["messages:send", "messages:read", "reports:read"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    let key = key["key"].as_str().expect("the key").to_owned();
    let second_session = relay.login(&owner.email, "correct horse battery").await;
    let staff = platform_admin(&relay).await;

    let runs = [
        Run {
            name: "tenant API key",
            token: key,
            filters: &["--include-path-regex", "^/v1/(messages|spend)"],
        },
        Run {
            name: "tenant owner",
            token: owner.access_token.clone(),
            filters: &[
                "--exclude-path-regex",
                "^/v1/admin/|^/v1/auth/logout$|^/v1/me/password$",
            ],
        },
        Run {
            name: "platform admin",
            token: staff,
            // No links among these: the stateful phase has nothing to follow.
            filters: &[
                "--include-path-regex",
                "^/v1/admin/",
                "--phases",
                "examples,coverage,fuzzing",
            ],
        },
        Run {
            name: "a session to end",
            token: second_session,
            filters: &[
                "--include-path-regex",
                "^/v1/(auth/logout|me/password)$",
                "--phases",
                "examples,coverage,fuzzing",
            ],
        },
    ];
    let workdir = std::env::temp_dir().join(format!("openclaw-fuzz-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&workdir).unwrap();
    let schema_url = relay.url("/openapi.json");
    let mut failed = Vec::new();
    for run in &runs {
        let started = Instant::now();
        let child = tokio::process::Command::new(&schemathesis)
            .arg("--config-file")
            .arg(CONFIG)
            .args(["run", &schema_url, "--no-color"])
            .args(run.filters)
            // The credential travels in the environment (the config file reads it), never on
            // a command line.
            .env(
                "OPENCLAW_FUZZ_AUTHORIZATION",
                format!("Bearer {}", run.token),
            )
            .env("NO_COLOR", "1")
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting schemathesis");
        let out = tokio::time::timeout(Duration::from_secs(600), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("schemathesis ({}) ran over 10 minutes", run.name))
            .expect("schemathesis ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = stdout.lines().last().unwrap_or_default().to_owned();
        eprintln!(
            "schemathesis as {}: {} ({:.0?})",
            run.name,
            summary.trim_matches(|c| c == '=' || c == ' '),
            started.elapsed()
        );
        // Exit code 0 only when every check passed on every generated request.
        if !out.status.success() {
            failed.push(format!(
                "--- schemathesis as {} ({}):\n{stdout}\n{}",
                run.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&workdir);
    relay.cleanup().await;
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
