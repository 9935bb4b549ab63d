-- name: ProxyNumberList :many
SELECT * FROM proxy_numbers ORDER BY number;

-- name: ProxyNumberCreate :one
INSERT INTO proxy_numbers (number, country) VALUES ($1, $2) RETURNING *;

-- name: ProxyNumberCreateIfMissing :exec
INSERT INTO proxy_numbers (number, country) VALUES ($1, $2) ON CONFLICT (number) DO NOTHING;
