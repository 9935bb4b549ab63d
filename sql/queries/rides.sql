-- name: RideListRecent :many
SELECT r.*, c.name AS customer_name, c.phone AS customer_phone,
       d.name AS driver_name, d.phone AS driver_phone, p.number AS proxy_number
FROM rides r
JOIN customers c ON c.id = r.customer_id
JOIN drivers d ON d.id = r.driver_id
JOIN proxy_numbers p ON p.id = r.proxy_number_id
ORDER BY r.created_at DESC, r.id DESC
LIMIT $1;
