//! A real headless Chromium driven over WebDriver (chromedriver + fantoccini), with JavaScript
//! on or off, and screenshots saved under `target/screenshots/` for reviewers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::procs::Process;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str = "install them with: apt-get install -y chromium chromium-driver";

pub struct Browser {
    pub client: Client,
    pub javascript: bool,
    _driver: Process,
    _profile: tempdir::TempDir,
}

mod tempdir {
    /// Chromium's profile directory. When dropped (a test that ends, or panics half-way),
    /// every Chromium process started with it is killed first: utility processes otherwise
    /// outlive chromedriver and keep using CPU. Then the directory is removed.
    pub struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::process::Command::new("pkill")
                .arg("-KILL")
                .arg("-f")
                .arg(self.0.as_os_str())
                .status();
            // Dying processes may still write into it for a moment.
            for _ in 0..40 {
                let _ = std::fs::remove_dir_all(&self.0);
                if !self.0.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

impl Browser {
    pub async fn start(javascript: bool) -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(Path::new(bin).exists(), "{bin} is missing; {INSTALL}");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let driver = Process::spawn("chromedriver", cmd);
        let profile = std::env::temp_dir().join(format!(
            "openclaw-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut prefs = serde_json::Map::new();
        if !javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": prefs,
            }
        });
        let caps = match caps {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a JSON object"),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        javascript,
                        _driver: driver,
                        _profile: tempdir::TempDir(profile),
                    };
                }
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not start headless Chromium through chromedriver: {last_error}; {INSTALL}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigating");
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current URL")
            .path()
            .to_owned()
    }

    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("its text")
    }

    /// The text of the first element matching a CSS selector.
    pub async fn text_of(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .text()
            .await
            .expect("its text")
    }

    /// Types into the input with this id, replacing what is there (for a file input: the
    /// path of the file to upload).
    pub async fn fill(&self, id: &str, value: &str) {
        let input = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no input #{id}: {e}"));
        if input.attr("type").await.ok().flatten().as_deref() != Some("file") {
            input.clear().await.expect("clearing an input");
        }
        input.send_keys(value).await.expect("typing");
    }

    /// Clicks the first element matching a CSS selector (a submit button, a link) and waits
    /// until the page it leads to has replaced this one.
    pub async fn click(&self, css: &str) {
        let old_body = self
            .client
            .find(Locator::Css("body"))
            .await
            .expect("a body");
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("nothing matches {css}: {e}"));
        el.click().await.expect("clicking");
        // The old page's elements go stale once the browser has navigated.
        for _ in 0..200 {
            if old_body.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("body"))
            .await;
    }

    /// The value of the input with this id.
    pub async fn value(&self, id: &str) -> String {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id}: {e}"))
            .prop("value")
            .await
            .expect("its value")
            .unwrap_or_default()
    }

    /// The text of the page's navigation.
    pub async fn nav_text(&self) -> String {
        self.client
            .find(Locator::Css("nav"))
            .await
            .expect("a navigation")
            .text()
            .await
            .expect("its text")
    }

    /// Reloads `url` until its text contains `wanted` (30 s at most); returns the text.
    pub async fn wait_for_text(&self, url: &str, wanted: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            self.goto(url).await;
            let text = self.text().await;
            if text.contains(wanted) {
                return text;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{url} never showed {wanted:?}: {text}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Signs in through the sign-in page at `url`.
    pub async fn sign_in(&self, url: &str, email: &str, password: &str) {
        self.goto(url).await;
        self.fill("email", email).await;
        self.fill("password", password).await;
        self.click("form.form button[type=submit]").await;
    }

    /// Saves a screenshot as `target/screenshots/<name>-js-on|off.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let suffix = if self.javascript { "js-on" } else { "js-off" };
        let path = screenshot_dir().join(format!("{name}-{suffix}.png"));
        std::fs::write(&path, png).expect("writing a screenshot");
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
