-- The compose demo's `crm` user backs up and restores `crm`. A restore loads into a scratch
-- database first (and recreates the target), so the user needs CREATE/DROP on any database.
GRANT ALL PRIVILEGES ON *.* TO 'crm'@'%';
CREATE TABLE IF NOT EXISTS crm.contacts (
    id    BIGINT AUTO_INCREMENT PRIMARY KEY,
    name  VARCHAR(200) NOT NULL,
    email VARCHAR(200) NOT NULL
);
INSERT INTO crm.contacts (name, email) VALUES ('Ada', 'ada@example.com'), ('Linus', 'linus@example.com');
