//! Every response carries `X-Request-Id`: the caller's when it is sane, else a new one —
//! API routes, errors, 404s, the admin app's pages and the provider hooks alike.

use openclaw_e2e::app::TestApp;
use reqwest::header::HeaderValue;

fn echoed(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on a {} answer", res.status()))
        .to_str()
        .expect("a readable request id")
        .to_owned()
}

/// A request id the server made: a UUID.
fn assert_made(id: &str) {
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "{id:?} is not a made-up id"
    );
}

#[tokio::test]
async fn a_request_without_an_id_gets_a_new_one_each_time() {
    let app = TestApp::spawn().await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let res = app.http.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let id = echoed(&res);
        assert_made(&id);
        seen.push(id);
    }
    assert_ne!(seen[0], seen[1]);

    // The document says so on every response.
    let doc: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut responses = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                let header = &response["headers"]["X-Request-Id"];
                assert_eq!(header["schema"]["type"], "string", "{status}: {response}");
                responses += 1;
            }
        }
    }
    assert!(responses > 100, "{responses} responses documented");
    app.cleanup().await;
}

#[tokio::test]
async fn a_sane_id_is_echoed_and_any_other_is_replaced() {
    let app = TestApp::spawn().await;
    let get = |value: HeaderValue| {
        app.http
            .get(app.url("/healthz"))
            .header("X-Request-Id", value)
            .send()
    };
    for sane in ["abc-123", "trace:1.2_3", &"x".repeat(128)] {
        let res = get(HeaderValue::from_str(sane).unwrap()).await.unwrap();
        assert_eq!(echoed(&res), sane);
    }
    let too_long = "x".repeat(129);
    let insane = [
        HeaderValue::from_str(&too_long).unwrap(),
        HeaderValue::from_static("has space"),
        HeaderValue::from_str("tab\there").unwrap(),
        HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        HeaderValue::from_static("\"quoted\""),
        HeaderValue::from_static(""),
    ];
    for value in insane {
        let res = get(value.clone()).await.unwrap();
        assert_eq!(res.status(), 200);
        let id = echoed(&res);
        assert_made(&id);
        assert_ne!(id.as_bytes(), value.as_bytes());
    }
    app.cleanup().await;
}

#[tokio::test]
async fn errors_pages_and_hooks_carry_the_request_id() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let key = app.api_key(&owner, "live").await;
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        // No route at all, and a route that takes other methods.
        (app.http.get(app.url("/v1/nothing-here")), 404),
        (app.http.delete(app.url("/v1/messages")), 405),
        // No credentials, and credentials that are not a key.
        (app.http.get(app.url("/v1/messages")), 401),
        (
            app.http
                .get(app.url("/v1/messages"))
                .bearer_auth("oc_live_nope"),
            401,
        ),
        // Bad input, refused by a handler and by a middleware.
        (
            app.http
                .post(app.url("/v1/messages"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
        ),
        (
            app.http
                .get(app.url("/v1/messages?status=%00"))
                .bearer_auth(&key),
            400,
        ),
        (
            app.http
                .get(app.url("/v1/messages/msg_01JD2X4N9X4S0M6ZQ4C3W5Y8RT"))
                .bearer_auth(&key),
            404,
        ),
        // The admin app's pages, and a provider hook for no provider.
        (app.http.get(app.url("/sign-in")), 200),
        (
            app.http
                .post(app.url("/hooks/providers/prv_01JD2X4N9X4S0M6ZQ4C3W5Y8RT/status"))
                .form(&[("MessageStatus", "delivered")]),
            404,
        ),
    ];
    for (i, (request, status)) in cases.into_iter().enumerate() {
        let sent = format!("req-{i}");
        let res = request.header("X-Request-Id", &sent).send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "case {i}");
        assert_eq!(echoed(&res), sent, "case {i}");
    }
    app.cleanup().await;
}
