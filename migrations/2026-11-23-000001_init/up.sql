-- Tenants, people and credentials -------------------------------------------------------

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    currency    text NOT NULL DEFAULT 'USD',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    tenant_id      uuid REFERENCES tenants (id) ON DELETE CASCADE,
    email          text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_tenant_idx ON users (tenant_id);

-- Opaque refresh tokens, stored hashed; a family is one login's chain of rotations.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    mode          text NOT NULL CHECK (mode IN ('live', 'test')),
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at DESC);

-- Providers: the tenant's SMS gateway accounts ----------------------------------------------

CREATE TABLE providers (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name               text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('twilio', 'vonage', 'sandbox')),
    -- AES-256-GCM: 12-byte nonce followed by ciphertext and tag, under key `credentials_key_id`.
    credentials_enc    bytea NOT NULL,
    credentials_key_id text NOT NULL,
    credentials_mask   jsonb NOT NULL,
    base_url           text,
    sender_ids         text[] NOT NULL DEFAULT '{}',
    max_rate_per_sec   integer,
    enabled            boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
CREATE INDEX providers_tenant_idx ON providers (tenant_id) WHERE deleted_at IS NULL;

-- `country` is ISO 3166-1 alpha-2 or '*'; `message_type` is a type or '*' (any).
CREATE TABLE provider_prices (
    provider_id   uuid NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    country       text NOT NULL,
    message_type  text NOT NULL,
    price_micros  bigint NOT NULL CHECK (price_micros >= 0),
    currency      text NOT NULL,
    PRIMARY KEY (provider_id, country, message_type)
);
CREATE INDEX provider_prices_tenant_idx ON provider_prices (tenant_id);

-- Messages ---------------------------------------------------------------------------------

-- The send path updates a message a few times (claimed, sent, delivered). No index covers a
-- column those updates change, so they are HOT updates (no index writes), and the fill factor
-- leaves room on each page for the new row versions. Lookups by state go through
-- `message_outbox` instead.
--
-- No foreign keys on this hot table: every insert would lock the one tenant row and the one
-- API key row in KEY SHARE mode, and thousands of concurrent lockers of the same row turn into
-- multixact churn. The ids come from the authenticated caller and from routing, never from
-- input.
CREATE TABLE messages (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL,
    api_key_id            uuid,
    mode                  text NOT NULL CHECK (mode IN ('live', 'test')),
    recipient             text NOT NULL,
    sender                text,
    country               text NOT NULL,
    message_type          text NOT NULL,
    body                  text NOT NULL,
    encoding              text NOT NULL,
    segments              integer NOT NULL,
    estimated_cost_micros bigint NOT NULL,
    currency              text NOT NULL,
    status                text NOT NULL,
    -- Which retry round the queue message being processed belongs to; a delivery of an older
    -- round is stale. `claimed_at` is set while a worker holds the round.
    round                 integer NOT NULL DEFAULT 0,
    claimed_at            timestamptz,
    provider_id           uuid,
    provider_message_id   text,
    cost_micros           bigint,
    error_code            text,
    error_message         text,
    error_provider_code   text,
    callback_url          text,
    client_ref            text,
    metadata              jsonb,
    scheduled_at          timestamptz,
    expires_at            timestamptz,
    idempotency_key       text,
    request_hash          bytea,
    -- Status changes after acceptance, `[{"status": "sent", "at": "…"}, …]`, appended by the
    -- same UPDATE that makes the change (the accepted status is `created_at`).
    events                jsonb NOT NULL DEFAULT '[]',
    created_at            timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 75);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_tenant_list_idx ON messages (tenant_id, id DESC);
CREATE INDEX messages_tenant_recipient_idx ON messages (tenant_id, recipient, id DESC);

-- The transactional outbox: a row says "this message (in this round) needs a queue message by
-- `due_at`". It is written in the same transaction as the state that needs publishing (the
-- accepted message, a scheduled one, a retry) and deleted once the broker confirmed the
-- publish. The relay publishes whatever is past due: the broker was down, the publish went
-- unconfirmed, the process died, or a scheduled message's time came.
--
-- Rows live for milliseconds when all is well, so the table stays small and the relay's scan
-- by `due_at` needs no index (one less index write per message).
CREATE TABLE message_outbox (
    message_id  uuid PRIMARY KEY,
    round       integer NOT NULL,
    due_at      timestamptz NOT NULL
);

-- One row per provider call. No foreign key to messages: the row is written in the same
-- transaction as the message's outcome, and the check would cost an index probe per attempt.
CREATE TABLE message_attempts (
    id                   bigserial PRIMARY KEY,
    message_id           uuid NOT NULL,
    tenant_id            uuid NOT NULL,
    provider_id          uuid NOT NULL,
    round                integer NOT NULL,
    started_at           timestamptz NOT NULL,
    outcome              text NOT NULL,
    provider_code        text,
    provider_message_id  text,
    error_message        text,
    latency_ms           integer NOT NULL
);
CREATE INDEX message_attempts_message_idx ON message_attempts (message_id);
CREATE INDEX message_attempts_provider_idx ON message_attempts (provider_id, started_at DESC);

-- Spend: one row per tenant, UTC day, provider, country, message type and currency ---------

CREATE TABLE spend_daily (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day           date NOT NULL,
    provider_id   uuid NOT NULL REFERENCES providers (id),
    country       text NOT NULL,
    message_type  text NOT NULL,
    currency      text NOT NULL,
    messages      bigint NOT NULL,
    segments      bigint NOT NULL,
    cost_micros   bigint NOT NULL,
    PRIMARY KEY (tenant_id, day, provider_id, country, message_type, currency)
);
