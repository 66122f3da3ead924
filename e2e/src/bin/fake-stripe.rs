//! `fake-stripe [--addr 127.0.0.1:12111]`: serves the slice of Stripe's API OpenClaw bills through
//! (see `openclaw_e2e::stripe` for the wire and control surfaces). Prints
//! `fake-stripe listening on http://ADDR` once it listens, then runs until SIGINT/SIGTERM.

#[actix_web::main]
async fn main() {
    let addr = openclaw_e2e::tool::start("fake-stripe", "FAKE_STRIPE_ADDR", "127.0.0.1:12111");
    let fake = match openclaw_e2e::stripe::spawn(&addr).await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("fake-stripe: cannot listen on {addr}: {e:#}");
            std::process::exit(1);
        }
    };
    openclaw_e2e::tool::listening_until_stopped("fake-stripe", &fake.base_url()).await;
    fake.stop().await;
}
