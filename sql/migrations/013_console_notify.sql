-- The console shows sends, texts, calls and rides as they change (Server-
-- Sent Events). Every change to those tables tells the web processes what
-- changed, '<kind>:<ride id>' on channel birdcar_console (the ride id empty
-- for an unmatched text or call), from the transaction that made it:
-- PostgreSQL delivers the notice once that transaction commits, never if it
-- rolls back, and delivers identical notices of one transaction once (a
-- batch of calls to one ride is one notice). A send's state is its
-- message's row: each attempt, retry, failure and delivery report updates
-- it, so River's job table needs no trigger.
CREATE FUNCTION console_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'rides' THEN
        PERFORM pg_notify('birdcar_console', 'ride:' || NEW.id::text);
    ELSIF TG_TABLE_NAME = 'messages' THEN
        PERFORM pg_notify('birdcar_console', 'message:' || coalesce(NEW.ride_id::text, ''));
    ELSE
        PERFORM pg_notify('birdcar_console', 'call:' || coalesce(NEW.ride_id::text, ''));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER console_notify AFTER INSERT OR UPDATE ON rides
    FOR EACH ROW EXECUTE FUNCTION console_notify();
CREATE TRIGGER console_notify AFTER INSERT OR UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION console_notify();
CREATE TRIGGER console_notify AFTER INSERT OR UPDATE ON calls
    FOR EACH ROW EXECUTE FUNCTION console_notify();

-- What kind of failure a send's last_error reports (ride.SendFailure:
-- 'permanent' when MessageBird refused it, so retrying cannot help;
-- 'server_error', 'timeout', 'network', 'other'; 'cancelled' by an
-- operator). Not indexed: the send path's updates stay HOT.
ALTER TABLE messages ADD COLUMN failure text;
