#!/bin/bash
# Run once by the MySQL image on an empty data directory: the four schemas (Django's own and one
# per app). The users and their grants are provision_access's (the provision service).
set -euo pipefail
mysql --protocol=socket --user=root --password="${MYSQL_ROOT_PASSWORD}" <<SQL
CREATE DATABASE IF NOT EXISTS sagas_default CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE DATABASE IF NOT EXISTS sagas_orders CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE DATABASE IF NOT EXISTS sagas_inventory CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
CREATE DATABASE IF NOT EXISTS sagas_payments CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
SQL
