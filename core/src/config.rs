//! Settings from the environment, built once in `main` and passed down.
//!
//! | variable | used by | default |
//! |---|---|---|
//! | `DATABASE_URL` | both | `postgres://postgres@127.0.0.1:5432/openclaw` |
//! | `AMQP_URL` | both | `amqp://guest:guest@127.0.0.1:5672/%2f` |
//! | `OPENCLAW_MASTER_KEY` | both | required: base64 of 32 bytes |
//! | `OPENCLAW_OLD_MASTER_KEYS` | both | empty; comma-separated earlier master keys, still readable while `openclaw-server master-key rotate` re-encrypts |
//! | `OPENCLAW_JWT_SECRET` | both | required: at least 32 characters |
//! | `OPENCLAW_AMQP_PREFIX` | both | `openclaw` (names every exchange and queue) |
//! | `OPENCLAW_API_KEY_RATE` | server | `1000` requests per second per API key (429 beyond) |
//! | `OPENCLAW_SMTP_URL` | server, worker | unset: invitations and budget alerts are not mailed (`smtp://host:25`, `smtp://u:p@host:587?tls=required`, `smtps://…`) |
//! | `OPENCLAW_MAIL_FROM` | server, worker | `OpenClaw <no-reply@localhost>` |
//! | `OPENCLAW_TRUSTED_PROXIES` | server | empty; comma-separated proxy IPs whose `X-Forwarded-For` names the client |
//! | `OPENCLAW_HTTP_ADDR` | server | `127.0.0.1:8080` |
//! | `OPENCLAW_PUBLIC_URL` | server, worker | `http://<OPENCLAW_HTTP_ADDR>` |
//! | `OPENCLAW_RETRY_DELAYS_MS` | both | `1000,5000,25000,120000,600000` (backoff per retry round) |
//! | `OPENCLAW_CLAIM_LEASE_SECS` | worker | `120` (a send claimed longer ago lost its worker) |
//! | `OPENCLAW_STRIPE_SECRET_KEY` | worker, `billing reconcile` | unset: periods close into invoices kept in Postgres only |
//! | `OPENCLAW_STRIPE_WEBHOOK_SECRET` | server | unset: `POST /hooks/stripe` refuses every event |
//! | `OPENCLAW_STRIPE_API_BASE` | worker, `billing reconcile` | `https://api.stripe.com/` (tests point it at a fake) |

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{Keyring, MasterKey};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/openclaw";
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";

/// A setting that is missing or malformed: one line an operator can act on.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// What both the server and the worker need.
pub struct Settings {
    pub database_url: SecretString,
    pub amqp_url: SecretString,
    pub amqp_prefix: String,
    /// `OPENCLAW_MASTER_KEY` (encrypts) and `OPENCLAW_OLD_MASTER_KEYS` (still decrypt).
    pub master_key: Keyring,
    pub jwt_secret: SecretString,
    /// Where providers post delivery receipts (`…/hooks/providers/{id}/status`).
    pub public_url: String,
    pub http_addr: SocketAddr,
    /// Delay before retry round 1, 2, …; after the last a message fails.
    pub retry_delays: Vec<Duration>,
    /// A send claimed longer ago than this belongs to a worker that is gone.
    pub claim_lease: Duration,
    /// Requests per second each API key may make (bursts up to one second's worth).
    pub api_key_rate: std::num::NonZeroU32,
    /// `OPENCLAW_SMTP_URL`: invitations and budget alerts are mailed when set (it may carry
    /// credentials).
    pub smtp_url: Option<SecretString>,
    /// `OPENCLAW_MAIL_FROM`: the sender of OpenClaw's mail.
    pub mail_from: String,
    /// `OPENCLAW_TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `OPENCLAW_PROVIDER_TIMEOUT_MS`: how long one provider call may take (10 s). A call that
    /// times out may have been taken, so its message waits for the provider's receipt.
    pub provider_timeout: Duration,
    /// `OPENCLAW_OUTCOME_WINDOW_SECS`: how long a message whose send outcome is unknown waits
    /// for the provider's receipt before it is failed with `outcome_unknown` (10 hours, the
    /// default validity period of Twilio's queue).
    pub outcome_window: Duration,
    /// `OPENCLAW_WORKER_IN_FLIGHT`: messages one worker process holds claimed at once (64).
    /// What a crashed worker held is in doubt, so this bounds what one crash can leave so.
    pub worker_in_flight: usize,
    /// `OPENCLAW_STRIPE_SECRET_KEY`: closed periods become Stripe invoices when set.
    pub stripe_secret_key: Option<SecretString>,
    /// `OPENCLAW_STRIPE_WEBHOOK_SECRET`: signs the events Stripe posts to `/hooks/stripe`.
    pub stripe_webhook_secret: Option<SecretString>,
    /// `OPENCLAW_STRIPE_API_BASE`: Stripe's API root, ending in `/`.
    pub stripe_api_base: String,
    /// `OPENCLAW_ALLOW_HTTP_WEBHOOKS=1`: webhook URLs may be plain `http://` (local setups).
    pub webhook_allow_http: bool,
    /// `OPENCLAW_ALLOW_PRIVATE_WEBHOOKS=1`: webhooks may be posted to loopback and private
    /// addresses (local setups and tests).
    pub webhook_allow_private: bool,
    /// `OPENCLAW_WEBHOOK_RETRY_DELAYS_MS`: the waits between a delivery's attempts (the last
    /// one repeats).
    pub webhook_retry_delays: Vec<Duration>,
    /// `OPENCLAW_WEBHOOK_GIVE_UP_SECS` (3 days): how long a delivery is retried, and how long an
    /// endpoint may fail every delivery before it is disabled.
    pub webhook_give_up_after: Duration,
    /// `OPENCLAW_WEBHOOK_TIMEOUT_MS` (10 s): how long an endpoint has to answer.
    pub webhook_timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("amqp_prefix", &self.amqp_prefix)
            .field("public_url", &self.public_url)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Stripe's client settings, when a secret key is set.
    pub fn stripe(&self) -> Option<crate::billing::stripe::StripeConfig> {
        self.stripe_secret_key
            .as_ref()
            .map(|key| crate::billing::stripe::StripeConfig {
                secret_key: key.clone(),
                api_base: self.stripe_api_base.clone(),
            })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError {
                name: "DATABASE_URL",
                problem: "must be a postgres:// URL".into(),
            });
        }
        let amqp_url = get("AMQP_URL").unwrap_or_else(|| DEFAULT_AMQP_URL.into());
        if !(amqp_url.starts_with("amqp://") || amqp_url.starts_with("amqps://")) {
            return Err(ConfigError {
                name: "AMQP_URL",
                problem: "must be an amqp:// URL".into(),
            });
        }
        let amqp_prefix = get("OPENCLAW_AMQP_PREFIX").unwrap_or_else(|| "openclaw".into());
        if !amqp_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ConfigError {
                name: "OPENCLAW_AMQP_PREFIX",
                problem: "may contain only letters, digits, '-', '_' and '.'".into(),
            });
        }

        let master_key = match get("OPENCLAW_MASTER_KEY") {
            None => {
                return Err(ConfigError {
                    name: "OPENCLAW_MASTER_KEY",
                    problem: "is not set; generate one with `openssl rand -base64 32`".into(),
                });
            }
            Some(value) => MasterKey::from_base64(value.trim()).map_err(|e| ConfigError {
                name: "OPENCLAW_MASTER_KEY",
                problem: e.to_string(),
            })?,
        };
        let old_master_keys = get("OPENCLAW_OLD_MASTER_KEYS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                MasterKey::from_base64(k).map_err(|e| ConfigError {
                    name: "OPENCLAW_OLD_MASTER_KEYS",
                    problem: format!("each comma-separated key {e}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let master_key = Keyring::new(master_key, old_master_keys);
        let jwt_secret = match get("OPENCLAW_JWT_SECRET") {
            Some(v) if v.len() >= 32 => SecretString::from(v),
            Some(_) => {
                return Err(ConfigError {
                    name: "OPENCLAW_JWT_SECRET",
                    problem: "must be at least 32 characters long".into(),
                });
            }
            None => {
                return Err(ConfigError {
                    name: "OPENCLAW_JWT_SECRET",
                    problem: "is not set; generate one with `openssl rand -base64 48`".into(),
                });
            }
        };

        let http_addr_raw = get("OPENCLAW_HTTP_ADDR").unwrap_or_else(|| DEFAULT_HTTP_ADDR.into());
        let http_addr: SocketAddr = http_addr_raw.parse().map_err(|_| ConfigError {
            name: "OPENCLAW_HTTP_ADDR",
            problem: format!("`{http_addr_raw}` is not an address like 127.0.0.1:8080"),
        })?;
        let public_url = get("OPENCLAW_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{http_addr}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError {
                name: "OPENCLAW_PUBLIC_URL",
                problem: "must start with http:// or https://".into(),
            });
        }

        // A comma-separated list of positive milliseconds, or `default`.
        let delays = |name: &'static str, default: &[u64], example: &str| {
            let parsed = match get(name) {
                None => Some(
                    default
                        .iter()
                        .map(|ms| Duration::from_millis(*ms))
                        .collect(),
                ),
                Some(raw) => raw
                    .split(',')
                    .map(|s| s.trim().parse::<u64>().ok().filter(|ms| *ms > 0))
                    .map(|ms| ms.map(Duration::from_millis))
                    .collect::<Option<Vec<_>>>(),
            };
            parsed.ok_or_else(|| ConfigError {
                name,
                problem: format!("must be comma-separated positive milliseconds, e.g. {example}"),
            })
        };
        let retry_delays = delays(
            "OPENCLAW_RETRY_DELAYS_MS",
            &crate::queue::DEFAULT_RETRY_DELAYS_MS,
            "1000,5000",
        )?;
        let claim_lease = match get("OPENCLAW_CLAIM_LEASE_SECS") {
            None => Duration::from_secs(120),
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| ConfigError {
                    name: "OPENCLAW_CLAIM_LEASE_SECS",
                    problem: "must be a positive number of seconds".into(),
                })?,
        };

        let api_key_rate = match get("OPENCLAW_API_KEY_RATE") {
            None => std::num::NonZeroU32::new(1000).expect("non-zero"),
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
                name: "OPENCLAW_API_KEY_RATE",
                problem: "must be a positive whole number of requests per second".into(),
            })?,
        };

        let smtp_url = get("OPENCLAW_SMTP_URL")
            .filter(|u| !u.trim().is_empty())
            .map(|u| SecretString::from(u.trim().to_owned()));
        let mail_from =
            get("OPENCLAW_MAIL_FROM").unwrap_or_else(|| "OpenClaw <no-reply@localhost>".into());

        let trusted_proxies = get("OPENCLAW_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse().map_err(|_| ConfigError {
                    name: "OPENCLAW_TRUSTED_PROXIES",
                    problem: format!("`{p}` is not an IP address"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let positive = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError {
                        name,
                        problem: "must be a positive whole number".into(),
                    }),
            }
        };
        let provider_timeout =
            Duration::from_millis(positive("OPENCLAW_PROVIDER_TIMEOUT_MS", 10_000)?);
        let outcome_window = Duration::from_secs(positive("OPENCLAW_OUTCOME_WINDOW_SECS", 36_000)?);
        let worker_in_flight =
            usize::try_from(positive("OPENCLAW_WORKER_IN_FLIGHT", 64)?).unwrap_or(usize::MAX);

        let secret = |name: &str| get(name).map(|v| SecretString::from(v.trim().to_owned()));
        let stripe_secret_key = secret("OPENCLAW_STRIPE_SECRET_KEY");
        let stripe_webhook_secret = secret("OPENCLAW_STRIPE_WEBHOOK_SECRET");
        let mut stripe_api_base =
            get("OPENCLAW_STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com/".into());
        if !(stripe_api_base.starts_with("https://") || stripe_api_base.starts_with("http://")) {
            return Err(ConfigError {
                name: "OPENCLAW_STRIPE_API_BASE",
                problem: "must start with https:// (or http:// for a local fake)".into(),
            });
        }
        if !stripe_api_base.ends_with('/') {
            stripe_api_base.push('/');
        }

        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match get(name).as_deref().map(str::trim) {
                None | Some("0") | Some("false") => Ok(false),
                Some("1") | Some("true") => Ok(true),
                Some(_) => Err(ConfigError {
                    name,
                    problem: "must be 1 or 0".into(),
                }),
            }
        };
        let webhook_allow_http = flag("OPENCLAW_ALLOW_HTTP_WEBHOOKS")?;
        let webhook_allow_private = flag("OPENCLAW_ALLOW_PRIVATE_WEBHOOKS")?;
        let webhook_retry_delays = delays(
            "OPENCLAW_WEBHOOK_RETRY_DELAYS_MS",
            &crate::webhooks::deliver::DEFAULT_RETRY_DELAYS_MS,
            "10000,30000",
        )?;
        let webhook_give_up_after =
            Duration::from_secs(positive("OPENCLAW_WEBHOOK_GIVE_UP_SECS", 3 * 86_400)?);
        let webhook_timeout =
            Duration::from_millis(positive("OPENCLAW_WEBHOOK_TIMEOUT_MS", 10_000)?);

        Ok(Settings {
            webhook_allow_http,
            webhook_allow_private,
            webhook_retry_delays,
            webhook_give_up_after,
            webhook_timeout,
            stripe_secret_key,
            stripe_webhook_secret,
            stripe_api_base,
            provider_timeout,
            outcome_window,
            worker_in_flight,
            trusted_proxies,
            smtp_url,
            mail_from,
            api_key_rate,
            retry_delays,
            claim_lease,
            database_url: SecretString::from(database_url),
            amqp_url: SecretString::from(amqp_url),
            amqp_prefix,
            master_key,
            jwt_secret,
            public_url,
            http_addr,
        })
    }

    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }

    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url.as_ref().map(|u| u.expose_secret())
    }

    pub fn amqp_url(&self) -> &str {
        self.amqp_url.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_point_at_this_machine() {
        let s = Settings::from_lookup(env(&[
            ("OPENCLAW_MASTER_KEY", KEY),
            ("OPENCLAW_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]))
        .unwrap();
        assert_eq!(s.database_url(), DEFAULT_DATABASE_URL);
        assert_eq!(s.amqp_url(), DEFAULT_AMQP_URL);
        assert_eq!(s.http_addr.to_string(), DEFAULT_HTTP_ADDR);
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.amqp_prefix, "openclaw");
    }

    #[test]
    fn missing_or_malformed_values_name_the_variable() {
        let err = Settings::from_lookup(env(&[])).err().unwrap();
        assert_eq!(err.name, "OPENCLAW_MASTER_KEY");

        let err = Settings::from_lookup(env(&[("OPENCLAW_MASTER_KEY", "bm90IDMyIGJ5dGVz")]))
            .err()
            .unwrap();
        assert_eq!(err.name, "OPENCLAW_MASTER_KEY");

        let err = Settings::from_lookup(env(&[
            ("OPENCLAW_MASTER_KEY", KEY),
            ("OPENCLAW_JWT_SECRET", "short"),
        ]))
        .err()
        .unwrap();
        assert_eq!(err.name, "OPENCLAW_JWT_SECRET");

        let err = Settings::from_lookup(env(&[
            ("OPENCLAW_MASTER_KEY", KEY),
            ("OPENCLAW_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("OPENCLAW_HTTP_ADDR", "localhost"),
        ]))
        .err()
        .unwrap();
        assert_eq!(err.name, "OPENCLAW_HTTP_ADDR");
        assert!(
            err.to_string()
                .starts_with("configuration error: OPENCLAW_HTTP_ADDR")
        );
    }

    #[test]
    fn security_settings_parse_and_name_the_variable_when_bad() {
        let base = [
            ("OPENCLAW_MASTER_KEY", KEY),
            ("OPENCLAW_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ];
        let s = Settings::from_lookup(env(&base)).unwrap();
        assert_eq!(s.api_key_rate.get(), 1000);
        assert!(s.smtp_url().is_none());
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            Settings::from_lookup(env(&pairs))
        };
        let old = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
        let s = with(("OPENCLAW_OLD_MASTER_KEYS", old)).unwrap();
        let old_id = MasterKey::from_base64(old).unwrap().key_id().to_owned();
        assert!(s.master_key.get(&old_id).is_some());
        let err = with(("OPENCLAW_OLD_MASTER_KEYS", "nope")).err().unwrap();
        assert_eq!(err.name, "OPENCLAW_OLD_MASTER_KEYS");
        let s = with(("OPENCLAW_TRUSTED_PROXIES", "10.0.0.2, ::1")).unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        let err = with(("OPENCLAW_TRUSTED_PROXIES", "proxy.local"))
            .err()
            .unwrap();
        assert_eq!(err.name, "OPENCLAW_TRUSTED_PROXIES");
        let err = with(("OPENCLAW_API_KEY_RATE", "0")).err().unwrap();
        assert_eq!(err.name, "OPENCLAW_API_KEY_RATE");
        let s = with(("OPENCLAW_SMTP_URL", "smtp://u:secret@mail.test:587")).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn send_path_limits_have_defaults_and_refuse_zero() {
        let base = [
            ("OPENCLAW_MASTER_KEY", KEY),
            ("OPENCLAW_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ];
        let s = Settings::from_lookup(env(&base)).unwrap();
        assert_eq!(s.provider_timeout, Duration::from_secs(10));
        assert_eq!(s.outcome_window, Duration::from_secs(36_000));
        assert_eq!(s.worker_in_flight, 64);
        for name in [
            "OPENCLAW_PROVIDER_TIMEOUT_MS",
            "OPENCLAW_OUTCOME_WINDOW_SECS",
            "OPENCLAW_WORKER_IN_FLIGHT",
        ] {
            let mut pairs = base.to_vec();
            pairs.push((name, "0"));
            assert_eq!(Settings::from_lookup(env(&pairs)).err().unwrap().name, name);
        }
        let mut pairs = base.to_vec();
        pairs.push(("OPENCLAW_WORKER_IN_FLIGHT", "8"));
        assert_eq!(
            Settings::from_lookup(env(&pairs)).unwrap().worker_in_flight,
            8
        );
    }
}
