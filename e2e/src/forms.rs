//! The admin app over plain HTTP, used the way a browser uses it: forms posted URL-encoded (or
//! as `multipart/form-data`, the price upload) from the app's own origin (the `Origin`
//! header), with the session cookies its sign-in form set, and without following the answer's
//! redirect: each post answers 303, and what happened travels in the flash cookie (the field
//! at fault and its sentence, or a success note). For tests that drive a resource through both
//! doors (the API and the admin app) and compare, and for the admin app's route walker.

use base64::Engine;
use serde_json::{Value, json};

use crate::app::Api;

/// An admin-app session: the cookies the sign-in form set (or none: signed out).
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

/// What the admin app answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Where a redirect goes (empty when it is not one).
    pub location: String,
    pub flash: Option<Flash>,
    pub body: String,
}

impl Answer {
    async fn of(res: reqwest::Response) -> Answer {
        Answer {
            status: res.status().as_u16(),
            location: res
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            flash: flash(&res),
            body: res.text().await.unwrap_or_default(),
        }
    }

    /// The flash's field and message, if one was set.
    pub fn note(&self) -> Option<(Option<String>, String)> {
        self.flash
            .as_ref()
            .map(|f| (f.field.clone(), f.message.clone()))
    }

    /// The field and message of an error flash (panics on anything else).
    pub fn error(&self) -> (String, String) {
        match self.note() {
            Some((Some(field), message)) if field != "saved" => (field, message),
            other => panic!("expected an error flash, got {other:?} ({self:?})"),
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

impl Api {
    /// Signs in through the admin app's sign-in form (panics unless it lands on a page of the
    /// app with a session).
    pub async fn admin_session(&self, email: &str, password: &str) -> AdminSession {
        let http = client();
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

    /// A browser session carrying an access token the API handed out (the session cookie is
    /// that token).
    pub fn admin_session_of(&self, access_token: &str) -> AdminSession {
        AdminSession {
            address: self.address.clone(),
            http: client(),
            cookie: format!("oc_session={access_token}"),
        }
    }

    /// A browser that is not signed in.
    pub fn signed_out_browser(&self) -> AdminSession {
        AdminSession {
            address: self.address.clone(),
            http: client(),
            cookie: String::new(),
        }
    }
}

impl AdminSession {
    /// One mistake through both doors: the API answered `status` and `api` (400
    /// `invalid_field` naming `field`), and the form posted to `path` with `fields` goes back to
    /// `back` with a flash naming the same field with the same sentence.
    pub async fn assert_same_mistake(
        &self,
        (status, api): (u16, &Value),
        path: &str,
        fields: &[(&str, &str)],
        back: &str,
        field: &str,
    ) {
        assert_eq!(status, 400, "{fields:?}: {api}");
        assert_eq!(api["error"]["code"], "invalid_field", "{fields:?}: {api}");
        assert_eq!(api["error"]["field"], field, "{fields:?}: {api}");
        let (to, flash) = self.submit(path, fields).await;
        assert_eq!(to, back, "{fields:?}");
        let flash = flash.unwrap_or_else(|| panic!("{fields:?}: no flash"));
        assert_eq!(flash.field.as_deref(), Some(field), "{fields:?}: {flash:?}");
        // A NUL in the sentence comes escaped in the JSON text.
        let sentence = api["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .replace("\\u0000", "\0");
        assert_eq!(
            flash.message, sentence,
            "{fields:?}: the form and the API disagree"
        );
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.address));
        if self.cookie.is_empty() {
            req
        } else {
            req.header("Cookie", self.cookie.clone())
        }
    }

    /// Posts `form` to the admin app's `path` (e.g. `/api-keys`) from its own origin.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.post_from(Some(&self.address), path, form).await
    }

    /// Posts `form` with `origin` as the `Origin` header (None: no `Origin` or `Referer`).
    pub async fn post_from(
        &self,
        origin: Option<&str>,
        path: &str,
        form: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.request(reqwest::Method::POST, path).form(form);
        if let Some(origin) = origin {
            req = req.header("Origin", origin);
        }
        Answer::of(req.send().await.expect("form posted")).await
    }

    /// A `multipart/form-data` post (the price form): `(name, file name, content)`.
    pub async fn post_multipart(&self, path: &str, parts: &[(&str, Option<&str>, &str)]) -> Answer {
        self.post_multipart_from(Some(&self.address), path, parts)
            .await
    }

    /// A `multipart/form-data` post with `origin` as the `Origin` header (None: no `Origin` or
    /// `Referer`).
    pub async fn post_multipart_from(
        &self,
        origin: Option<&str>,
        path: &str,
        parts: &[(&str, Option<&str>, &str)],
    ) -> Answer {
        let boundary = format!("----openclaw{}", uuid::Uuid::new_v4().simple());
        let mut body = String::new();
        for (name, file, content) in parts {
            body.push_str(&format!("--{boundary}\r\n"));
            match file {
                Some(file) => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: text/csv\r\n\r\n"
                )),
                None => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                )),
            }
            body.push_str(content);
            body.push_str("\r\n");
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let mut req = self
            .request(reqwest::Method::POST, path)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        if let Some(origin) = origin {
            req = req.header("Origin", origin);
        }
        Answer::of(req.send().await.expect("form posted")).await
    }

    /// Posts `form` and returns where it redirected to and its flash (panics unless 303).
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> (String, Option<Flash>) {
        let answer = self.post(path, form).await;
        assert_eq!(answer.status, 303, "POST {path} (form): {answer:?}");
        (answer.location, answer.flash)
    }

    /// Loads a page (GET), without following a redirect.
    pub async fn get(&self, path: &str) -> Answer {
        let res = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("page loaded");
        Answer::of(res).await
    }

    /// A page's HTML (panics unless 200), showing the flash `after` a form's answer carried,
    /// as the browser following that answer's redirect would.
    pub async fn page(&self, path: &str, after: Option<&Answer>) -> String {
        let mut cookies = vec![self.cookie.clone()];
        if let Some(flash) = after.and_then(|a| a.flash.as_ref()) {
            let flash = json!({"form": flash.form, "field": flash.field,
                "message": flash.message, "values": []});
            let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&flash).expect("json"));
            cookies.push(format!("oc_flash={value}"));
        }
        cookies.retain(|c| !c.is_empty());
        let mut req = self.http.get(format!("{}{path}", self.address));
        if !cookies.is_empty() {
            req = req.header("Cookie", cookies.join("; "));
        }
        let res = req.send().await.expect("page loaded");
        assert_eq!(res.status(), 200, "{path}");
        res.text().await.expect("a page")
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
