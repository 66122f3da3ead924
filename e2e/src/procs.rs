//! The built binaries as child processes: `openclaw-server`, `openclaw-worker` and
//! `provider-sim`, each killed when its handle is dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::app::Api;
use crate::services::{TestDb, TestQueues, amqp_url, master_key};

/// target/<profile>/ of this build: test binaries live in its `deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().expect("deps/");
    if dir.ends_with("deps") {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

static BUILT: OnceLock<()> = OnceLock::new();

/// The path of a workspace binary, built first (once per test process) so a test never runs
/// a stale one.
pub fn binary(name: &str) -> PathBuf {
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--manifest-path", manifest])
            .args([
                "-p",
                "openclaw-server",
                "-p",
                "openclaw-worker",
                "-p",
                "openclaw-e2e",
                "--bins",
            ]);
        if target_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing; run `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// A child process, stopped (SIGKILL) when dropped.
pub struct Process {
    pub name: String,
    child: Option<Child>,
}

impl Process {
    /// Starts `cmd`; its output is dropped unless `TEST_LOG` is set (then it is shown).
    pub fn spawn(name: &str, cmd: Command) -> Process {
        Process::spawn_logged(name, cmd, None)
    }

    /// Starts `cmd` with its stdout and stderr appended to `log` when given (whatever
    /// `TEST_LOG` says), else as [`Process::spawn`] does.
    pub fn spawn_logged(name: &str, mut cmd: Command, log: Option<&Path>) -> Process {
        if let Some(path) = log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
            let err = file.try_clone().expect("cloning a log file handle");
            cmd.stdout(file).stderr(err);
        } else if std::env::var_os("TEST_LOG").is_none() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Process {
            name: name.to_owned(),
            child: Some(child),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Sends a signal ("TERM", "KILL") and waits for the process to exit.
    pub fn stop(&mut self, signal: &str) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status();
        for _ in 0..600 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `provider-sim` on a free port.
pub struct Simulator {
    pub base_url: String,
    _process: Process,
}

impl Simulator {
    pub fn start() -> Simulator {
        let mut cmd = Command::new(binary("provider-sim"));
        cmd.args(["--addr", "127.0.0.1:0"]).stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("starting provider-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading provider-sim's first line");
        let base_url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("provider-sim said {line:?}"))
            .to_owned();
        Simulator {
            base_url,
            _process: Process {
                name: "provider-sim".into(),
                child: Some(child),
            },
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `openclaw-server` with `env`, listening on `port`, once it answers `/readyz`; its output
/// goes to `log` when given.
async fn start_server(env: &[(String, String)], port: u16, log: Option<&Path>) -> (Process, Api) {
    let mut cmd = Command::new(binary("openclaw-server"));
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .env("OPENCLAW_HTTP_ADDR", format!("127.0.0.1:{port}"));
    let server = Process::spawn_logged("openclaw-server", cmd, log);
    let address = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..300 {
        if let Ok(res) = http.get(format!("{address}/readyz")).send().await
            && res.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "openclaw-server did not become ready (run with TEST_LOG=1 to see why)"
    );
    (server, Api::new(address))
}

/// The relay as the built binaries: one server and (optionally) one worker.
pub struct Relay {
    pub api: Api,
    pub env: Vec<(String, String)>,
    pub server: Process,
    pub worker: Option<Process>,
    pub db: TestDb,
    pub queues: TestQueues,
    /// Where the server's and the workers' output goes, for a relay started with
    /// [`Relay::start_logged`].
    pub logs: Option<PathBuf>,
}

impl Relay {
    pub async fn start(extra_env: &[(&str, &str)]) -> Relay {
        Relay::start_with(extra_env, false).await
    }

    /// Like [`Relay::start`], with the output of the server and of each worker appended to
    /// `server.log` and `worker.log` in a directory of their own under
    /// `target/<profile>/e2e-logs/` (read them with [`Relay::server_log`] and
    /// [`Relay::worker_log`]).
    pub async fn start_logged(extra_env: &[(&str, &str)]) -> Relay {
        Relay::start_with(extra_env, true).await
    }

    async fn start_with(extra_env: &[(&str, &str)], logged: bool) -> Relay {
        let db = TestDb::new().await;
        let queues = TestQueues::new().await;
        let port = free_port();
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), db.url.clone()),
            ("AMQP_URL".into(), amqp_url()),
            ("OPENCLAW_AMQP_PREFIX".into(), queues.prefix.clone()),
            ("OPENCLAW_MASTER_KEY".into(), master_key()),
            (
                "OPENCLAW_JWT_SECRET".into(),
                "e2e-secret-e2e-secret-e2e-secret-012345".into(),
            ),
            ("OPENCLAW_HTTP_ADDR".into(), format!("127.0.0.1:{port}")),
            // The bursts these tests and the benchmark send through one key measure the send
            // path, not the per-key limiter (tested on its own in the API tests).
            ("OPENCLAW_API_KEY_RATE".into(), "1000000".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        for (k, v) in extra_env {
            env.retain(|(name, _)| name != k);
            env.push(((*k).into(), (*v).into()));
        }
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let settings =
            openclaw_core::config::Settings::from_lookup(lookup).expect("valid settings");
        queues.track(&openclaw_core::queue::Topology::from_settings(&settings));
        let logs = logged.then(|| {
            let dir = target_dir().join("e2e-logs").join(&queues.prefix);
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
            dir
        });
        let server_log = logs.as_ref().map(|d| d.join("server.log"));
        let (server, api) = start_server(&env, port, server_log.as_deref()).await;
        let mut relay = Relay {
            api,
            env,
            server,
            worker: None,
            db,
            queues,
            logs,
        };
        relay.start_worker();
        relay
    }

    /// One more `openclaw-server` on another port, with the same database, queues and
    /// settings (stopped when dropped), and a client of it.
    pub async fn spawn_server(&self) -> (Process, Api) {
        start_server(&self.env, free_port(), None).await
    }

    /// What the server has logged so far (a relay started with [`Relay::start_logged`]).
    pub fn server_log(&self) -> String {
        self.log("server.log")
    }

    /// What the workers have logged so far (a relay started with [`Relay::start_logged`]).
    pub fn worker_log(&self) -> String {
        self.log("worker.log")
    }

    fn log(&self, name: &str) -> String {
        let dir = self
            .logs
            .as_ref()
            .expect("a relay started with start_logged");
        std::fs::read_to_string(dir.join(name)).unwrap_or_default()
    }

    pub fn start_worker(&mut self) {
        self.worker = Some(self.spawn_worker());
    }

    /// One more worker process on the same database and queues (stopped when dropped).
    pub fn spawn_worker(&self) -> Process {
        let mut cmd = Command::new(binary("openclaw-worker"));
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let log = self.logs.as_ref().map(|d| d.join("worker.log"));
        Process::spawn_logged("openclaw-worker", cmd, log.as_deref())
    }

    /// Stops the worker with a signal ("TERM" drains, "KILL" does not).
    pub fn stop_worker(&mut self, signal: &str) -> Option<std::process::ExitStatus> {
        self.worker.take().and_then(|mut w| w.stop(signal))
    }

    /// Creates a platform staff account with `role` in this relay's database and signs it in;
    /// returns the access token.
    pub async fn staff(&self, role: openclaw_core::domain::Role) -> String {
        self.api.staff_in(&self.db.url, role).await
    }

    /// Stops the processes; the database and queues go when the value is dropped.
    pub async fn cleanup(mut self) {
        self.stop_worker("TERM");
        self.server.stop("TERM");
    }
}

impl std::ops::Deref for Relay {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}
