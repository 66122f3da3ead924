//! The send path's storage, called directly on the per-test database: every statement that
//! changes a status obeys the one forward rule (`Status::may_become`) from every status a
//! message can be in, the SQL written out from that rule means in Postgres what it means in
//! Rust, and the database refuses the names the enums do not know.

use diesel::sql_types::{Bool, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use openclaw_core::db::messages::{self, Due, ReceiptApplied, ReceiptUpdate, Status};
use openclaw_e2e::app::{Options, TestApp};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    events: i32,
}

/// The stored status and how many status events the row has.
async fn state(conn: &mut AsyncPgConnection, id: Uuid) -> (Status, i32) {
    let row: Row = diesel::sql_query(
        "SELECT status, jsonb_array_length(events) AS events FROM messages WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await
    .unwrap();
    (Status::parse(&row.status).unwrap(), row.events)
}

/// Puts a message in `status`, unclaimed and not in doubt, in round 0.
async fn force(conn: &mut AsyncPgConnection, id: Uuid, status: Status) -> (Status, i32) {
    diesel::sql_query(
        "UPDATE messages SET status = $2, claimed_at = NULL, doubt_until = NULL, round = 0
         WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(status)
    .execute(conn)
    .await
    .unwrap();
    state(conn, id).await
}

/// After a statement: the status moved to `to` with one more event if the rule allows the
/// move from `from`, and nothing changed otherwise.
fn check(what: &str, from: Status, to: Status, before: (Status, i32), after: (Status, i32)) {
    if from.may_become(to) {
        assert_eq!(
            after,
            (to, before.1 + 1),
            "{what}: {from} → {to} is allowed"
        );
    } else {
        assert_eq!(after, before, "{what}: {from} → {to} is refused");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_change_follows_the_one_rule() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let provider = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let provider = openclaw_core::domain::ProviderId::parse(&provider)
        .unwrap()
        .uuid();
    let key = app.api_key(&owner, "live").await;
    let tenant = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid();
    let mut ids = Vec::new();
    for i in 0..Status::ALL.len() * 6 {
        let res = app
            .post(
                "/v1/messages",
                &key,
                &json!({"to": "+14155552671", "body": format!("s{i}")}),
            )
            .await;
        assert_eq!(res.status(), 202);
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ids.push(openclaw_core::domain::MessageId::parse(&id).unwrap().uuid());
    }
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    let mut next = ids.into_iter();
    let mut checked = 0;
    for from in Status::ALL {
        // Cancelling (the tenant's DELETE).
        let id = next.next().unwrap();
        let before = force(&mut conn, id, from).await;
        let answer = messages::cancel(&mut conn, tenant, id).await.unwrap();
        assert_eq!(
            matches!(answer, Some(Ok(_))),
            from.may_become(Status::Canceled)
        );
        check(
            "cancel",
            from,
            Status::Canceled,
            before,
            state(&mut conn, id).await,
        );

        // Claiming round 0: a retry round claims a message that is `sending` already, so
        // its status stays and no event is added.
        let id = next.next().unwrap();
        let before = force(&mut conn, id, from).await;
        let claimed = messages::claim(&mut conn, &[Due { id, round: 0 }])
            .await
            .unwrap();
        if from == Status::Sending {
            assert_eq!(claimed.len(), 1, "a retry round claims a sending message");
            assert_eq!(state(&mut conn, id).await, before);
        } else {
            assert_eq!(claimed.len(), usize::from(from.may_become(Status::Sending)));
            check(
                "claim",
                from,
                Status::Sending,
                before,
                state(&mut conn, id).await,
            );
        }

        // Each receipt a provider can send.
        for to in [Status::Sent, Status::Delivered, Status::Undelivered] {
            let id = next.next().unwrap();
            let before = force(&mut conn, id, from).await;
            let applied = messages::apply_receipts(
                &mut conn,
                &[ReceiptUpdate {
                    tenant_id: tenant,
                    message_id: id,
                    status: to,
                    provider_code: None,
                    error: None,
                    from: Some((provider, format!("SM{id}"))),
                }],
            )
            .await
            .unwrap();
            assert_eq!(
                matches!(applied[0], ReceiptApplied::Changed),
                from.may_become(to),
                "receipt {to} on {from}"
            );
            check("receipt", from, to, before, state(&mut conn, id).await);
        }

        // The relay releasing a message whose time came.
        let id = next.next().unwrap();
        let before = force(&mut conn, id, from).await;
        diesel::sql_query(
            "INSERT INTO message_outbox (message_id, round, due_at) VALUES ($1, 0, now())
             ON CONFLICT (message_id) DO UPDATE SET round = 0, due_at = now()",
        )
        .bind::<SqlUuid, _>(id)
        .execute(&mut conn)
        .await
        .unwrap();
        let due = messages::take_due(&mut conn, 1000).await.unwrap();
        assert!(due.contains(&Due { id, round: 0 }));
        check(
            "release",
            from,
            Status::Queued,
            before,
            state(&mut conn, id).await,
        );
        checked += 1;
    }
    assert_eq!(checked, Status::ALL.len());
    app.cleanup().await;
}

#[tokio::test]
async fn the_sql_rule_means_the_rust_rule_in_postgres() {
    let db = openclaw_e2e::services::TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Answer {
        #[diesel(sql_type = Bool)]
        ok: bool,
    }
    let sql = format!(
        "SELECT {} AS ok",
        Status::sql_may_become("$1::text", "$2::text")
    );
    let mut pairs = 0;
    for from in Status::ALL {
        for to in Status::ALL {
            let answer: Answer = diesel::sql_query(&sql)
                .bind::<Text, _>(from)
                .bind::<Text, _>(to)
                .get_result(&mut conn)
                .await
                .unwrap();
            assert_eq!(answer.ok, from.may_become(to), "{from} → {to}");
            pairs += 1;
        }
    }
    assert_eq!(pairs, 81);
    drop(conn);
    drop(db);
}

/// Sets `column` of every row of `table` to `value` in a transaction that is rolled back;
/// whether the database took it.
async fn takes(conn: &mut AsyncPgConnection, table: &str, column: &str, value: &str) -> bool {
    diesel::sql_query("BEGIN").execute(conn).await.unwrap();
    let took = diesel::sql_query(format!("UPDATE {table} SET {column} = $1"))
        .bind::<Text, _>(value)
        .execute(conn)
        .await
        .is_ok();
    diesel::sql_query("ROLLBACK").execute(conn).await.unwrap();
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_knows_exactly_the_names_the_enums_know() {
    use openclaw_core::domain::{Encoding, KeyMode, LedgerKind, MemberStatus, Role};
    use openclaw_core::providers::{AttemptOutcome, ProviderKind};
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let provider = app
        .provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let key = app.api_key(&owner, "live").await;
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "names"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    // One attempt, so that its table has a row to change.
    diesel::sql_query(
        "INSERT INTO message_attempts (message_id, tenant_id, provider_id, round, started_at,
             outcome, latency_ms)
         SELECT id, tenant_id, $1, 0, now(), 'accepted', 1 FROM messages",
    )
    .bind::<SqlUuid, _>(
        openclaw_core::domain::ProviderId::parse(&provider)
            .unwrap()
            .uuid(),
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // And one ledger entry.
    diesel::sql_query(
        "INSERT INTO ledger_entries (tenant_id, message_id, attempt, kind, day, provider_id,
             country, message_type, segments, amount_micros, currency)
         SELECT tenant_id, id, 0, 'message', current_date, $1, country, message_type, segments,
             5000, currency FROM messages",
    )
    .bind::<SqlUuid, _>(
        openclaw_core::domain::ProviderId::parse(&provider)
            .unwrap()
            .uuid(),
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let columns: [(&str, &str, Vec<&str>, &str); 9] = [
        (
            "messages",
            "status",
            Status::ALL.map(Status::as_str).to_vec(),
            "in_doubt",
        ),
        (
            "messages",
            "encoding",
            [Encoding::Gsm7, Encoding::Ucs2]
                .map(Encoding::as_str)
                .to_vec(),
            "UTF-8",
        ),
        (
            "messages",
            "mode",
            KeyMode::ALL.map(KeyMode::as_str).to_vec(),
            "staging",
        ),
        (
            "api_keys",
            "mode",
            KeyMode::ALL.map(KeyMode::as_str).to_vec(),
            "staging",
        ),
        (
            "providers",
            "kind",
            ProviderKind::ALL.map(ProviderKind::as_str).to_vec(),
            "smpp",
        ),
        (
            "message_attempts",
            "outcome",
            AttemptOutcome::ALL.map(AttemptOutcome::as_str).to_vec(),
            "in_doubt",
        ),
        (
            "users",
            "role",
            [
                Role::TENANT.as_slice(),
                &[Role::PlatformAdmin, Role::BillingStaff],
            ]
            .concat()
            .into_iter()
            .map(Role::as_str)
            .collect(),
            "superuser",
        ),
        (
            "users",
            "status",
            MemberStatus::ALL.map(MemberStatus::as_str).to_vec(),
            "suspended",
        ),
        (
            "ledger_entries",
            "kind",
            LedgerKind::ALL.map(LedgerKind::as_str).to_vec(),
            "tip",
        ),
    ];
    for (table, column, names, stranger) in columns {
        for name in names {
            assert!(
                takes(&mut conn, table, column, name).await,
                "{table}.{column} takes {name}"
            );
        }
        assert!(
            !takes(&mut conn, table, column, stranger).await,
            "{table}.{column} refuses {stranger}"
        );
    }
    drop(conn);
    app.cleanup().await;
}

/// A hard cap's hold is released exactly when its message leaves the statuses
/// `Status::PENDING` names, whatever moved it (the trigger of the `budget_holds` migration,
/// as `budget_release_counters` left it: it adds the hold to the backend's `budget_released`
/// total), for every pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_hold_goes_exactly_when_its_message_stops_pending() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    app.provider(&owner, "sandbox", json!({}), None, &[("*", "0.0050")])
        .await;
    let key = app.api_key(&owner, "live").await;
    let res = app
        .post(
            "/v1/messages",
            &key,
            &json!({"to": "+14155552671", "body": "held"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Held {
        #[diesel(sql_type = Bool)]
        held: bool,
    }
    let mut checked = 0;
    for from in Status::ALL {
        for to in Status::ALL {
            // Put it in `from` first, not held (so the trigger has nothing to release), then
            // hold it.
            diesel::sql_query("UPDATE messages SET held = false")
                .execute(&mut conn)
                .await
                .unwrap();
            diesel::sql_query("UPDATE messages SET status = $1")
                .bind::<Text, _>(from)
                .execute(&mut conn)
                .await
                .unwrap();
            diesel::sql_query("DELETE FROM budget_released")
                .execute(&mut conn)
                .await
                .unwrap();
            diesel::sql_query("UPDATE messages SET held = true, hold_micros = 5000")
                .execute(&mut conn)
                .await
                .unwrap();
            diesel::sql_query("UPDATE messages SET status = $1")
                .bind::<Text, _>(to)
                .execute(&mut conn)
                .await
                .unwrap();
            let left: Held = diesel::sql_query(
                "SELECT COALESCE((SELECT sum(micros) FROM budget_released), 0) <> 5000 AS held",
            )
            .get_result(&mut conn)
            .await
            .unwrap();
            let released = Status::PENDING.contains(&from) && !Status::PENDING.contains(&to);
            assert_eq!(left.held, !released, "{from} → {to}");
            diesel::sql_query("DELETE FROM budget_released")
                .execute(&mut conn)
                .await
                .unwrap();
            checked += 1;
        }
    }
    assert_eq!(checked, 81);
    drop(conn);
    app.cleanup().await;
}

/// What a hard cap has left is the limit less the spend less what is held: the held total less
/// the released ones. Once a tenant has more than 16 released rows, `budget_room` merges those
/// of database backends that have gone into its row 0 (under the budget lock), and leaves a
/// live backend's row alone; the room is the same before and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_totals_of_gone_backends_merge_and_the_room_stays() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let res = app
        .http
        .put(app.url("/v1/budget"))
        .bearer_auth(&owner.access_token)
        .json(
            &json!({"monthly_limit": {"amount": "1.00", "currency": "USD"},
                      "alert_thresholds": [100], "hard_cap": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tenant = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid();
    let mut conn = AsyncPgConnection::establish(&app.db.url).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let one = |sql: &'static str| diesel::sql_query(sql).bind::<SqlUuid, _>(tenant);
    one("INSERT INTO budget_held (tenant_id, micros) VALUES ($1, 300000)")
        .execute(&mut conn)
        .await
        .unwrap();
    // 20 backends that have gone (pids no process has) released 0.01 each; this connection's
    // backend, alive, 0.005.
    one("INSERT INTO budget_released (tenant_id, backend, micros)
         SELECT $1, 2000000000 + i, 10000 FROM generate_series(1, 20) i
         UNION ALL SELECT $1, pg_backend_pid(), 5000")
    .execute(&mut conn)
    .await
    .unwrap();
    let room = "SELECT room AS n FROM budget_room(ARRAY[$1], \
                date_trunc('month', now())::date, \
                (date_trunc('month', now()) + interval '1 month - 1 day')::date)";
    let rows = "SELECT count(*) AS n FROM budget_released WHERE tenant_id = $1";
    let merged = "SELECT COALESCE(sum(micros), 0)::int8 AS n FROM budget_released \
                  WHERE tenant_id = $1 AND backend = 0";
    let n = async |conn: &mut AsyncPgConnection, sql: &'static str| -> i64 {
        let r: N = one(sql).get_result(conn).await.unwrap();
        r.n
    };
    assert_eq!(n(&mut conn, rows).await, 21);
    // 1.00 − 0.30 held + 0.20 + 0.005 released.
    assert_eq!(n(&mut conn, room).await, 905_000);
    assert_eq!(n(&mut conn, rows).await, 2, "the gone backends' rows merge");
    assert_eq!(n(&mut conn, merged).await, 200_000);
    assert_eq!(n(&mut conn, room).await, 905_000);
    // A few rows stay as they are.
    one("INSERT INTO budget_released (tenant_id, backend, micros) VALUES ($1, 2000000001, 1000)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(n(&mut conn, room).await, 906_000);
    assert_eq!(n(&mut conn, rows).await, 3);
    drop(conn);
    app.cleanup().await;
}

/// The relay's scan of due webhook deliveries (`webhooks::take_due`) gives each endpoint only
/// what it has room for below `per_endpoint` under way, so a slow endpoint's backlog stays in
/// Postgres untouched while the others are fed; a retry waiting beyond the lease takes no room;
/// callback URLs' deliveries come in due order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_feeds_each_endpoint_only_what_it_has_room_for() {
    use openclaw_core::db::webhooks::{self, Flow};
    use openclaw_e2e::services::{execute, query_i64};
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup().await;
    let tenant = openclaw_core::domain::TenantId::parse(&owner.tenant_id)
        .unwrap()
        .uuid();
    let (slow, fast) = (Uuid::now_v7(), Uuid::now_v7());
    let url = &app.db.url;
    execute(
        url,
        &format!(
            "INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret_key_id, secret_enc)
             VALUES ('{slow}', '{tenant}', 'https://slow.example/', '{{message.status}}', 'k', ''),
                    ('{fast}', '{tenant}', 'https://fast.example/', '{{message.status}}', 'k', '')"
        ),
    )
    .await;
    execute(
        url,
        &format!(
            "INSERT INTO webhook_events (id, tenant_id, kind, data)
             VALUES ('{tenant}', '{tenant}', 'message.status', '{{}}')"
        ),
    )
    .await;
    // Due deliveries: 50 to the slow endpoint, 5 to the fast one, 3 to callback URLs.
    let due = |endpoint: Option<Uuid>, n: usize| {
        let target = match endpoint {
            Some(e) => format!("'{e}', NULL"),
            None => "NULL, 'https://callback.example/'".to_owned(),
        };
        format!(
            "INSERT INTO webhook_deliveries (id, tenant_id, event_id, endpoint_id, url, due_at)
             SELECT uuid_v7(), '{tenant}', '{tenant}', {target}, now() - interval '1 s'
             FROM generate_series(1, {n})"
        )
    };
    execute(url, &due(Some(slow), 50)).await;
    execute(url, &due(Some(fast), 5)).await;
    execute(url, &due(None, 3)).await;
    let pool = openclaw_core::db::pool(url, 1).unwrap();
    let flow = Flow {
        limit: 100,
        lease: std::time::Duration::from_secs(30),
        per_endpoint: 10,
    };
    let take = || async {
        let mut conn = pool.get().await.unwrap();
        webhooks::take_due(&mut conn, flow).await.unwrap().len()
    };
    let leased = |endpoint: Uuid| {
        format!(
            "SELECT count(*) FROM webhook_deliveries
             WHERE endpoint_id = '{endpoint}' AND due_at > now()"
        )
    };
    // Room for 10 at the slow endpoint, all 5 of the fast one's, every callback.
    assert_eq!(take().await, 18);
    assert_eq!(query_i64(url, &leased(slow)).await, 10);
    assert_eq!(query_i64(url, &leased(fast)).await, 5);
    // Nothing more while they are under way, though 40 are due.
    assert_eq!(take().await, 0);
    // The fast endpoint's new events go out at once; the slow one's backlog waits.
    execute(url, &due(Some(fast), 4)).await;
    assert_eq!(
        take().await,
        4,
        "5 under way leave the fast endpoint room for 5"
    );
    execute(
        url,
        &format!("UPDATE webhook_deliveries SET state = 'succeeded' WHERE endpoint_id = '{fast}'"),
    )
    .await;
    // Four of the slow endpoint's finish: four more go.
    execute(
        url,
        &format!(
            "UPDATE webhook_deliveries SET state = 'succeeded' WHERE id IN (
                 SELECT id FROM webhook_deliveries
                 WHERE endpoint_id = '{slow}' AND due_at > now() LIMIT 4)"
        ),
    )
    .await;
    assert_eq!(take().await, 4);
    // Three fail and wait an hour for their retry: they take no room.
    execute(
        url,
        &format!(
            "UPDATE webhook_deliveries SET due_at = now() + interval '1 hour' WHERE id IN (
                 SELECT id FROM webhook_deliveries
                 WHERE endpoint_id = '{slow}' AND state = 'pending' AND due_at > now() LIMIT 3)"
        ),
    )
    .await;
    assert_eq!(take().await, 3);
    assert_eq!(
        query_i64(
            url,
            &format!(
                "SELECT count(*) FROM webhook_deliveries
                 WHERE endpoint_id = '{slow}' AND state = 'pending' AND due_at <= now()"
            )
        )
        .await,
        50 - 10 - 4 - 3,
        "the rest of the backlog is untouched"
    );
    app.cleanup().await;
}
