//! The admin app's forms over plain HTTP, posted the way a browser posts them: URL-encoded,
//! from the app's own origin (the `Origin` header), with the session cookies its sign-in form
//! set, and without following the answer's redirect: each post answers 303, and what happened
//! travels in the flash cookie (the field at fault and its sentence, or a success note).
//! For tests that drive a resource through both doors (the API and the admin app) and compare.

use base64::Engine;
use serde_json::Value;

use crate::app::Api;

/// A signed-in admin-app session: the cookies the sign-in form set.
pub struct AdminSession {
    address: String,
    http: reqwest::Client,
    cookie: String,
}

/// What a form post reported through the flash cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub form: String,
    /// The field at fault; `created`, `saved` … for success notes; None for a general note.
    pub field: Option<String>,
    pub message: String,
}

impl Api {
    /// Signs in through the admin app's sign-in form (panics unless it lands on a page of the
    /// app with a session).
    pub async fn admin_session(&self, email: &str, password: &str) -> AdminSession {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let res = http
            .post(self.url("/sign-in"))
            .header("Origin", self.address.clone())
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("sign-in form posted");
        assert_eq!(res.status(), 303, "sign-in form");
        let cookie: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_owned))
            .filter(|c| c.starts_with("oc_session=") || c.starts_with("oc_refresh="))
            .collect();
        assert_eq!(
            cookie.len(),
            2,
            "the sign-in form set no session: {cookie:?}"
        );
        AdminSession {
            address: self.address.clone(),
            http,
            cookie: cookie.join("; "),
        }
    }
}

impl AdminSession {
    /// Posts `form` to the admin app's `path` (e.g. `/api-keys`).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .header("Origin", self.address.clone())
            .header("Cookie", self.cookie.clone())
            .form(form)
            .send()
            .await
            .expect("form posted")
    }

    /// Posts `form` and returns where it redirected to and its flash (panics unless 303).
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> (String, Option<Flash>) {
        let res = self.post(path, form).await;
        assert_eq!(res.status(), 303, "POST {path} (form)");
        let location = res.headers()["location"]
            .to_str()
            .expect("a location")
            .to_owned();
        (location, flash(&res))
    }
}

/// The flash cookie an admin-app answer set, if any.
pub fn flash(res: &reqwest::Response) -> Option<Flash> {
    let value = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.strip_prefix("oc_flash="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .find(|c| !c.is_empty())?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .expect("the flash cookie is base64");
    let flash: Value = serde_json::from_slice(&json).expect("the flash cookie is JSON");
    Some(Flash {
        form: flash["form"].as_str().unwrap_or_default().to_owned(),
        field: flash["field"].as_str().map(str::to_owned),
        message: flash["message"].as_str().unwrap_or_default().to_owned(),
    })
}
