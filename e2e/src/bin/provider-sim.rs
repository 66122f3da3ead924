//! `provider-sim [--addr 127.0.0.1:9090]`: serves the Twilio and Vonage SMS APIs as their
//! specs describe, with switchable behaviour (see `openclaw_e2e::sim`). Prints
//! `provider-sim listening on http://ADDR` once it listens, then runs until SIGINT/SIGTERM.

#[actix_web::main]
async fn main() {
    let addr = openclaw_e2e::tool::start("provider-sim", "SIM_ADDR", "127.0.0.1:9090");
    let sim = match openclaw_e2e::sim::spawn(&addr).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("provider-sim: cannot listen on {addr}: {e:#}");
            std::process::exit(1);
        }
    };
    openclaw_e2e::tool::listening_until_stopped("provider-sim", &sim.base_url()).await;
    sim.stop().await;
}
