-- Events the platform gets at most so often (pool.low: once an hour)
-- remember when they last went out.
CREATE TABLE event_marks (
    name    text PRIMARY KEY,
    last_at timestamptz NOT NULL
);

-- Out of session: a past party who texts the number gets one answer a day
-- per number, a message of its own kind in the ride it was a party of.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('notification', 'forward', 'inbound', 'out_of_session'));
CREATE TABLE out_of_session_replies (
    phone           e164 NOT NULL,
    proxy_number_id bigint NOT NULL REFERENCES proxy_numbers (id) ON DELETE CASCADE,
    last_at         timestamptz NOT NULL,
    PRIMARY KEY (phone, proxy_number_id)
);
