-- A notifying transaction holds PostgreSQL's notification lock from just
-- before its commit until the commit is flushed, so notifying transactions
-- commit one at a time, each waiting for its own WAL flush: with a notice
-- from every text, send and call, the SMS path lost a quarter of its
-- throughput (issue 15). The hot paths (a text's forward, a send's
-- acceptance, a delivery report, the call log) set birdcar.console to 'quiet' in their
-- transaction and tell the consoles themselves, once for many changes,
-- through ride.Announcer; every other change still notifies from its own
-- transaction.
DROP TRIGGER console_notify ON messages;
CREATE TRIGGER console_notify AFTER INSERT OR UPDATE ON messages
    FOR EACH ROW WHEN (current_setting('birdcar.console', true) IS DISTINCT FROM 'quiet')
    EXECUTE FUNCTION console_notify();
DROP TRIGGER console_notify ON calls;
CREATE TRIGGER console_notify AFTER INSERT OR UPDATE ON calls
    FOR EACH ROW WHEN (current_setting('birdcar.console', true) IS DISTINCT FROM 'quiet')
    EXECUTE FUNCTION console_notify();
