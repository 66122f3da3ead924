-- Members: invited people have no password until they accept ----------------------------------
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'invited'));
ALTER TABLE users ADD COLUMN invite_token_hash bytea UNIQUE;
ALTER TABLE users ADD COLUMN invite_expires_at timestamptz;
ALTER TABLE users ADD COLUMN invited_by uuid;

-- Audit log: who did what, when and from where. `tenant_id` is NULL for platform-level events
-- (staff actions, sign-in failures for unknown addresses). Never holds a secret.
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,
    actor_id    uuid,
    actor       text NOT NULL,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('user', 'staff', 'api_key', 'anonymous')),
    action      text NOT NULL,
    target      text,
    details     jsonb NOT NULL DEFAULT '{}',
    ip          text,
    user_agent  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id DESC);

-- Failed sign-ins per email and per client address, for growing delays.
CREATE TABLE login_throttle (
    key              text PRIMARY KEY,
    failures         integer NOT NULL,
    last_failure_at  timestamptz NOT NULL,
    blocked_until    timestamptz
);

-- Row-level security, defence in depth under the tenant filters every query already has.
-- Requests acting for a tenant run their statements in a transaction that switches to the
-- role `openclaw_tenant` and sets `app.tenant_id`; the policies then refuse every other
-- tenant's rows, even to a query that forgot its filter. The background paths (group commit,
-- worker) run as the owning role and are not restricted.
DO $$
BEGIN
    CREATE ROLE openclaw_tenant NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- roles are cluster-wide: another database made it already
END
$$;
DO $$
BEGIN
    EXECUTE format('GRANT openclaw_tenant TO %I', current_user);
END
$$;

CREATE FUNCTION app_tenant() RETURNS uuid LANGUAGE sql STABLE AS
    $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    tenants, users, api_keys, providers, provider_prices, messages, message_attempts,
    spend_daily, audit_log
    TO openclaw_tenant;
GRANT SELECT, INSERT, DELETE ON message_outbox TO openclaw_tenant;
GRANT SELECT, UPDATE ON refresh_tokens TO openclaw_tenant;
GRANT EXECUTE ON FUNCTION app_tenant() TO openclaw_tenant;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants TO openclaw_tenant
    USING (id = app_tenant()) WITH CHECK (id = app_tenant());

-- Every table with a `tenant_id` column: the same policy.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'api_keys', 'providers', 'provider_prices', 'messages',
                             'message_attempts', 'spend_daily', 'audit_log']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO openclaw_tenant '
                       'USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant())', t);
    END LOOP;
END
$$;
-- The outbox holds only message ids: a tenant may add and remove rows of its own messages.
ALTER TABLE message_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON message_outbox TO openclaw_tenant
    USING (EXISTS (SELECT 1 FROM messages m WHERE m.id = message_id AND m.tenant_id = app_tenant()))
    WITH CHECK (EXISTS (SELECT 1 FROM messages m WHERE m.id = message_id AND m.tenant_id = app_tenant()));
-- Sessions belong to users: a tenant may end its own members' sessions.
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_tokens TO openclaw_tenant
    USING (EXISTS (SELECT 1 FROM users u WHERE u.id = user_id AND u.tenant_id = app_tenant()));
