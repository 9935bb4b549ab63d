-- Web processes keep the routes in memory (ride.RouteTable). Every change
-- to a route, whoever makes it (a ride created or ended through the API or
-- the console, the periodic job, retention), tells them which number's
-- routes to read again, from the transaction that made it: PostgreSQL
-- delivers the notice once that transaction commits, and never if it does
-- not.
CREATE FUNCTION routes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('birdcar_routes', '*');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('birdcar_routes', OLD.proxy_number_id::text);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('birdcar_routes', NEW.proxy_number_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER routes_notify AFTER INSERT OR UPDATE OR DELETE ON routes
    FOR EACH ROW EXECUTE FUNCTION routes_notify();
CREATE TRIGGER routes_notify_truncate AFTER TRUNCATE ON routes
    FOR EACH STATEMENT EXECUTE FUNCTION routes_notify();

-- The full reload reads the routes valid now or later without reading the
-- history.
CREATE INDEX routes_until ON routes ((coalesce(upper(valid), 'infinity')));
