// Mirrors migrations/ (what `diesel print-schema` would write).

diesel::table! {
    tenants (id) {
        id -> Uuid,
        name -> Text,
        currency -> Text,
        created_at -> Timestamptz,
        default_sender_ids -> Array<Text>,
        opt_out_exempt_types -> Array<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        tenant_id -> Nullable<Uuid>,
        email -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        created_at -> Timestamptz,
        status -> Text,
        invite_token_hash -> Nullable<Bytea>,
        invite_expires_at -> Nullable<Timestamptz>,
        invited_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        mode -> Text,
        scopes -> Array<Text>,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    providers (id) {
        id -> Uuid,
        /// NULL: a platform provider (the operator's).
        tenant_id -> Nullable<Uuid>,
        name -> Text,
        kind -> Text,
        credentials_enc -> Bytea,
        credentials_key_id -> Text,
        credentials_mask -> Jsonb,
        base_url -> Nullable<Text>,
        sender_ids -> Array<Text>,
        max_rate_per_sec -> Nullable<Int4>,
        max_concurrency -> Int4,
        enabled -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        receipt_timeout_seconds -> Int4,
    }
}

diesel::table! {
    provider_prices (provider_id, list, country, message_type) {
        provider_id -> Uuid,
        tenant_id -> Nullable<Uuid>,
        list -> Text,
        country -> Text,
        message_type -> Text,
        price_micros -> Int8,
        currency -> Text,
    }
}

diesel::table! {
    messages (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        api_key_id -> Nullable<Uuid>,
        mode -> Text,
        recipient -> Text,
        sender -> Nullable<Text>,
        country -> Text,
        message_type -> Text,
        body -> Text,
        encoding -> Text,
        segments -> Int4,
        estimated_cost_micros -> Int8,
        currency -> Text,
        status -> Text,
        round -> Int4,
        claimed_at -> Nullable<Timestamptz>,
        provider_id -> Nullable<Uuid>,
        provider_message_id -> Nullable<Text>,
        cost_micros -> Nullable<Int8>,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        error_provider_code -> Nullable<Text>,
        callback_url -> Nullable<Text>,
        client_ref -> Nullable<Text>,
        metadata -> Nullable<Jsonb>,
        scheduled_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
        idempotency_key -> Nullable<Text>,
        request_hash -> Nullable<Bytea>,
        events -> Jsonb,
        created_at -> Timestamptz,
        doubt_until -> Nullable<Timestamptz>,
        // Not listed: `held` (bool, whether a hard-capped budget holds the message's cost),
        // `fee_micros` (its platform fee) and its conversion (`fee_source_*`, `fee_rate_e9`),
        // its cost's conversion (`cost_source_*`, `cost_rate_e9`) and `platform_cost_micros`,
        // written and read by hand-written SQL only; more columns would need diesel's
        // 64-column tables.
    }
}

diesel::table! {
    message_outbox (message_id) {
        message_id -> Uuid,
        round -> Int4,
        due_at -> Timestamptz,
    }
}

diesel::table! {
    message_attempts (id) {
        id -> Int8,
        message_id -> Uuid,
        tenant_id -> Uuid,
        provider_id -> Uuid,
        round -> Int4,
        started_at -> Timestamptz,
        outcome -> Text,
        provider_code -> Nullable<Text>,
        provider_message_id -> Nullable<Text>,
        error_message -> Nullable<Text>,
        latency_ms -> Int4,
    }
}

diesel::table! {
    spend_daily (tenant_id, day, provider_id, country, message_type, currency) {
        tenant_id -> Uuid,
        day -> Date,
        provider_id -> Uuid,
        country -> Text,
        message_type -> Text,
        currency -> Text,
        messages -> Int8,
        segments -> Int8,
        cost_micros -> Int8,
        fee_micros -> Int8,
        platform_cost_micros -> Int8,
    }
}

diesel::table! {
    ledger_entries (message_id, attempt, kind) {
        tenant_id -> Uuid,
        message_id -> Uuid,
        attempt -> Int4,
        kind -> Text,
        day -> Date,
        provider_id -> Uuid,
        country -> Text,
        message_type -> Text,
        segments -> Int4,
        amount_micros -> Int8,
        currency -> Text,
        created_at -> Timestamptz,
        source_currency -> Nullable<Text>,
        source_micros -> Nullable<Int8>,
        rate_e9 -> Nullable<Int8>,
        platform_cost_micros -> Nullable<Int8>,
    }
}

diesel::table! {
    exchange_rates (from_currency, to_currency) {
        from_currency -> Text,
        to_currency -> Text,
        rate_e9 -> Int8,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    budgets (tenant_id) {
        tenant_id -> Uuid,
        monthly_limit_micros -> Int8,
        currency -> Text,
        alert_thresholds -> Array<Int4>,
        hard_cap -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(users -> tenants (tenant_id));
diesel::joinable!(api_keys -> tenants (tenant_id));
diesel::joinable!(providers -> tenants (tenant_id));
diesel::joinable!(provider_prices -> providers (provider_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    users,
    refresh_tokens,
    api_keys,
    providers,
    provider_prices,
    messages,
    message_outbox,
    message_attempts,
    spend_daily,
    ledger_entries,
    budgets,
    budget_alerts,
);

diesel::table! {
    audit_log (id) {
        id -> Uuid,
        tenant_id -> Nullable<Uuid>,
        actor_id -> Nullable<Uuid>,
        actor -> Text,
        actor_kind -> Text,
        action -> Text,
        target -> Nullable<Text>,
        details -> Jsonb,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        last_failure_at -> Timestamptz,
        blocked_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotent_requests (tenant_id, key) {
        tenant_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        response -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    budget_alerts (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        period -> Date,
        threshold -> Integer,
        monthly_limit_micros -> BigInt,
        spent_micros -> BigInt,
        currency -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        subject -> Uuid,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        due_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    billing_settings (effective_from) {
        effective_from -> Date,
        platform_fee_micros -> Int8,
        currency -> Text,
        markup_bps -> Int4,
        grace_days -> Int4,
        created_at -> Timestamptz,
        created_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    tenant_fee_overrides (tenant_id, effective_from) {
        tenant_id -> Uuid,
        effective_from -> Date,
        platform_fee_micros -> Nullable<Int8>,
        created_at -> Timestamptz,
        created_by -> Nullable<Uuid>,
        markup_bps -> Nullable<Int4>,
    }
}

diesel::table! {
    billing_periods (id) {
        id -> Uuid,
        period -> Date,
        requested_at -> Timestamptz,
        requested_by -> Nullable<Uuid>,
        opened_at -> Nullable<Timestamptz>,
        invoices -> Nullable<Int4>,
    }
}

diesel::table! {
    invoices (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        period -> Date,
        currency -> Text,
        total_micros -> Int8,
        status -> Text,
        step -> Text,
        stripe_invoice_id -> Nullable<Text>,
        stripe_total_minor -> Nullable<Int8>,
        number -> Nullable<Text>,
        hosted_invoice_url -> Nullable<Text>,
        past_due_at -> Nullable<Timestamptz>,
        finalized_at -> Nullable<Timestamptz>,
        paid_at -> Nullable<Timestamptz>,
        payment_failed_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invoice_lines (invoice_id, line) {
        invoice_id -> Uuid,
        line -> Int4,
        kind -> Text,
        description -> Text,
        quantity -> Int8,
        unit_micros -> Int8,
        amount_micros -> Int8,
        stripe_item_id -> Nullable<Text>,
    }
}

diesel::table! {
    stripe_customers (tenant_id) {
        tenant_id -> Uuid,
        customer_id -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stripe_events (id) {
        id -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        invoice_id -> Nullable<Uuid>,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        url -> Text,
        events -> Array<Text>,
        secret_key_id -> Text,
        secret_enc -> Bytea,
        previous_key_id -> Nullable<Text>,
        previous_enc -> Nullable<Bytea>,
        previous_until -> Nullable<Timestamptz>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_callback_secrets (tenant_id) {
        tenant_id -> Uuid,
        secret_key_id -> Text,
        secret_enc -> Bytea,
        previous_key_id -> Nullable<Text>,
        previous_enc -> Nullable<Bytea>,
        previous_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        kind -> Text,
        subject_id -> Nullable<Uuid>,
        data -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        event_id -> Uuid,
        endpoint_id -> Nullable<Uuid>,
        url -> Nullable<Text>,
        state -> Text,
        attempts -> Int4,
        fence -> Int4,
        due_at -> Timestamptz,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        last_status -> Nullable<Int4>,
        last_latency_ms -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        log -> Jsonb,
    }
}

diesel::joinable!(invoice_lines -> invoices (invoice_id));
diesel::joinable!(invoices -> tenants (tenant_id));
diesel::joinable!(tenant_fee_overrides -> tenants (tenant_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    invoices,
    invoice_lines,
    billing_periods,
    billing_settings,
    exchange_rates,
    tenant_fee_overrides,
    stripe_customers,
);

diesel::allow_tables_to_appear_in_same_query!(
    webhook_endpoints,
    webhook_events,
    webhook_deliveries
);

diesel::table! {
    inbound_messages (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        provider_id -> Uuid,
        provider_message_id -> Text,
        sender -> Text,
        recipient -> Text,
        body -> Text,
        keyword -> Nullable<Text>,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    opt_outs (tenant_id, number) {
        tenant_id -> Uuid,
        number -> Text,
        id -> Uuid,
        source -> Text,
        created_at -> Timestamptz,
    }
}
