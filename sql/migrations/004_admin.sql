-- The console's login: one operator account and its sessions, in the
-- database so that every BirdCar process shares them.

-- Only a generated password is stored here: a password set through
-- ADMIN_PASSWORD is hashed at start-up and never written down.
CREATE TABLE admin_credentials (
    username      text PRIMARY KEY,
    password_hash bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admin_sessions (
    -- SHA-256 of the cookie's token: reading this table does not let
    -- anyone present a valid cookie.
    id_hash    bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    username   text NOT NULL,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
