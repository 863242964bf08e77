#!/bin/bash
# Run once by the MySQL image on an empty data directory, after it created $MYSQL_USER:
# the four schemas (Django's own and one per app) and the app user's rights on them.
set -euo pipefail
mysql --protocol=socket --user=root --password="${MYSQL_ROOT_PASSWORD}" <<SQL
CREATE DATABASE IF NOT EXISTS sagas_default CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE DATABASE IF NOT EXISTS sagas_orders CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE DATABASE IF NOT EXISTS sagas_inventory CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE DATABASE IF NOT EXISTS sagas_payments CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
GRANT ALL PRIVILEGES ON sagas_default.* TO '${MYSQL_USER}'@'%';
GRANT ALL PRIVILEGES ON sagas_orders.* TO '${MYSQL_USER}'@'%';
GRANT ALL PRIVILEGES ON sagas_inventory.* TO '${MYSQL_USER}'@'%';
GRANT ALL PRIVILEGES ON sagas_payments.* TO '${MYSQL_USER}'@'%';
SQL
