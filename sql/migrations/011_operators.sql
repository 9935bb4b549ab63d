-- Several operators with roles, named API tokens, and the audit log of
-- who changed what.

-- An operator of the console. The first admin comes from ADMIN_USER at
-- start-up; the others are added by an admin (console or `birdcar
-- operator add`). Rows are never deleted, only disabled, so the audit
-- log's names keep meaning someone.
CREATE TABLE operators (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (name <> ''),
    username      text NOT NULL CHECK (username <> ''),
    password_hash bytea NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'dispatcher', 'viewer')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- User names are unique whatever their case: "Ann" and "ann" are one login.
CREATE UNIQUE INDEX operators_username ON operators (lower(username));

-- Sessions now belong to an operator; the ones from before, of the one
-- shared login, end (everyone logs in again once).
DELETE FROM admin_sessions;
ALTER TABLE admin_sessions
    ADD COLUMN operator_id bigint NOT NULL REFERENCES operators (id) ON DELETE CASCADE;
CREATE INDEX admin_sessions_operator ON admin_sessions (operator_id);

-- API tokens made in the console. Only a hash is kept: the token is shown
-- once, when it is made. Tokens from API_TOKENS are not stored here.
CREATE TABLE api_tokens (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (name <> ''),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE UNIQUE INDEX api_tokens_name ON api_tokens (lower(name));

-- Who did what, when, to which ride, person or number. Written by the
-- domain in the transaction of the change. No phone numbers but proxy
-- numbers (which are ours), no names of customers or drivers: an erasure
-- leaves nothing of a person here but an id.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('operator', 'api', 'system')),
    actor_name  text NOT NULL, -- the operator's name, the token's, or "system"
    actor_login text NOT NULL DEFAULT '', -- the operator's user name
    action      text NOT NULL,
    ride_id     bigint,
    person_role text CHECK (person_role IN ('customer', 'driver')),
    person_id   bigint,
    number      text,
    detail      text NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_ride ON audit_log (ride_id, at) WHERE ride_id IS NOT NULL;
