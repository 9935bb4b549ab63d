-- Every call the voice webhook answered, and how.
CREATE TABLE calls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Null when no valid route matched the caller.
    ride_id     bigint REFERENCES rides (id) ON DELETE CASCADE,
    call_id     text NOT NULL,
    source      text NOT NULL,
    destination text NOT NULL,
    -- The other party the call went to, when transferred.
    transferred_to text,
    outcome     text NOT NULL CHECK (outcome IN ('transferred', 'rejected')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((outcome = 'transferred') = (transferred_to IS NOT NULL AND ride_id IS NOT NULL))
);

CREATE INDEX calls_ride ON calls (ride_id, created_at, id);
CREATE INDEX calls_unmatched ON calls (created_at DESC) WHERE ride_id IS NULL;
CREATE INDEX messages_unmatched ON messages (created_at DESC) WHERE ride_id IS NULL;
