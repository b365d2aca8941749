-- Dovetail accounts schema for SQLite (the embedded default): the same
-- tables and columns as mysql-schema.sql, so queries work on both.
-- Load with: sqlite3 /var/lib/dovetail/accounts.sqlite < sqlite-schema.sql

PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS virtual_domains (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS virtual_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  password TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS virtual_aliases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  source TEXT NOT NULL,
  destination TEXT NOT NULL
);
