//! Inbound messages and opt-outs: replies posted by the provider simulator in Twilio's and
//! Vonage's wire formats, signed (and forged), stored once however often they come, STOP and
//! START changing the opt-outs, sends to opted-out numbers refused with 422, and the
//! opt-outs API (one by one, CSV in and out, roles, tenants apart).

use std::time::Duration;

use openclaw_e2e::app::{Api, Options, Owner, TestApp};
use openclaw_e2e::receiver::Receiver;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const TWILIO_TOKEN: &str = "f00dfeedf00dfeedf00dfeedf00d1234";
const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Has the simulator post an inbound message to the app's hook; the hook's status and body.
async fn text_in(http: &reqwest::Client, sim: &str, order: Value) -> (u16, Value) {
    let res = http
        .post(format!("{sim}/_sim/inbound"))
        .json(&order)
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(res.status(), 200, "the simulator could not post");
    let answer: Value = res.json().await.unwrap();
    let status = answer["status"].as_u64().unwrap() as u16;
    (status, answer)
}

async fn page(api: &Api, path: &str, token: &str) -> Vec<Value> {
    let (status, body) = json_of(api.get(path, token).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].as_array().unwrap().clone()
}

async fn twilio_provider(api: &Api, owner: &Owner) -> String {
    api.provider(
        owner,
        "twilio",
        json!({"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN}),
        None,
        &[("*", "0.0070")],
    )
    .await
}

#[tokio::test]
async fn replies_are_stored_once_and_stop_and_start_opt_the_sender_out_and_in() {
    let app = TestApp::spawn_with(Options {
        extra_env: vec![
            ("OPENCLAW_ALLOW_HTTP_WEBHOOKS", "1".to_owned()),
            ("OPENCLAW_ALLOW_PRIVATE_WEBHOOKS", "1".to_owned()),
        ],
        ..Options::default()
    })
    .await;
    let sim = openclaw_e2e::sim::spawn("127.0.0.1:0").await.unwrap();
    let rx = Receiver::spawn().await;
    let owner = app.api.signup().await;
    let token = &owner.access_token;
    let (status, hook) = json_of(
        app.api
            .post(
                "/v1/webhooks",
                token,
                &json!({"url": rx.url("/events"), "events": ["message.inbound", "opt_out.changed"]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    rx.set_secrets(&[hook["secret"].as_str().unwrap()]);
    let twilio = twilio_provider(&app.api, &owner).await;
    // Sends go to the sandbox (cheaper); replies come in on the Twilio number.
    app.api
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let key = app.api.api_key(&owner, "live").await;
    let hook_url = app.api.url(&format!("/hooks/providers/{twilio}/inbound"));
    let person = "+4915112345678";
    let ours = "+14155550100";
    let order = |text: &str, id: &str| {
        json!({"provider": "twilio", "url": hook_url, "account": TWILIO_SID,
               "secret": TWILIO_TOKEN, "from": person, "to": ours, "text": text,
               "message_id": id})
    };
    let http = reqwest::Client::new();
    let base = sim.base_url();

    // A reply is stored and answered with empty TwiML; Twilio resending it changes nothing.
    let (status, answer) = text_in(&http, &base, order("Hello there", "SM0001")).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["body"]
            .as_str()
            .unwrap()
            .contains("<Response></Response>")
    );
    let (status, _) = text_in(&http, &base, order("Hello there", "SM0001")).await;
    assert_eq!(status, 200);
    let listed = page(&app.api, "/v1/inbound", token).await;
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["from"], person);
    assert_eq!(listed[0]["to"], ours);
    assert_eq!(listed[0]["body"], "Hello there");
    assert_eq!(listed[0]["provider_id"], twilio.as_str());
    assert_eq!(listed[0]["provider_message_id"], "SM0001");
    assert_eq!(listed[0]["keyword"], Value::Null);
    assert!(listed[0]["id"].as_str().unwrap().starts_with("inb_"));

    // A forged or unsigned one is refused and not stored.
    let mut forged = order("STOP", "SM0002");
    forged["secret"] = json!("not-the-auth-token");
    let (status, answer) = text_in(&http, &base, forged).await;
    assert_eq!(status, 401, "{answer}");
    let mut unsigned = order("STOP", "SM0003");
    unsigned["secret"] = Value::Null;
    assert_eq!(text_in(&http, &base, unsigned).await.0, 401);
    assert_eq!(page(&app.api, "/v1/inbound", token).await.len(), 1);
    assert!(page(&app.api, "/v1/opt-outs", token).await.is_empty());

    // STOP (any case, spaces around) opts the sender out: sends to it are refused at accept.
    assert_eq!(
        text_in(&http, &base, order("  stop ", "SM0004")).await.0,
        200
    );
    let opted = page(&app.api, "/v1/opt-outs", token).await;
    assert_eq!(opted.len(), 1, "{opted:#?}");
    assert_eq!(opted[0]["number"], person);
    assert_eq!(opted[0]["source"], "inbound");
    let (status, refused) = json_of(
        app.api
            .post(
                "/v1/messages",
                &key,
                &json!({"to": "+49 151 12345678", "body": "sale!"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "recipient_opted_out");
    assert_eq!(refused["error"]["field"], "to");
    // In a batch, only its entry.
    let (status, batch) = json_of(
        app.api
            .post(
                "/v1/messages/batch",
                &key,
                &json!({"messages": [{"to": person, "body": "a"}, {"to": "+14155552671", "body": "b"}]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 202, "{batch}");
    assert_eq!(
        batch["data"][0]["error"]["code"], "recipient_opted_out",
        "{batch}"
    );
    assert_eq!(
        batch["data"][0]["error"]["field"], "messages[0].to",
        "{batch}"
    );
    assert_eq!(batch["data"][1]["status"], "queued", "{batch}");
    // Nothing was stored for it, so nothing is charged or sent.
    let messages = page(&app.api, "/v1/messages?limit=200", &key).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["to"], "+14155552671");

    // START opts back in; HELP changes nothing.
    assert_eq!(text_in(&http, &base, order("HELP", "SM0005")).await.0, 200);
    assert_eq!(page(&app.api, "/v1/opt-outs", token).await.len(), 1);
    assert_eq!(text_in(&http, &base, order("Start", "SM0006")).await.0, 200);
    assert!(page(&app.api, "/v1/opt-outs", token).await.is_empty());
    let (status, sent) = json_of(
        app.api
            .post(
                "/v1/messages",
                &key,
                &json!({"to": person, "body": "welcome back"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 202, "{sent}");

    // Filters and pages.
    let stored = page(&app.api, "/v1/inbound", token).await;
    assert_eq!(stored.len(), 4, "{stored:#?}");
    let keywords: Vec<&Value> = stored.iter().map(|m| &m["keyword"]).collect();
    assert_eq!(
        keywords,
        [
            &json!("opt_in"),
            &json!("help"),
            &json!("opt_out"),
            &Value::Null
        ]
    );
    assert_eq!(
        page(&app.api, "/v1/inbound?from=%2B4915112345678", token)
            .await
            .len(),
        4
    );
    assert!(
        page(&app.api, "/v1/inbound?to=%2B14155552671", token)
            .await
            .is_empty()
    );
    let (status, first) = json_of(app.api.get("/v1/inbound?limit=3", token).await).await;
    assert_eq!(status, 200);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let rest = page(
        &app.api,
        &format!("/v1/inbound?limit=3&cursor={cursor}"),
        token,
    )
    .await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["provider_message_id"], "SM0001");
    let (status, bad) = json_of(app.api.get("/v1/inbound?from=12", token).await).await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["field"], "from");

    // The tenant's endpoint heard of each message once and of both changes, signed.
    rx.wait_until("4 inbound and 2 opt-out events", WAIT, |got| {
        got.iter().filter(|r| r.kind() == "message.inbound").count() >= 4
            && got.iter().filter(|r| r.kind() == "opt_out.changed").count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.received();
    assert!(got.iter().all(|r| r.verified()), "{got:#?}");
    assert_eq!(
        got.iter().filter(|r| r.kind() == "message.inbound").count(),
        4,
        "{got:#?}"
    );
    let changes: Vec<&Value> = got
        .iter()
        .filter(|r| r.kind() == "opt_out.changed")
        .map(|r| &r.event["data"])
        .collect();
    assert_eq!(changes.len(), 2, "{changes:#?}");
    assert!(
        changes
            .iter()
            .any(|d| d["opted_out"] == true && d["number"] == person)
    );
    assert!(
        changes
            .iter()
            .any(|d| d["opted_out"] == false && d["source"] == "inbound")
    );
    let hello = got
        .iter()
        .find(|r| r.kind() == "message.inbound" && r.event["data"]["body"] == "Hello there")
        .unwrap();
    assert_eq!(
        hello.event["data"], stored[3],
        "the event is in the shape GET /v1/inbound lists"
    );
    drop(got);
    sim.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn vonage_replies_are_checked_against_the_accounts_signature_secret() {
    let app = TestApp::spawn().await;
    let sim = openclaw_e2e::sim::spawn("127.0.0.1:0").await.unwrap();
    let owner = app.api.signup().await;
    let token = &owner.access_token;
    let secret = "vonage-signature-secret-2";
    let signed = app
        .api
        .provider(
            &owner,
            "vonage",
            json!({"api_key": "abcd1234", "api_secret": "vonage-api-secret",
                   "signature_secret": secret, "signature_method": "sha256"}),
            None,
            &[("*", "0.0060")],
        )
        .await;
    let plain = app
        .api
        .provider(
            &owner,
            "vonage",
            json!({"api_key": "efgh5678", "api_secret": "vonage-api-secret"}),
            None,
            &[("*", "0.0060")],
        )
        .await;
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let url = |p: &str| app.api.url(&format!("/hooks/providers/{p}/inbound"));
    let order = |p: &str, account: &str, secret: Option<&str>, text: &str, form: bool| {
        json!({"provider": "vonage", "url": url(p), "account": account, "secret": secret,
               "method": "sha256", "from": "+447911123456", "to": "+447911123400",
               "text": text, "form": form})
    };
    // Signed as the account signs (JSON and form), accepted; unsigned or forged, refused.
    let (status, a) = text_in(
        &http,
        &base,
        order(&signed, "abcd1234", Some(secret), "UNSUBSCRIBE", false),
    )
    .await;
    assert_eq!(status, 204, "{a}");
    assert_eq!(
        text_in(
            &http,
            &base,
            order(&signed, "abcd1234", Some(secret), "thanks", true)
        )
        .await
        .0,
        204
    );
    let (status, a) = text_in(&http, &base, order(&signed, "abcd1234", None, "hi", false)).await;
    assert_eq!(status, 401, "{a}");
    let (status, _) = text_in(
        &http,
        &base,
        order(&signed, "abcd1234", Some("wrong"), "hi", false),
    )
    .await;
    assert_eq!(status, 401);
    // An account that does not sign takes unsigned ones.
    assert_eq!(
        text_in(
            &http,
            &base,
            order(&plain, "efgh5678", None, "hello", false)
        )
        .await
        .0,
        204
    );
    let stored = page(&app.api, "/v1/inbound", token).await;
    assert_eq!(stored.len(), 3, "{stored:#?}");
    assert!(
        stored
            .iter()
            .all(|m| m["from"] == "+447911123456" && m["to"] == "+447911123400")
    );
    let opted = page(&app.api, "/v1/opt-outs", token).await;
    assert_eq!(opted.len(), 1, "{opted:#?}");
    assert_eq!(opted[0]["number"], "+447911123456");
    // Not an inbound message at all.
    let res = http
        .post(url(&plain))
        .json(&json!({"status": "delivered"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_inbound");
    sim.stop().await;
    app.cleanup().await;
}

#[tokio::test]
async fn opt_outs_are_managed_through_the_api_in_json_and_csv_by_role_and_per_tenant() {
    let app = TestApp::spawn().await;
    let owner = app.api.signup().await;
    let token = &owner.access_token;
    let other = app.api.signup().await;
    for o in [&owner, &other] {
        app.api
            .provider(o, "sandbox", json!({}), None, &[("*", "0.0050")])
            .await;
    }
    let key = app.api.api_key(&owner, "live").await;
    let test_key = app.api.api_key(&owner, "test").await;
    let other_key = app.api.api_key(&other, "live").await;

    let add = |number: &str| json!({"number": number});
    let (status, made) = json_of(
        app.api
            .post("/v1/opt-outs", token, &add("+1 (415) 555-2671"))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["number"], "+14155552671");
    assert_eq!(made["source"], "manual");
    let (status, again) = json_of(
        app.api
            .post("/v1/opt-outs", token, &add("+14155552671"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created_at"], made["created_at"]);
    for bad in ["4155552671", "+1 415", "call me"] {
        let (status, body) = json_of(app.api.post("/v1/opt-outs", token, &add(bad)).await).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["field"], "number", "{bad}: {body}");
    }
    // Live and test-mode sends to it are refused; another tenant's are not.
    for k in [&key, &test_key] {
        let (status, body) = json_of(
            app.api
                .post(
                    "/v1/messages",
                    k,
                    &json!({"to": "+14155552671", "body": "x"}),
                )
                .await,
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "recipient_opted_out");
    }
    let (status, _) = json_of(
        app.api
            .post(
                "/v1/messages",
                &other_key,
                &json!({"to": "+14155552671", "body": "x"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 202);
    assert!(
        page(&app.api, "/v1/opt-outs", &other.access_token)
            .await
            .is_empty()
    );

    // Roles: everyone reads, owners, admins and developers change.
    let (_, viewer) = app.api.member(&owner, "viewer").await;
    let (_, developer) = app.api.member(&owner, "developer").await;
    assert_eq!(page(&app.api, "/v1/opt-outs", &viewer).await.len(), 1);
    let (status, _) = json_of(
        app.api
            .post("/v1/opt-outs", &viewer, &add("+4915112345678"))
            .await,
    )
    .await;
    assert_eq!(status, 403);
    let res = app
        .api
        .http
        .delete(app.api.url("/v1/opt-outs/14155552671"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (status, _) = json_of(
        app.api
            .post("/v1/opt-outs", &developer, &add("+4915112345678"))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    // API keys are refused here.
    let res = app.api.get("/v1/opt-outs", &key).await;
    assert_eq!(res.status(), 401);

    // CSV in: checked whole first, the line at fault named, nothing added.
    let csv = |body: &str| {
        app.api
            .http
            .post(app.api.url("/v1/opt-outs"))
            .bearer_auth(token)
            .header("Content-Type", "text/csv")
            .body(body.to_owned())
            .send()
    };
    let (status, body) = json_of(
        csv("number,name\n+447911123456,Ann\nnope,Bob\n")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Line 3"),
        "{body}"
    );
    assert_eq!(page(&app.api, "/v1/opt-outs", token).await.len(), 2);
    let (status, body) = json_of(
        csv("number,name\n+447911123456,Ann\n+44 7911 123457,Bob\n+14155552671,Cy\n+447911123456,Ann\n")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"added": 2, "unchanged": 2}));

    // CSV out: every one, oldest first; it imports as it is.
    let res = app
        .api
        .http
        .get(app.api.url("/v1/opt-outs"))
        .bearer_auth(token)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "number,source,created_at");
    let numbers: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            "+14155552671",
            "+4915112345678",
            "+447911123456",
            "+447911123457"
        ]
    );
    assert!(lines[3].contains(",import,"), "{text}");
    let (status, body) = json_of(csv(&text).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"added": 0, "unchanged": 4}));

    // Pages, newest first.
    let (_, first) = json_of(app.api.get("/v1/opt-outs?limit=3", token).await).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = page(
        &app.api,
        &format!("/v1/opt-outs?limit=3&cursor={cursor}"),
        token,
    )
    .await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["number"], "+14155552671");

    // Removing opts back in (the `+` may be left out of the path); twice is 404.
    let delete = |n: &str| {
        app.api
            .http
            .delete(app.api.url(&format!("/v1/opt-outs/{n}")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(delete("14155552671").await.unwrap().status(), 204);
    let (status, body) = json_of(delete("%2B14155552671").await.unwrap()).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = json_of(delete("hello").await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    let (status, sent) = json_of(
        app.api
            .post(
                "/v1/messages",
                &key,
                &json!({"to": "+14155552671", "body": "x"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    // Another tenant cannot remove this tenant's.
    let res = app
        .api
        .http
        .delete(app.api.url("/v1/opt-outs/4915112345678"))
        .bearer_auth(&other.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(page(&app.api, "/v1/opt-outs", token).await.len(), 3);
    app.cleanup().await;
}

#[tokio::test]
async fn a_tenant_may_send_its_otp_and_transactional_messages_to_opted_out_numbers_never_marketing()
{
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let owner = app.api.signup().await;
    let token = &owner.access_token;
    app.api
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let key = app.api.api_key(&owner, "live").await;
    let person = "+4915112345678";
    let (status, _) = json_of(
        app.api
            .post("/v1/opt-outs", token, &json!({"number": person}))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    let send = |message_type: &'static str| {
        let api = &app.api;
        let key = key.clone();
        async move {
            json_of(
                api.post(
                    "/v1/messages",
                    &key,
                    &json!({"to": person, "body": "x", "message_type": message_type}),
                )
                .await,
            )
            .await
            .0
        }
    };
    let exempt = |types: Value| {
        let api = &app.api;
        async move {
            let res = api
                .http
                .patch(api.url("/v1/settings"))
                .bearer_auth(token)
                .json(&json!({"opt_out_exempt_types": types}))
                .send()
                .await
                .unwrap();
            json_of(res).await
        }
    };

    // Off by default: every type is refused.
    for t in ["transactional", "otp", "marketing"] {
        assert_eq!(send(t).await, 422, "{t}");
    }
    let (status, settings) = exempt(json!(["otp"])).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["opt_out_exempt_types"], json!(["otp"]));
    assert_eq!(send("otp").await, 202);
    assert_eq!(send("transactional").await, 422);
    assert_eq!(send("marketing").await, 422);
    // Marketing cannot be exempted.
    let (status, refused) = exempt(json!(["otp", "marketing"])).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "opt_out_exempt_types");

    // The same under a hard-capped budget (the capped group commit), and in a batch per entry.
    let res = app
        .api
        .http
        .put(app.api.url("/v1/budget"))
        .bearer_auth(token)
        .json(&json!({"monthly_limit": {"amount": "100", "currency": "USD"}, "hard_cap": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = exempt(json!(["transactional", "otp"])).await;
    assert_eq!(status, 200);
    let (status, batch) = json_of(
        app.api
            .post(
                "/v1/messages/batch",
                &key,
                &json!({"messages": [
                    {"to": person, "body": "a", "message_type": "marketing"},
                    {"to": person, "body": "b"},
                    {"to": person, "body": "c", "message_type": "otp"},
                ]}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 202, "{batch}");
    assert_eq!(batch["data"][0]["error"]["code"], "recipient_opted_out");
    assert_eq!(batch["data"][1]["status"], "queued", "{batch}");
    assert_eq!(batch["data"][2]["status"], "queued", "{batch}");
    assert_eq!(send("marketing").await, 422);

    // Back off: refused again.
    let (status, _) = exempt(json!([])).await;
    assert_eq!(status, 200);
    assert_eq!(send("otp").await, 422);
    let sent = page(&app.api, "/v1/messages?limit=200", &key).await;
    let types: Vec<&str> = sent
        .iter()
        .map(|m| m["message_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["otp", "transactional", "otp"], "{sent:#?}");
    app.cleanup().await;
}
