//! The pages render on the server, with labelled fields, and work without a session where they
//! should; the signed-in flows are tested against the full server in e2e/.

use actix_web::{App, test};

async fn get(path: &str) -> (u16, String, String) {
    let app = test::init_service(App::new().configure(openclaw_web::configure)).await;
    let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    (status, location, body)
}

#[actix_web::test]
async fn sign_in_and_sign_up_render_labelled_forms() {
    let (status, _, html) = get("/sign-in").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<label for="email">Email</label>"#),
        "{html}"
    );
    assert!(html.contains(r#"<label for="password">Password</label>"#));
    assert!(html.contains(r#"action="/sign-in""#) && html.contains(r#"method="post""#));
    assert!(html.contains(r#"href="/assets/app.css""#));
    assert!(html.contains("<title>Sign in — OpenClaw</title>"), "{html}");

    let (status, _, html) = get("/sign-up").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<label for="tenant_name">Company name</label>"#),
        "{html}"
    );
    assert!(html.contains(r#"action="/sign-up""#));
}

#[actix_web::test]
async fn the_dashboard_without_a_session_redirects_to_sign_in() {
    let (status, location, _) = get("/dashboard").await;
    assert_eq!(status, 303);
    assert_eq!(location, "/sign-in");
}

#[actix_web::test]
async fn the_stylesheet_is_served_as_css() {
    let app = test::init_service(App::new().configure(openclaw_web::configure)).await;
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/assets/app.css").to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(test::read_body(res).await.len() > 500);
}
