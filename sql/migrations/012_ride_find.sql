-- Finding a ride by any number (the console's search): a party's phone or
-- the proxy number by its last digits (a reported "…900202", MessageBird's
-- digits without +, a national form once its trunk 0 is dropped), read
-- backwards so the end of a number is the start of an index key; and by
-- its start ("+44 7700…"), whatever the database's collation.
CREATE INDEX customers_phone_tail ON customers (reverse(phone::text) text_pattern_ops);
CREATE INDEX drivers_phone_tail ON drivers (reverse(phone::text) text_pattern_ops);
CREATE INDEX proxy_numbers_tail ON proxy_numbers (reverse(number::text) text_pattern_ops);
CREATE INDEX customers_phone_head ON customers (phone text_pattern_ops);
CREATE INDEX drivers_phone_head ON drivers (phone text_pattern_ops);
CREATE INDEX proxy_numbers_head ON proxy_numbers (number text_pattern_ops);
