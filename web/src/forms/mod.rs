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
pub mod opt_outs;
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

/// A CSV list posted as a file upload or pasted (`multipart/form-data`, the parts
/// `{prefix}file` and `{prefix}csv`; a file with anything in it wins), at most 2 MB of UTF-8.
/// `what` names the list in the sentences of an upload gone wrong.
pub(crate) async fn read_csv_upload(
    mut form: actix_multipart::Multipart,
    prefix: &str,
    what: &str,
) -> Result<String, String> {
    use futures::StreamExt;
    const LIMIT: usize = 2 * 1024 * 1024;
    let (mut file, mut pasted) = (Vec::new(), Vec::new());
    while let Some(part) = form.next().await {
        let mut part = part.map_err(|e| format!("The upload could not be read: {e}."))?;
        let name = part
            .content_disposition()
            .and_then(|d| d.get_name())
            .unwrap_or_default()
            .to_owned();
        let target = match name.strip_prefix(prefix) {
            Some("file") => &mut file,
            Some("csv") => &mut pasted,
            _ => continue,
        };
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|e| format!("The upload could not be read: {e}."))?;
            if target.len() + chunk.len() > LIMIT {
                return Err(format!("{what} is over 2 MB."));
            }
            target.extend_from_slice(&chunk);
        }
    }
    let chosen = if file.iter().any(|b| !b.is_ascii_whitespace()) {
        file
    } else {
        pasted
    };
    String::from_utf8(chosen).map_err(|_| format!("{what} is not UTF-8 text."))
}
