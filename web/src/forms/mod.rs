//! The admin app's form posts, one module per area. Each is a plain URL-encoded
//! `<form method="post">`, so it works without JavaScript: on success it redirects (303) to
//! the next page, on failure back to the form, with the message for the field at fault carried
//! in a short-lived cookie. Every post passes the one form guard (`guard`: same origin,
//! session, role, as `crate::routes::FORMS` says), calls one core service, and maps the
//! service's typed error to the flash through the one mapping (`flash::Flashable`).

pub mod auth;
pub mod billing;
pub mod budget;
pub(crate) mod flash;
pub mod guard;
pub mod keys;
pub mod members;
pub mod messages;
pub mod providers;
pub mod settings;
pub mod webhooks;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// A URL-encoded form as posted.
pub(crate) type Fields = web::Form<Vec<(String, String)>>;

/// A field of a posted form (empty when absent).
pub(crate) fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

pub(crate) fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, to.to_owned()));
    res
}

/// A comma-separated list of sender ids as typed.
pub(crate) fn split_senders(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
