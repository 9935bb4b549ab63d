-- The seed's data model, with the routing invariant held by the database.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- E.164: a plus, a non-zero digit, then up to 14 more digits.
CREATE DOMAIN e164 AS text CHECK (VALUE ~ '^\+[1-9][0-9]{6,14}$');

CREATE TABLE customers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    phone      e164 NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE drivers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    phone      e164 NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE proxy_numbers (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number           e164 NOT NULL UNIQUE,
    country          text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    enabled          boolean NOT NULL DEFAULT true,
    last_assigned_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Assignment walks the enabled pool least recently assigned first.
CREATE INDEX proxy_numbers_pick ON proxy_numbers (country, last_assigned_at NULLS FIRST, id) WHERE enabled;
CREATE INDEX proxy_numbers_pick_any ON proxy_numbers (last_assigned_at NULLS FIRST, id) WHERE enabled;

CREATE TABLE rides (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    driver_id       bigint NOT NULL REFERENCES drivers (id) ON DELETE RESTRICT,
    proxy_number_id bigint NOT NULL REFERENCES proxy_numbers (id) ON DELETE RESTRICT,
    start_address   text NOT NULL CHECK (length(btrim(start_address)) BETWEEN 1 AND 200),
    destination     text NOT NULL CHECK (length(btrim(destination)) BETWEEN 1 AND 200),
    pickup_at       timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'cancelled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    -- When the number stops routing for these parties: null while active.
    expires_at      timestamptz,
    CHECK ((status = 'active') = (ended_at IS NULL)),
    CHECK ((ended_at IS NULL) = (expires_at IS NULL)),
    CHECK (expires_at IS NULL OR expires_at >= ended_at)
);

CREATE INDEX rides_customer ON rides (customer_id, created_at DESC);
CREATE INDEX rides_driver ON rides (driver_id, created_at DESC);
CREATE INDEX rides_proxy_number ON rides (proxy_number_id, created_at DESC);
CREATE INDEX rides_created ON rides (created_at DESC, id DESC);

-- One row per direction of a ride: a call or SMS from caller_phone to the
-- proxy number goes to callee_phone while "valid" contains the moment.
-- Phones are copied from the parties so routing never changes under a ride.
CREATE TABLE routes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ride_id         bigint NOT NULL REFERENCES rides (id) ON DELETE CASCADE,
    proxy_number_id bigint NOT NULL REFERENCES proxy_numbers (id) ON DELETE RESTRICT,
    caller_phone    e164 NOT NULL,
    callee_phone    e164 NOT NULL CHECK (callee_phone <> caller_phone),
    -- Empty when a ride ends at once with no grace period.
    valid           tstzrange NOT NULL CHECK (isempty(valid) OR NOT lower_inf(valid)),
    UNIQUE (ride_id, caller_phone),
    -- The routing invariant: for one proxy number and one caller, at most
    -- one route is valid at any instant.
    CONSTRAINT routes_one_valid EXCLUDE USING gist (
        proxy_number_id WITH =, caller_phone WITH =, valid WITH &&
    )
);

-- The numbers busy for a party: its routes valid now or later. A btree on
-- the end of validity skips a party's history, however long, in one seek.
CREATE INDEX routes_caller_until ON routes (caller_phone, (coalesce(upper(valid), 'infinity')));
