use std::io::Read;

use openclaw_core::config::Settings;
use openclaw_core::domain::Role;
use openclaw_server::startup::Application;

const USAGE: &str = "usage:
  openclaw-server                      run the API and the admin app
  openclaw-server staff create --email E --role billing_staff|platform_admin
                                       create a platform staff account; the password is read
                                       from OPENCLAW_STAFF_PASSWORD, or else from stdin
  openclaw-server master-key rotate    re-encrypt every provider's credentials under
                                       OPENCLAW_MASTER_KEY; the keys they were sealed with
                                       must be in OPENCLAW_OLD_MASTER_KEYS
  openclaw-server billing reconcile --period YYYY-MM
                                       compare the spend ledger with the daily rollups of that
                                       month, and once it is closed with its invoices (and
                                       Stripe's, when OPENCLAW_STRIPE_SECRET_KEY is set); print
                                       every difference; exit code 1 on any";

#[actix_web::main]
async fn main() {
    openclaw_server::telemetry::init("info");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("openclaw-server: {e}");
            std::process::exit(2);
        }
    };
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => serve(settings).await,
        ["staff", "create", rest @ ..] => staff_create(settings, rest).await,
        ["master-key", "rotate"] => rotate_master_key(settings).await,
        ["billing", "reconcile", "--period", period] => reconcile(settings, period).await,
        ["--help" | "-h" | "help"] => println!("{USAGE}"),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

async fn serve(settings: Settings) {
    let addr = settings.http_addr;
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("openclaw-server: {e:#}");
            std::process::exit(1);
        }
    };
    tracing::info!(%addr, port = app.port(), "openclaw-server listening");
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("openclaw-server: {e:#}");
        std::process::exit(1);
    }
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("openclaw-server: {message}");
    std::process::exit(2);
}

async fn staff_create(settings: Settings, args: &[&str]) {
    let (mut email, mut role) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match (*flag, it.next()) {
            ("--email", Some(v)) => email = Some(v.to_string()),
            ("--role", Some(v)) => role = Some(v.to_string()),
            _ => fail(USAGE),
        }
    }
    let (Some(email), Some(role)) = (email, role) else {
        fail(USAGE)
    };
    let role = match Role::parse(&role) {
        Some(r) if r.is_platform() => r,
        _ => fail("--role must be billing_staff or platform_admin"),
    };
    let password = match std::env::var("OPENCLAW_STAFF_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let mut input = String::new();
            if std::io::stdin().read_to_string(&mut input).is_err() {
                fail("could not read the password from stdin");
            }
            input.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if let Err(e) = openclaw_core::db::run_migrations(settings.database_url()) {
        fail(format!("{e:#}"));
    }
    let pool = match openclaw_core::db::pool(settings.database_url(), 2) {
        Ok(p) => p,
        Err(e) => fail(format!("{e:#}")),
    };
    match openclaw_core::accounts::create_staff(&pool, &email, role, &password).await {
        Ok(user) => println!(
            "created {} staff account {} ({})",
            role,
            user.email,
            openclaw_core::domain::UserId::from_uuid(user.id)
        ),
        Err(e) => fail(e),
    }
}

async fn rotate_master_key(settings: Settings) {
    if let Err(e) = openclaw_core::db::run_migrations(settings.database_url()) {
        fail(format!("{e:#}"));
    }
    let pool = match openclaw_core::db::pool(settings.database_url(), 2) {
        Ok(p) => p,
        Err(e) => fail(format!("{e:#}")),
    };
    match openclaw_core::providers::rotate_master_key(&pool, &settings.master_key).await {
        Ok(done) => println!(
            "re-encrypted {} providers' credentials under master key {} ({} changed meanwhile, already current)",
            done.resealed,
            settings.master_key.current().key_id(),
            done.raced
        ),
        Err(e) => {
            eprintln!("openclaw-server: master key rotation stopped: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn reconcile(settings: Settings, period: &str) {
    use openclaw_core::billing::stripe::Stripe;
    use openclaw_core::domain::{Money, Period};
    let Some(period) = Period::parse(period) else {
        fail("--period must be a month, YYYY-MM (e.g. 2026-12)")
    };
    let pool = match openclaw_core::db::pool(settings.database_url(), 1) {
        Ok(p) => p,
        Err(e) => fail(format!("{e:#}")),
    };
    let stripe = match settings.stripe().map(|c| Stripe::new(&c)).transpose() {
        Ok(s) => s,
        Err(e) => fail(format!("{e:#}")),
    };
    let found = match openclaw_core::billing::reconcile::run(&pool, stripe.as_ref(), period).await {
        Ok(r) => r,
        Err(e) => fail(format!("reconciling: {e:#}")),
    };
    for (currency, sums) in &found.totals {
        println!(
            "{period} ledger {currency}: {} messages, {} segments, {} spent, {} platform fees",
            sums.messages,
            sums.segments,
            Money::format_amount(sums.micros),
            Money::format_amount(sums.fee_micros)
        );
    }
    if found.closed {
        let invoices = match found.invoices {
            1 => "1 invoice".to_owned(),
            n => format!("{n} invoices"),
        };
        println!(
            "{period}: closed into {invoices} ({} compared with Stripe{})",
            found.stripe_checked,
            if stripe.is_none() {
                "; OPENCLAW_STRIPE_SECRET_KEY is not set"
            } else {
                ""
            }
        );
    } else {
        println!("{period}: not closed yet; there are no invoices to compare");
    }
    if found.mismatches.is_empty() {
        println!("{period}: the ledger, the daily rollups and the invoices agree");
        return;
    }
    for m in &found.mismatches {
        println!("mismatch: {m}");
    }
    match found.mismatches.len() {
        1 => println!("{period}: 1 mismatch"),
        n => println!("{period}: {n} mismatches"),
    }
    std::process::exit(1);
}
